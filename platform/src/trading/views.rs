//! The JSON shapes of the trading API (requests, responses and WebSocket messages).

use exchange::{OrderType, Side};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{OrderRow, TradeRow};

/// A new order. `client_order_id` makes retries safe: the same id and body again returns the
/// original answer (200 instead of 201); the same id with a different body is a 409.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NewOrderBody {
    /// Your own id for this order, 0 … 2^63−1, unique per account while its slot is open.
    #[schema(example = 1)]
    pub client_order_id: u64,
    #[schema(example = "default")]
    pub zone: String,
    /// Start of delivery, UTC ms, aligned to the slot length (15 min).
    #[schema(example = 1_780_003_600_000_i64)]
    pub slot_start_ms: i64,
    pub side: SideText,
    /// `limit`, `post_only`, `ioc`, `fok` or `market` (price = protection price).
    #[serde(rename = "type")]
    pub order_type: OrderTypeText,
    /// Micro-units per kWh; a multiple of the tick, inside the band (may be negative).
    #[schema(example = 250_000)]
    pub price_micro_per_kwh: i64,
    /// Whole Wh, 1 … max_order_qty_wh.
    #[schema(example = 500)]
    pub qty_wh: u64,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SideText {
    Buy,
    Sell,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OrderTypeText {
    Limit,
    PostOnly,
    Ioc,
    Fok,
    Market,
}

impl SideText {
    pub fn engine(self) -> Side {
        match self {
            SideText::Buy => Side::Buy,
            SideText::Sell => Side::Sell,
        }
    }
}

impl OrderTypeText {
    pub fn engine(self) -> OrderType {
        match self {
            OrderTypeText::Limit => OrderType::Limit,
            OrderTypeText::PostOnly => OrderType::PostOnly,
            OrderTypeText::Ioc => OrderType::Ioc,
            OrderTypeText::Fok => OrderType::Fok,
            OrderTypeText::Market => OrderType::Market,
        }
    }
}

pub fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

pub fn order_type_text(kind: OrderType) -> &'static str {
    match kind {
        OrderType::Limit => "limit",
        OrderType::PostOnly => "post_only",
        OrderType::Ioc => "ioc",
        OrderType::Fok => "fok",
        OrderType::Market => "market",
    }
}

/// Reduce or replace a resting order: same price and a lower quantity keeps time priority
/// (reduce); anything else re-enters the order (replace) and may trade at once.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyBody {
    /// The new remaining quantity, Wh.
    pub qty_wh: u64,
    pub price_micro_per_kwh: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct OrderView {
    pub order_id: i64,
    pub client_order_id: i64,
    pub zone: String,
    pub slot_start_ms: i64,
    /// `buy` or `sell`.
    pub side: String,
    /// `limit`, `post_only`, `ioc`, `fok` or `market`.
    #[serde(rename = "type")]
    pub order_type: String,
    pub price_micro_per_kwh: i64,
    /// Filled + remaining (for a replaced order: filled + the new quantity).
    pub qty_wh: i64,
    pub remaining_wh: i64,
    pub filled_wh: i64,
    /// `open`, `filled`, `cancelled` or `expired`.
    pub status: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl From<&OrderRow> for OrderView {
    fn from(r: &OrderRow) -> Self {
        Self {
            order_id: r.order_id,
            client_order_id: r.client_order_id,
            zone: r.zone.clone(),
            slot_start_ms: r.slot_start_ms,
            side: r.side.clone(),
            order_type: r.order_type.clone(),
            price_micro_per_kwh: r.price_micro_per_kwh,
            qty_wh: r.qty_wh,
            remaining_wh: r.remaining_wh,
            filled_wh: r.filled_wh,
            status: r.status.clone(),
            created_at_ms: r.created_at_ms,
            updated_at_ms: r.updated_at_ms,
        }
    }
}

/// A trade as the market sees it (no accounts).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PublicTrade {
    pub trade_id: i64,
    pub zone: String,
    pub slot_start_ms: i64,
    pub at_ms: i64,
    pub price_micro_per_kwh: i64,
    pub qty_wh: i64,
    pub value_micro: i64,
    /// The side of the order that arrived and took liquidity.
    pub taker_side: String,
}

