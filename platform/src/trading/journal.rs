//! What the journal holds and how a [`Ledger`] (the engine plus the balances it checks buyers
//! against) applies it. The live engine host and a replay use the same [`Ledger::apply`], with
//! the pre-trade limits recorded in each entry, so a replay makes the same decisions even if
//! devices or balances changed since.

use std::collections::BTreeMap;

use exchange::{
    AccountId, Command, Engine, Event, MarketConfig, Micros, PreTrade, SlotId, Snapshot, Wh, ZoneId,
};
use serde::{Deserialize, Serialize};
use settlement::allocation::escrow_amount;

use super::market::Zones;
use crate::error::{PlatformError, Result};

/// One journal row's content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    pub at_ms: i64,
    pub command: JournalCommand,
    /// The events the command caused, for audits and the WebSocket replay; replay recomputes
    /// them and does not read these.
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum JournalCommand {
    /// The first entry of every journal: the market the engine was created with.
    Open {
        config: MarketConfig,
        zones: Vec<String>,
    },
    /// An engine command and the limits it was judged against.
    Engine {
        command: Command,
        /// `available_funds` of the command's account at that moment.
        funds: i128,
        /// `sell_capacity_wh` for a sell (None: no installation), None for buys.
        capacity_wh: Option<u64>,
    },
    /// What the settlement ledger did to accounts' available currency since the last sync:
    /// the effects of its transfer rows with `seq <= through` not synced before (see
    /// `super::funds`). Deposits, settled sales, refunds of undelivered escrow and imbalance
    /// charges all arrive this way.
    LedgerSync {
        /// The row the sync continues from; a sync that does not continue exactly from the
        /// last one applied (two syncs raced) is ignored, so no row counts twice.
        after: i64,
        through: i64,
        deltas: Vec<(u64, i128)>,
    },
}

/// Pre-trade limits as recorded in the journal.
pub struct Recorded {
    pub funds: i128,
    pub capacity_wh: Option<u64>,
}

impl PreTrade for Recorded {
    fn sell_capacity_wh(&self, _: AccountId, _: ZoneId, _: SlotId) -> Option<Wh> {
        self.capacity_wh.map(Wh)
    }

    fn available_funds(&self, _: AccountId) -> Micros {
        Micros(self.funds)
    }
}

/// The snapshot row's content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LedgerSnapshot {
    pub seq: u64,
    pub engine: Snapshot,
    pub zones: Vec<String>,
    pub balances: Vec<(u64, i128)>,
    /// The last settlement ledger transfer row reflected in `balances`.
    #[serde(default)]
    pub ledger_through: i64,
}

/// The engine and the per-account money it checks buys against.
#[derive(Clone, Debug)]
pub struct Ledger {
    pub engine: Engine,
    pub zones: Zones,
    /// Per account, the settlement ledger's available currency (posted balance minus pending
    /// debits) as of `ledger_through`, minus what trades since then committed the account to
    /// pay (the escrow settlement will take for them). The engine's own order escrow is not
    /// subtracted: the engine holds it.
    pub balances: BTreeMap<u64, i128>,
    /// The last journal entry applied.
    pub seq: u64,
    /// The last settlement ledger transfer row (`ledger_transfers.seq`) synced in.
    pub ledger_through: i64,
}

impl Ledger {
    pub fn open(config: MarketConfig, zones: Vec<String>) -> Result<Self> {
        let engine = Engine::new(config)
            .map_err(|e| PlatformError::Config(format!("[market] is invalid: {e}")))?;
        Ok(Self {
            engine,
            zones: Zones::new(zones),
            balances: BTreeMap::new(),
            seq: 0,
            ledger_through: 0,
        })
    }

    pub fn restore(snapshot: &LedgerSnapshot) -> Result<Self> {
        let engine = Engine::restore(&snapshot.engine).map_err(|e| PlatformError::CorruptRow {
            table: "trading_snapshots",
            key: snapshot.seq.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            engine,
            zones: Zones::new(snapshot.zones.clone()),
            balances: snapshot.balances.iter().copied().collect(),
            seq: snapshot.seq,
            ledger_through: snapshot.ledger_through,
        })
    }

