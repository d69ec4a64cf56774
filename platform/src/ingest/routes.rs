//! HTTP endpoints of ingest: `POST /v1/readings` (agents), a device's readings, verified
//! energy per slot and gaps (its owner, operators, admins), and the operator's review of
//! flagged readings.
//!
//! `POST /v1/readings` takes no API key: the signature is the authentication (a reading is
//! stored only when it verifies with its device's registered key). Needs
//! `web::Data<IngestService>` in the app (see [`data`]).

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use reading::DeviceId;
use serde::{Deserialize, Serialize};
use settlement::verify::OperatorDecision;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::service::{
    decode_json_batch, decode_wire_batch, BatchError, IngestService, ReadingResult, ReceiptStatus,
    VerdictKind, MAX_BODY_BYTES,
};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::error::PlatformError;
use crate::registry::Role;
use crate::store::readings::{ReadingPage, ReadingRecord};

/// Most readings one page of `GET …/readings` returns.
pub const MAX_PAGE: i64 = 1_000;
/// Widest window of `GET …/energy`: 31 days.
pub const MAX_ENERGY_WINDOW_MS: i64 = 31 * 86_400_000;

/// The ingest service as app data, for `App::app_data`.
pub fn data(service: IngestService) -> web::Data<IngestService> {
    web::Data::new(service)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(post_readings)
        .service(super::devices::list_devices)
        .service(flagged_readings)
        .service(device_readings)
        .service(device_energy)
        .service(device_gaps)
        .service(review_reading)
        .service(clear_device_review);
}

#[derive(OpenApi)]
#[openapi(
    paths(
        post_readings,
        super::devices::list_devices,
        flagged_readings,
        device_readings,
        device_energy,
        device_gaps,
        review_reading,
        clear_device_review
    ),
    components(schemas(
        super::devices::DeviceView,
        super::devices::DevicesView,
        ReadingsRequest,
        ReadingJson,
        ReadingsAnswer,
        ReadingResult,
        ReceiptStatus,
        VerdictKind,
        ReadingView,
        EnergyView,
        ReadingsPageView,
        SlotEnergyView,
        EnergyAnswer,
        GapView,
        ReviewRequest,
        Decision
    )),
    tags((name = "readings", description = "signed meter readings in; verified energy, gaps and review out"))
)]
pub struct IngestApi;

/// The JSON form of a signed reading (docs/reading-format.md).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReadingJson {
    #[schema(example = 1)]
    pub version: u8,
    /// 32 lowercase hex characters.
    pub device_id: String,
    pub sequence: u64,
    pub timestamp_ms: i64,
    pub interval_ms: u32,
    pub export_wh: u64,
    pub import_wh: u64,
    pub power_w: i32,
    /// `ok`, `standby`, `fault` or `off`.
    pub status: String,
    /// 64 lowercase hex characters.
    pub prev_hash: String,
    /// Base64 of the 64-byte Ed25519 signature.
    pub signature: String,
}

/// `POST /v1/readings` body (documentation; the handler decodes item by item).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReadingsRequest {
    /// At most 1,000 readings.
    pub readings: Vec<ReadingJson>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReadingsAnswer {
    /// One result per reading, in request order.
    pub results: Vec<ReadingResult>,
}

/// Submit signed readings (agents). The signature is the authentication: no API key.
#[utoipa::path(post, path = "/v1/readings", tag = "readings",
    request_body(content = ReadingsRequest, description = "JSON readings (or `application/octet-stream`: concatenated 154-byte wire readings); at most 1,000 readings and 1 MiB"),
    responses(
        (status = 200, description = "one verdict per reading: accepted, duplicate or rejected (with reasons)", body = ReadingsAnswer),
        (status = 400, description = "the body is not `{\"readings\":[…]}` JSON, or wire bytes are truncated", body = ErrorBody),
        (status = 413, description = "more than 1,000 readings or 1 MiB", body = ErrorBody),
        (status = 415, description = "neither JSON nor octet-stream", body = ErrorBody),
        (status = 503, description = "the database is unreachable; nothing was stored, retry", body = ErrorBody)))]
