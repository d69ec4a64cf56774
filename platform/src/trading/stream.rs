//! `GET /v1/stream`: a WebSocket of book updates and trades (optionally for one zone or slot)
//! and the caller's own order events. Messages are text frames, one JSON [`StreamMessage`]
//! each, sent after the change is committed. `POST /v1/stream/tickets`: what a browser opens
//! the stream with, since its WebSocket cannot send the key (`api::stream_tickets`).

use actix_web::dev::Payload;
use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};

use super::engine_host::StreamItem;
use super::orders::host;
use super::views::StreamMessage;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::AppState;
use crate::clock;

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Only books and trades of this zone.
    pub zone: Option<String>,
    /// Only books and trades of this slot.
    pub slot_start_ms: Option<i64>,
    /// A one-time ticket from `POST /v1/stream/tickets`, instead of the Authorization header
    /// (which a browser's WebSocket cannot send). When given, it alone decides who you are.
    pub ticket: Option<String>,
}

/// A one-time ticket for `GET /v1/stream?ticket=…`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamTicket {
    /// `smt_` and 64 hex digits. Opens one stream, for the key that asked for it.
    pub ticket: String,
    /// Unused by then (UTC milliseconds), it no longer opens anything.
    pub expires_at_ms: i64,
}

/// Issues a one-time ticket that opens the WebSocket stream as you, where the Authorization
/// header cannot be sent (a browser's WebSocket): `GET /v1/stream?ticket=<ticket>` within 30
/// s, once. The key stays out of URLs; revoking the key drops its unused tickets. A ticket
/// opens a stream only on the server that issued it.
#[utoipa::path(post, path = "/v1/stream/tickets", tag = "market",
    security(("api_key" = [])),
    responses(
        (status = 201, description = "the ticket, for one upgrade within 30 s", body = StreamTicket),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 429, description = "too many requests with this key", body = ErrorBody),
        (status = 503, description = "too many tickets waiting to be used", body = ErrorBody)))]
#[post("/v1/stream/tickets")]
pub async fn issue_ticket(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let (ticket, expires_at_ms) = state.stream_tickets.issue(&caller, clock::now_ms())?;
    Ok(HttpResponse::Created().json(StreamTicket {
        ticket,
        expires_at_ms,
    }))
}

/// Who opens the stream: the ticket's key if a ticket is given (used up here, and counted
/// against that key's rate limit like any request), else the Authorization header's.
async fn stream_caller(
    req: &HttpRequest,
    state: &AppState,
    ticket: Option<&str>,
) -> Result<Caller, ApiError> {
    let Some(ticket) = ticket else {
        return Caller::from_request(req, &mut Payload::None).await;
    };
    let now = clock::now_ms();
    let caller = state.stream_tickets.redeem(ticket, now)?;
    caller.charge(state, now)?;
    Ok(caller)
}

fn visible(item: &StreamItem, account: i64, q: &StreamQuery) -> bool {
    match item.account {
        Some(owner) => owner == account,
        None => {
            q.zone.as_ref().is_none_or(|z| *z == item.zone)
                && q.slot_start_ms.is_none_or(|s| s == item.slot_start_ms)
        }
    }
}

/// WebSocket stream. Upgrade with `Authorization: Bearer <key>`, or from a browser with
/// `?ticket=` (see `POST /v1/stream/tickets`). Server → client text frames,
/// each one JSON object with a `type`: `book` (BookDepth: the top 10 levels per side after a
/// change), `trade` (PublicTrade), `order` (`{"type":"order","order":OrderView}`: one of YOUR orders changed), `lagged`
/// (`{"missed": n}`: you fell behind; re-read over HTTP). Public messages can be narrowed with
/// `?zone=` and `?slot_start_ms=`; order messages are always yours only. Client → server:
/// only ping/close are acted on.
#[utoipa::path(get, path = "/v1/stream", tag = "market", params(StreamQuery),
    security(("api_key" = [])),
    responses(
        (status = 101, description = "switching to WebSocket; then StreamMessage text frames", body = StreamMessage),
        (status = 400, description = "not a WebSocket upgrade, or bad query", body = ErrorBody),
        (status = 401, description = "missing or invalid key, or a ticket unknown, used or expired", body = ErrorBody),
        (status = 429, description = "too many requests with this key", body = ErrorBody),
        (status = 503, description = "exchange not running", body = ErrorBody)))]
#[get("/v1/stream")]
pub async fn stream(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let caller = stream_caller(&req, &state, query.ticket.as_deref()).await?;
    let mut rx = host(&state)?.subscribe();
    let (response, mut session, mut incoming) = actix_ws::handle(&req, body).map_err(|e| {
        ApiError::bad_request(
            "not_websocket",
            format!("GET /v1/stream is a WebSocket: send an upgrade request ({e})"),
        )
    })?;
    let account = caller.id().0;
    let query = query.into_inner();
    actix_web::rt::spawn(async move {
        loop {
            tokio::select! {
                batch = rx.recv() => {
                    let messages: Vec<StreamMessage> = match batch {
                        Ok(items) => items
                            .iter()
                            .filter(|i| visible(i, account, &query))
                            .map(|i| i.message.clone())
                            .collect(),
                        Err(RecvError::Lagged(missed)) => vec![StreamMessage::Lagged { missed }],
                        Err(RecvError::Closed) => break,
                    };
                    for message in messages {
                        let Ok(text) = serde_json::to_string(&message) else { continue };
                        if session.text(text).await.is_err() {
                            return;
                        }
                    }
                }
                msg = incoming.recv() => match msg {
                    Some(Ok(actix_ws::Message::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(actix_ws::Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}
