//! The embedded MQTT broker (rumqttd), so that one `sunmesh` process is a whole installation.
//!
//! rumqttd supports shared subscriptions (`$share/<group>/<filter>`, round robin by default), so
//! the ingest subscriber uses the same filter on the embedded broker as on an external one.
//! In production use an external broker (Mosquitto, EMQX) with `MQTT_URL`; several `sunmesh`
//! instances then share the load. The embedded broker has no TLS and no authentication: it
//! listens on loopback by default.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::error::{PlatformError, Result};

/// Where the embedded broker listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1883";
/// Largest MQTT payload accepted: one reading's JSON form is about 400 bytes.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
/// QoS 1 messages in flight per connection before the broker waits for acknowledgements.
pub const MAX_INFLIGHT: usize = 100;
/// How long `start` waits for the broker to accept connections.
const STARTUP_ATTEMPTS: u32 = 100;

/// A running embedded broker. It lives as long as the process (rumqttd has no shutdown).
#[derive(Clone, Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts rumqttd listening on `listen` (port 0 picks a free port) and returns once it
    /// accepts connections. Fails clearly when the address is taken, e.g. by Mosquitto on 1883.
    pub fn start(listen: SocketAddr) -> Result<EmbeddedBroker> {
        // Bind first for a clear error (rumqttd would only log it from its own thread) and to
        // resolve port 0; released right before rumqttd binds the same address.
        let probe = TcpListener::bind(listen).map_err(|e| {
            PlatformError::Broker(format!(
                "cannot listen on {listen}: {e}; another MQTT broker (e.g. Mosquitto) may be \
                 running there: choose another address for the embedded broker, or use that \
                 broker with MQTT_URL"
            ))
        })?;
        let addr = probe.local_addr()?;
        drop(probe);
        let config = config_for(addr);
        std::thread::Builder::new()
            .name("mqtt-broker".to_owned())
            .spawn(move || {
                let mut broker = rumqttd::Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded MQTT broker stopped");
                }
            })?;
        for _ in 0..STARTUP_ATTEMPTS {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(EmbeddedBroker { addr });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(PlatformError::Broker(format!(
            "the embedded broker did not start listening on {addr}"
        )))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients (the ingest subscriber, agents) use.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

fn config_for(addr: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_PAYLOAD_BYTES,
        max_inflight_count: MAX_INFLIGHT,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "v4-1".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 200,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Config::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_address_is_refused_with_advice() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let err = EmbeddedBroker::start(taken.local_addr().unwrap()).unwrap_err();
        assert!(err.to_string().contains("MQTT_URL"), "{err}");
    }
}