#[post("/v1/readings")]
pub async fn post_readings(
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<IngestService>,
) -> Result<web::Json<ReadingsAnswer>, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    let wire = if content_type.starts_with("application/octet-stream") {
        true
    } else if content_type.starts_with("application/json") {
        false
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send readings as `application/json` ({\"readings\":[…]}) or as `application/octet-stream` (154-byte wire readings)",
        ));
    };
    let body = payload
        .to_bytes_limited(MAX_BODY_BYTES)
        .await
        .map_err(|_| batch_error(BatchError::BodyTooLarge(MAX_BODY_BYTES + 1)))?
        .map_err(|e| {
            ApiError::bad_request("invalid_body", format!("the body could not be read: {e}"))
        })?;
    let items = if wire {
        decode_wire_batch(&body)
    } else {
        decode_json_batch(&body)
    }
    .map_err(batch_error)?;
    let svc = service.get_ref().clone();
    let now = service.now_ms();
    let results = web::block(move || svc.ingest_items(&items, now))
        .await?
        .map_err(platform_error)?;
    Ok(web::Json(ReadingsAnswer { results }))
}

fn batch_error(error: BatchError) -> ApiError {
    let message = error.to_string();
    match error {
        BatchError::MalformedJson(_) => ApiError::bad_request("invalid_json", message),
        BatchError::Truncated(_) => ApiError::bad_request("truncated", message),
        BatchError::TooManyReadings(_) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_many_readings", message)
        }
        BatchError::BodyTooLarge(_) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
        }
        BatchError::Store(e) => platform_error(e),
    }
}

/// Ingest's own errors, then the API's common mapping.
fn platform_error(error: PlatformError) -> ApiError {
    let message = error.to_string();
    match error {
        PlatformError::ReadingNotFound { .. } => ApiError::not_found(message),
        PlatformError::NotFlagged { .. } => ApiError::conflict("not_flagged", message),
        PlatformError::DeviceNotUnderReview { .. } => {
            ApiError::conflict("not_under_review", message)
        }
        PlatformError::InvalidArgument { .. } => ApiError::bad_request("invalid_input", message),
        PlatformError::Database(_) => ApiError::unavailable(
            "the database refused the batch; nothing was stored, retry in a moment",
        ),
        other => ApiError::from(other),
    }
}

/// The energy a reading measured since the previous one.
#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq, Eq)]
pub struct EnergyView {
    pub start_ms: i64,
    pub end_ms: i64,
    pub export_wh: i64,
    pub import_wh: i64,
}

/// A stored reading with its verification status.
#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq, Eq)]
pub struct ReadingView {
    pub device_id: String,
    pub sequence: i64,
    pub timestamp_ms: i64,
    pub interval_ms: i64,
    pub export_wh: i64,
    pub import_wh: i64,
    pub power_w: i64,
    pub status: String,
    pub prev_hash: String,
    pub chain_hash: String,
    /// `accepted`, `flagged` or `rejected`.
    pub verdict: String,
    pub reasons: Vec<String>,
    pub energy: Option<EnergyView>,
    pub received_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub decided_by: Option<String>,
}

