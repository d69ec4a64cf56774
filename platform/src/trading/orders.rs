//! Trading endpoints: place, list, read, cancel and modify orders; my trades and balances;
//! the admin's deposits and engine status.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use exchange::{Event, ExchangeError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::engine_host::{new_order, EngineHost, HostError, Request};
use super::views::{
    BalanceView, DepositBody, EngineStatus, ModifyBody, MyTrade, NewOrderBody, OrderResult,
    OrderView,
};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::AppState;
use crate::clock;
use crate::registry::{AccountId, Role};
use crate::store::{OrderFilter, OrderRow};

/// Accounts that trade.
pub const TRADERS: [Role; 2] = [Role::Prosumer, Role::Consumer];
/// Largest deposit in one request, micro-units.
pub const MAX_DEPOSIT_MICRO: i64 = 1_000_000_000_000_000;
/// Slot starts outside this range are refused before they reach the engine (1970 … 2200).
pub const MAX_SLOT_START_MS: i64 = 7_258_118_400_000;
pub const DEFAULT_LIST_LIMIT: i64 = 100;
pub const MAX_LIST_LIMIT: i64 = 1000;

pub fn host(state: &AppState) -> Result<&EngineHost, ApiError> {
    state
        .trading
        .as_deref()
        .ok_or_else(|| ApiError::unavailable("trading is not running on this instance"))
}

pub fn host_error(e: HostError) -> ApiError {
    ApiError::unavailable(e.to_string())
}

pub fn check_slot_range(slot_start_ms: i64) -> Result<(), ApiError> {
    if (0..=MAX_SLOT_START_MS).contains(&slot_start_ms) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "slot {slot_start_ms} is not a delivery slot; GET /v1/slots lists the open ones"
        )))
    }
}

pub fn list_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    crate::api::page_limit(limit, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
}

/// The engine's refusal as an HTTP error.
pub fn rejection(reason: &ExchangeError) -> ApiError {
    use actix_web::http::StatusCode as S;
    use ExchangeError as E;
    let message = reason.to_string();
    let (status, code) = match reason {
        E::ZeroQuantity
        | E::QuantityTooLarge { .. }
        | E::OffTick { .. }
        | E::PriceOutOfBand { .. } => (S::BAD_REQUEST, "invalid_order"),
        E::UnknownZone(_) | E::UnknownSlot(_) => (S::NOT_FOUND, "unknown_slot"),
        E::UnknownOrder(_) | E::NotOwner(_) => (S::NOT_FOUND, "not_found"),
        E::SlotNotYetOpen { .. } => (S::CONFLICT, "slot_not_open"),
        E::SlotClosed { .. } => (S::CONFLICT, "slot_closed"),
        E::DuplicateClientOrderId => (S::CONFLICT, "client_order_id_reused"),
        E::WouldCross => (S::CONFLICT, "would_cross"),
        E::FokNotFillable { .. } => (S::CONFLICT, "fok_not_fillable"),
        E::NoChange => (S::CONFLICT, "no_change"),
        E::NoCapacity => (S::UNPROCESSABLE_ENTITY, "no_capacity"),
        E::CapacityExceeded { .. } => (S::UNPROCESSABLE_ENTITY, "capacity_exceeded"),
        E::InsufficientFunds { .. } => (S::UNPROCESSABLE_ENTITY, "insufficient_funds"),
        E::InvalidConfig(_) | E::InvalidSnapshot(_) => return ApiError::internal(message),
    };
    ApiError::new(status, code, message)
}

fn rejected(events: &[Event]) -> Option<&ExchangeError> {
    events.iter().find_map(|e| match e {
        Event::Rejected { reason, .. } => Some(reason),
        _ => None,
    })
}

/// Whether a stored order was created by exactly this body.
fn same_body(row: &OrderRow, body: &NewOrderBody) -> bool {
    let Ok(original) = serde_json::from_str::<OrderResult>(&row.response) else {
        return false;
    };
    let o = &original.order;
    let filled_plus_remaining = o.qty_wh;
    o.zone == body.zone
        && o.slot_start_ms == body.slot_start_ms
        && o.side == super::views::side_text(body.side.engine())
        && o.order_type == super::views::order_type_text(body.order_type.engine())
        && o.price_micro_per_kwh == body.price_micro_per_kwh
        && u64::try_from(filled_plus_remaining).ok() == Some(body.qty_wh)
}

