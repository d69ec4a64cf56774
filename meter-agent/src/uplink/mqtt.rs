//! MQTT uplink: QoS 1 publishes to `sunmesh/v1/readings/<device-id>` on a persistent session;
//! the platform's ack arrives on `sunmesh/v1/acks/<device-id>` as
//! `{"device_id":"..","acked_through":N}` or `{"device_id":"..","results":[{"sequence":N,"status":".."}]}`.
//! A broker PUBACK only means the broker has it; the spool waits for the platform's ack.

use std::collections::HashMap;
use std::time::Duration;

use reading::{DeviceId, SignedReading};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::{ReadingResult, Uplink, Verdict};
use crate::error::{AgentError, Result};

pub fn readings_topic(id: &DeviceId) -> String {
    format!("sunmesh/v1/readings/{id}")
}

pub fn acks_topic(id: &DeviceId) -> String {
    format!("sunmesh/v1/acks/{id}")
}

/// Builds client options from `mqtt://host[:port]` (or `mqtts://` with the `tls` feature,
/// trusting the bundled roots plus `ca_file`).
pub fn mqtt_options(
    url: &str,
    client_id: &str,
    username: Option<&str>,
    password: Option<&str>,
    ca_file: Option<&std::path::Path>,
) -> Result<MqttOptions> {
    let bad = |r: &str| AgentError::Config(format!("MQTT URL {url:?}: {r}"));
    let (tls, rest) = if let Some(r) = url.strip_prefix("mqtt://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("mqtts://") {
        (true, r)
    } else {
        return Err(bad("must start with mqtt:// or mqtts://"));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("bad port"))?),
        None => (rest, if tls { 8883 } else { 1883 }),
    };
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(30));
    if let Some(u) = username {
        o.set_credentials(u, password.unwrap_or_default());
    }
    if tls {
        #[cfg(feature = "tls")]
        o.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(crate::tls::client_config(ca_file)?),
        ));
        #[cfg(not(feature = "tls"))]
        return Err(bad("mqtts:// needs a build with the `tls` feature"));
    }
    #[cfg(not(feature = "tls"))]
    let _ = ca_file;
    Ok(o)
}

#[derive(Debug, Deserialize)]
struct AckMessage {
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    acked_through: Option<u64>,
    #[serde(default)]
    results: Vec<ReadingResult>,
}

/// What the event loop task hands to `ship`.
#[derive(Debug)]
enum Ack {
    Through(u64),
    Results(Vec<ReadingResult>),
}

/// Parses an ack payload for `device`; `Err` explains why it is not one.
fn parse_ack(payload: &[u8], device: &DeviceId) -> std::result::Result<Ack, String> {
    let m: AckMessage = serde_json::from_slice(payload).map_err(|e| format!("not an ack: {e}"))?;
    if let Some(d) = &m.device_id {
        if d != &device.to_string() {
            return Err(format!("ack for device {d}, we are {device}"));
        }
    }
    match (m.acked_through, m.results.is_empty()) {
        (Some(n), _) => Ok(Ack::Through(n)),
        (None, false) => Ok(Ack::Results(m.results)),
        (None, true) => Err("ack has neither acked_through nor results".into()),
    }
}

