//! The settlement service: gathers a slot's inputs, calls the pure `settle_slot`, and writes
//! the outcome (transfers, balances, run record, mints, log leaves, report row, signed
//! checkpoint) in ONE transaction. Also trade escrows, reward epochs and the proofs the API
//! serves.

use std::sync::{Arc, Mutex, MutexGuard};

use settlement::allocation::{
    escrow_for_trade, inputs_digest, settle_slot, SettlementConfig, SettlementRun, SlotInputs,
    TradeInput,
};
use settlement::carbon::{EmissionFactor, FactorKind, FactorTable};
use settlement::ledger::{
    Account, AccountId, Balance, Code, LedgerId, Owner, References, Transfer, TransferId,
    TransferKind,
};
use settlement::merkle::{Hash, LogSigner, SignedCheckpoint};
use settlement::rewards::{settle_epoch_rewards, EpochCalendar, PoolSchedule};

use super::book::Book;
use super::inputs::{InputSnapshot, MeteredSource, TradeSource};
use super::schedule::{due_slots, ScheduleConfig};
use crate::error::{PlatformError, Result};
use crate::store::report_rows;
use crate::store::settlement::{self as rows, NewRun};
use crate::store::tokens::{self, NewMint, RewardEpochRow};
use crate::store::{write_transaction, AnyConnection, Store};

/// What settlement needs besides the store and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleConfig {
    pub slot_len_ms: i64,
    /// Price of a shortfall, in micro-units per kWh.
    pub imbalance_price_micro_per_kwh: i64,
    /// Which emission factor kind to use, in order of preference, when a zone has several.
    pub factor_kinds: Vec<FactorKind>,
    pub core: SettlementConfig,
    pub epochs: EpochCalendar,
    pub reward_pool: PoolSchedule,
    /// The log's origin line and signing key name.
    pub log_origin: String,
}

impl Default for SettleConfig {
    fn default() -> Self {
        Self {
            slot_len_ms: 15 * 60 * 1000,
            imbalance_price_micro_per_kwh: 300_000,
            factor_kinds: vec![
                FactorKind::CombinedMargin,
                FactorKind::AnnualAverage,
                FactorKind::Marginal,
            ],
            core: SettlementConfig::default(),
            // Epochs start on Monday 2026-01-05T00:00Z, one week each.
            epochs: EpochCalendar::weekly(1_767_571_200_000),
            reward_pool: PoolSchedule::Constant {
                per_epoch: 1_000_000_000,
            },
            log_origin: super::keys::DEFAULT_LOG_ORIGIN.to_owned(),
        }
    }
}

/// What a call of [`Settlement::run_slot`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    Settled {
        transfers: usize,
        leaves: usize,
        first_leaf_index: u64,
        checkpoint_size: u64,
    },
    /// This (zone, slot, version) was settled before; nothing changed. `inputs_changed` says
    /// whether the inputs now differ from what that run used (a reconciliation is due).
    AlreadySettled { inputs_changed: bool },
}

/// What a call of [`Settlement::settle_epoch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpochOutcome {
    Distributed {
        minted: u128,
        participants: usize,
    },
    AlreadyDistributed,
    /// Not distributed: slots of the epoch with trades or energy have no run yet, and their
    /// carbon must count. `first` is the oldest of them (zone, slot start).
    Held {
        unsettled_slots: usize,
        first: (String, i64),
    },
}

/// The settlement service; clones share the cache and the key.
#[derive(Clone)]
pub struct Settlement {
    store: Store,
    signer: Arc<LogSigner>,
    config: Arc<SettleConfig>,
    trades: Arc<dyn TradeSource>,
    meters: Arc<dyn MeteredSource>,
    book: Arc<Mutex<Book>>,
}

impl Settlement {
    /// A service reading trades and energy from the store's input tables.
    pub fn new(store: Store, signer: LogSigner, config: SettleConfig) -> Self {
        let sources = Arc::new(store.clone());
        Self::with_sources(store, signer, config, sources.clone(), sources)
    }

