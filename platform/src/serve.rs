//! `sunmesh serve`: the production entry point. Opens the store (running migrations), builds
//! the app and serves it until SIGINT/SIGTERM, then drains in-flight requests.

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::ServerHandle;
use actix_web::HttpServer;

use crate::api::{self, AppState};
use crate::config::ServeConfig;
use crate::error::{PlatformError, Result};
use crate::settle::{Feeder, ScheduleConfig, SettleConfig, Settlement};
use crate::store::Store;
use crate::trading::funds::sync_funds;
use crate::trading::EngineHost;
use std::sync::Arc;
use std::time::Duration;

/// How long a shutdown waits for in-flight requests.
pub const SHUTDOWN_GRACE_S: u64 = 10;

/// A started server: its address and a handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub handle: ServerHandle,
    pub server: actix_web::dev::Server,
    pub state: AppState,
    /// MQTT ingest (and the embedded broker, if any); dropped with the server.
    pub ingest: crate::ingest::IngestRuntime,
}

/// What the platform runs with besides [`ServeConfig`]: derived from it for `sunmesh serve`,
/// tuned by `sunmesh demo` (a shorter scheduler period for a fast simulated clock, daily
/// reward epochs).
#[derive(Clone, Debug)]
pub struct Tuning {
    pub settle: SettleConfig,
    pub schedule: ScheduleConfig,
    /// Real time between two settlement scheduler ticks.
    pub settle_every: Duration,
}

impl Tuning {
    pub fn from_config(config: &ServeConfig) -> Self {
        let settings = &config.settlement;
        Self {
            settle: SettleConfig {
                log_origin: settings.log_origin.clone(),
                imbalance_price_micro_per_kwh: settings.imbalance_price_micro_per_kwh,
                ..SettleConfig::default()
            },
            schedule: ScheduleConfig {
                late_reading_ms: settings.late_reading_min.saturating_mul(60_000),
                reconcile_after_ms: settings.reconcile_after_min.saturating_mul(60_000),
                ..ScheduleConfig::default()
            },
            settle_every: Duration::from_secs(settings.tick_s.max(1)),
        }
    }
}

/// Binds and starts serving in the current actix/tokio runtime; returns once listening.
pub async fn start(config: &ServeConfig) -> Result<Running> {
    start_with(config, Tuning::from_config(config)).await
}

/// [`start`] with explicit [`Tuning`]: the very same stack, for `sunmesh demo`.
pub async fn start_with(config: &ServeConfig, tuning: Tuning) -> Result<Running> {
    let database = config.database.clone();
    let store = actix_web::web::block(move || Store::open(&database))
        .await
        .map_err(|e| PlatformError::Config(format!("cannot open the store: {e}")))??;
    let seeding = store.clone();
    let seeded = actix_web::web::block(move || {
        crate::settle::commands::seed_example_factors(&seeding, crate::clock::now_ms())
    })
    .await
    .map_err(|e| PlatformError::TaskFailed(e.to_string()))??;
    if let Some(rows) = seeded {
        tracing::info!(rows, "no emission factors yet: loaded the bundled example table (replace it with `sunmesh factors import FILE`)");
    }
    let settings = &config.settlement;
    let signer =
        crate::settle::keys::load_or_create_log_key(&settings.log_key, &settings.log_origin)?;
    let settlement = Settlement::new(store.clone(), signer, tuning.settle);
    let market = config.market.clone();
    let engine_store = store.clone();
    let host =
        actix_web::web::block(move || crate::trading::EngineHost::start(engine_store, market))
            .await
            .map_err(|e| PlatformError::Config(format!("cannot start the exchange: {e}")))??;
    let state = AppState::new(store, config.api)?
        .with_settlement(settlement)
        .with_trading(host.clone());
    let listener = TcpListener::bind(config.listen)
        .map_err(|e| PlatformError::Config(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr()?;
    let ingest = crate::ingest::start(
        state.ingest.clone(),
        config.mqtt.url.as_deref(),
        config.mqtt.embedded_listen,
        config.mqtt.client_id.as_deref(),
    )?;
    let app_state = state.clone();
    let server = HttpServer::new(move || api::app(app_state.clone()))
        .shutdown_timeout(SHUTDOWN_GRACE_S)
        // Signals are handled in `run`, which also stops the platform's other tasks.
        .disable_signals()
        .listen(listener)?
        .run();
    let feeder = Feeder::new(
        state.settlement.clone(),
        state.ingest.config().verify,
        host.zones.names().to_vec(),
    );
    spawn_settlement_scheduler(feeder, host.clone(), tuning.settle_every, tuning.schedule);
    Ok(Running {
        addr,
        handle: server.handle(),
        server,
        state,
        ingest,
    })
}

/// Runs the platform until it is told to stop.
pub fn run(config: ServeConfig) -> Result<()> {
    crate::telemetry::init();
    actix_web::rt::System::new().block_on(async move {
        let running = start(&config).await?;
        tracing::info!(
            listen = %running.addr,
            database = %running.state.store.describe(),
            mqtt = %running.ingest.mqtt_url,
            "sunmesh serving; API docs at /docs/"
        );
        let handle = running.handle.clone();
        actix_web::rt::spawn(async move {
            let signal = shutdown_signal().await;
            tracing::info!(signal, "shutting down: draining requests");
            handle.stop(true).await;
        });
        running.server.await?;
        tracing::info!("sunmesh stopped");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM with the signal's name.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Every tick: records the inputs of slots that became due, settles them, then brings the
/// exchange's buying power up to date with the ledger. A failed tick is logged and retried at
/// the next: feeding skips what was recorded and runs are idempotent, so nothing is doubled.
fn spawn_settlement_scheduler(
    feeder: Feeder,
    host: Arc<EngineHost>,
    every: Duration,
    schedule: ScheduleConfig,
) {
    let feeder = Arc::new(feeder);
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let f = feeder.clone();
            let outcome =
                actix_web::web::block(move || f.tick(crate::clock::now_ms(), &schedule)).await;
            match outcome {
                Ok(Ok(report)) => {
                    if !report.runs.is_empty() {
                        tracing::info!(
                            slots = report.runs.len(),
                            trades = report.trades_recorded.iter().map(|t| t.2).sum::<usize>(),
                            outliers = report.outliers.iter().map(|o| o.2).sum::<usize>(),
                            "settled delivered slots"
                        );
                    }
                }
                Ok(Err(error)) => {
                    tracing::error!(%error, "settlement tick failed; retrying next tick")
                }
                Err(error) => {
                    tracing::error!(%error, "settlement tick panicked; retrying next tick")
                }
            }
            if let Err(error) = sync_funds(feeder.store(), &host).await {
                tracing::error!(%error, "cannot sync trading funds with the ledger; retrying next tick");
            }
        }
    });
}
