//! What the journal holds and how a [`Ledger`] (the engine plus the balances it checks buyers
//! against) applies it. The live engine host and a replay use the same [`Ledger::apply`], with
//! the pre-trade limits recorded in each entry, so a replay makes the same decisions even if
//! devices or balances changed since.

use std::collections::BTreeMap;

use exchange::{
    AccountId, Command, Engine, Event, MarketConfig, Micros, PreTrade, SlotId, Snapshot, Wh, ZoneId,
};
use serde::{Deserialize, Serialize};

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
    /// Money added to an account (admin deposit; settlement replaces this later).
    Deposit { account: u64, amount_micro: i128 },
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
}

/// The engine and the per-account money it checks buys against.
#[derive(Clone, Debug)]
pub struct Ledger {
    pub engine: Engine,
    pub zones: Zones,
    /// Deposits + sales − purchases per account (escrow not subtracted: the engine holds it).
    pub balances: BTreeMap<u64, i128>,
    /// The last journal entry applied.
    pub seq: u64,
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
        })
    }

    pub fn snapshot(&self) -> LedgerSnapshot {
        LedgerSnapshot {
            seq: self.seq,
            engine: self.engine.snapshot(),
            zones: self.zones.names().to_vec(),
            balances: self.balances.iter().map(|(a, b)| (*a, *b)).collect(),
        }
    }

    pub fn funds(&self, account: u64) -> i128 {
        self.balances.get(&account).copied().unwrap_or(0)
    }

    /// Applies one command (its limits included) and returns its events. Trades move money
    /// from buyer to seller at once; settlement will book them properly later.
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
                        let (buyer, _) = t.buyer();
                        let (seller, _) = t.seller();
                        *self.balances.entry(buyer.0).or_insert(0) -= t.value.0;
                        *self.balances.entry(seller.0).or_insert(0) += t.value.0;
                    }
                }
                Ok(events)
            }
            JournalCommand::Deposit {
                account,
                amount_micro,
            } => {
                *self.balances.entry(*account).or_insert(0) += amount_micro;
                Ok(Vec::new())
            }
        }
    }

    /// The engine's state hash as 32 hex digits.
    pub fn state_hash_hex(&self) -> String {
        format!("{:032x}", self.engine.state_hash())
    }
}
