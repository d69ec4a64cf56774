//! `agent.toml`: typed settings, checked once at start. `agent.example.toml` documents every key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{AgentError, Result};
use crate::spool::SpoolLimits;

fn d_poll() -> f64 {
    10.0
}
fn d_timeout() -> u64 {
    2000
}
fn d_unit() -> u8 {
    1
}
fn d_batch() -> usize {
    100
}
fn d_ack_timeout() -> f64 {
    10.0
}
fn d_backoff_min() -> u64 {
    500
}
fn d_backoff_max() -> u64 {
    60_000
}
fn d_max_mb() -> u64 {
    64
}
fn d_segment_kb() -> u64 {
    256
}
fn d_opendtu_prefix() -> String {
    "solar".into()
}
fn d_stale() -> f64 {
    600.0
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Seconds between two readings of each source.
    #[serde(default = "d_poll")]
    pub poll_interval_s: f64,
    /// Per-request Modbus timeout, ms.
    #[serde(default = "d_timeout")]
    pub device_timeout_ms: u64,
    pub site: Site,
    #[serde(default)]
    pub spool: SpoolConfig,
    pub uplink: UplinkConfig,
    #[serde(rename = "source")]
    pub sources: Vec<SourceConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub latitude: f64,
    pub longitude: f64,
    pub zone: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    #[serde(default = "d_max_mb")]
    pub max_mb: u64,
    #[serde(default = "d_segment_kb")]
    pub segment_kb: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            max_mb: d_max_mb(),
            segment_kb: d_segment_kb(),
        }
    }
}

