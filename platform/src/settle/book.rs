//! The ledger and log as the settlement core sees them (`Ledger`, `Tree`), kept in memory
//! and brought up to date from the store at the start of every write transaction.
//!
//! The store is the truth; this is a cache of it. Transfers and leaves are append-only, so
//! catching up means replaying what was appended after the cache's high-water marks. Writers
//! are serialised (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an advisory lock), so inside the
//! transaction the cache is exact. If a transaction fails after the cache changed, the cache
//! is dropped and rebuilt on next use.

use diesel::connection::SimpleConnection;
use settlement::ledger::{Account, Applied, Ledger, Transfer};
use settlement::merkle::{leaf_hash, Checkpoint, LogSigner, SignedCheckpoint, Tree};

use crate::error::{PlatformError, Result};
use crate::store::{ledger, log, AnyConnection};

/// Serialises ledger and log writers on PostgreSQL. Arbitrary but fixed ("smledger").
const POSTGRES_LEDGER_LOCK: i64 = 0x73_6d_6c_65_64_67_65_72;

#[derive(Debug, Default)]
pub(crate) struct Book {
    pub(crate) ledger: Ledger,
    last_seq: i64,
    pub(crate) tree: Tree,
}

impl Book {
    /// Takes the writers' lock (PostgreSQL; SQLite's is taken by `BEGIN IMMEDIATE`) and
    /// replays what other writers appended since this cache last looked.
    pub(crate) fn begin(&mut self, conn: &mut AnyConnection) -> Result<()> {
        if let AnyConnection::Postgresql(pg) = conn {
            pg.batch_execute(&format!(
                "SELECT pg_advisory_xact_lock({POSTGRES_LEDGER_LOCK})"
            ))?;
        }
        loop {
            let chunk = ledger::transfers_after(conn, self.last_seq)?;
            let Some(last) = chunk.last() else { break };
            self.last_seq = last.seq;
            for stored in &chunk {
                let applied = self
                    .ledger
                    .apply(&stored.transfer)
                    .map_err(PlatformError::core(format!(
                        "replaying stored transfer {} (seq {})",
                        stored.transfer.id, stored.seq
                    )))?;
                let moved = match applied {
                    Applied::Applied { moved } | Applied::AlreadyApplied { moved } => moved,
                };
                if moved != stored.moved {
                    return Err(PlatformError::CorruptRow {
                        table: "ledger_transfers",
                        key: stored.transfer.id.to_hex(),
                        reason: format!(
                            "stored as moving {} but replay moves {moved}",
                            stored.moved
                        ),
                    });
                }
            }
        }
        loop {
            let hashes = log::leaf_hashes_from(conn, self.tree.size())?;
            if hashes.is_empty() {
                break;
            }
            for hash in hashes {
                self.tree.append_hash(hash);
            }
        }
        Ok(())
    }

    /// Applies `transfers` as one batch and stores the new ones with the balances they
    /// touched. Transfers applied before (same id, same content) are skipped. Returns what each
    /// transfer moved.
    pub(crate) fn apply(
        &mut self,
        conn: &mut AnyConnection,
        zone: &str,
        transfers: &[Transfer],
        now_ms: i64,
    ) -> Result<Vec<u128>> {
        let outcomes = self
            .ledger
            .apply_batch(transfers)
            .map_err(PlatformError::core(format!(
                "applying {} transfers of zone {zone}",
                transfers.len()
            )))?;
        let mut new = Vec::with_capacity(transfers.len());
        let mut touched: Vec<Account> = Vec::with_capacity(transfers.len() * 2);
        let mut moved_all = Vec::with_capacity(transfers.len());
        for (t, outcome) in transfers.iter().zip(&outcomes) {
            match *outcome {
                Applied::Applied { moved } => {
                    new.push((t, moved));
                    touched.push(t.debit);
                    touched.push(t.credit);
                    moved_all.push(moved);
                }
                Applied::AlreadyApplied { moved } => moved_all.push(moved),
            }
        }
        if new.is_empty() {
            return Ok(moved_all);
        }
        ledger::insert_transfers(conn, zone, &new, now_ms)?;
        self.last_seq = ledger::max_seq(conn)?;
        touched.sort_unstable();
        touched.dedup();
        let balances: Vec<_> = touched
            .into_iter()
            .map(|a| (a, self.ledger.balance(&a)))
            .collect();
        ledger::upsert_balances(conn, &balances)?;
        Ok(moved_all)
    }

    /// Checks the ledger's invariants (every ledger sums to zero, no account outside the
    /// issuance class below zero).
    pub(crate) fn check(&self) -> Result<()> {
        self.ledger
            .check_invariants()
            .map_err(PlatformError::core("checking the ledger after the run"))
    }

    /// Appends leaves to the log; returns the index of the first.
    pub(crate) fn append(
        &mut self,
        conn: &mut AnyConnection,
        leaves: &[Vec<u8>],
        now_ms: i64,
    ) -> Result<u64> {
        let first = self.tree.size();
        let rows: Vec<(Vec<u8>, _)> = leaves
            .iter()
            .map(|leaf| {
                let hash = leaf_hash(leaf);
                self.tree.append_hash(hash);
                (leaf.clone(), hash)
            })
            .collect();
        log::insert_leaves(conn, first, &rows, now_ms)?;
        Ok(first)
    }

    /// Signs and stores a checkpoint of the whole log as it is now.
    pub(crate) fn checkpoint(
        &self,
        conn: &mut AnyConnection,
        signer: &LogSigner,
        origin: &str,
        now_ms: i64,
    ) -> Result<SignedCheckpoint> {
        let size = self.tree.size();
        let root = self
            .tree
            .root(size)
            .map_err(PlatformError::core("computing the log root"))?;
        let signed = signer.sign(&Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        });
        log::insert_checkpoint(conn, size, &root, &signed.to_text(), now_ms)?;
        Ok(signed)
    }
}
