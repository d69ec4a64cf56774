//! The MQTT ingest subscriber.
//!
//! Subscribes to `$share/<group>/sunmesh/v1/readings/+` with QoS 1: with a shared subscription
//! the broker hands each message to one member of the group, so several `sunmesh` instances
//! sharing one broker and one database split the load, and the store's per-device locks and
//! `UNIQUE(device_id, sequence)` make redeliveries harmless.
//!
//! Acknowledgement is end to end: the broker's PUBACK is sent (manual acks) only after the
//! reading's batch has committed, so a reading that was not processed is redelivered; then
//! the platform's verdict goes to `sunmesh/v1/acks/<device-id>` (QoS 1), which is what the
//! agent waits for (meter-agent README, "Uplink contract").
//!
//! A shared subscription distributes by message, not by device, so a device's readings may
//! arrive out of order across instances. A reading that would open a gap is therefore held
//! back for up to [`MqttIngestConfig::hold_gap`] (unacknowledged) while its predecessor is
//! committed by whoever received it; only then is the gap recorded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::service::{decode_payload, Decision, Incoming, IngestService, ReadingResult};
use crate::error::{PlatformError, Result};

/// The topic root agents publish under: `<root>/readings/<device-id>`, acks on
/// `<root>/acks/<device-id>`.
pub const TOPIC_ROOT: &str = "sunmesh/v1";
/// The shared-subscription group of all `sunmesh` instances.
pub const SHARE_GROUP: &str = "sunmesh";
/// Most readings decided in one transaction.
pub const MAX_MQTT_BATCH: usize = 500;
/// Requests (acks, publishes) queued towards the broker.
const CLIENT_CHANNEL: usize = 4_096;

/// How the subscriber connects and batches.
#[derive(Clone, Debug)]
pub struct MqttIngestConfig {
    /// `mqtt://host[:port]`.
    pub url: String,
    /// Unique per instance. With `persistent_session` the broker keeps unacknowledged
    /// messages for this id across restarts, so give each instance a stable id.
    pub client_id: String,
    pub persistent_session: bool,
    pub topic_root: String,
    pub share_group: String,
    /// `false` subscribes without `$share/` (one instance only).
    pub shared: bool,
    /// After the first message, wait this long for more before deciding a batch.
    pub batch_wait: Duration,
    pub hold_gap: Duration,
}

impl MqttIngestConfig {
    pub fn new(url: &str, client_id: &str) -> Self {
        MqttIngestConfig {
            url: url.to_owned(),
            client_id: client_id.to_owned(),
            persistent_session: false,
            topic_root: TOPIC_ROOT.to_owned(),
            share_group: SHARE_GROUP.to_owned(),
            shared: true,
            batch_wait: Duration::from_millis(10),
            hold_gap: Duration::from_secs(3),
        }
    }

    pub fn readings_filter(&self) -> String {
        let filter = format!("{}/readings/+", self.topic_root);
        if self.shared {
            format!("$share/{}/{filter}", self.share_group)
        } else {
            filter
        }
    }

    pub fn acks_topic(&self, device_id: &str) -> String {
        format!("{}/acks/{device_id}", self.topic_root)
    }
}

/// Parses `mqtt://host[:port]` (TLS is for the external broker's front, not built in here).
pub fn mqtt_options(url: &str, client_id: &str) -> Result<MqttOptions> {
    let bad = |reason: &str| PlatformError::InvalidArgument {
        what: "MQTT URL",
        input: url.to_owned(),
        reason: reason.to_owned(),
    };
    let rest = url
        .strip_prefix("mqtt://")
        .ok_or_else(|| {
            bad("must start with mqtt:// (for TLS put a TLS-terminating proxy in front)")
        })?
        .trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| bad("the port must be a number 1-65535"))?,
        ),
        None => (rest, 1883),
    };
    if host.is_empty() {
        return Err(bad("the host is missing"));
    }
    let mut options = MqttOptions::new(client_id, host, port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(
        crate::broker::MAX_PAYLOAD_BYTES + 1024,
        crate::broker::MAX_PAYLOAD_BYTES + 1024,
    );
    Ok(options)
}

/// Counters of a running subscriber.
#[derive(Debug, Default)]
pub struct MqttIngestStats {
    /// Readings decided and acknowledged (duplicates included).
    pub decided: AtomicU64,
    /// Payloads that were not readings (acknowledged to the broker, no verdict possible).
    pub undecodable: AtomicU64,
    /// Batches that failed to commit (retried).
    pub store_errors: AtomicU64,
}

/// A running subscriber; dropping it does not stop it, [`MqttIngest::stop`] does.
pub struct MqttIngest {
    pub stats: Arc<MqttIngestStats>,
    tasks: Vec<JoinHandle<()>>,
}

