//! The values an order is made of. Newtypes keep energy, prices, accounts and ids from being
//! mixed up; every one is a plain integer underneath so matching never touches floats.

use serde::{Deserialize, Serialize};

/// Energy in whole watt-hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Wh(pub u64);

/// Price in integer micro-units of currency per kWh. Negative prices are legal (solar surplus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Price(pub i64);

/// Money in integer micro-units of currency. i128 because price × quantity of a large order
/// would overflow i64 long before it becomes implausible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Micros(pub i128);

/// A trading account (a prosumer). Assigned by the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountId(pub u64);

/// A bidding zone / community. Each zone has its own books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ZoneId(pub u32);

/// A delivery slot, identified by the start of delivery in UTC milliseconds (aligned to the
/// calendar's slot length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SlotId(pub i64);

/// Engine-assigned order id: sequential from 1, so replaying the same commands gives the same ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OrderId(pub u64);

/// Engine-assigned trade id, sequential from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TradeId(pub u64);

/// The account's own reference for an order; unique per account within one book while the
/// book is open, so a retried submission is detected instead of doubled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientOrderId(pub u64);

/// One book = one zone × one delivery slot. Ordered by slot first so the books that close
/// next are at the front of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BookKey {
    pub slot: SlotId,
    pub zone: ZoneId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Whether an order on this side with limit `limit` may trade against a resting order at
    /// `resting`.
    #[inline]
    pub fn crosses(self, limit: Price, resting: Price) -> bool {
        match self {
            Side::Buy => limit >= resting,
            Side::Sell => limit <= resting,
        }
    }
}

/// How an order behaves once it has met the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OrderType {
    /// Matches what it can, rests the remainder until filled, cancelled or gate closure.
    Limit,
    /// Rejected if it would trade on arrival; otherwise rests like a limit order.
    PostOnly,
    /// Immediate-or-cancel: matches what it can, the remainder is cancelled.
    Ioc,
    /// Fill-or-kill: fills completely against the current book, or is rejected unchanged.
    Fok,
    /// IOC whose limit is the protection price (the worst price the account accepts).
    Market,
}

impl OrderType {
    /// Only these may stay in the book after arrival.
    pub fn rests(self) -> bool {
        matches!(self, OrderType::Limit | OrderType::PostOnly)
    }
}

/// A new order as the account sends it. For `Market`, `price` is the protection price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub account: AccountId,
    pub client_id: ClientOrderId,
    pub zone: ZoneId,
    pub slot: SlotId,
    pub side: Side,
    pub kind: OrderType,
    pub price: Price,
    pub qty: Wh,
}

/// Escrow a buyer must hold for `qty` Wh at `price` micro/kWh: price × qty / 1000, rounded UP so
/// the buyer can always pay; zero for prices ≤ 0 (a buyer at a negative price receives money).
#[inline]
pub fn escrow_for(price: Price, qty: u64) -> i128 {
    if price.0 <= 0 {
        return 0;
    }
    // 64-bit fast path: i128 division is a library call, and this runs on every order event.
    match (price.0 as u64).checked_mul(qty) {
        Some(v) => (v / 1000 + u64::from(v % 1000 != 0)) as i128,
        None => (price.0 as i128 * qty as i128 + 999) / 1000,
    }
}

/// What an order may have to pay, reserved while it rests, rounded UP: a buy at a positive
/// price pays the seller (`escrow_for(price, qty)`), a sell at a negative price pays the buyer
/// (`escrow_for(-price, qty)`); the other two cases receive money and reserve nothing. A fill
/// trades at a price at least as good for the order as its limit, so the reservation always
/// covers the trade's value.
#[inline]
pub fn order_escrow(side: Side, price: Price, qty: u64) -> i128 {
    match side {
        Side::Buy => escrow_for(price, qty),
        Side::Sell => escrow_for(Price(price.0.saturating_neg()), qty),
    }
}

/// Value of a trade in micro-units: price × qty / 1000 truncated toward zero. For positive prices
/// this is never more than the escrow released by the fill, so the buyer can always pay.
#[inline]
pub fn trade_value(price: Price, qty: u64) -> Micros {
    let fast = i64::try_from(qty).ok().and_then(|q| price.0.checked_mul(q));
    match fast {
        Some(v) => Micros((v / 1000) as i128),
        None => Micros(price.0 as i128 * qty as i128 / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escrow_rounds_up_and_is_zero_for_non_positive_prices() {
        assert_eq!(escrow_for(Price(1), 1), 1);
        assert_eq!(escrow_for(Price(1000), 1), 1);
        assert_eq!(escrow_for(Price(1001), 1), 2);
        assert_eq!(escrow_for(Price(250_000), 4_000), 1_000_000);
        assert_eq!(escrow_for(Price(0), 10), 0);
        assert_eq!(escrow_for(Price(-5_000), 10), 0);
    }

    #[test]
    fn fast_paths_agree_with_wide_arithmetic_at_the_edges() {
        let wide_escrow = |p: i64, q: u64| {
            if p <= 0 {
                0
            } else {
                (p as i128 * q as i128 + 999) / 1000
            }
        };
        let wide_value = |p: i64, q: u64| p as i128 * q as i128 / 1000;
        let prices = [
            i64::MIN,
            -1_000_001,
            -999,
            -1,
            0,
            1,
            999,
            1000,
            1001,
            123_457,
            i64::MAX,
        ];
        let qtys = [
            0u64,
            1,
            999,
            1000,
            1001,
            4_294_967_296,
            i64::MAX as u64,
            u64::MAX,
        ];
        for p in prices {
            for q in qtys {
                assert_eq!(
                    escrow_for(Price(p), q),
                    wide_escrow(p, q),
                    "escrow p={p} q={q}"
                );
                assert_eq!(
                    trade_value(Price(p), q),
                    Micros(wide_value(p, q)),
                    "value p={p} q={q}"
                );
            }
        }
    }

    #[test]
    fn trade_value_truncates_toward_zero() {
        assert_eq!(trade_value(Price(1999), 1), Micros(1));
        assert_eq!(trade_value(Price(-1999), 1), Micros(-1));
        assert_eq!(trade_value(Price(250_000), 4_000), Micros(1_000_000));
    }

    #[test]
    fn released_escrow_always_covers_trade_value() {
        // A buyer with limit p and remaining r filled q at maker price m ≤ p.
        for p in [1i64, 7, 999, 1000, 1001, 123_457] {
            for r in 1u64..40 {
                for q in 1..=r {
                    for m in [1i64, p / 2 + 1, p] {
                        let released = escrow_for(Price(p), r) - escrow_for(Price(p), r - q);
                        assert!(
                            released >= trade_value(Price(m), q).0,
                            "p={p} r={r} q={q} m={m}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn crossing_is_inclusive() {
        assert!(Side::Buy.crosses(Price(10), Price(10)));
        assert!(!Side::Buy.crosses(Price(9), Price(10)));
        assert!(Side::Sell.crosses(Price(-3), Price(-3)));
        assert!(!Side::Sell.crosses(Price(-2), Price(-3)));
    }
}
