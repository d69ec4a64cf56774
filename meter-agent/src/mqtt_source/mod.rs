//! MQTT JSON sources: Shelly Gen2+, Tasmota, OpenDTU and a generic topic + JSON pointer source.
//!
//! A background task keeps the latest values from the device's messages; each poll turns them
//! into a [`Measurement`]. A counter that drops (to 0 or backwards, as OpenDTU totals do when
//! inverters sleep) is not taken: the last good value is held and the drop is logged.

pub mod parse;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reading::DeviceStatus;
use rumqttc::{AsyncClient, Event, Packet, QoS};

use crate::config::{BrokerConfig, GenericField, SourceKind};
use crate::error::{AgentError, Result};
use crate::source::{Measurement, Source};
use parse::{ShellyComponent, Update};

/// Which device dialect a source speaks.
#[derive(Clone, Debug)]
pub enum Dialect {
    Shelly {
        prefix: String,
        component: ShellyComponent,
    },
    Tasmota {
        topic: String,
    },
    OpenDtu {
        prefix: String,
        serial: String,
    },
    Generic {
        fields: Vec<GenericField>,
    },
}

impl Dialect {
    pub fn from_config(kind: &SourceKind) -> Result<(Dialect, BrokerConfig)> {
        Ok(match kind {
            SourceKind::Shelly {
                broker,
                prefix,
                component,
            } => (
                Dialect::Shelly {
                    prefix: prefix.clone(),
                    component: ShellyComponent::parse(component).map_err(AgentError::Config)?,
                },
                broker.clone(),
            ),
            SourceKind::Tasmota { broker, topic } => (
                Dialect::Tasmota {
                    topic: topic.clone(),
                },
                broker.clone(),
            ),
            SourceKind::Opendtu {
                broker,
                prefix,
                serial,
            } => (
                Dialect::OpenDtu {
                    prefix: prefix.clone(),
                    serial: serial.clone(),
                },
                broker.clone(),
            ),
            SourceKind::MqttGeneric { broker, fields } => {
                if fields.is_empty() {
                    return Err(AgentError::Config(
                        "mqtt-generic source without fields".into(),
                    ));
                }
                (
                    Dialect::Generic {
                        fields: fields.clone(),
                    },
                    broker.clone(),
                )
            }
            _ => return Err(AgentError::Config("not an MQTT source".into())),
        })
    }

    pub fn topics(&self) -> Vec<String> {
        match self {
            Dialect::Shelly { prefix, component } => parse::shelly_topics(prefix, component),
            Dialect::Tasmota { topic } => vec![format!("tele/{topic}/SENSOR")],
            Dialect::OpenDtu { prefix, serial } => {
                vec![
                    format!("{prefix}/{serial}/0/yieldtotal"),
                    format!("{prefix}/{serial}/0/power"),
                ]
            }
            Dialect::Generic { fields } => {
                let mut t: Vec<String> = fields.iter().map(|f| f.topic.clone()).collect();
                t.sort();
                t.dedup();
                t
            }
        }
    }

    /// Parses one message into the fields it updates.
    pub fn parse(&self, topic: &str, payload: &[u8]) -> std::result::Result<Update, String> {
        match self {
            Dialect::Shelly { prefix, component } => {
                parse::shelly(prefix, component, topic, payload)
            }
            Dialect::Tasmota { .. } => parse::tasmota(payload),
            Dialect::OpenDtu { prefix, serial } => parse::opendtu(prefix, serial, topic, payload),
            Dialect::Generic { fields } => {
                let mut u = Update::default();
                for f in fields.iter().filter(|f| f.topic == topic) {
                    let one = parse::generic(f.field, &f.pointer, f.unit, payload)?;
                    u.power_w = one.power_w.or(u.power_w);
                    u.export_wh = one.export_wh.or(u.export_wh);
                    u.import_wh = one.import_wh.or(u.import_wh);
                }
                Ok(u)
            }
        }
    }
}

/// The latest good values of a source.
#[derive(Clone, Debug, Default)]
pub struct Latest {
    pub power_w: Option<i32>,
    pub export_wh: Option<u64>,
    pub import_wh: Option<u64>,
    pub updated: Option<Instant>,
}

impl Latest {
    /// Overlays `u`, holding counters that would go backwards. Returns the reasons for held values.
    pub fn merge(&mut self, u: &Update, now: Instant) -> Vec<String> {
        let mut held = Vec::new();
        let mut counter = |name: &str, slot: &mut Option<u64>, new: Option<u64>| {
            if let Some(n) = new {
                match *slot {
                    Some(old) if n < old => held.push(format!(
                        "{name} dropped from {old} Wh to {n} Wh; holding {old} Wh"
                    )),
                    _ => *slot = Some(n),
                }
            }
        };
        counter("export/production total", &mut self.export_wh, u.export_wh);
        counter("import total", &mut self.import_wh, u.import_wh);
        if u.power_w.is_some() {
            self.power_w = u.power_w;
        }
        if !u.is_empty() {
            self.updated = Some(now);
        }
        held
    }
}

