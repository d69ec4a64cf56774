//! `sunmesh serve`: the production entry point. Opens the store (running migrations), builds
//! the app and serves it until SIGINT/SIGTERM, then drains in-flight requests.

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::ServerHandle;
use actix_web::HttpServer;

use crate::api::{self, AppState};
use crate::config::ServeConfig;
use crate::error::{PlatformError, Result};
use crate::store::Store;

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

/// Binds and starts serving in the current actix/tokio runtime; returns once listening.
pub async fn start(config: &ServeConfig) -> Result<Running> {
    let database = config.database.clone();
    let store = actix_web::web::block(move || Store::open(&database))
        .await
        .map_err(|e| PlatformError::Config(format!("cannot open the store: {e}")))??;
    let state = AppState::new(store, config.api)?;
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
async fn shutdown_signal() -> &'static str {
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