impl MqttIngest {
    /// Connects and starts ingesting on the current tokio runtime.
    pub fn spawn(service: IngestService, config: MqttIngestConfig) -> Result<MqttIngest> {
        let mut options = mqtt_options(&config.url, &config.client_id)?;
        options.set_manual_acks(true);
        options.set_clean_session(!config.persistent_session);
        let (client, mut eventloop) = AsyncClient::new(options, CLIENT_CHANNEL);
        // Unbounded, but the broker bounds it: it sends no more than its in-flight window of
        // unacknowledged QoS 1 messages, and acks come only after commit.
        let (tx, rx) = mpsc::unbounded_channel::<Publish>();
        let filter = config.readings_filter();
        let sub_client = client.clone();
        let poller = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        // (Re)subscribe on every connection: a clean session forgets it.
                        if let Err(e) = sub_client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                            tracing::error!(error = %e, "cannot subscribe to readings");
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        if tx.send(publish).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "MQTT connection lost; reconnecting");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        let stats = Arc::new(MqttIngestStats::default());
        let worker = tokio::spawn(process(service, config, client, rx, stats.clone()));
        Ok(MqttIngest {
            stats,
            tasks: vec![poller, worker],
        })
    }

    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// A received reading waiting for its batch.
struct Received {
    publish: Publish,
    incoming: Incoming,
}

#[derive(Serialize)]
struct AckMessage<'a> {
    device_id: &'a str,
    results: Vec<ReadingResult>,
}

async fn process(
    service: IngestService,
    config: MqttIngestConfig,
    client: AsyncClient,
    mut rx: mpsc::UnboundedReceiver<Publish>,
    stats: Arc<MqttIngestStats>,
) {
    let hold_ms = i64::try_from(config.hold_gap.as_millis()).unwrap_or(i64::MAX);
    let mut batch: Vec<Received> = Vec::new();
    loop {
        // Wait for work: indefinitely when nothing is held back, briefly otherwise.
        if batch.is_empty() {
            match rx.recv().await {
                Some(p) => accept(&service, &client, &stats, &mut batch, p, hold_ms).await,
                None => return,
            }
        } else if let Ok(Some(p)) = tokio::time::timeout(config.batch_wait, rx.recv()).await {
            accept(&service, &client, &stats, &mut batch, p, hold_ms).await;
        }
        let deadline = tokio::time::Instant::now() + config.batch_wait;
        while batch.len() < MAX_MQTT_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) => accept(&service, &client, &stats, &mut batch, p, hold_ms).await,
                Ok(None) | Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }

        let incoming: Vec<Incoming> = batch.iter().map(|r| r.incoming.clone()).collect();
        let svc = service.clone();
        let now = service.now_ms();
        let decided = tokio::task::spawn_blocking(move || svc.ingest(&incoming, now)).await;
        let decisions = match decided {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                stats.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "ingest batch failed; retrying (nothing acknowledged)");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "ingest task failed");
                return;
            }
        };

        let mut acks: BTreeMap<String, Vec<ReadingResult>> = BTreeMap::new();
        let mut to_ack: Vec<Publish> = Vec::new();
        let mut kept = Vec::new();
        for (received, decision) in batch.drain(..).zip(decisions) {
            if decision == Decision::Deferred {
                kept.push(received);
                continue;
            }
            let result = ReadingResult::for_reading(&received.incoming.signed, &decision);
            acks.entry(received.incoming.signed.reading.device_id.to_hex())
                .or_default()
                .push(result);
            to_ack.push(received.publish);
        }
        batch = kept;
        for (device_id, results) in acks {
            let message = AckMessage {
                device_id: &device_id,
                results,
            };
            let payload = match serde_json::to_vec(&message) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode an ack");
                    continue;
                }
            };
            let topic = config.acks_topic(&device_id);
            if let Err(e) = client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
            {
                tracing::error!(error = %e, "cannot publish an ack");
            }
        }
        for publish in to_ack {
            stats.decided.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = client.ack(&publish).await {
                tracing::error!(error = %e, "cannot acknowledge to the broker");
            }
        }
    }
}

/// Decodes a received message into the batch, or acknowledges and drops what is not a reading
/// (redelivering it could not help; without a sequence there is no verdict to send).
async fn accept(
    service: &IngestService,
    client: &AsyncClient,
    stats: &MqttIngestStats,
    batch: &mut Vec<Received>,
    publish: Publish,
    hold_ms: i64,
) {
    match decode_payload(&publish.payload) {
        Some(signed) => batch.push(Received {
            incoming: Incoming {
                signed,
                hold_gap_until_ms: Some(service.now_ms().saturating_add(hold_ms)),
            },
            publish,
        }),
        None => {
            stats.undecodable.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(topic = %publish.topic, bytes = publish.payload.len(),
                "MQTT payload is not a reading (JSON or 154-byte wire form); dropped");
            if let Err(e) = client.ack(&publish).await {
                tracing::error!(error = %e, "cannot acknowledge to the broker");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_urls() {
        let c = MqttIngestConfig::new("mqtt://127.0.0.1:1883", "x");
        assert_eq!(c.readings_filter(), "$share/sunmesh/sunmesh/v1/readings/+");
        assert_eq!(c.acks_topic("ab"), "sunmesh/v1/acks/ab");
        let plain = MqttIngestConfig { shared: false, ..c };
        assert_eq!(plain.readings_filter(), "sunmesh/v1/readings/+");
        assert!(mqtt_options("mqtt://h", "x").is_ok());
        for bad in ["h:1883", "mqtt://", "mqtt://h:x", "mqtts://h"] {
            assert!(mqtt_options(bad, "x").is_err(), "{bad}");
        }
    }
}
