//! `GET /v1/stream`: a WebSocket of book updates and trades (optionally for one zone or slot)
//! and the caller's own order events. Messages are text frames, one JSON [`StreamMessage`]
//! each, sent after the change is committed.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};

use super::engine_host::StreamItem;
use super::orders::host;
use super::views::StreamMessage;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::AppState;

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Only books and trades of this zone.
    pub zone: Option<String>,
    /// Only books and trades of this slot.
    pub slot_start_ms: Option<i64>,
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

/// WebSocket stream. Upgrade with `Authorization: Bearer <key>`. Server → client text frames,
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
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 503, description = "exchange not running", body = ErrorBody)))]
#[get("/v1/stream")]
pub async fn stream(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
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