pub struct MqttUplink {
    client: AsyncClient,
    acks: mpsc::Receiver<Ack>,
    device: DeviceId,
    ack_timeout: Duration,
    /// Highest contiguous ack seen (acks may arrive for earlier sends, e.g. after a restart).
    through: u64,
    verdicts: HashMap<u64, ReadingResult>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MqttUplink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MqttUplink {
    pub fn connect(
        url: &str,
        device: DeviceId,
        username: Option<&str>,
        password: Option<&str>,
        ca_file: Option<&std::path::Path>,
        ack_timeout: Duration,
        batch: usize,
    ) -> Result<Self> {
        // a stable client id + clean_session = false: the broker keeps our subscription and
        // queues the platform's acks while we are away
        let mut o = mqtt_options(
            url,
            &format!("meter-agent-{device}"),
            username,
            password,
            ca_file,
        )?;
        o.set_clean_session(false);
        o.set_request_channel_capacity(batch * 2 + 16);
        o.set_inflight(u16::try_from(batch.clamp(10, 1000)).unwrap_or(100));
        let (client, mut eventloop) = AsyncClient::new(o, batch * 2 + 16);
        let (tx, rx) = mpsc::channel(64);
        let sub = client.clone();
        let topic = acks_topic(&device);
        let task = tokio::spawn(async move {
            let mut backoff =
                super::Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        backoff.reset();
                        tracing::info!("uplink connected to the MQTT broker");
                        if let Err(e) = sub.try_subscribe(topic.clone(), QoS::AtLeastOnce) {
                            tracing::warn!("cannot subscribe to {topic}: {e}");
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => {
                        match parse_ack(&p.payload, &device) {
                            Ok(a) => {
                                if tx.send(a).await.is_err() {
                                    return;
                                }
                            }
                            Err(why) => {
                                tracing::warn!(topic = %p.topic, "ignoring message on the ack topic: {why}")
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let d = backoff.next_delay(super::random_u32());
                        tracing::warn!("MQTT uplink connection: {e}; retrying in {d:?}");
                        tokio::time::sleep(d).await;
                    }
                }
            }
        });
        Ok(MqttUplink {
            client,
            acks: rx,
            device,
            ack_timeout,
            through: 0,
            verdicts: HashMap::new(),
            task,
        })
    }

    fn absorb(&mut self, a: Ack) {
        match a {
            Ack::Through(n) => self.through = self.through.max(n),
            Ack::Results(rs) => {
                for r in rs {
                    self.verdicts.insert(r.sequence, r);
                }
            }
        }
    }

    fn results_for(&mut self, batch: &[SignedReading]) -> Vec<ReadingResult> {
        let mut out = Vec::new();
        for r in batch {
            let s = r.reading.sequence;
            if let Some(v) = self.verdicts.remove(&s) {
                out.push(v);
            } else if s <= self.through {
                out.push(ReadingResult {
                    sequence: s,
                    status: Verdict::Accepted,
                    reason: None,
                });
            }
        }
        // verdicts for readings that are already out of the spool are of no further use
        let first = batch.first().map(|r| r.reading.sequence).unwrap_or(0);
        self.verdicts.retain(|s, _| *s >= first);
        out
    }
}

#[async_trait::async_trait]
impl Uplink for MqttUplink {
    async fn ship(&mut self, batch: &[SignedReading]) -> Result<Vec<ReadingResult>> {
        let Some(last) = batch.last().map(|r| r.reading.sequence) else {
            return Ok(Vec::new());
        };
        while let Ok(a) = self.acks.try_recv() {
            self.absorb(a);
        }
        let topic = readings_topic(&self.device);
        let deadline = tokio::time::Instant::now() + self.ack_timeout;
        for r in batch.iter().filter(|r| {
            r.reading.sequence > self.through && !self.verdicts.contains_key(&r.reading.sequence)
        }) {
            let publish = self.client.publish(
                topic.clone(),
                QoS::AtLeastOnce,
                false,
                r.to_json().into_bytes(),
            );
            match tokio::time::timeout_at(deadline, publish).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(AgentError::Uplink(format!("MQTT publish: {e}"))),
                Err(_) => {
                    return Err(AgentError::Uplink(
                        "MQTT client queue full: broker unreachable?".into(),
                    ))
                }
            }
        }
        loop {
            let done = self.through >= last || self.verdicts.contains_key(&last);
            if done {
                break;
            }
            match tokio::time::timeout_at(deadline, self.acks.recv()).await {
                Ok(Some(a)) => self.absorb(a),
                Ok(None) => return Err(AgentError::Uplink("MQTT event loop stopped".into())),
                Err(_) => break,
            }
        }
        let res = self.results_for(batch);
        if res.is_empty() {
            return Err(AgentError::Uplink(format!(
                "no ack from the platform within {:?}",
                self.ack_timeout
            )));
        }
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> DeviceId {
        DeviceId::from_bytes([0xAB; 16])
    }

    #[test]
    fn ack_messages() {
        let d = dev();
        let through = format!("{{\"device_id\":\"{d}\",\"acked_through\":42}}");
        assert!(matches!(
            parse_ack(through.as_bytes(), &d),
            Ok(Ack::Through(42))
        ));
        let list = br#"{"results":[{"sequence":3,"status":"duplicate"},{"sequence":4,"status":"rejected","reason":"bad signature"}]}"#;
        match parse_ack(list, &d) {
            Ok(Ack::Results(r)) => assert_eq!(r[1].status, Verdict::Rejected),
            other => panic!("{other:?}"),
        }
        assert!(parse_ack(b"{\"device_id\":\"00\",\"acked_through\":1}", &d).is_err());
        assert!(parse_ack(b"not json", &d).is_err());
        assert!(parse_ack(b"{}", &d).is_err());
    }

    #[test]
    fn urls() {
        assert!(mqtt_options("mqtt://127.0.0.1:1883", "x", None, None, None).is_ok());
        assert!(mqtt_options("mqtt://broker", "x", Some("u"), Some("p"), None).is_ok());
        assert!(mqtt_options("tcp://broker", "x", None, None, None).is_err());
        assert!(mqtt_options("mqtt://:1883", "x", None, None, None).is_err());
        #[cfg(not(feature = "tls"))]
        assert!(mqtt_options("mqtts://broker", "x", None, None, None)
            .unwrap_err()
            .to_string()
            .contains("tls"));
    }
}
