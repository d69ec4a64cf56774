//! Feeds settlement from the live installation: once a slot is due (delivery over, late
//! readings window closed) its trades leave the exchange's tables for `settlement_trades`
//! (with each payer's escrow, `Settlement::record_trades`), rule 7 (neighbourhood outliers)
//! runs over its verified energy, and each participant's energy and data-quality counts go
//! to `slot_energy`; then `Settlement::settle_due` settles it.
//!
//! Inputs are recorded once per slot when it is due: a slot whose trades or energy were
//! recorded is skipped, so a tick that is repeated (or a restart) changes nothing. Once more
//! per slot, `reconcile_after_ms` after its delivery (by default when no reading for it can
//! be accepted any more), its verified energy is read again; if it changed (late readings,
//! readings an operator released or rejected), it is recorded anew and the next run version
//! posts the corrections. Earlier runs and their transfers are never edited.
//!
//! Runs on one instance at a time (the `serve` scheduler): rule 7 flags readings and must
//! see a slot once.

use std::collections::BTreeSet;
use std::sync::Mutex;

use settlement::allocation::TradeInput;
use settlement::ledger::AccountId;
use settlement::verify::VerifyConfig;

use super::schedule::{due_slots, reconcile_slots, ScheduleConfig};
use super::service::{RunOutcome, Settlement};
use crate::error::{PlatformError, Result};
use crate::store::{Store, TradeRow};

/// What one tick did.
#[derive(Debug, Default)]
pub struct TickReport {
    /// (zone, slot, trades recorded) for each slot whose trades were recorded.
    pub trades_recorded: Vec<(String, i64, usize)>,
    /// (zone, slot, participants) for each slot whose energy was recorded.
    pub energy_recorded: Vec<(String, i64, usize)>,
    /// Devices rule 7 found producing far above their neighbours (their readings are now
    /// flagged), per (zone, slot).
    pub outliers: Vec<(String, i64, usize)>,
    pub runs: Vec<(String, i64, RunOutcome)>,
    /// (zone, slot, run version) of each reconciliation run made.
    pub reconciled: Vec<(String, i64, u32)>,
    /// Slots that could not be fed or reconciled; retried next tick.
    pub failures: Vec<(String, i64, String)>,
}

/// The feed and the settlement it drives; one per installation.
pub struct Feeder {
    settlement: Settlement,
    verify: VerifyConfig,
    market_zones: Vec<String>,
    /// Slots up to here were fed (or found settled) by this process.
    fed: Watermark,
    /// Slots up to here had their scheduled reconciliation looked at by this process.
    reconciled: Watermark,
}

/// How far this process got through a schedule of slots. A slot that failed, and every slot
/// after it, are taken again at the next tick.
#[derive(Default)]
struct Watermark(Mutex<Option<i64>>);

impl Watermark {
    /// The slots of `due` (oldest first) after the mark.
    fn unseen(&self, due: Vec<i64>) -> Vec<i64> {
        let mark = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        due.into_iter()
            .filter(|s| mark.is_none_or(|m| *s > m))
            .collect()
    }

    /// Moves the mark to the last of `seen`, or to just before the oldest slot that failed.
    fn advance(&self, seen: &[i64], oldest_failure: Option<i64>, slot_len_ms: i64) {
        if let Some(&last) = seen.last() {
            let through = oldest_failure.map_or(last, |f| f - slot_len_ms);
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(through);
        }
    }
}

impl TickReport {
    /// Records a slot that failed and keeps `oldest` at the oldest failed slot.
    fn failed(&mut self, zone: &str, slot: i64, error: PlatformError, oldest: &mut Option<i64>) {
        self.failures
            .push((zone.to_owned(), slot, error.to_string()));
        *oldest = Some(oldest.map_or(slot, |o| o.min(slot)));
    }
}

fn trade_input(row: &TradeRow) -> Result<TradeInput> {
    let corrupt = |what: &str| PlatformError::CorruptRow {
        table: "trading_trades",
        key: row.trade_id.to_string(),
        reason: format!("{what} is negative"),
    };
    Ok(TradeInput {
        trade_id: u64::try_from(row.trade_id).map_err(|_| corrupt("the trade id"))?,
        seller: AccountId(u64::try_from(row.seller_account).map_err(|_| corrupt("the seller"))?),
        buyer: AccountId(u64::try_from(row.buyer_account).map_err(|_| corrupt("the buyer"))?),
        qty_wh: u64::try_from(row.qty_wh).map_err(|_| corrupt("the quantity"))?,
        price_micro_per_kwh: row.price_micro_per_kwh,
    })
}

impl Feeder {
    /// `market_zones`: the exchange's zones (device zones are added from the store).
    pub fn new(settlement: Settlement, verify: VerifyConfig, market_zones: Vec<String>) -> Self {
        Self {
            settlement,
            verify,
            market_zones,
            fed: Watermark::default(),
            reconciled: Watermark::default(),
        }
    }

    pub fn store(&self) -> &Store {
        self.settlement.store()
    }

