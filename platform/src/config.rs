//! Typed settings for `sunmesh serve`: defaults, then a TOML file, then the environment, then
//! command-line flags, each overriding the one before. `sunmesh.example.toml` documents them.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::error::{PlatformError, Result};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded broker's default port: 1883 is often taken by a system Mosquitto.
pub const DEFAULT_EMBEDDED_MQTT: &str = "127.0.0.1:1884";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address the HTTP API and web page listen on.
    pub listen: SocketAddr,
    /// SQLite path or postgres:// URL.
    pub database: String,
    pub mqtt: MqttConfig,
    pub api: ApiLimits,
    pub settlement: SettlementSettings,
    /// The energy market: zones, slot calendar, price rules, journal batching.
    pub market: crate::trading::MarketSettings,
}

/// Settlement and the transparency log.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SettlementSettings {
    /// The platform's Ed25519 log key (PKCS#8, mode 0600), created on first start.
    pub log_key: std::path::PathBuf,
    /// The log's origin line in checkpoints.
    pub log_origin: String,
    /// Price of an imbalance (shortfall), micro-units per kWh.
    pub imbalance_price_micro_per_kwh: i64,
    /// How often the scheduler looks for slots due for settlement, seconds.
    pub tick_s: u64,
    /// How long after delivery ends late readings still count, minutes.
    pub late_reading_min: i64,
    /// How long after delivery ends a settled slot is reconciled (its verified energy read
    /// again, a next-version run if it changed), minutes; 0 turns it off.
    pub reconcile_after_min: i64,
}

impl Default for SettlementSettings {
    fn default() -> Self {
        Self {
            log_key: crate::settle::keys::DEFAULT_LOG_KEY_FILE.into(),
            log_origin: crate::settle::keys::DEFAULT_LOG_ORIGIN.to_owned(),
            imbalance_price_micro_per_kwh: crate::settle::SettleConfig::default()
                .imbalance_price_micro_per_kwh,
            tick_s: 10,
            late_reading_min: 30,
            reconcile_after_min: 49 * 60,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// An external broker (`mqtt://host:port`); when absent the platform embeds its own.
    pub url: Option<String>,
    /// Where the embedded broker listens (only without `url`).
    pub embedded_listen: SocketAddr,
    /// A stable MQTT client id makes the ingest session persistent (readings not yet
    /// committed survive a restart); give each instance its own. None: a clean session.
    pub client_id: Option<String>,
}

/// Bounds on what one client may ask of the API.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiLimits {
    /// Largest JSON body accepted by ordinary endpoints, bytes.
    pub max_json_body_bytes: usize,
    pub requests_per_second_per_key: u32,
    pub burst_per_key: u32,
    /// For endpoints without a key (sign-up), per client address.
    pub anonymous_requests_per_second: u32,
    pub anonymous_burst: u32,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: parse_const(DEFAULT_LISTEN),
            database: crate::cli::DEFAULT_DATABASE.to_owned(),
            mqtt: MqttConfig::default(),
            api: ApiLimits::default(),
            settlement: SettlementSettings::default(),
            market: crate::trading::MarketSettings::default(),
        }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            url: None,
            embedded_listen: parse_const(DEFAULT_EMBEDDED_MQTT),
            client_id: None,
        }
    }
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_json_body_bytes: 64 * 1024,
            requests_per_second_per_key: 200,
            burst_per_key: 400,
            anonymous_requests_per_second: 5,
            anonymous_burst: 20,
        }
    }
}

fn parse_const(text: &str) -> SocketAddr {
    text.parse()
        .unwrap_or_else(|_| unreachable!("constant socket address {text} parses"))
}

/// Overrides from the command line; `None` keeps what the file or environment said.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub database: Option<String>,
    pub mqtt: Option<String>,
    pub mqtt_listen: Option<SocketAddr>,
}

impl ServeConfig {
    /// Defaults ← `file` ← environment (`SUNMESH_LISTEN`, `DATABASE_URL`, `MQTT_URL`) ← flags.
    pub fn load(file: Option<&Path>, flags: Overrides) -> Result<Self> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        if let Ok(listen) = std::env::var("SUNMESH_LISTEN") {
            config.listen = listen.parse().map_err(|e| {
                PlatformError::Config(format!("SUNMESH_LISTEN={listen:?} is not host:port: {e}"))
            })?;
        }
        if let Ok(url) = std::env::var("DATABASE_URL") {
            config.database = url;
        }
        if let Ok(url) = std::env::var("MQTT_URL") {
            config.mqtt.url = Some(url);
        }
        if let Some(listen) = flags.listen {
            config.listen = listen;
        }
        if let Some(database) = flags.database {
            config.database = database;
        }
        if let Some(mqtt) = flags.mqtt {
            config.mqtt.url = Some(mqtt);
        }
        if let Some(listen) = flags.mqtt_listen {
            config.mqtt.embedded_listen = listen;
        }
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PlatformError::Config(format!("cannot read config file {}: {e}", path.display()))
        })?;
        Self::from_toml(&text)
            .map_err(|e| PlatformError::Config(format!("{}: {e}", path.display())))
    }

    pub fn from_toml(text: &str) -> std::result::Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_matches_defaults_where_commented_out() {
        let example = include_str!("../sunmesh.example.toml");
        let config = ServeConfig::from_toml(example).unwrap();
        assert_eq!(config.listen, ServeConfig::default().listen);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = ServeConfig::from_toml("lisen = \"127.0.0.1:1\"").unwrap_err();
        assert!(error.to_string().contains("lisen"), "{error}");
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndatabase = \"file.db\"\n",
        )
        .unwrap();
        let config = ServeConfig::load(
            Some(&path),
            Overrides {
                listen: Some("127.0.0.1:9001".parse().unwrap()),
                database: Some("flag.db".into()),
                mqtt: None,
                mqtt_listen: None,
            },
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(config.database, "flag.db");
    }
}
