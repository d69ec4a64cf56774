//! The `[market]` section of the serve configuration: zones by name, the slot calendar, price
//! rules and the engine host's batching and snapshot cadence.

use exchange::{Calendar, MarketConfig, Price, Wh, ZoneId};
use serde::Deserialize;

use crate::error::{PlatformError, Result};
use crate::registry::DEFAULT_ZONE;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MarketSettings {
    /// Zone names as devices carry them. Zone ids are positions in this list (1, 2, …): append
    /// new zones at the end; the journal records the list and a restart keeps the recorded one.
    pub zones: Vec<String>,
    pub slot_len_ms: i64,
    /// How long before delivery a slot opens.
    pub horizon_ms: i64,
    /// Gate closure: how long before delivery a slot stops trading.
    pub gate_lead_ms: i64,
    /// Price tick and band, micro-units per kWh.
    pub tick: i64,
    pub min_price: i64,
    pub max_price: i64,
    pub max_order_qty_wh: u64,
    /// A snapshot is taken after this many journal entries (and never before as many entries
    /// as there are resting orders; see `engine_host::snapshot_due`).
    pub snapshot_every: u64,
    /// Most commands executed and committed as one group.
    pub max_batch: usize,
    /// How often the timer journals an `AdvanceTime` (closes books at their gate).
    pub tick_interval_ms: u64,
}

impl Default for MarketSettings {
    fn default() -> Self {
        let c = MarketConfig::community(vec![ZoneId(1)]);
        Self {
            zones: vec![DEFAULT_ZONE.to_owned()],
            slot_len_ms: c.calendar.slot_len_ms(),
            horizon_ms: c.calendar.horizon_ms(),
            gate_lead_ms: c.calendar.gate_lead_ms(),
            tick: c.tick,
            min_price: c.min_price.0,
            max_price: c.max_price.0,
            max_order_qty_wh: c.max_order_qty.0,
            snapshot_every: 10_000,
            max_batch: 2048,
            tick_interval_ms: 1000,
        }
    }
}

impl MarketSettings {
    /// The engine's configuration; zone `i` of `zones` is `ZoneId(i + 1)`.
    pub fn engine_config(&self) -> Result<MarketConfig> {
        let invalid = |e: exchange::ExchangeError| PlatformError::Config(format!("[market]: {e}"));
        if self.zones.is_empty() || self.zones.iter().any(|z| z.is_empty() || z.len() > 64) {
            return Err(PlatformError::Config(
                "[market] zones must list at least one zone name of 1–64 characters".into(),
            ));
        }
        if self.max_batch == 0 || self.snapshot_every == 0 || self.tick_interval_ms == 0 {
            return Err(PlatformError::Config(
                "[market] max_batch, snapshot_every and tick_interval_ms must be positive".into(),
            ));
        }
        let calendar =
            Calendar::new(self.slot_len_ms, self.horizon_ms, self.gate_lead_ms).map_err(invalid)?;
        let zones = (1..=self.zones.len())
            .map(|i| u32::try_from(i).map(ZoneId))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| PlatformError::Config("[market] too many zones".into()))?;
        MarketConfig {
            calendar,
            zones,
            tick: self.tick,
            min_price: Price(self.min_price),
            max_price: Price(self.max_price),
            max_order_qty: Wh(self.max_order_qty_wh),
        }
        .validated()
        .map_err(invalid)
    }
}

/// Zone names ↔ engine zone ids, as recorded in the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zones {
    names: Vec<String>,
}

impl Zones {
    pub fn new(names: Vec<String>) -> Self {
        Self { names }
    }

    pub fn id(&self, name: &str) -> Option<ZoneId> {
        let i = self.names.iter().position(|n| n == name)?;
        u32::try_from(i + 1).ok().map(ZoneId)
    }

    pub fn name(&self, id: ZoneId) -> &str {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.names.get(i))
            .map_or("?", String::as_str)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}