impl From<&TradeRow> for PublicTrade {
    fn from(t: &TradeRow) -> Self {
        Self {
            trade_id: t.trade_id,
            zone: t.zone.clone(),
            slot_start_ms: t.slot_start_ms,
            at_ms: t.at_ms,
            price_micro_per_kwh: t.price_micro_per_kwh,
            qty_wh: t.qty_wh,
            value_micro: t.value_micro,
            taker_side: t.taker_side.clone(),
        }
    }
}

/// One of the caller's trades.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MyTrade {
    #[serde(flatten)]
    pub trade: PublicTrade,
    /// `buy` or `sell`: the caller's side.
    pub my_side: String,
    pub my_order_id: i64,
    /// Whether the caller's order was the resting one.
    pub maker: bool,
}

impl MyTrade {
    pub fn of(t: &TradeRow, account: i64) -> Self {
        let buying = t.buyer_account == account;
        let my_side = if buying { "buy" } else { "sell" };
        Self {
            trade: PublicTrade::from(t),
            my_side: my_side.to_owned(),
            my_order_id: if buying {
                t.buyer_order
            } else {
                t.seller_order
            },
            maker: t.taker_side != my_side,
        }
    }
}

/// The answer to a new order (and, byte for byte, to its retries).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct OrderResult {
    /// The order's state right after it was processed.
    pub order: OrderView,
    /// Trades it made on arrival.
    pub trades: Vec<PublicTrade>,
    /// Journal position of the command.
    pub seq: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BalanceView {
    pub account_id: i64,
    /// The settlement ledger's available currency, minus the escrow of trades settlement has
    /// not recorded yet.
    pub available_micro: i64,
    /// Held by resting buy orders.
    pub escrow_micro: i64,
    /// What a new buy may still use: available − escrow.
    pub free_micro: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SlotView {
    pub zone: String,
    pub slot_start_ms: i64,
    pub gate_closure_ms: i64,
    pub best_bid_micro_per_kwh: Option<i64>,
    pub best_ask_micro_per_kwh: Option<i64>,
}

/// All resting quantity at one price.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Level {
    pub price_micro_per_kwh: i64,
    pub qty_wh: i64,
    pub orders: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BookDepth {
    pub zone: String,
    pub slot_start_ms: i64,
    /// Best (highest) first.
    pub bids: Vec<Level>,
    /// Best (lowest) first.
    pub asks: Vec<Level>,
    /// Journal position the book reflects.
    pub seq: i64,
}

/// OHLC-style statistics of one slot's trades (prices null when nothing traded).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SlotStats {
    pub zone: String,
    pub slot_start_ms: i64,
    pub trades: i64,
    pub open_micro_per_kwh: Option<i64>,
    pub high_micro_per_kwh: Option<i64>,
    pub low_micro_per_kwh: Option<i64>,
    pub close_micro_per_kwh: Option<i64>,
    pub volume_wh: i64,
    pub value_micro: i64,
    /// Volume-weighted average price, micro-units per kWh (rounded down).
    pub vwap_micro_per_kwh: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositBody {
    pub account_id: i64,
    /// Micro-units, 1 … 10^15.
    pub amount_micro: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EngineStatus {
    /// The engine's state hash (128-bit FNV-1a of its canonical snapshot), 32 hex digits.
    pub state_hash: String,
    /// The last journal entry applied.
    pub journal_len: i64,
    /// The journal position of the newest snapshot (0: none yet).
    pub snapshot_seq: i64,
    pub resting_orders: i64,
    pub open_books: i64,
    pub now_ms: i64,
}

/// Messages sent on `GET /v1/stream` (WebSocket, text frames, one JSON object each).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamMessage {
    /// A book changed: its top levels after the change.
    Book(BookDepth),
    /// A trade in a subscribed slot.
    Trade(PublicTrade),
    /// One of your orders changed (accepted, traded, reduced, replaced, cancelled, expired).
    /// Nested, because an order has a `type` of its own.
    Order { order: OrderView },
    /// This connection fell behind and `missed` groups of updates were dropped; re-read the
    /// book over HTTP.
    Lagged { missed: u64 },
}
