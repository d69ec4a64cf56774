//! The settlement API: the transparency log (public), reports and charts (operators and
//! admins), and the caller's own balances.
//!
//! Handlers reach the service through `web::Data<Settlement>`, which `serve` registers next
//! to `AppState`; store work runs in `web::block`.

use actix_web::http::header::ContentType;
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use settlement::ledger::{AccountId as LedgerAccount, LedgerId};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::chart;
use super::commands::parse_time;
use super::report::{self, ReportFormat};
use super::Settlement;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::registry::Role;
use crate::store::MAX_LEAVES_PER_READ;

const REPORT_ROLES: [Role; 2] = [Role::Operator, Role::Admin];
/// The longest report one request may ask for (93 days).
pub const MAX_REPORT_SPAN_MS: i64 = 93 * 24 * 3600 * 1000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(checkpoint)
        .service(inclusion)
        .service(consistency)
        .service(leaves)
        .service(reports)
        .service(chart_svg)
        .service(balances);
}

#[derive(OpenApi)]
#[openapi(
    paths(checkpoint, inclusion, consistency, leaves, reports, chart_svg, balances),
    components(schemas(InclusionProof, ConsistencyProof, LeafView, Leaves, BalanceView, Balances)),
    tags(
        (name = "log", description = "the transparency log: checkpoints, proofs, leaves"),
        (name = "settlement", description = "reports, charts and balances"),
    )
)]
pub struct SettleApi;

fn settlement_missing() -> ApiError {
    ApiError::internal("web::Data<Settlement> is not registered in the app")
}

/// The latest signed checkpoint (C2SP signed note), as text.
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log",
    responses(
        (status = 200, description = "the latest signed checkpoint", body = String, content_type = "text/plain"),
        (status = 404, description = "nothing was settled yet", body = ErrorBody)))]
#[get("/v1/log/checkpoint")]
pub async fn checkpoint(s: Option<web::Data<Settlement>>) -> Result<HttpResponse, ApiError> {
    let s = s.ok_or_else(settlement_missing)?;
    let latest = web::block(move || s.store().latest_checkpoint()).await??;
    let latest = latest.ok_or_else(|| ApiError::not_found("no checkpoint was signed yet"))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(latest.text))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InclusionQuery {
    /// The leaf's index.
    pub leaf: u64,
    /// The tree size the proof is for (a checkpoint's size).
    pub size: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// SHA-256(0x00 ‖ leaf), hex.
    pub leaf_hash: String,
    /// RFC 9162 audit path, hex hashes.
    pub proof: Vec<String>,
}

/// The inclusion proof of a leaf in the tree of a given size.
#[utoipa::path(get, path = "/v1/log/inclusion", tag = "log", params(InclusionQuery),
    responses(
        (status = 200, body = InclusionProof),
        (status = 400, description = "index or size outside the log", body = ErrorBody)))]