    /// Feeds every due slot not fed yet, then settles what is due. A slot that fails to feed
    /// is reported and retried at the next tick; the others go on.
    pub fn tick(&self, now_ms: i64, schedule: &ScheduleConfig) -> Result<TickReport> {
        let mut report = TickReport::default();
        let fresh = self.fed.unseen(due_slots(now_ms, schedule));
        let mut zones: BTreeSet<String> = self.market_zones.iter().cloned().collect();
        zones.extend(self.store().device_zones()?);
        let mut oldest_failure: Option<i64> = None;
        for zone in &zones {
            let settled = self.store().settled_slots(zone, &fresh)?;
            for &slot in &fresh {
                if settled.binary_search(&slot).is_ok() {
                    continue;
                }
                if let Err(error) =
                    self.feed_slot(zone, slot, schedule.slot_len_ms, now_ms, &mut report)
                {
                    tracing::error!(%error, zone, slot, "cannot record the slot's settlement inputs; retrying next tick");
                    report.failed(zone, slot, error, &mut oldest_failure);
                }
            }
        }
        self.fed
            .advance(&fresh, oldest_failure, schedule.slot_len_ms);
        // Reconciliation first: an epoch's rewards wait for its last slot's reconciliation,
        // and `settle_due` shares them as soon as that time has come.
        self.reconcile_due(now_ms, schedule, &zones, &mut report)?;
        report.runs = self.settlement.settle_due(now_ms, schedule)?;
        Ok(report)
    }

    /// Reconciles the slots that reached `reconcile_after_ms` since the last tick (after a
    /// restart: the whole look-back window once; a settled slot with nothing new costs three
    /// reads and a run check that writes nothing).
    fn reconcile_due(
        &self,
        now_ms: i64,
        schedule: &ScheduleConfig,
        zones: &BTreeSet<String>,
        report: &mut TickReport,
    ) -> Result<()> {
        let fresh = self.reconciled.unseen(reconcile_slots(now_ms, schedule));
        let mut oldest_failure: Option<i64> = None;
        for zone in zones {
            for &slot in &fresh {
                match self.reconcile_slot(zone, slot, schedule.slot_len_ms, now_ms) {
                    Ok(Some(version)) => report.reconciled.push((zone.clone(), slot, version)),
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(%error, zone, slot, "cannot reconcile the slot; retrying next tick");
                        report.failed(zone, slot, error, &mut oldest_failure);
                    }
                }
            }
        }
        self.reconciled
            .advance(&fresh, oldest_failure, schedule.slot_len_ms);
        Ok(())
    }

    /// Reads one settled slot's verified energy again and, when the slot's inputs no longer
    /// match its latest run, records the energy and settles the next run version (correcting
    /// transfers only). Returns that version, or None when there was nothing to reconcile (the
    /// slot never settled, or nothing changed). Safe to repeat: the comparison is with the
    /// latest run's stored inputs, so a crash between recording and settling is picked up by
    /// the next call.
    pub fn reconcile_slot(
        &self,
        zone: &str,
        slot: i64,
        slot_len_ms: i64,
        now_ms: i64,
    ) -> Result<Option<u32>> {
        let store = self.store();
        let Some(latest) = store
            .settlement_runs(zone, slot)?
            .last()
            .map(|r| r.run_version)
        else {
            return Ok(None);
        };
        let latest = u32::try_from(latest).map_err(|_| PlatformError::CorruptRow {
            table: "settlement_runs",
            key: format!("{zone}/{slot}"),
            reason: format!("run version {latest}"),
        })?;
        let current = store.metered_inputs(zone, slot, slot_len_ms)?;
        if current != store.slot_meters(zone, slot)? {
            store.replace_slot_energy(zone, slot, &current)?;
        }
        match self.settlement.run_slot(zone, slot, now_ms, latest)? {
            RunOutcome::AlreadySettled {
                inputs_changed: true,
            } => {
                let next = latest + 1;
                self.settlement.run_slot(zone, slot, now_ms, next)?;
                Ok(Some(next))
            }
            _ => Ok(None),
        }
    }

    /// Records one slot's trades (with escrows) and then, unless that failed, its energy.
    fn feed_slot(
        &self,
        zone: &str,
        slot: i64,
        slot_len_ms: i64,
        now_ms: i64,
        report: &mut TickReport,
    ) -> Result<()> {
        let store = self.store();
        if !store.has_recorded_trades(zone, slot)? {
            let trades = store
                .trading_trades_in_slot(zone, slot, None)?
                .iter()
                .map(trade_input)
                .collect::<Result<Vec<_>>>()?;
            if !trades.is_empty() {
                self.settlement.record_trades(zone, slot, &trades, now_ms)?;
                report
                    .trades_recorded
                    .push((zone.to_owned(), slot, trades.len()));
            }
        }
        if !store.has_slot_energy(zone, slot)? {
            let flagged = store
                .flag_neighbourhood_outliers(zone, slot, &self.verify, slot_len_ms)?
                .iter()
                .filter(|o| o.direction == settlement::verify::Direction::High)
                .count();
            if flagged > 0 {
                report.outliers.push((zone.to_owned(), slot, flagged));
            }
            let meters = store.metered_inputs(zone, slot, slot_len_ms)?;
            if !meters.is_empty() {
                store.put_slot_energy(zone, slot, &meters)?;
                report
                    .energy_recorded
                    .push((zone.to_owned(), slot, meters.len()));
            }
        }
        Ok(())
    }
}