    /// A service with other input sources (e.g. the trading engine's journal).
    pub fn with_sources(
        store: Store,
        signer: LogSigner,
        config: SettleConfig,
        trades: Arc<dyn TradeSource>,
        meters: Arc<dyn MeteredSource>,
    ) -> Self {
        Self {
            store,
            signer: Arc::new(signer),
            config: Arc::new(config),
            trades,
            meters,
            book: Arc::new(Mutex::new(Book::default())),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &SettleConfig {
        &self.config
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.signer.public_key()
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        // A panic while holding the lock leaves a possibly half-updated cache: start over.
        self.book.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = Book::default();
            guard
        })
    }

    /// Runs `f` in one write transaction with the cache brought up to date; drops the cache
    /// if anything fails, since it may hold changes that were rolled back.
    fn write<T>(&self, f: impl FnOnce(&mut AnyConnection, &mut Book) -> Result<T>) -> Result<T> {
        let mut book = self.lock();
        let mut conn = self.store.connection()?;
        let result = write_transaction(&mut conn, |conn| {
            book.begin(conn)?;
            f(conn, &mut book)
        });
        if result.is_err() {
            *book = Book::default();
        }
        result
    }

    /// The emission factor for a slot, by the configured preference of kinds.
    fn factor(&self, zone: &str, slot_start_ms: i64) -> Result<EmissionFactor> {
        let table_rows = self.store.emission_factors()?;
        for kind in &self.config.factor_kinds {
            if let Some(f) = table_rows
                .iter()
                .find(|f| f.zone == zone && f.kind == *kind && f.covers(slot_start_ms))
            {
                return Ok(f.clone());
            }
        }
        // Let the core phrase the error (which zone, which time).
        let kind = self
            .config
            .factor_kinds
            .first()
            .copied()
            .unwrap_or(FactorKind::CombinedMargin);
        FactorTable::default()
            .lookup(zone, kind, slot_start_ms)
            .cloned()
            .map_err(PlatformError::core(
                "finding the emission factor (run `sunmesh factors import`)",
            ))
    }

    /// Gathers the inputs of one (zone, slot) from the sources.
    pub fn slot_inputs(&self, zone: &str, slot_start_ms: i64) -> Result<SlotInputs> {
        Ok(SlotInputs {
            zone: zone.to_owned(),
            slot_start_ms,
            slot_len_ms: self.config.slot_len_ms,
            trades: self.trades.slot_trades(zone, slot_start_ms)?,
            meters: self.meters.slot_meters(zone, slot_start_ms)?,
            imbalance_price_micro_per_kwh: self.config.imbalance_price_micro_per_kwh,
            emission_factor: self.factor(zone, slot_start_ms)?,
        })
    }

    /// Settles one (zone, slot). Version 1 is the initial run; version n > 1 reconciles run
    /// n − 1 with the current inputs and posts only corrections. Running a version that exists
    /// changes nothing. Everything is written in one transaction, after which the ledger
    /// invariants are checked (a violation rolls the run back) and a checkpoint is signed.
    pub fn run_slot(
        &self,
        zone: &str,
        slot_start_ms: i64,
        now_ms: i64,
        version: u32,
    ) -> Result<RunOutcome> {
        let version_err = |reason: String| PlatformError::RunVersion {
            zone: zone.to_owned(),
            slot_start_ms,
            version,
            reason,
        };
        if version == 0 {
            return Err(version_err("versions start at 1 (the initial run)".into()));
        }
        let inputs = self.slot_inputs(zone, slot_start_ms)?;
        let context = format!("settling zone {zone} slot {slot_start_ms} run {version}");
        self.write(|conn, book| {
            let stored = rows::runs_of_slot(conn, zone, slot_start_ms)?;
            if let Some(done) = stored.iter().find(|r| r.run_version as u32 == version) {
                let digest = hex::encode(inputs_digest(&inputs));
                return Ok(RunOutcome::AlreadySettled {
                    inputs_changed: digest != done.inputs_sha256,
                });
            }
            let latest = stored.last().map_or(0, |r| r.run_version as u32);
            if latest + 1 != version {
                return Err(version_err(if latest >= version {
                    format!("run {latest} exists; reconcile with version {}", latest + 1)
                } else {
                    format!(
                        "the latest run is {latest}; settle version {} first",
                        latest + 1
                    )
                }));
            }
            let prior = self.rebuild(&stored, &inputs.trades)?;
            let run = settle_slot(&inputs, &self.config.core, version, prior.as_ref())
                .map_err(PlatformError::core(context.clone()))?;
            let mut transfers = Vec::with_capacity(run.transfers.len() + 16);
            if version == 1 {
                // Escrows the trading side did not create yet are created now.
                for t in &inputs.trades {
                    if let Some(escrow) = escrow_for_trade(zone, slot_start_ms, t) {
                        if book.ledger.transfer(escrow.id).is_none() {
                            transfers.push(escrow);
                        }
                    }
                }
            }
            transfers.extend(run.transfers.iter().cloned());
            book.apply(conn, zone, &transfers, now_ms)?;
            book.check()?;
            let first_leaf = book.append(conn, &run.log_leaves, now_ms)?;
            self.store_run(conn, &run, &inputs, first_leaf, now_ms)?;
            let checkpoint =
                book.checkpoint(conn, &self.signer, &self.config.log_origin, now_ms)?;
            Ok(RunOutcome::Settled {
                transfers: run.transfers.len(),
                leaves: run.log_leaves.len(),
                first_leaf_index: first_leaf,
                checkpoint_size: checkpoint.checkpoint.size,
            })
        })
    }