#[get("/v1/log/inclusion")]
pub async fn inclusion(
    s: Option<web::Data<Settlement>>,
    q: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = s.ok_or_else(settlement_missing)?;
    let InclusionQuery { leaf, size } = q.into_inner();
    let (proof, hash) = web::block(move || {
        let proof = s.inclusion_proof(leaf, size)?;
        let hash = s.store().log_leaves(leaf, leaf + 1)?;
        Ok::<_, crate::error::PlatformError>((proof, hash))
    })
    .await?
    .map_err(|e| ApiError::bad_request("invalid_proof_request", e.to_string()))?;
    let leaf_hash = hash
        .first()
        .map(|(_, bytes)| hex::encode(settlement::merkle::leaf_hash(bytes)))
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(InclusionProof {
        leaf_index: leaf,
        tree_size: size,
        leaf_hash,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ConsistencyQuery {
    pub from: u64,
    pub to: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// RFC 9162 consistency proof, hex hashes.
    pub proof: Vec<String>,
}

/// The consistency proof between two tree sizes.
#[utoipa::path(get, path = "/v1/log/consistency", tag = "log", params(ConsistencyQuery),
    responses(
        (status = 200, body = ConsistencyProof),
        (status = 400, description = "sizes outside the log or decreasing", body = ErrorBody)))]
#[get("/v1/log/consistency")]
pub async fn consistency(
    s: Option<web::Data<Settlement>>,
    q: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = s.ok_or_else(settlement_missing)?;
    let ConsistencyQuery { from, to } = q.into_inner();
    let proof = web::block(move || s.consistency_proof(from, to))
        .await?
        .map_err(|e| ApiError::bad_request("invalid_proof_request", e.to_string()))?;
    Ok(HttpResponse::Ok().json(ConsistencyProof {
        from,
        to,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LeavesQuery {
    /// First index (inclusive).
    pub from: u64,
    /// End index (exclusive); at most 10,000 leaves per request.
    pub to: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LeafView {
    pub index: u64,
    /// The leaf's exact bytes (canonical JSON, UTF-8).
    pub leaf: String,
    pub leaf_hash: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Leaves {
    pub leaves: Vec<LeafView>,
    /// Where to continue, when the range was cut at the per-request limit.
    pub next: Option<u64>,
}

/// Leaves `[from, to)`.
#[utoipa::path(get, path = "/v1/log/leaves", tag = "log", params(LeavesQuery),
    responses((status = 200, body = Leaves), (status = 400, body = ErrorBody)))]
#[get("/v1/log/leaves")]
pub async fn leaves(
    s: Option<web::Data<Settlement>>,
    q: web::Query<LeavesQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = s.ok_or_else(settlement_missing)?;
    let LeavesQuery { from, to } = q.into_inner();
    if to < from {
        return Err(ApiError::bad_request(
            "invalid_range",
            "`to` must not be below `from`",
        ));
    }
    let rows = web::block(move || s.store().log_leaves(from, to)).await??;
    let end = from.saturating_add(MAX_LEAVES_PER_READ).min(to);
    let next = rows
        .last()
        .map(|(i, _)| i + 1)
        .filter(|n| *n == end && end < to);
    Ok(HttpResponse::Ok().json(Leaves {
        leaves: rows
            .into_iter()
            .map(|(index, bytes)| LeafView {
                index,
                leaf_hash: hex::encode(settlement::merkle::leaf_hash(&bytes)),
                leaf: String::from_utf8_lossy(&bytes).into_owned(),
            })
            .collect(),
        next,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// First slot start included, RFC 3339.
    pub from: String,
    /// Slot starts before this are included, RFC 3339.
    pub to: String,
    pub zone: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// Settlement report rows (operators and admins).
#[utoipa::path(get, path = "/v1/reports", tag = "settlement", params(ReportQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "rows as JSON (default) or CSV; columns as `sunmesh report`"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/v1/reports")]
pub async fn reports(
    caller: Caller,
    s: Option<web::Data<Settlement>>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&REPORT_ROLES)?;
    let s = s.ok_or_else(settlement_missing)?;
    let q = q.into_inner();
    let bad = |m: String| ApiError::bad_request("invalid_query", m);
    let from = parse_time(&q.from).map_err(|e| bad(format!("from: {e}")))?;
    let to = parse_time(&q.to).map_err(|e| bad(format!("to: {e}")))?;
    if to <= from || to - from > MAX_REPORT_SPAN_MS {
        return Err(bad(
            "`to` must be after `from`, at most 93 days later".into()
        ));
    }
    let format = match q.format.as_deref() {
        None | Some("json") => ReportFormat::Json,
        Some("csv") => ReportFormat::Csv,
        Some(other) => return Err(bad(format!("format {other:?}: use json or csv"))),
    };
    let zone = q.zone;
    let rows = web::block(move || report::load(s.store(), from, to, zone.as_deref())).await??;
    let body = report::render(&rows, format);
    let content_type = match format {
        ReportFormat::Json => "application/json",
        ReportFormat::Csv => "text/csv; charset=utf-8",
    };
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ChartQuery {
    /// The UTC day, YYYY-MM-DD.
    pub day: String,
    pub zone: Option<String>,
}

/// A day's chart: production, consumption, traded and delivered energy per slot (SVG).
#[utoipa::path(get, path = "/v1/reports/chart.svg", tag = "settlement", params(ChartQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the chart", body = String, content_type = "image/svg+xml"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/v1/reports/chart.svg")]
pub async fn chart_svg(
    caller: Caller,
    s: Option<web::Data<Settlement>>,
    q: web::Query<ChartQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&REPORT_ROLES)?;
    let s = s.ok_or_else(settlement_missing)?;
    let q = q.into_inner();
    let day = chrono::NaiveDate::parse_from_str(&q.day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_query", format!("day {:?}: use YYYY-MM-DD", q.day))
        })?;
    let title = format!(
        "sunmesh {}{}",
        q.day,
        q.zone.as_deref().map_or(String::new(), |z| format!(" {z}"))
    );
    let zone = q.zone;
    let svg = web::block(move || {
        let series = chart::day_series(s.store(), day, zone.as_deref())?;
        chart::render_day(day, &title, &series)
    })
    .await??;
    Ok(HttpResponse::Ok().content_type("image/svg+xml").body(svg))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BalanceView {
    /// `currency` (micro-units), `carbon` (grams) or `reward` (base units).
    pub ledger: String,
    /// Posted credits minus posted debits.
    pub balance: i64,
    /// Reserved by open escrows (pending debits).
    pub pending_debits: i64,
    /// Incoming amounts not yet posted (pending credits).
    pub pending_credits: i64,
    /// What can be spent now: balance minus pending debits.
    pub available: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Balances {
    pub account_id: i64,
    pub balances: Vec<BalanceView>,
}

/// The caller's balances per ledger, including pending escrow.
#[utoipa::path(get, path = "/v1/balances", tag = "settlement", security(("api_key" = [])),
    responses((status = 200, body = Balances), (status = 401, body = ErrorBody)))]
#[get("/v1/balances")]
pub async fn balances(
    caller: Caller,
    s: Option<web::Data<Settlement>>,
) -> Result<HttpResponse, ApiError> {
    let s = s.ok_or_else(settlement_missing)?;
    let id = caller.id().0;
    let account = u64::try_from(id)
        .map(LedgerAccount)
        .map_err(|_| ApiError::internal(format!("negative account id {id}")))?;
    let rows = web::block(move || s.balances(account)).await??;
    let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    let balances = LedgerId::ALL
        .iter()
        .map(|ledger| {
            let b = rows
                .iter()
                .find(|(a, _)| a.ledger == *ledger)
                .map(|(_, b)| *b)
                .unwrap_or_default();
            BalanceView {
                ledger: ledger.name().to_owned(),
                balance: clamp(b.net()),
                pending_debits: clamp(b.debits_pending as i128),
                pending_credits: clamp(b.credits_pending as i128),
                available: clamp(b.available() as i128),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(Balances {
        account_id: id,
        balances,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_fragment_lists_every_route_and_schema() {
        let doc = SettleApi::openapi();
        let paths: Vec<&String> = doc.paths.paths.keys().collect();
        for path in [
            "/v1/log/checkpoint",
            "/v1/log/inclusion",
            "/v1/log/consistency",
            "/v1/log/leaves",
            "/v1/reports",
            "/v1/reports/chart.svg",
            "/v1/balances",
        ] {
            assert!(paths.iter().any(|p| p.as_str() == path), "{path} missing");
        }
        let schemas = doc.components.expect("components").schemas;
        for schema in ["InclusionProof", "ConsistencyProof", "Leaves", "Balances"] {
            assert!(schemas.contains_key(schema), "{schema} missing");
        }
    }
}
