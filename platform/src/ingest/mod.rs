//! Readings in: the verification-and-storage pipeline ([`service`]), the MQTT subscriber
//! ([`mqtt`]) and the HTTP endpoints ([`routes`]). See docs/ingest.md.

pub mod devices;
pub mod mqtt;
pub mod routes;
pub mod service;

use std::net::SocketAddr;

pub use service::{
    Decision, Incoming, IngestConfig, IngestService, ReadingResult, ReceiptStatus, VerdictKind,
    MAX_BATCH_READINGS, MAX_BODY_BYTES,
};

use crate::broker::EmbeddedBroker;
use crate::error::Result;
use mqtt::{MqttIngest, MqttIngestConfig};

/// Ingest as `sunmesh serve` runs it.
pub struct IngestRuntime {
    /// For the HTTP routes: `app.app_data(routes::data(runtime.service.clone()))`.
    pub service: IngestService,
    /// The embedded broker, when no external one was configured.
    pub broker: Option<EmbeddedBroker>,
    pub mqtt: MqttIngest,
    /// The broker the subscriber uses (and agents should use).
    pub mqtt_url: String,
}

/// Starts MQTT ingest on the current tokio runtime: on the external broker `mqtt_url` when
/// given, otherwise on an embedded broker listening on `embedded_listen`. `client_id` makes the
/// MQTT session persistent (unacknowledged readings survive a restart); give each instance its
/// own. Without it the id is `sunmesh-ingest-<pid>` with a clean session.
pub fn start(
    service: IngestService,
    mqtt_url: Option<&str>,
    embedded_listen: SocketAddr,
    client_id: Option<&str>,
) -> Result<IngestRuntime> {
    let (broker, url) = match mqtt_url {
        Some(url) => (None, url.to_owned()),
        None => {
            let broker = EmbeddedBroker::start(embedded_listen)?;
            let url = broker.url();
            (Some(broker), url)
        }
    };
    let config = match client_id {
        Some(id) => MqttIngestConfig {
            persistent_session: true,
            ..MqttIngestConfig::new(&url, id)
        },
        None => MqttIngestConfig::new(&url, &format!("sunmesh-ingest-{}", std::process::id())),
    };
    let mqtt = MqttIngest::spawn(service.clone(), config)?;
    tracing::info!(broker = %url, embedded = broker.is_some(), "MQTT ingest subscribed");
    Ok(IngestRuntime {
        service,
        broker,
        mqtt,
        mqtt_url: url,
    })
}