impl SpoolConfig {
    pub fn limits(&self) -> SpoolLimits {
        SpoolLimits {
            max_bytes: self.max_mb * 1024 * 1024,
            segment_bytes: self.segment_kb * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UplinkKind {
    Http,
    Mqtt,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkConfig {
    pub kind: UplinkKind,
    /// http: the platform base URL (`http://host:port`); mqtt: the broker (`mqtt://host:1883`,
    /// `mqtts://host:8883` with the `tls` build feature).
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Extra trusted CA (PEM) for `https://` / `mqtts://` (build feature `tls`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    #[serde(default = "d_ack_timeout")]
    pub ack_timeout_s: f64,
    #[serde(default = "d_backoff_min")]
    pub backoff_min_ms: u64,
    #[serde(default = "d_backoff_max")]
    pub backoff_max_ms: u64,
}

/// An MQTT broker a source subscribes to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

/// One field of a generic MQTT source.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericField {
    pub field: crate::modbus_map::Field,
    pub topic: String,
    /// RFC 6901 JSON pointer into the payload; empty = the payload is a plain number.
    #[serde(default)]
    pub pointer: String,
    pub unit: crate::modbus_map::Unit,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SourceKind {
    Sunspec {
        url: String,
        #[serde(default = "d_unit")]
        unit: u8,
    },
    Profile {
        url: String,
        #[serde(default = "d_unit")]
        unit: u8,
        profile: PathBuf,
    },
    Shelly {
        broker: BrokerConfig,
        /// The device's MQTT topic prefix (default on the device: its id).
        prefix: String,
        /// `em:0`, `switch:0` or `pm1:0`.
        component: String,
    },
    Tasmota {
        broker: BrokerConfig,
        /// The `%topic%` of the device: its SENSOR payload is on `tele/<topic>/SENSOR`.
        topic: String,
    },
    Opendtu {
        broker: BrokerConfig,
        #[serde(default = "d_opendtu_prefix")]
        prefix: String,
        serial: String,
    },
    MqttGeneric {
        broker: BrokerConfig,
        fields: Vec<GenericField>,
    },
}

#[derive(Clone, Debug, Deserialize)]
pub struct SourceConfig {
    /// Unique name; the source's key and spool live under `data_dir/<name>/`.
    pub name: String,
    /// Peak AC power of the installation, W (sent at registration).
    pub nameplate_w: u32,
    /// Default `data_dir/<name>/device.key`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// MQTT sources: a source silent for longer than this gives no reading.
    #[serde(default = "d_stale")]
    pub stale_after_s: f64,
    #[serde(flatten)]
    pub kind: SourceKind,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| AgentError::io(path, e))?;
        Config::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Config> {
        let c: Config = toml::from_str(text).map_err(|e| AgentError::Config(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<()> {
        let bad = |s: String| Err(AgentError::Config(s));
        if !(0.1..=86_400.0).contains(&self.poll_interval_s) {
            return bad("poll_interval_s must be between 0.1 and 86400".into());
        }
        if self.sources.is_empty() {
            return bad("no [[source]] configured".into());
        }
        if !(1..=10_000).contains(&self.uplink.batch_size) {
            return bad("uplink.batch_size must be 1..10000".into());
        }
        let mut names = std::collections::HashSet::new();
        for s in &self.sources {
            let ok_name = !s.name.is_empty()
                && s.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok_name {
                return bad(format!(
                    "source name {:?}: use letters, digits, - and _",
                    s.name
                ));
            }
            if !names.insert(&s.name) {
                return bad(format!("source name {:?} used twice", s.name));
            }
            match &s.kind {
                SourceKind::Sunspec { url, .. } | SourceKind::Profile { url, .. } => {
                    url.parse::<crate::modbus_link::DeviceUrl>()?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs_f64(self.poll_interval_s)
    }

    pub fn source_dir(&self, s: &SourceConfig) -> PathBuf {
        self.data_dir.join(&s.name)
    }

    pub fn key_file(&self, s: &SourceConfig) -> PathBuf {
        s.key_file
            .clone()
            .unwrap_or_else(|| self.source_dir(s).join("device.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../agent.example.toml");
        let c = Config::parse(text).unwrap();
        assert!(c.sources.len() >= 2);
        assert_eq!(c.uplink.kind, UplinkKind::Http);
    }

    #[test]
    fn mqtt_sources_parse() {
        let text = r#"
data_dir = "/tmp/x"
[site]
latitude = 1
longitude = 2
zone = "z"
[uplink]
kind = "mqtt"
url = "mqtt://127.0.0.1:1883"
[[source]]
name = "s"
kind = "shelly"
prefix = "shellypro3em-1"
component = "em:0"
nameplate_w = 800
broker = { url = "mqtt://127.0.0.1:1883" }
[[source]]
name = "t"
kind = "tasmota"
topic = "plug"
nameplate_w = 600
broker = { url = "mqtt://b", username = "u", password = "p" }
[[source]]
name = "d"
kind = "opendtu"
serial = "1141"
nameplate_w = 800
broker = { url = "mqtt://b" }
[[source]]
name = "g"
kind = "mqtt-generic"
nameplate_w = 1
broker = { url = "mqtt://b" }
fields = [{ field = "export", topic = "a/b", pointer = "/e", unit = "kWh" }]
"#;
        let c = Config::parse(text).unwrap();
        assert_eq!(c.sources.len(), 4);
        assert!(
            matches!(&c.sources[2].kind, SourceKind::Opendtu { prefix, .. } if prefix == "solar")
        );
        assert!(
            matches!(&c.sources[3].kind, SourceKind::MqttGeneric { fields, .. } if fields.len() == 1)
        );
    }

    #[test]
    fn mistakes_are_named() {
        let base = "data_dir='/tmp/x'\n[site]\nlatitude=1\nlongitude=2\nzone='z'\n[uplink]\nkind='http'\nurl='http://x'\n";
        let e = Config::parse(base).unwrap_err().to_string();
        assert!(e.contains("source"), "{e}");
        let two = format!("{base}[[source]]\nname='a'\nnameplate_w=1\nkind='sunspec'\nurl='tcp://h:502'\n[[source]]\nname='a'\nnameplate_w=1\nkind='sunspec'\nurl='tcp://h:502'\n");
        assert!(Config::parse(&two)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let badurl =
            format!("{base}[[source]]\nname='a'\nnameplate_w=1\nkind='sunspec'\nurl='ftp://h'\n");
        assert!(Config::parse(&badurl)
            .unwrap_err()
            .to_string()
            .contains("tcp://"));
    }
}