impl From<ReadingRecord> for ReadingView {
    fn from(r: ReadingRecord) -> Self {
        let reasons = r.reading.reason_codes();
        let s = r.reading;
        ReadingView {
            device_id: s.device_id,
            sequence: s.sequence,
            timestamp_ms: s.timestamp_ms,
            interval_ms: s.interval_ms,
            export_wh: s.export_wh,
            import_wh: s.import_wh,
            power_w: s.power_w,
            status: s.status,
            prev_hash: s.prev_hash,
            chain_hash: s.chain_hash,
            verdict: s.verdict,
            reasons,
            energy: r.energy.map(|e| EnergyView {
                start_ms: e.start_ms,
                end_ms: e.end_ms,
                export_wh: e.export_wh,
                import_wh: e.import_wh,
            }),
            received_at_ms: s.received_at_ms,
            decided_at_ms: s.decided_at_ms,
            decided_by: s.decided_by,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReadingsPageView {
    pub readings: Vec<ReadingView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
pub struct PageQuery {
    /// Only sequences greater than this (default 0).
    pub after: Option<i64>,
    /// At most this many (default and maximum 1,000).
    pub limit: Option<i64>,
}

/// Parses the `{device_id}` path segment.
fn device_id(text: &str) -> Result<DeviceId, ApiError> {
    crate::registry::parse_device_id(text)
        .map_err(|e| ApiError::bad_request("invalid_input", e.to_string()))
}

/// The device, if the caller may see it: its owner, operators and admins.
async fn visible_device(
    service: &IngestService,
    caller: &Caller,
    id: DeviceId,
) -> Result<(), ApiError> {
    let store = service.store().clone();
    let device = web::block(move || store.device(&id))
        .await?
        .map_err(platform_error)?
        .ok_or_else(|| ApiError::not_found(format!("no device {id} is registered")))?;
    if device.owner_id == caller.id() || matches!(caller.role(), Role::Operator | Role::Admin) {
        Ok(())
    } else {
        // The same answer as for a missing device: ids are not secrets, but ownership is.
        Err(ApiError::not_found(format!("no device {id} is registered")))
    }
}

/// A device's readings with their status and reasons (owner, operator, admin).
#[utoipa::path(get, path = "/v1/devices/{device_id}/readings", tag = "readings",
    params(("device_id" = String, Path, description = "32 hex characters"), PageQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ReadingsPageView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "no such device, or not yours", body = ErrorBody)))]
#[get("/v1/devices/{device_id}/readings")]
pub async fn device_readings(
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    caller: Caller,
    service: web::Data<IngestService>,
) -> Result<web::Json<ReadingsPageView>, ApiError> {
    let id = device_id(&path)?;
    visible_device(&service, &caller, id).await?;
    let limit = crate::api::page_limit(query.limit, MAX_PAGE, MAX_PAGE)?;
    let page = ReadingPage {
        after_sequence: match query.after {
            Some(after) if after < 0 => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("after {after} is negative; sequences start at 1"),
                ))
            }
            after => after.unwrap_or(0),
        },
        limit,
    };
    let store = service.store().clone();
    let records = web::block(move || store.device_readings(&id, page))
        .await?
        .map_err(platform_error)?;
    let full = i64::try_from(records.len()).unwrap_or(i64::MAX) == limit;
    let readings: Vec<ReadingView> = records.into_iter().map(ReadingView::from).collect();
    let next_after = full.then(|| readings.last().map(|r| r.sequence)).flatten();
    Ok(web::Json(ReadingsPageView {
        readings,
        next_after,
    }))
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq, Eq)]
pub struct SlotEnergyView {
    pub slot_start_ms: i64,
    pub export_wh: i64,
    pub import_wh: i64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct EnergyAnswer {
    pub device_id: String,
    pub slot_ms: i64,
    /// Slots with verified energy, in time order (slots without any are omitted).
    pub slots: Vec<SlotEnergyView>,
}

#[derive(Deserialize, IntoParams)]
pub struct EnergyQuery {
    /// First slot start, UTC ms (inclusive).
    pub from_ms: i64,
    /// End, UTC ms (exclusive); at most 31 days after `from_ms`.
    pub to_ms: i64,
}

/// A device's verified energy per delivery slot: what settlement and minting use.
#[utoipa::path(get, path = "/v1/devices/{device_id}/energy", tag = "readings",
    params(("device_id" = String, Path, description = "32 hex characters"), EnergyQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = EnergyAnswer),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/v1/devices/{device_id}/energy")]
pub async fn device_energy(
    path: web::Path<String>,
    query: web::Query<EnergyQuery>,
    caller: Caller,
    service: web::Data<IngestService>,
) -> Result<web::Json<EnergyAnswer>, ApiError> {
    let id = device_id(&path)?;
    let (from, to) = (query.from_ms, query.to_ms);
    if to <= from || to.saturating_sub(from) > MAX_ENERGY_WINDOW_MS {
        return Err(ApiError::bad_request(
            "invalid_input",
            format!(
                "to_ms must be after from_ms and at most {MAX_ENERGY_WINDOW_MS} ms (31 days) later"
            ),
        ));
    }
    visible_device(&service, &caller, id).await?;
    let store = service.store().clone();
    let slots = web::block(move || store.verified_energy(&id, from, to))
        .await?
        .map_err(platform_error)?;
    Ok(web::Json(EnergyAnswer {
        device_id: id.to_hex(),
        slot_ms: service.config().slot_ms,
        slots: slots
            .into_iter()
            .map(|s| SlotEnergyView {
                slot_start_ms: s.slot_start_ms,
                export_wh: s.export_wh,
                import_wh: s.import_wh,
            })
            .collect(),
    }))
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq, Eq)]
pub struct GapView {
    /// First missing sequence.
    pub from_seq: i64,
    /// Last missing sequence (inclusive).
    pub to_seq: i64,
    pub detected_at_ms: i64,
}

