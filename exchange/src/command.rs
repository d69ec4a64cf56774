//! What the engine is asked to do. Commands are plain serde values so the platform can journal
//! each accepted one and replay the journal into a fresh engine on start.

use serde::{Deserialize, Serialize};

use crate::order::{AccountId, NewOrder, OrderId, Price, Wh};

/// One command and the instant it is applied at. The engine never reads a clock: `now_ms` is the
/// time, and an instant earlier than one already seen is treated as that later instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub now_ms: i64,
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Submit a new order.
    Submit(NewOrder),
    /// Cancel a resting order of `account`.
    Cancel {
        account: AccountId,
        order_id: OrderId,
    },
    /// Change a resting order to `price` and `qty` (the new remaining quantity). Same price and
    /// a lower quantity is a reduce and keeps time priority; any other change re-enters the order
    /// at the back of the queue, re-checked as new and free to trade on arrival.
    Modify {
        account: AccountId,
        order_id: OrderId,
        price: Price,
        qty: Wh,
    },
    /// Only move time forward: closes every book whose gate closure has passed.
    AdvanceTime,
}

impl Command {
    pub fn submit(now_ms: i64, order: NewOrder) -> Self {
        Command {
            now_ms,
            action: Action::Submit(order),
        }
    }

    pub fn cancel(now_ms: i64, account: AccountId, order_id: OrderId) -> Self {
        Command {
            now_ms,
            action: Action::Cancel { account, order_id },
        }
    }

    pub fn modify(
        now_ms: i64,
        account: AccountId,
        order_id: OrderId,
        price: Price,
        qty: Wh,
    ) -> Self {
        Command {
            now_ms,
            action: Action::Modify {
                account,
                order_id,
                price,
                qty,
            },
        }
    }

    pub fn advance_time(now_ms: i64) -> Self {
        Command {
            now_ms,
            action: Action::AdvanceTime,
        }
    }
}