    /// Replays the stored runs of a slot (oldest first) from their input snapshots and
    /// returns the latest, checking each against its stored inputs digest.
    fn rebuild(
        &self,
        stored: &[crate::store::StoredRun],
        trades: &[TradeInput],
    ) -> Result<Option<SettlementRun>> {
        let mut prior: Option<SettlementRun> = None;
        for r in stored {
            let key = format!("{}/{}/{}", r.zone, r.slot_start_ms, r.run_version);
            let inputs = InputSnapshot::restore(
                &r.inputs_json,
                &key,
                &r.zone,
                r.slot_start_ms,
                trades.to_vec(),
            )?;
            if hex::encode(inputs_digest(&inputs)) != r.inputs_sha256 {
                return Err(PlatformError::CorruptRow {
                    table: "settlement_runs",
                    key,
                    reason: "its inputs no longer hash to the recorded digest (were the slot's trades changed after settlement?)".into(),
                });
            }
            let run = settle_slot(
                &inputs,
                &self.config.core,
                r.run_version as u32,
                prior.as_ref(),
            )
            .map_err(PlatformError::core(format!("rebuilding run {key}")))?;
            prior = Some(run);
        }
        Ok(prior)
    }

    fn store_run(
        &self,
        conn: &mut AnyConnection,
        run: &SettlementRun,
        inputs: &SlotInputs,
        first_leaf: u64,
        now_ms: i64,
    ) -> Result<()> {
        let mut mints = Vec::new();
        let mut leaf = first_leaf;
        for m in &run.mints {
            let Some(id) = m.transfer_id else { continue };
            mints.push(NewMint::carbon(
                id,
                m.account,
                &run.zone,
                run.slot_start_ms,
                run.run_version,
                m.minted_g,
                m.grams,
                m.exported_wh,
                &run.factor,
                leaf,
            )?);
            leaf += 1;
        }
        tokens::insert_mints(conn, &mints)?;
        rows::insert_run(
            conn,
            &NewRun {
                zone: &run.zone,
                slot_start_ms: run.slot_start_ms,
                slot_len_ms: run.slot_len_ms,
                run_version: run.run_version as i32,
                methodology: &run.methodology_version,
                inputs_sha256: hex::encode(inputs_digest(inputs)),
                inputs_json: InputSnapshot::of(inputs).to_json(),
                transfer_count: run.transfers.len() as i64,
                first_leaf_index: first_leaf as i64,
                leaf_count: run.log_leaves.len() as i64,
                created_at_ms: now_ms,
            },
        )?;
        for row in &run.report_rows {
            report_rows::insert_report_row(conn, row, first_leaf, now_ms)?;
        }
        Ok(())
    }

    /// Records a slot's trades in `settlement_trades` together with each payer's escrow
    /// (a pending transfer), in one transaction: what the trading side calls at gate closure.
    /// Fails, recording nothing, if a payer cannot cover an escrow.
    pub fn record_trades(
        &self,
        zone: &str,
        slot_start_ms: i64,
        trades: &[TradeInput],
        now_ms: i64,
    ) -> Result<()> {
        let escrows: Vec<Transfer> = trades
            .iter()
            .filter_map(|t| escrow_for_trade(zone, slot_start_ms, t))
            .collect();
        self.write(|conn, book| {
            rows::insert_trades(conn, zone, slot_start_ms, trades)?;
            book.apply(conn, zone, &escrows, now_ms)?;
            book.check()
        })
    }

