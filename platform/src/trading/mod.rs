//! Trading: the engine host (one `exchange::Engine` behind a single writer with a durable
//! journal and snapshots), the order and market-data endpoints, and the WebSocket stream.
//!
//! Owns the journal and everything derived from it (orders, trades, balances tables). Must
//! never acknowledge a command before its group is committed, and never keep in memory a state
//! the database does not have.

pub mod engine_host;
pub mod funds;
pub mod group_metrics;
pub mod journal;
pub mod market;
pub mod market_data;
pub mod orders;
pub mod recovery;
pub mod stream;
pub mod views;
mod writer;

pub use engine_host::EngineHost;
pub use market::MarketSettings;

use actix_web::web;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(
        market_data::slots, market_data::book, market_data::slot_trades, market_data::slot_stats,
        orders::place_order, orders::list_orders, orders::get_order, orders::cancel_order,
        orders::modify_order, orders::my_trades, orders::balances, orders::deposit,
        orders::engine_status, stream::stream, stream::issue_ticket,
    ),
    components(schemas(
        views::NewOrderBody, views::SideText, views::OrderTypeText, views::ModifyBody,
        views::OrderView, views::PublicTrade, views::MyTrade, views::OrderResult,
        views::BalanceView, views::SlotView, views::Level, views::BookDepth, views::SlotStats,
        views::DepositBody, views::EngineStatus, views::StreamMessage, stream::StreamTicket,
    )),
    tags(
        (name = "market", description = "open slots, books, trades, statistics, the WebSocket stream"),
        (name = "trading", description = "orders, my trades, balances"),
        (name = "admin", description = "deposits and engine status"),
    )
)]
pub struct TradingApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(market_data::slots)
        .service(market_data::book)
        .service(market_data::slot_trades)
        .service(market_data::slot_stats)
        .service(orders::place_order)
        .service(orders::list_orders)
        .service(orders::get_order)
        .service(orders::cancel_order)
        .service(orders::modify_order)
        .service(orders::my_trades)
        .service(orders::balances)
        .service(orders::deposit)
        .service(orders::engine_status)
        .service(stream::stream)
        .service(stream::issue_ticket);
}