/// Places an order. Prosumers buy and sell; consumers only buy.
#[utoipa::path(post, path = "/v1/orders", tag = "trading", request_body = NewOrderBody,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "accepted (it may have traded or, for IOC/market, been cancelled at once)", body = OrderResult),
        (status = 200, description = "a retry of an accepted order (same client_order_id and body): the original answer", body = OrderResult),
        (status = 400, description = "malformed body, bad price/quantity", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 403, description = "this role may not place this order", body = ErrorBody),
        (status = 404, description = "unknown zone or slot", body = ErrorBody),
        (status = 409, description = "slot not open or closed, client_order_id reused with another body, post-only would cross, FOK not fillable", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 422, description = "insufficient funds or capacity", body = ErrorBody),
        (status = 503, description = "exchange busy or not running", body = ErrorBody)))]
#[post("/v1/orders")]
pub async fn place_order(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewOrderBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&TRADERS)?;
    let body = body.into_inner();
    if caller.role() == Role::Consumer && body.side.engine() == exchange::Side::Sell {
        return Err(ApiError::forbidden(
            "consumer accounts may only buy; a prosumer account with a registered installation may sell",
        ));
    }
    let host = host(&state)?;
    if i64::try_from(body.client_order_id).is_err() {
        return Err(ApiError::bad_request(
            "invalid_order",
            "client_order_id must be between 0 and 9223372036854775807",
        ));
    }
    check_slot_range(body.slot_start_ms)?;
    let zone = host.zones.id(&body.zone).ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "unknown_slot",
            format!(
                "zone {:?} is not traded here; GET /v1/slots lists zones and slots",
                body.zone
            ),
        )
    })?;
    let account = caller.id().0;
    let order = new_order(
        account,
        body.client_order_id,
        zone,
        body.slot_start_ms,
        body.side.engine(),
        body.order_type.engine(),
        body.price_micro_per_kwh,
        body.qty_wh,
    );
    let reply = host
        .execute(Request::Submit(order))
        .await
        .map_err(host_error)?;
    if let Some(json) = reply.result_json {
        // The bytes stored for retries: a retry gets exactly this answer again.
        return Ok(HttpResponse::Created()
            .content_type("application/json")
            .body(json));
    }
    let reason = rejected(&reply.events)
        .cloned()
        .ok_or_else(|| ApiError::internal("submit produced neither an order nor a rejection"))?;
    // A retry: the original, if this account already placed an order with this client id.
    let store = state.store.clone();
    let cid = body.client_order_id as i64;
    let original = web::block(move || store.trading_order_by_client_id(account, cid)).await??;
    match original {
        Some(row) if same_body(&row, &body) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(row.response)),
        Some(_) if reason == ExchangeError::DuplicateClientOrderId => Err(ApiError::conflict(
            "client_order_id_reused",
            "this client_order_id was already used for a different order; use a fresh id",
        )),
        _ => Err(rejection(&reason)),
    }
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// `open`, `filled`, `cancelled` or `expired`.
    pub status: Option<String>,
    pub zone: Option<String>,
    pub slot_start_ms: Option<i64>,
    /// Only orders with a smaller id (paging, newest first).
    pub before: Option<i64>,
    /// 1 … 1000, default 100.
    pub limit: Option<i64>,
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/v1/orders", tag = "trading", params(OrderQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<OrderView>),
        (status = 400, description = "bad filter", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 403, description = "operators and admins do not trade", body = ErrorBody)))]
#[get("/v1/orders")]
pub async fn list_orders(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<OrderQuery>,
) -> Result<web::Json<Vec<OrderView>>, ApiError> {
    caller.require(&TRADERS)?;
    let q = query.into_inner();
    if let Some(status) = &q.status {
        if !["open", "filled", "cancelled", "expired"].contains(&status.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "status must be open, filled, cancelled or expired",
            ));
        }
    }
    let filter = OrderFilter {
        status: q.status,
        zone: q.zone,
        slot_start_ms: q.slot_start_ms,
        before_order_id: q.before,
        limit: list_limit(q.limit)?,
    };
    let store = state.store.clone();
    let account = caller.id().0;
    let rows = web::block(move || store.trading_orders(account, &filter)).await??;
    Ok(web::Json(rows.iter().map(OrderView::from).collect()))
}

async fn my_order(state: &AppState, caller: &Caller, order_id: i64) -> Result<OrderRow, ApiError> {
    let store = state.store.clone();
    let account = caller.id().0;
    web::block(move || store.trading_order(account, order_id))
        .await??
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "you have no order {order_id}; GET /v1/orders lists yours"
            ))
        })
}

/// One of the caller's orders (another account's order is a 404).
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "trading",
    params(("id" = i64, Path, description = "order id")), security(("api_key" = [])),
    responses(
        (status = 200, body = OrderView),
        (status = 400, description = "the id is not a number", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 403, description = "operators and admins do not trade", body = ErrorBody),
        (status = 404, description = "no such order of yours", body = ErrorBody)))]