    /// Credits participants from issuance (top-ups), one transaction for all: each entry is
    /// (participant, ledger, amount, id). The id is the caller's idempotency key: repeating a
    /// deposit with the same id changes nothing.
    pub fn deposit(
        &self,
        deposits: &[(AccountId, LedgerId, u128, TransferId)],
        now_ms: i64,
    ) -> Result<()> {
        let transfers: Vec<Transfer> = deposits
            .iter()
            .map(|&(account, ledger, amount, id)| Transfer {
                id,
                debit: Account::new(Owner::Issuance, ledger),
                credit: Account::participant(account, ledger),
                amount,
                kind: TransferKind::Posted,
                code: Code::Deposit,
                refs: References {
                    slot_start_ms: now_ms,
                    ..References::default()
                },
            })
            .collect();
        self.write(|conn, book| {
            book.apply(conn, "", &transfers, now_ms)?;
            Ok(())
        })
    }

    /// Distributes epoch `epoch`'s reward pool to the carbon grams minted in its slots. Only
    /// once the epoch has ended and every slot in it with trades or energy has its initial run
    /// (otherwise [`EpochOutcome::Held`]: a slot settled after the distribution would mint
    /// carbon that never shares the pool); a second call changes nothing.
    pub fn settle_epoch(&self, epoch: u64, now_ms: i64) -> Result<EpochOutcome> {
        let calendar = self.config.epochs;
        let start = calendar.epoch_start_ms(epoch);
        let end = start.saturating_add(calendar.epoch_len_ms);
        if now_ms < end {
            return Err(PlatformError::InvalidArgument {
                what: "reward epoch",
                input: epoch.to_string(),
                reason: format!("it ends at {end} ms, after now ({now_ms} ms); wait for its end"),
            });
        }
        let epoch_key = i64::try_from(epoch).map_err(|_| PlatformError::AmountTooLarge {
            what: "epoch",
            value: epoch.to_string(),
        })?;
        self.write(|conn, book| {
            if tokens::reward_epoch(conn, epoch_key)?.is_some() {
                return Ok(EpochOutcome::AlreadyDistributed);
            }
            let unsettled = rows::unsettled_slots_in(conn, start, end)?;
            if let Some(first) = unsettled.first() {
                return Ok(EpochOutcome::Held {
                    unsettled_slots: unsettled.len(),
                    first: first.clone(),
                });
            }
            let grams = tokens::carbon_by_account(conn, start, end)?;
            let rewards = settle_epoch_rewards(&calendar, &self.config.reward_pool, epoch, &grams);
            book.apply(conn, "*rewards*", &rewards.transfers, now_ms)?;
            book.check()?;
            let first = book.append(conn, &rewards.log_leaves, now_ms)?;
            let mut mints = Vec::with_capacity(rewards.transfers.len());
            for (i, t) in rewards.transfers.iter().enumerate() {
                let Owner::Participant(account) = t.credit.owner else {
                    continue;
                };
                mints.push(NewMint {
                    transfer_id: t.id.to_hex(),
                    kind: "reward",
                    account_id: crate::store::ledger::id_to_i64("account id", account.0)?,
                    zone: "*rewards*".to_owned(),
                    slot_start_ms: start,
                    run_version: 1,
                    amount: crate::store::ledger::to_i64("reward", t.amount)?,
                    total: crate::store::ledger::to_i64("reward", t.amount)?,
                    exported_wh: None,
                    ef_zone: None,
                    ef_kind: None,
                    ef_source: None,
                    ef_version: None,
                    ef_g_per_mwh: None,
                    epoch: Some(epoch_key),
                    leaf_index: (first + i as u64) as i64,
                });
            }
            tokens::insert_mints(conn, &mints)?;
            let minted: u128 = rewards.transfers.iter().map(|t| t.amount).sum();
            tokens::insert_reward_epoch(
                conn,
                &RewardEpochRow {
                    epoch: epoch_key,
                    epoch_start_ms: start,
                    epoch_len_ms: calendar.epoch_len_ms,
                    pool: crate::store::ledger::to_i64("reward pool", rewards.pool)?,
                    minted: crate::store::ledger::to_i64("reward", minted)?,
                    participants: rewards.transfers.len() as i64,
                    created_at_ms: now_ms,
                },
            )?;
            if !rewards.log_leaves.is_empty() {
                book.checkpoint(conn, &self.signer, &self.config.log_origin, now_ms)?;
            }
            Ok(EpochOutcome::Distributed {
                minted,
                participants: rewards.transfers.len(),
            })
        })
    }

