//! Prometheus metrics at `/metrics`: requests and latencies per route, plus the domain counters
//! other modules bump (orders, trades, readings ingested, journal lag).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use super::AppState;

/// Every metric the platform exports, registered in its own registry (no globals, so tests
/// and several servers in one process do not share counts).
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
    pub orders: IntCounterVec,
    pub trades: IntCounterVec,
    pub readings_ingested: IntCounterVec,
    pub journal_lag: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("sunmesh".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let http_latency = HistogramVec::new(
            HistogramOpts::new("http_request_seconds", "HTTP request latency").buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 2.0,
            ]),
            &["method", "route"],
        )?;
        let orders = IntCounterVec::new(
            Opts::new("orders_total", "order commands by outcome"),
            &["outcome"],
        )?;
        let trades = IntCounterVec::new(Opts::new("trades_total", "trades by zone"), &["zone"])?;
        let readings_ingested = IntCounterVec::new(
            Opts::new("readings_ingested_total", "readings by verdict"),
            &["verdict"],
        )?;
        let journal_lag = IntGauge::new(
            "journal_lag_commands",
            "journaled commands not yet covered by a snapshot",
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_latency.clone()))?;
        registry.register(Box::new(orders.clone()))?;
        registry.register(Box::new(trades.clone()))?;
        registry.register(Box::new(readings_ingested.clone()))?;
        registry.register(Box::new(journal_lag.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_latency,
            orders,
            trades,
            readings_ingested,
            journal_lag,
        })
    }

    /// The registry, for metrics owned by other parts of the platform (the engine host's).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding counters into a Vec cannot fail short of a bug in the encoder; an empty
        // page is the honest answer then.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// Counts every request under its route pattern (not its raw path, which would make one
/// time series per order id).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?;
    if let Some(state) = state {
        let status = response.status().as_u16().to_string();
        state
            .metrics
            .http_requests
            .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
            .inc();
        state
            .metrics
            .http_latency
            .with_label_values(&[method.as_str(), route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(response)
}