#[get("/v1/orders/{id}")]
pub async fn get_order(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<OrderView>, ApiError> {
    caller.require(&TRADERS)?;
    let row = my_order(&state, &caller, path.into_inner()).await?;
    Ok(web::Json(OrderView::from(&row)))
}

async fn change(
    state: &AppState,
    caller: &Caller,
    order_id: i64,
    request: Request,
) -> Result<OrderView, ApiError> {
    let reply = host(state)?.execute(request).await.map_err(host_error)?;
    if let Some(order) = reply.order {
        return Ok(order);
    }
    match rejected(&reply.events) {
        Some(ExchangeError::UnknownOrder(_)) | Some(ExchangeError::NotOwner(_)) => {
            // Yours but no longer resting → 409; anyone else's or unknown → 404.
            let row = my_order(state, caller, order_id).await?;
            Err(ApiError::conflict(
                "order_not_open",
                format!(
                    "order {order_id} is {}; only open orders can be changed",
                    row.status
                ),
            ))
        }
        Some(reason) => Err(rejection(reason)),
        None => Err(ApiError::internal(
            "change produced neither an order nor a rejection",
        )),
    }
}

/// Cancels one of the caller's open orders.
#[utoipa::path(delete, path = "/v1/orders/{id}", tag = "trading",
    params(("id" = i64, Path, description = "order id")), security(("api_key" = [])),
    responses(
        (status = 200, description = "cancelled; the order's final state", body = OrderView),
        (status = 400, description = "the id is not a number", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 403, description = "operators and admins do not trade", body = ErrorBody),
        (status = 404, description = "no such order of yours", body = ErrorBody),
        (status = 409, description = "the order is no longer open", body = ErrorBody),
        (status = 503, description = "exchange busy or not running", body = ErrorBody)))]
#[delete("/v1/orders/{id}")]
pub async fn cancel_order(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<OrderView>, ApiError> {
    caller.require(&TRADERS)?;
    let order_id = path.into_inner();
    if order_id <= 0 {
        return Err(ApiError::not_found(format!("you have no order {order_id}")));
    }
    let request = Request::Cancel {
        account: caller.id().0,
        order_id,
    };
    Ok(web::Json(change(&state, &caller, order_id, request).await?))
}

/// Reduces (same price, lower quantity: keeps priority) or replaces one of the caller's orders.
#[utoipa::path(patch, path = "/v1/orders/{id}", tag = "trading", request_body = ModifyBody,
    params(("id" = i64, Path, description = "order id")), security(("api_key" = [])),
    responses(
        (status = 200, description = "reduced or replaced; the order after the change (it may have traded)", body = OrderView),
        (status = 400, description = "malformed body, bad price/quantity", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 403, description = "operators and admins do not trade", body = ErrorBody),
        (status = 404, description = "no such order of yours", body = ErrorBody),
        (status = 409, description = "not open, no change, or post-only would cross", body = ErrorBody),
        (status = 422, description = "insufficient funds or capacity for the new terms", body = ErrorBody),
        (status = 503, description = "exchange busy or not running", body = ErrorBody)))]
#[patch("/v1/orders/{id}")]
pub async fn modify_order(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: web::Json<ModifyBody>,
) -> Result<web::Json<OrderView>, ApiError> {
    caller.require(&TRADERS)?;
    let order_id = path.into_inner();
    if order_id <= 0 {
        return Err(ApiError::not_found(format!("you have no order {order_id}")));
    }
    let body = body.into_inner();
    let request = Request::Modify {
        account: caller.id().0,
        order_id,
        price: body.price_micro_per_kwh,
        qty: body.qty_wh,
    };
    Ok(web::Json(change(&state, &caller, order_id, request).await?))
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Only entries with a smaller id (paging, newest first).
    pub before: Option<i64>,
    /// 1 … 1000, default 100.
    pub limit: Option<i64>,
}

/// The caller's trades, newest first.
#[utoipa::path(get, path = "/v1/trades", tag = "trading", params(PageQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<MyTrade>),
        (status = 400, description = "bad paging parameters", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 403, description = "operators and admins do not trade", body = ErrorBody)))]
#[get("/v1/trades")]
pub async fn my_trades(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Vec<MyTrade>>, ApiError> {
    caller.require(&TRADERS)?;
    let q = query.into_inner();
    let limit = list_limit(q.limit)?;
    let store = state.store.clone();
    let account = caller.id().0;
    let rows = web::block(move || store.trading_trades_of(account, q.before, limit)).await??;
    Ok(web::Json(
        rows.iter().map(|t| MyTrade::of(t, account)).collect(),
    ))
}

/// The caller's money: available, held in escrow by resting buys, and free.
#[utoipa::path(get, path = "/v1/balances", tag = "trading", security(("api_key" = [])),
    responses(
        (status = 200, body = BalanceView),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 403, description = "operators and admins do not trade", body = ErrorBody),
        (status = 503, description = "exchange not running", body = ErrorBody)))]
