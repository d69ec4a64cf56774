//! The meter agent: device sources (SunSpec over Modbus TCP/RTU, register maps, MQTT JSON), the
//! signer, the durable spool and the uplink, plus a SunSpec simulator for demos and tests.
//!
//! Must never acknowledge a reading that is not on disk, and must stay lean enough for a
//! Raspberry Pi: no web framework, no ORM.

pub mod agent;
pub mod config;
pub mod error;
pub mod modbus_link;
pub mod modbus_map;
pub mod mqtt_source;
pub mod register;
pub mod signer;
pub mod simulator;
pub mod source;
pub mod spool;
pub mod sunspec;
#[cfg(feature = "tls")]
pub mod tls;
pub mod uplink;

pub use error::{AgentError, Result};
