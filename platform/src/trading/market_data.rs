//! Market data: open slots with best prices, book depth, recent trades and per-slot statistics.
//! Every authenticated role may read them.

use actix_web::{get, web};
use exchange::SlotId;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::engine_host::book_depth;
use super::orders::{check_slot_range, host, host_error, list_limit};
use super::views::{BookDepth, PublicTrade, SlotStats, SlotView};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::AppState;
use crate::clock;

pub const DEFAULT_DEPTH: usize = 20;
pub const MAX_DEPTH: usize = 1000;

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotsQuery {
    /// Only this zone (default: all zones).
    pub zone: Option<String>,
}

fn unknown_zone(zone: &str) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "unknown_slot",
        format!("zone {zone:?} is not traded here; GET /v1/slots lists zones and slots"),
    )
}

/// Validates a (zone, slot) path against the market: known zone, aligned slot.
fn slot_path(state: &AppState, zone: &str, slot: i64) -> Result<(), ApiError> {
    check_slot_range(slot)?;
    let host = host(state)?;
    if host.zones.id(zone).is_none() {
        return Err(unknown_zone(zone));
    }
    if !host.config.calendar.is_aligned(SlotId(slot)) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "unknown_slot",
            format!("{slot} is not the start of a delivery slot (not aligned to the slot length)"),
        ));
    }
    Ok(())
}

/// Slots open for trading now, with their best bid and ask.
#[utoipa::path(get, path = "/v1/slots", tag = "market", params(SlotsQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<SlotView>),
        (status = 400, description = "bad query", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 404, description = "unknown zone", body = ErrorBody),
        (status = 503, description = "exchange not running", body = ErrorBody)))]
#[get("/v1/slots")]
pub async fn slots(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<SlotsQuery>,
) -> Result<web::Json<Vec<SlotView>>, ApiError> {
    let shared = host(&state)?.read().map_err(host_error)?;
    let ledger = &shared.ledger;
    let zones: Vec<String> = match &query.zone {
        Some(z) if ledger.zones.id(z).is_none() => return Err(unknown_zone(z)),
        Some(z) => vec![z.clone()],
        None => ledger.zones.names().to_vec(),
    };
    let calendar = ledger.engine.config().calendar;
    let now = clock::now_ms().max(ledger.engine.now_ms());
    let mut out = Vec::new();
    for zone in zones {
        let Some(id) = ledger.zones.id(&zone) else {
            continue;
        };
        for slot in calendar.open_slots(now) {
            let (bid, ask) = ledger.engine.best_prices(id, slot);
            out.push(SlotView {
                zone: zone.clone(),
                slot_start_ms: slot.0,
                gate_closure_ms: calendar.gate_closure(slot),
                best_bid_micro_per_kwh: bid.map(|p| p.0),
                best_ask_micro_per_kwh: ask.map(|p| p.0),
            });
        }
    }
    Ok(web::Json(out))
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepthQuery {
    /// Price levels per side, 1 … 1000, default 20.
    pub depth: Option<usize>,
}

/// Aggregated price levels of one slot's book (empty when nothing rests or the slot is not open).
#[utoipa::path(get, path = "/v1/slots/{zone}/{slot_start_ms}/book", tag = "market",
    params(("zone" = String, Path), ("slot_start_ms" = i64, Path), DepthQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = BookDepth),
        (status = 400, description = "bad path or query", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 404, description = "unknown zone or slot", body = ErrorBody),
        (status = 503, description = "exchange not running", body = ErrorBody)))]
#[get("/v1/slots/{zone}/{slot_start_ms}/book")]
pub async fn book(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<(String, i64)>,
    query: web::Query<DepthQuery>,
) -> Result<web::Json<BookDepth>, ApiError> {
    let (zone, slot) = path.into_inner();
    let depth = query.depth.unwrap_or(DEFAULT_DEPTH);
    if !(1..=MAX_DEPTH).contains(&depth) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("depth must be 1 … {MAX_DEPTH}"),
        ));
    }
    slot_path(&state, &zone, slot)?;
    let shared = host(&state)?.read().map_err(host_error)?;
    Ok(web::Json(book_depth(&shared.ledger, &zone, slot, depth)))
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    /// 1 … 1000, default 100.
    pub limit: Option<i64>,
}

/// A slot's most recent trades, newest first.
#[utoipa::path(get, path = "/v1/slots/{zone}/{slot_start_ms}/trades", tag = "market",
    params(("zone" = String, Path), ("slot_start_ms" = i64, Path), LimitQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<PublicTrade>),
        (status = 400, description = "bad path or query", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 404, description = "unknown zone or slot", body = ErrorBody),
        (status = 503, description = "exchange not running", body = ErrorBody)))]
#[get("/v1/slots/{zone}/{slot_start_ms}/trades")]
pub async fn slot_trades(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<(String, i64)>,
    query: web::Query<LimitQuery>,
) -> Result<web::Json<Vec<PublicTrade>>, ApiError> {
    let (zone, slot) = path.into_inner();
    let limit = list_limit(query.limit)?;
    slot_path(&state, &zone, slot)?;
    let store = state.store.clone();
    let rows = web::block(move || store.trading_trades_in_slot(&zone, slot, Some(limit))).await??;
    Ok(web::Json(rows.iter().map(PublicTrade::from).collect()))
}

/// Open, high, low, close, volume and VWAP of one slot's trades.
#[utoipa::path(get, path = "/v1/slots/{zone}/{slot_start_ms}/stats", tag = "market",
    params(("zone" = String, Path), ("slot_start_ms" = i64, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = SlotStats),
        (status = 400, description = "bad path", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 404, description = "unknown zone or slot", body = ErrorBody),
        (status = 503, description = "exchange not running", body = ErrorBody)))]
#[get("/v1/slots/{zone}/{slot_start_ms}/stats")]
pub async fn slot_stats(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<(String, i64)>,
) -> Result<web::Json<SlotStats>, ApiError> {
    let (zone, slot) = path.into_inner();
    slot_path(&state, &zone, slot)?;
    let store = state.store.clone();
    let z = zone.clone();
    let rows = web::block(move || store.trading_trades_in_slot(&z, slot, None)).await??;
    let volume: i64 = rows.iter().map(|t| t.qty_wh).sum();
    // VWAP from price × qty (not the truncated values) so it is exact before the final division.
    let weighted: i128 = rows
        .iter()
        .map(|t| i128::from(t.price_micro_per_kwh) * i128::from(t.qty_wh))
        .sum();
    Ok(web::Json(SlotStats {
        zone,
        slot_start_ms: slot,
        trades: rows.len() as i64,
        open_micro_per_kwh: rows.first().map(|t| t.price_micro_per_kwh),
        high_micro_per_kwh: rows.iter().map(|t| t.price_micro_per_kwh).max(),
        low_micro_per_kwh: rows.iter().map(|t| t.price_micro_per_kwh).min(),
        close_micro_per_kwh: rows.last().map(|t| t.price_micro_per_kwh),
        volume_wh: volume,
        value_micro: rows.iter().map(|t| t.value_micro).sum(),
        vwap_micro_per_kwh: (volume > 0)
            .then(|| i64::try_from(weighted.div_euclid(i128::from(volume))).unwrap_or(i64::MAX)),
    }))
}