    pub fn snapshot(&self) -> LedgerSnapshot {
        LedgerSnapshot {
            seq: self.seq,
            engine: self.engine.snapshot(),
            zones: self.zones.names().to_vec(),
            balances: self.balances.iter().map(|(a, b)| (*a, *b)).collect(),
            ledger_through: self.ledger_through,
        }
    }

    pub fn funds(&self, account: u64) -> i128 {
        self.balances.get(&account).copied().unwrap_or(0)
    }

    /// Applies one command (its limits included) and returns its events. A trade takes from
    /// its payer (the buyer; the seller at a negative price) exactly the escrow settlement
    /// will hold for it; the payee is credited only when settlement posts the delivered part
    /// (a later `LedgerSync`), so nobody spends money for energy not yet delivered.
    pub fn apply(&mut self, seq: u64, command: &JournalCommand) -> Result<Vec<Event>> {
        self.seq = seq;
        match command {
            JournalCommand::Open { config, zones } => {
                *self = Self::open(config.clone(), zones.clone())?;
                self.seq = seq;
                Ok(Vec::new())
            }
            JournalCommand::Engine {
                command,
                funds,
                capacity_wh,
            } => {
                let checks = Recorded {
                    funds: *funds,
                    capacity_wh: *capacity_wh,
                };
                let events = self.engine.execute(command, &checks);
                for event in &events {
                    if let Event::Trade(t) = event {
                        let payer = if t.price.0 >= 0 {
                            t.buyer().0
                        } else {
                            t.seller().0
                        };
                        let escrow = escrow_amount(t.qty.0, t.price.0);
                        // An escrow is at most |price| × qty / 1000 < 2^127.
                        let escrow = i128::try_from(escrow).unwrap_or(i128::MAX);
                        *self.balances.entry(payer.0).or_insert(0) -= escrow;
                    }
                }
                Ok(events)
            }
            JournalCommand::LedgerSync {
                after,
                through,
                deltas,
            } => {
                if *after == self.ledger_through && *through > *after {
                    for (account, delta) in deltas {
                        *self.balances.entry(*account).or_insert(0) += delta;
                    }
                    self.ledger_through = *through;
                }
                Ok(Vec::new())
            }
        }
    }

    /// The engine's state hash as 32 hex digits.
    pub fn state_hash_hex(&self) -> String {
        format!("{:032x}", self.engine.state_hash())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(after: i64, through: i64, amount: i128) -> JournalCommand {
        JournalCommand::LedgerSync {
            after,
            through,
            deltas: vec![(7, amount)],
        }
    }

    #[test]
    fn a_ledger_sync_applies_only_as_the_exact_continuation_of_the_last() {
        let mut ledger =
            Ledger::open(MarketConfig::community(vec![ZoneId(1)]), vec!["z".into()]).unwrap();
        ledger.apply(1, &sync(0, 5, 100)).unwrap();
        assert_eq!((ledger.funds(7), ledger.ledger_through), (100, 5));
        // A racing sync that read rows 1..=8 from the same start: rows 1..=5 are in already.
        ledger.apply(2, &sync(0, 8, 130)).unwrap();
        assert_eq!((ledger.funds(7), ledger.ledger_through), (100, 5));
        // The same sync again, and one that reads nothing new, change nothing.
        ledger.apply(3, &sync(0, 5, 100)).unwrap();
        ledger.apply(4, &sync(5, 5, 0)).unwrap();
        assert_eq!((ledger.funds(7), ledger.ledger_through), (100, 5));
        // Its retry from where the engine stands applies rows 6..=8 once.
        ledger.apply(5, &sync(5, 8, 30)).unwrap();
        assert_eq!((ledger.funds(7), ledger.ledger_through), (130, 8));
        // A snapshot keeps the position, so a restart does not sync twice.
        let restored = Ledger::restore(&ledger.snapshot()).unwrap();
        assert_eq!(restored.ledger_through, 8);
    }
}