/// Sequence numbers a device skipped (lost readings).
#[utoipa::path(get, path = "/v1/devices/{device_id}/gaps", tag = "readings",
    params(("device_id" = String, Path, description = "32 hex characters")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<GapView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/v1/devices/{device_id}/gaps")]
pub async fn device_gaps(
    path: web::Path<String>,
    caller: Caller,
    service: web::Data<IngestService>,
) -> Result<web::Json<Vec<GapView>>, ApiError> {
    let id = device_id(&path)?;
    visible_device(&service, &caller, id).await?;
    let store = service.store().clone();
    let gaps = web::block(move || store.reading_gaps(&id))
        .await?
        .map_err(platform_error)?;
    Ok(web::Json(
        gaps.into_iter()
            .map(|g| GapView {
                from_seq: g.from_seq,
                to_seq: g.to_seq,
                detected_at_ms: g.detected_at_ms,
            })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct FlaggedQuery {
    /// At most this many (default and maximum 1,000).
    pub limit: Option<i64>,
}

/// Flagged readings waiting for an operator (operator, admin).
#[utoipa::path(get, path = "/v1/readings/flagged", tag = "readings",
    params(FlaggedQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<ReadingView>),
        (status = 401, body = ErrorBody),
        (status = 403, description = "not an operator or admin", body = ErrorBody)))]
#[get("/v1/readings/flagged")]
pub async fn flagged_readings(
    query: web::Query<FlaggedQuery>,
    caller: Caller,
    service: web::Data<IngestService>,
) -> Result<web::Json<Vec<ReadingView>>, ApiError> {
    caller.require(&[Role::Operator, Role::Admin])?;
    let limit = crate::api::page_limit(query.limit, MAX_PAGE, MAX_PAGE)?;
    let store = service.store().clone();
    let records = web::block(move || store.flagged_readings(limit))
        .await?
        .map_err(platform_error)?;
    Ok(web::Json(
        records.into_iter().map(ReadingView::from).collect(),
    ))
}

/// An operator's decision on a flagged reading.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Count it: its energy is added to the verified energy of its slots.
    Release,
    /// Never count it (`operator_rejected`).
    Reject,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReviewRequest {
    pub decision: Decision,
}

/// Release or reject a flagged reading (operator, admin). Final.
#[utoipa::path(post, path = "/v1/devices/{device_id}/readings/{sequence}/review", tag = "readings",
    params(("device_id" = String, Path, description = "32 hex characters"), ("sequence" = u64, Path)),
    request_body = ReviewRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the reading after the decision", body = ReadingView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "not an operator or admin", body = ErrorBody),
        (status = 404, description = "no such reading", body = ErrorBody),
        (status = 409, description = "the reading is not flagged (already decided, or never was)", body = ErrorBody)))]
#[post("/v1/devices/{device_id}/readings/{sequence}/review")]
pub async fn review_reading(
    path: web::Path<(String, u64)>,
    body: web::Json<ReviewRequest>,
    caller: Caller,
    service: web::Data<IngestService>,
) -> Result<web::Json<ReadingView>, ApiError> {
    caller.require(&[Role::Operator, Role::Admin])?;
    let (device, sequence) = path.into_inner();
    let id = device_id(&device)?;
    let decision = match body.decision {
        Decision::Release => OperatorDecision::Release,
        Decision::Reject => OperatorDecision::Reject,
    };
    let store = service.store().clone();
    let slot_ms = service.config().slot_ms;
    let by = caller.account.name.to_string();
    let now = service.now_ms();
    let record =
        web::block(move || store.decide_flagged(&id, sequence, decision, &by, slot_ms, now))
            .await?
            .map_err(platform_error)?;
    Ok(web::Json(ReadingView::from(record)))
}

/// End a device's review after a sequence conflict or broken chain (operator, admin).
#[utoipa::path(post, path = "/v1/devices/{device_id}/review/clear", tag = "readings",
    params(("device_id" = String, Path, description = "32 hex characters")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "the device's readings are verified normally again"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the device is not under review", body = ErrorBody)))]
#[post("/v1/devices/{device_id}/review/clear")]
pub async fn clear_device_review(
    path: web::Path<String>,
    caller: Caller,
    service: web::Data<IngestService>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Operator, Role::Admin])?;
    let id = device_id(&path)?;
    let store = service.store().clone();
    let now = service.now_ms();
    web::block(move || store.clear_device_review(&id, now))
        .await?
        .map_err(platform_error)?;
    Ok(HttpResponse::NoContent().finish())
}
