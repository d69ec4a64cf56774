//! The one error type of the agent. Every message says what was wrong and what to do.

use std::path::PathBuf;

/// Everything that can go wrong in the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    #[error("device did not answer: {0} (check host/port or serial device, unit id and wiring)")]
    DeviceUnreachable(String),
    #[error("device answered with Modbus exception {code} at register {address} (is the unit id right, is the register implemented?)")]
    ModbusException { address: u16, code: String },
    #[error("not a SunSpec device: {0}")]
    NotSunSpec(String),
    #[error("SunSpec model chain is malformed: {0}")]
    BadModelChain(String),
    #[error("no usable value: {0}")]
    NoValue(String),
    #[error("invalid device profile {path}: {reason}")]
    Profile { path: String, reason: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid device URL {url:?}: {reason} (use tcp://HOST:PORT or rtu:///dev/ttyUSB0?baud=9600)")]
    Url { url: String, reason: String },
    #[error("key file {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("spool at {path}: {reason}")]
    Spool { path: PathBuf, reason: String },
    #[error("spool is full ({used} of {limit} bytes): readings are paused until the platform acknowledges older ones")]
    SpoolFull { used: u64, limit: u64 },
    #[error("uplink: {0}")]
    Uplink(String),
    #[error("bad payload: {0}")]
    Payload(String),
    #[error("reading format: {0}")]
    Reading(#[from] reading::ReadingError),
    #[error("I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl AgentError {
    /// Wraps an I/O error with the path it happened on, so the log line is actionable.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AgentError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = AgentError> = std::result::Result<T, E>;