#[get("/v1/balances")]
pub async fn balances(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<BalanceView>, ApiError> {
    caller.require(&TRADERS)?;
    let account = caller.id().0;
    Ok(web::Json(balance_of(host(&state)?, account)?))
}

pub fn balance_of(host: &EngineHost, account: i64) -> Result<BalanceView, ApiError> {
    let shared = host.read().map_err(host_error)?;
    let available = shared.ledger.funds(account as u64);
    let escrow = shared
        .ledger
        .engine
        .escrow_reserved(exchange::AccountId(account as u64))
        .0;
    let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    Ok(BalanceView {
        account_id: account,
        available_micro: clamp(available),
        escrow_micro: clamp(escrow),
        free_micro: clamp(available - escrow),
    })
}

/// Adds money to an account: a deposit transfer in the settlement ledger (issuance → the
/// account's currency), then the exchange's buying power is synced from the ledger, so the
/// answer already shows it. Admin only.
#[utoipa::path(post, path = "/v1/admin/deposits", tag = "admin", request_body = DepositBody,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "deposited; the account's trading balance now", body = BalanceView),
        (status = 400, description = "malformed body or amount out of range", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 403, description = "admins only", body = ErrorBody),
        (status = 404, description = "no such account", body = ErrorBody),
        (status = 503, description = "exchange busy or not running", body = ErrorBody)))]
#[post("/v1/admin/deposits")]
pub async fn deposit(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<DepositBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let body = body.into_inner();
    if !(1..=MAX_DEPOSIT_MICRO).contains(&body.amount_micro) {
        return Err(ApiError::bad_request(
            "invalid_input",
            format!("amount_micro must be 1 … {MAX_DEPOSIT_MICRO}"),
        ));
    }
    let store = state.store.clone();
    let id = body.account_id;
    let account = web::block(move || store.account_by_id(AccountId(id))).await??;
    if account.is_none() {
        return Err(ApiError::not_found(format!("no account {id}")));
    }
    let host = host(&state)?;
    if host.read().map_err(host_error)?.ledger.funds(id as u64) + i128::from(body.amount_micro)
        > i128::from(i64::MAX / 2)
    {
        return Err(ApiError::bad_request(
            "invalid_input",
            "the balance would exceed what the platform can hold",
        ));
    }
    let transfer_id = random_transfer_id()?;
    let settlement = state.settlement.clone();
    let amount = body.amount_micro as u128;
    web::block(move || {
        settlement.deposit(
            &[(
                settlement::ledger::AccountId(id as u64),
                settlement::ledger::LedgerId::Currency,
                amount,
                transfer_id,
            )],
            clock::now_ms(),
        )
    })
    .await??;
    // The deposit is durable in the ledger now; if this sync fails, the next one (every
    // settlement tick, every deposit) carries it.
    super::funds::sync_funds(&state.store, host).await?;
    Ok(HttpResponse::Created().json(balance_of(host, id)?))
}

/// A fresh 128-bit transfer id from the system's random source.
fn random_transfer_id() -> Result<settlement::ledger::TransferId, ApiError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::internal("the system random source failed"))?;
    Ok(settlement::ledger::TransferId(u128::from_be_bytes(bytes)))
}

/// The engine's state hash and journal position (operators compare it with
/// `sunmesh journal replay`).
#[utoipa::path(get, path = "/v1/admin/engine", tag = "admin", security(("api_key" = [])),
    responses(
        (status = 200, body = EngineStatus),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 403, description = "operators and admins only", body = ErrorBody),
        (status = 503, description = "exchange not running", body = ErrorBody)))]
#[get("/v1/admin/engine")]
pub async fn engine_status(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<EngineStatus>, ApiError> {
    caller.require(&[Role::Operator, Role::Admin])?;
    let shared = host(&state)?.read().map_err(host_error)?;
    Ok(web::Json(EngineStatus {
        state_hash: shared.ledger.state_hash_hex(),
        journal_len: shared.ledger.seq as i64,
        snapshot_seq: shared.snapshot_seq,
        resting_orders: shared.ledger.engine.resting_orders() as i64,
        open_books: shared.ledger.engine.open_books().len() as i64,
        now_ms: shared.ledger.engine.now_ms(),
    }))
}