    /// Settles every due slot that has trades or energy and no initial run yet, then every
    /// epoch not yet distributed whose slots are all due and past their scheduled
    /// reconciliation (if that is on), oldest first; an epoch with an unsettled active slot is
    /// held (logged) and tried again next tick. What the
    /// platform's interval task calls; returns the runs it made.
    pub fn settle_due(
        &self,
        now_ms: i64,
        schedule: &ScheduleConfig,
    ) -> Result<Vec<(String, i64, RunOutcome)>> {
        let slots = due_slots(now_ms, schedule);
        let mut done = Vec::new();
        let (Some(&first), Some(&last)) = (slots.first(), slots.last()) else {
            return Ok(done);
        };
        let unsettled = self
            .store
            .unsettled_slots(first, last + schedule.slot_len_ms)?;
        for (zone, slot) in unsettled {
            // One slot that cannot settle (a missing emission factor, a payer short of
            // escrow) must not hold up the others; it is retried at the next tick.
            match self.run_slot(&zone, slot, now_ms, 1) {
                Ok(outcome) => done.push((zone, slot, outcome)),
                Err(error) => {
                    tracing::error!(%error, zone, slot, "slot not settled; retrying next tick")
                }
            }
        }
        // An epoch's carbon is final once its last slot is settled (`late_reading_ms` after the
        // epoch ends) and, when scheduled reconciliation is on, reconciled: a correction minted
        // after the pool was shared would never take part in it.
        let calendar = self.config.epochs;
        let wait = schedule
            .late_reading_ms
            .max(schedule.reconcile_after_ms)
            .max(0);
        let complete = now_ms.saturating_sub(wait);
        let Some(current) = calendar.epoch_of(complete) else {
            return Ok(done);
        };
        let distributed: Vec<u64> = self
            .store
            .reward_epochs()?
            .iter()
            .filter_map(|e| u64::try_from(e.epoch).ok())
            .collect();
        // Every epoch not yet distributed, not just the look-back window's: an epoch held by a
        // slot that could not settle still gets its pool once that slot is settled (by a later
        // tick or by hand), however long that takes. One row per epoch, so this scans weeks,
        // not slots.
        for epoch in 0..current {
            if distributed.binary_search(&epoch).is_ok() {
                continue;
            }
            if let EpochOutcome::Held {
                unsettled_slots,
                first: (zone, slot),
            } = self.settle_epoch(epoch, now_ms)?
            {
                tracing::warn!(
                    epoch,
                    unsettled_slots,
                    zone,
                    slot,
                    "reward epoch held: slots with trades or energy are not settled yet"
                );
            }
        }
        Ok(done)
    }

    /// Brings the cache up to date and checks the ledger invariants over everything stored.
    pub fn check_invariants(&self) -> Result<()> {
        self.write(|_, book| book.check())
    }

    /// A participant's balances per ledger (pending escrow included), from the store.
    pub fn balances(&self, account: AccountId) -> Result<Vec<(Account, Balance)>> {
        self.store.participant_balances(account)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.read_tree(|tree| tree.inclusion_proof(index, size))
    }

    /// The consistency proof from the tree of `from` leaves to that of `to` leaves.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        self.read_tree(|tree| tree.consistency_proof(from, to))
    }

    fn read_tree<T, E>(
        &self,
        f: impl FnOnce(&settlement::merkle::Tree) -> std::result::Result<T, E>,
    ) -> Result<T>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut book = self.lock();
        let mut conn = self.store.connection()?;
        if let Err(e) = book.begin(&mut conn) {
            *book = Book::default();
            return Err(e);
        }
        f(&book.tree).map_err(PlatformError::core("building a log proof"))
    }

    /// Signs a checkpoint of the log as it is now, if the newest stored one is older.
    pub fn sign_checkpoint(&self, now_ms: i64) -> Result<SignedCheckpoint> {
        self.write(|conn, book| {
            book.checkpoint(conn, &self.signer, &self.config.log_origin, now_ms)
        })
    }
}
