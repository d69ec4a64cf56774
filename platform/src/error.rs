//! The one error type of the platform crate.

use diesel::result::{ConnectionError, Error as DieselError};

/// Everything that can go wrong in the platform shell. Input errors name the offending value and
/// say what would be accepted; storage errors say which operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    #[error("invalid public key {input:?}: {source}; expected the device's Ed25519 public key as 64 hex characters")]
    InvalidPublicKey {
        input: String,
        #[source]
        source: reading::ReadingError,
    },
    #[error("invalid device id {input:?}: {source}; `sunmesh device list` shows the ids of registered devices")]
    InvalidDeviceId {
        input: String,
        #[source]
        source: reading::ReadingError,
    },
    #[error("invalid latitude {input:?}: {reason}")]
    InvalidLatitude { input: String, reason: &'static str },
    #[error("invalid longitude {input:?}: {reason}")]
    InvalidLongitude { input: String, reason: &'static str },
    #[error("invalid nameplate {input:?}: {reason}")]
    InvalidNameplate { input: String, reason: String },
    #[error("invalid zone {input:?}: {reason}")]
    InvalidZone { input: String, reason: &'static str },
    #[error("invalid account name {input:?}: {reason}")]
    InvalidAccountName { input: String, reason: &'static str },
    #[error("invalid account role {input:?}: expected one of prosumer, consumer, operator, admin")]
    InvalidRole { input: String },

    #[error("device {id} is already registered; a public key can be registered only once (new hardware or a replaced key needs a new key pair)")]
    DeviceExists { id: reading::DeviceId },
    #[error("no device {id} is registered; `sunmesh device list` shows registered devices")]
    DeviceNotFound { id: reading::DeviceId },
    #[error("device {id} was already revoked at {revoked_at_ms} ms UTC; nothing changed")]
    DeviceAlreadyRevoked {
        id: reading::DeviceId,
        revoked_at_ms: i64,
    },
    #[error("no account named {name:?} exists; create it first")]
    AccountNotFound { name: String },
    #[error("an account named {name:?} already exists; account names are unique")]
    AccountExists { name: String },

    #[error("invalid key label {input:?}: at most 64 characters, no control characters")]
    InvalidKeyLabel { input: String },
    #[error("this account already has {limit} live API keys; revoke one (DELETE /v1/keys/{{id}}) before issuing another")]
    TooManyKeys { limit: i64 },
    #[error("no API key {id} belongs to this account; GET /v1/keys lists yours")]
    KeyNotFound { id: i64 },
    #[error("API key {id} is already revoked; nothing changed")]
    KeyAlreadyRevoked { id: i64 },
    #[error("cannot read the configuration: {0}")]
    Config(String),

    #[error("device {device} has no stored reading with sequence {sequence}")]
    ReadingNotFound {
        device: reading::DeviceId,
        sequence: u64,
    },
    #[error("reading {sequence} of device {device} is {verdict}, not flagged; only flagged readings can be released or rejected")]
    NotFlagged {
        device: reading::DeviceId,
        sequence: u64,
        verdict: String,
    },
    #[error("device {id} is not under review; nothing to clear")]
    DeviceNotUnderReview { id: reading::DeviceId },
    #[error("invalid {what} {input:?}: {reason}")]
    InvalidArgument {
        what: &'static str,
        input: String,
        reason: String,
    },
    #[error("MQTT: {0}")]
    Mqtt(String),
    /// `sunmesh demo` could not set up or run its neighbourhood.
    #[error("demo: {0}")]
    Demo(String),
    #[error("embedded MQTT broker: {0}")]
    Broker(String),

    #[error("cannot open database {target}: {source}")]
    Connect {
        /// The database URL or path with any password removed.
        target: String,
        #[source]
        source: ConnectionError,
    },
    #[error("cannot use database {target:?}: {reason}")]
    UnsupportedDatabase {
        target: String,
        reason: &'static str,
    },
    #[error("running the database migrations failed: {source}")]
    Migration {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database error: {0}")]
    Database(#[from] DieselError),
    #[error("writing output failed: {0}")]
    Output(#[from] std::io::Error),
    #[error("{context}: {source}")]
    SettlementCore {
        /// What the platform asked the settlement core to do, e.g. "settling zone Z slot S".
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "settlement run {version} of zone {zone} slot {slot_start_ms} cannot be made: {reason}"
    )]
    RunVersion {
        zone: String,
        slot_start_ms: i64,
        version: u32,
        reason: String,
    },
    #[error("{what} {value} does not fit the store's 64-bit integer columns; amounts above 9.2e18 base units are refused")]
    AmountTooLarge { what: &'static str, value: String },
    #[error("log signing key {path}: {reason}")]
    LogKey { path: String, reason: String },
    #[error("the exchange did not take the command: {0}")]
    Exchange(#[from] crate::trading::engine_host::HostError),
    #[error("a background task stopped before finishing: {0}")]
    TaskFailed(String),
    #[error(
        "row {key} of table {table} cannot be read: {reason}; was the database edited by hand?"
    )]
    CorruptRow {
        table: &'static str,
        key: String,
        reason: String,
    },
}

impl PlatformError {
    /// Wraps an error of the settlement core (whatever its type) with what was being done.
    pub fn core<E>(context: impl Into<String>) -> impl FnOnce(E) -> PlatformError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let context = context.into();
        move |source| PlatformError::SettlementCore {
            context,
            source: Box::new(source),
        }
    }
}

pub type Result<T, E = PlatformError> = std::result::Result<T, E>;