/// A source fed by an MQTT subscription.
pub struct MqttSource {
    name: String,
    dialect: Dialect,
    latest: Arc<Mutex<Latest>>,
    stale_after: Duration,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MqttSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MqttSource {
    pub fn start(
        name: &str,
        dialect: Dialect,
        broker: &BrokerConfig,
        stale_after: Duration,
    ) -> Result<Self> {
        let client_id = format!("meter-agent-src-{name}-{}", std::process::id());
        let opts = crate::uplink::mqtt::mqtt_options(
            &broker.url,
            &client_id,
            broker.username.as_deref(),
            broker.password.as_deref(),
            None,
        )?;
        let (client, mut eventloop) = AsyncClient::new(opts, 16);
        let latest = Arc::new(Mutex::new(Latest::default()));
        let topics = dialect.topics();
        let (l, d, n) = (latest.clone(), dialect.clone(), name.to_string());
        let task = tokio::spawn(async move {
            let mut backoff =
                crate::uplink::Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        backoff.reset();
                        for t in &topics {
                            if let Err(e) = client.try_subscribe(t.clone(), QoS::AtLeastOnce) {
                                tracing::warn!(source = %n, "cannot subscribe to {t}: {e}");
                            }
                        }
                        tracing::info!(source = %n, topics = ?topics, "subscribed");
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        match d.parse(&p.topic, &p.payload) {
                            Ok(u) => {
                                let held = match l.lock() {
                                    Ok(mut g) => g.merge(&u, Instant::now()),
                                    Err(_) => return,
                                };
                                for why in held {
                                    tracing::warn!(source = %n, topic = %p.topic, "not a reading: {why}");
                                }
                            }
                            Err(why) => {
                                tracing::warn!(source = %n, topic = %p.topic, "ignoring message: {why}")
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let delay = backoff.next_delay(crate::uplink::random_u32());
                        tracing::warn!(source = %n, "MQTT source connection: {e}; retrying in {delay:?}");
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        });
        Ok(MqttSource {
            name: name.to_string(),
            dialect,
            latest,
            stale_after,
            task,
        })
    }
}

#[async_trait::async_trait]
impl Source for MqttSource {
    fn describe(&self) -> String {
        format!("mqtt {} ({:?})", self.name, self.dialect.topics())
    }

    async fn sample(&mut self) -> Result<Measurement> {
        let l = self.latest.lock().map(|g| g.clone()).unwrap_or_default();
        let Some(at) = l.updated else {
            return Err(AgentError::NoValue(format!(
                "{}: no message yet on {:?}",
                self.name,
                self.dialect.topics()
            )));
        };
        if at.elapsed() > self.stale_after {
            return Err(AgentError::NoValue(format!(
                "{}: silent for {:.0} s (stale_after_s = {:.0})",
                self.name,
                at.elapsed().as_secs_f64(),
                self.stale_after.as_secs_f64()
            )));
        }
        Ok(Measurement {
            power_w: l.power_w,
            energy_wh: l.export_wh,
            import_wh: l.import_wh,
            status: DeviceStatus::Ok,
            model: format!("mqtt {}", self.name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_holds_counters_that_drop() {
        let mut l = Latest::default();
        let t = Instant::now();
        assert!(l
            .merge(
                &Update {
                    export_wh: Some(1000),
                    power_w: Some(5),
                    import_wh: None
                },
                t
            )
            .is_empty());
        let held = l.merge(
            &Update {
                export_wh: Some(0),
                power_w: Some(0),
                import_wh: None,
            },
            t,
        );
        assert_eq!(
            l.export_wh,
            Some(1000),
            "the OpenDTU night-time zero is not a reading"
        );
        assert!(held[0].contains("holding 1000"));
        l.merge(
            &Update {
                export_wh: Some(999),
                ..Default::default()
            },
            t,
        );
        assert_eq!(l.export_wh, Some(1000));
        l.merge(
            &Update {
                export_wh: Some(1001),
                ..Default::default()
            },
            t,
        );
        assert_eq!(l.export_wh, Some(1001));
    }

    #[test]
    fn generic_dialect_merges_fields_of_one_topic() {
        let fields = vec![
            GenericField {
                field: crate::modbus_map::Field::Power,
                topic: "a".into(),
                pointer: "/p".into(),
                unit: crate::modbus_map::Unit::W,
            },
            GenericField {
                field: crate::modbus_map::Field::Export,
                topic: "a".into(),
                pointer: "/e".into(),
                unit: crate::modbus_map::Unit::KWh,
            },
        ];
        let d = Dialect::Generic { fields };
        assert_eq!(d.topics(), vec!["a".to_string()]);
        let u = d.parse("a", br#"{"p":10,"e":1.5}"#).unwrap();
        assert_eq!((u.power_w, u.export_wh), (Some(10), Some(1500)));
    }
}
