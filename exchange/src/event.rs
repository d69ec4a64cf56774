//! What a command caused, in the order it happened. Same commands in, same events out.

use serde::{Deserialize, Serialize};

use crate::error::ExchangeError;
use crate::order::{
    AccountId, ClientOrderId, Micros, NewOrder, OrderId, Price, Side, SlotId, TradeId, Wh, ZoneId,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The order passed every check and got its id. Trades and cancels for it follow.
    Accepted {
        order_id: OrderId,
        order: NewOrder,
    },
    /// The command changed nothing; `reason` says why.
    Rejected {
        account: Option<AccountId>,
        client_id: Option<ClientOrderId>,
        order_id: Option<OrderId>,
        reason: ExchangeError,
    },
    Trade(Trade),
    /// `remaining` Wh of the order left the book (or never entered it) without trading.
    Cancelled {
        order_id: OrderId,
        account: AccountId,
        remaining: Wh,
        reason: CancelReason,
    },
    /// A resting order's quantity was lowered in place; it kept its time priority.
    Reduced {
        order_id: OrderId,
        account: AccountId,
        remaining: Wh,
    },
    /// A resting order was re-entered with a new price and/or quantity and lost its time
    /// priority. Trades for it may follow.
    Replaced {
        order_id: OrderId,
        account: AccountId,
        price: Price,
        qty: Wh,
    },
    /// The book closed at gate closure with this order still resting.
    Expired {
        order_id: OrderId,
        account: AccountId,
        remaining: Wh,
    },
    /// Gate closure passed: the book takes no more orders. Its Expired events follow.
    BookClosed {
        zone: ZoneId,
        slot: SlotId,
        at_ms: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    /// The account asked for it.
    Requested,
    /// Self-trade prevention: an incoming order of the same account met this resting order.
    SelfTrade,
    /// The unfilled rest of an IOC or market order (an accepted FOK always fills completely).
    Unfilled,
}

/// One execution, always at the resting (maker) order's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub id: TradeId,
    pub zone: ZoneId,
    pub slot: SlotId,
    pub at_ms: i64,
    pub price: Price,
    pub qty: Wh,
    /// price × qty / 1000, truncated toward zero; the buyer pays it, the seller receives it.
    pub value: Micros,
    pub maker_order: OrderId,
    pub maker_account: AccountId,
    pub maker_remaining: Wh,
    pub taker_order: OrderId,
    pub taker_account: AccountId,
    pub taker_side: Side,
}

impl Trade {
    pub fn buyer(&self) -> (AccountId, OrderId) {
        match self.taker_side {
            Side::Buy => (self.taker_account, self.taker_order),
            Side::Sell => (self.maker_account, self.maker_order),
        }
    }

    pub fn seller(&self) -> (AccountId, OrderId) {
        match self.taker_side {
            Side::Sell => (self.taker_account, self.taker_order),
            Side::Buy => (self.maker_account, self.maker_order),
        }
    }
}
