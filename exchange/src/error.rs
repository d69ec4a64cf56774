//! Why the exchange refused something. Command rejections travel inside
//! [`Event::Rejected`](crate::Event) so the journal and the client see the same typed reason;
//! configuration and snapshot errors are returned directly.

use serde::{Deserialize, Serialize};

use crate::order::{OrderId, Price, SlotId, ZoneId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ExchangeError {
    #[error("quantity must be at least 1 Wh; send a positive whole number of Wh")]
    ZeroQuantity,
    #[error("quantity {qty} Wh exceeds the per-order maximum of {max} Wh; split the order")]
    QuantityTooLarge { qty: u64, max: u64 },
    #[error("price {price:?} is not a multiple of the tick {tick}; round it to the tick")]
    OffTick { price: Price, tick: i64 },
    #[error("price {price:?} is outside the band [{min:?}, {max:?}]")]
    PriceOutOfBand {
        price: Price,
        min: Price,
        max: Price,
    },
    #[error("zone {0:?} is not traded on this exchange")]
    UnknownZone(ZoneId),
    #[error("slot {0:?} is not a delivery slot (not aligned to the slot length)")]
    UnknownSlot(SlotId),
    #[error("slot {slot:?} opens for trading at {opens_at_ms} ms; retry then")]
    SlotNotYetOpen { slot: SlotId, opens_at_ms: i64 },
    #[error("slot {slot:?} passed gate closure at {closed_at_ms} ms; trade a later slot")]
    SlotClosed { slot: SlotId, closed_at_ms: i64 },
    #[error("client order id already used by this account in this book; use a fresh one")]
    DuplicateClientOrderId,
    #[error("order {0:?} is not resting in any open book (unknown, filled, cancelled or expired)")]
    UnknownOrder(OrderId),
    #[error("order {0:?} belongs to another account")]
    NotOwner(OrderId),
    #[error("post-only order would trade on arrival; lower the bid or raise the offer")]
    WouldCross,
    #[error("fill-or-kill order for {qty} Wh cannot be filled completely (only {available} Wh available)")]
    FokNotFillable { qty: u64, available: u64 },
    #[error("seller has no installation registered for this zone and slot")]
    NoCapacity,
    #[error("selling {requested} Wh would exceed the installation's {capacity} Wh for this slot ({committed} Wh already offered or sold)")]
    CapacityExceeded {
        requested: u64,
        committed: u64,
        capacity: u64,
    },
    #[error("buy needs {needed} micro-units of escrow but only {available} are free; add funds or lower the order")]
    InsufficientFunds { needed: i128, available: i128 },
    #[error("modification changes nothing (same price and quantity)")]
    NoChange,
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("invalid snapshot: {0}")]
    InvalidSnapshot(String),
}
