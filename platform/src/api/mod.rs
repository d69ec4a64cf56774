//! The HTTP API (actix-web): one app factory, one error shape, one auth extractor.
//!
//! Each area (`accounts`, `health`, and the feature modules elsewhere in the crate) provides
//! `routes(cfg)` and its OpenAPI paths; this module mounts them and `openapi::document`
//! lists them. Handlers call the synchronous [`Store`] through `web::block`.

pub mod accounts;
pub mod auth;
pub mod error;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod stream_tickets;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse};
use utoipa_swagger_ui::SwaggerUi;

use crate::config::ApiLimits;
use crate::error::{PlatformError, Result};
use crate::ingest::{IngestConfig, IngestService};
use crate::settle::{SettleConfig, Settlement};
use crate::store::Store;
use auth::{KeyCache, RateLimiter};
use error::{extractors, ApiError};
use metrics::Metrics;
use stream_tickets::StreamTickets;

/// What every handler can reach. Cheap to clone: everything is shared.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub keys: Arc<KeyCache>,
    /// One-time tickets that open the WebSocket stream from a browser.
    pub stream_tickets: Arc<StreamTickets>,
    pub key_limiter: Arc<RateLimiter>,
    pub anonymous_limiter: Arc<RateLimiter>,
    pub limits: ApiLimits,
    /// Readings in (HTTP here; MQTT is started by `serve` on the same service).
    pub ingest: IngestService,
    /// Ledger, settlement runs, the transparency log and reports.
    pub settlement: Settlement,
    /// The exchange, when this instance runs one.
    pub trading: Option<Arc<crate::trading::EngineHost>>,
}

impl AppState {
    pub fn new(store: Store, limits: ApiLimits) -> Result<Self> {
        let metrics = Metrics::new()
            .map_err(|e| PlatformError::Config(format!("cannot register metrics: {e}")))?;
        let ingest = IngestService::new(store.clone(), IngestConfig::default())?;
        // Until `serve` installs the persistent log key (`with_settlement`), checkpoints are
        // signed by a key that lives only as long as this state: fine for tests, never served.
        let settlement = Settlement::new(
            store.clone(),
            ephemeral_log_signer()?,
            SettleConfig::default(),
        );
        Ok(Self {
            settlement,
            ingest,
            store,
            metrics: Arc::new(metrics),
            keys: Arc::new(KeyCache::default()),
            stream_tickets: Arc::new(StreamTickets::default()),
            key_limiter: Arc::new(RateLimiter::new(
                limits.requests_per_second_per_key,
                limits.burst_per_key,
            )),
            anonymous_limiter: Arc::new(RateLimiter::new(
                limits.anonymous_requests_per_second,
                limits.anonymous_burst,
            )),
            limits,
            trading: None,
        })
    }

    /// Installs the settlement service with the platform's persistent log key.
    pub fn with_settlement(self, settlement: Settlement) -> Self {
        Self { settlement, ..self }
    }

    /// Replaces the ingest service (tests pin its clock this way).
    pub fn with_ingest(self, ingest: IngestService) -> Self {
        Self { ingest, ..self }
    }

    /// This state with the exchange `host` serving the trading endpoints.
    pub fn with_trading(mut self, host: Arc<crate::trading::EngineHost>) -> Self {
        if let Err(error) = host.metrics.register(self.metrics.registry()) {
            // Only a second host on the same state gets here; its figures are then not exported.
            tracing::warn!(%error, "trading group-commit metrics not registered");
        }
        self.trading = Some(host);
        self
    }
}

/// Mounts everything the API serves, for `App::configure` and for tests.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    let json_limit = state.limits.max_json_body_bytes;
    let ingest = crate::ingest::routes::data(state.ingest.clone());
    let settlement = web::Data::new(state.settlement.clone());
    cfg.app_data(web::Data::new(state))
        .app_data(ingest)
        .app_data(settlement)
        .app_data(extractors::json_config(json_limit))
        .app_data(extractors::query_config())
        .app_data(extractors::path_config())
        .configure(health::routes)
        .configure(accounts::routes)
        .configure(crate::ingest::routes::routes)
        .configure(crate::settle::routes::routes)
        .configure(crate::trading::routes)
        // The page is HTML, not API: it is mounted here but kept out of the OpenAPI document.
        .configure(crate::web::routes)
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi::document()));
}

/// The complete application: routes, metrics middleware and a JSON 404.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .configure(|cfg| configure(cfg, state))
        .default_service(web::to(not_found))
        .wrap(from_fn(metrics::middleware))
}

/// A page size from a query string: absent gives `default`, 1..=`max` is taken as asked,
/// anything else is the caller's error (one rule for every listing endpoint).
pub fn page_limit(requested: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    match requested {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(
            "invalid_query",
            format!("limit {n} is out of range; ask for 1 to {max}"),
        )),
    }
}

async fn not_found() -> std::result::Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(
        "no such endpoint; GET /openapi.json lists them all (or browse /docs/)",
    ))
}

fn ephemeral_log_signer() -> Result<settlement::merkle::LogSigner> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut seed = [0u8; 32];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| PlatformError::Config("the system random generator failed".into()))?;
    settlement::merkle::LogSigner::from_seed(crate::settle::keys::DEFAULT_LOG_ORIGIN, &seed)
        .map_err(|e| PlatformError::Config(format!("cannot make a log key: {e}")))
}
