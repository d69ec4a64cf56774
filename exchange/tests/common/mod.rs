//! Shared fixtures for the integration tests: a small market, order builders and pre-trade limits.
#![allow(dead_code)]

pub mod reference;

use std::collections::BTreeMap;

use exchange::*;

pub const H: i64 = 3_600_000;
/// A quarter-hour boundary well after the epoch.
pub const T0: i64 = 1_000_000 * QUARTER_HOUR_MS;
/// The slot whose delivery starts one hour after T0; open at T0.
pub const SLOT: SlotId = SlotId(T0 + H);
pub const ZONE: ZoneId = ZoneId(1);

/// Quarter-hours, open 48 h ahead, gate closure 5 min before delivery; tick 10, band ±100 000.
pub fn config() -> MarketConfig {
    MarketConfig {
        calendar: Calendar::new(QUARTER_HOUR_MS, 48 * H, 5 * 60_000).unwrap(),
        zones: vec![ZoneId(1), ZoneId(2)],
        tick: 10,
        min_price: Price(-100_000),
        max_price: Price(100_000),
        max_order_qty: Wh(1_000_000),
    }
}

pub fn engine() -> Engine {
    Engine::new(config()).unwrap()
}

pub fn order(
    account: u64,
    client: u64,
    side: Side,
    kind: OrderType,
    price: i64,
    qty: u64,
) -> NewOrder {
    NewOrder {
        account: AccountId(account),
        client_id: ClientOrderId(client),
        zone: ZONE,
        slot: SLOT,
        side,
        kind,
        price: Price(price),
        qty: Wh(qty),
    }
}

pub fn buy(account: u64, client: u64, price: i64, qty: u64) -> NewOrder {
    order(account, client, Side::Buy, OrderType::Limit, price, qty)
}

pub fn sell(account: u64, client: u64, price: i64, qty: u64) -> NewOrder {
    order(account, client, Side::Sell, OrderType::Limit, price, qty)
}

/// Submits at T0 with no limits; returns the events.
pub fn submit(e: &mut Engine, o: NewOrder) -> Vec<Event> {
    e.execute(&Command::submit(T0, o), &NoLimits)
}

/// The order id an Accepted event in `events` carries.
pub fn accepted_id(events: &[Event]) -> OrderId {
    events
        .iter()
        .find_map(|e| match e {
            Event::Accepted { order_id, .. } => Some(*order_id),
            _ => None,
        })
        .expect("an Accepted event")
}

pub fn trades(events: &[Event]) -> Vec<Trade> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Trade(t) => Some(*t),
            _ => None,
        })
        .collect()
}

pub fn rejection(events: &[Event]) -> Option<ExchangeError> {
    match events {
        [Event::Rejected { reason, .. }] => Some(reason.clone()),
        _ => None,
    }
}

/// Pre-trade limits from fixed tables; accounts not listed have no installation and no money.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub capacity: BTreeMap<(u64, u32, i64), u64>,
    pub funds: BTreeMap<u64, i128>,
    /// Capacity of every account in every zone and slot not listed in `capacity`.
    pub any_slot_capacity: Option<u64>,
}

impl Limits {
    pub fn with_capacity(mut self, account: u64, wh: u64) -> Self {
        self.capacity.insert((account, ZONE.0, SLOT.0), wh);
        self
    }

    pub fn with_funds(mut self, account: u64, micros: i128) -> Self {
        self.funds.insert(account, micros);
        self
    }
}

impl PreTrade for Limits {
    fn sell_capacity_wh(&self, account: AccountId, zone: ZoneId, slot: SlotId) -> Option<Wh> {
        self.capacity
            .get(&(account.0, zone.0, slot.0))
            .copied()
            .or(self.any_slot_capacity)
            .map(Wh)
    }

    fn available_funds(&self, account: AccountId) -> Micros {
        Micros(self.funds.get(&account.0).copied().unwrap_or(0))
    }
}
