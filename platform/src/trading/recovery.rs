//! Rebuilding the engine from the database: the last snapshot, checked against its state
//! hash, then the journal replayed after it; and writing snapshots. The engine host recovers
//! through here on start and after a failed commit; `sunmesh journal replay` replays from
//! scratch through the same code.

use super::journal::{JournalCommand, JournalEntry, Ledger, LedgerSnapshot};
use super::market::MarketSettings;
use crate::clock;
use crate::error::{PlatformError, Result};
use crate::store::{JournalRow, Store, TradingBatch};

/// Journal entries read per query during recovery.
const REPLAY_CHUNK: i64 = 10_000;

fn parse_entry(seq: i64, text: &str) -> Result<JournalEntry> {
    let entry: JournalEntry =
        serde_json::from_str(text).map_err(|e| PlatformError::CorruptRow {
            table: "trading_journal",
            key: seq.to_string(),
            reason: e.to_string(),
        })?;
    if entry.seq as i64 != seq {
        return Err(PlatformError::CorruptRow {
            table: "trading_journal",
            key: seq.to_string(),
            reason: format!("entry says seq {}", entry.seq),
        });
    }
    Ok(entry)
}

/// Replays journal entries after `ledger` (or from the start when None) up to `upto`.
pub fn replay(store: &Store, mut ledger: Option<Ledger>, upto: i64) -> Result<Option<Ledger>> {
    let mut after = ledger.as_ref().map_or(0, |l| l.seq as i64);
    loop {
        let rows = store.trading_journal_after(after, upto, REPLAY_CHUNK)?;
        if rows.is_empty() {
            return Ok(ledger);
        }
        for (seq, text) in rows {
            if seq != after + 1 {
                return Err(PlatformError::CorruptRow {
                    table: "trading_journal",
                    key: seq.to_string(),
                    reason: format!("gap: entry {} is missing", after + 1),
                });
            }
            let entry = parse_entry(seq, &text)?;
            match (&mut ledger, &entry.command) {
                (None, JournalCommand::Open { config, zones }) => {
                    let mut l = Ledger::open(config.clone(), zones.clone())?;
                    l.seq = entry.seq;
                    ledger = Some(l);
                }
                (None, _) => {
                    return Err(PlatformError::CorruptRow {
                        table: "trading_journal",
                        key: seq.to_string(),
                        reason: "the journal does not start with Open".into(),
                    })
                }
                (Some(l), command) => {
                    l.apply(entry.seq, command)?;
                }
            }
            after = seq;
        }
    }
}

/// Last snapshot + journal replay; a fresh database gets its Open entry.
pub fn recover(store: &Store, settings: &MarketSettings) -> Result<(Ledger, i64)> {
    let mut snapshot_seq = 0;
    let mut ledger = None;
    if let Some((seq, hash, json)) = store.latest_trading_snapshot()? {
        let corrupt = |reason: String| PlatformError::CorruptRow {
            table: "trading_snapshots",
            key: seq.to_string(),
            reason,
        };
        let snap: LedgerSnapshot =
            serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?;
        let restored = Ledger::restore(&snap)?;
        if restored.state_hash_hex() != hash {
            return Err(corrupt(format!(
                "restored state hash {} differs from the recorded {hash}",
                restored.state_hash_hex()
            )));
        }
        snapshot_seq = seq;
        ledger = Some(restored);
    }
    let ledger = match replay(store, ledger, i64::MAX)? {
        Some(l) => l,
        None => {
            let config = settings.engine_config()?;
            let command = JournalCommand::Open {
                config: config.clone(),
                zones: settings.zones.clone(),
            };
            let now = clock::now_ms();
            let entry = JournalEntry {
                seq: 1,
                at_ms: now,
                command,
                events: Vec::new(),
            };
            let batch = TradingBatch {
                journal: vec![JournalRow {
                    seq: 1,
                    at_ms: now,
                    entry: serde_json::to_string(&entry).map_err(internal)?,
                }],
                at_ms: now,
                ..TradingBatch::default()
            };
            store.commit_trading_batch(&batch)?;
            let mut l = Ledger::open(config, settings.zones.clone())?;
            l.seq = 1;
            l
        }
    };
    let configured = settings.engine_config()?;
    if ledger.engine.config() != &configured || ledger.zones.names() != settings.zones.as_slice() {
        tracing::warn!(
            "the [market] configuration differs from the one recorded in the journal; the journal's \
             is used (start on a fresh database to change zones, calendar or price rules)"
        );
    }
    Ok((ledger, snapshot_seq))
}

pub(super) fn write_snapshot(store: &Store, snap: &LedgerSnapshot, hash: &str, now: i64) {
    let written = serde_json::to_string(snap)
        .map_err(internal)
        .and_then(|json| store.insert_trading_snapshot(snap.seq as i64, now, hash, &json));
    match written {
        Ok(()) => tracing::info!(seq = snap.seq, "engine snapshot written"),
        // Not fatal: the journal is durable; the next snapshot retries.
        Err(error) => tracing::warn!(%error, "engine snapshot not written"),
    }
}

pub(super) fn internal(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Config(format!("trading journal encoding failed: {e}"))
}
