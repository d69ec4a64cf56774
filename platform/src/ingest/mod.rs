//! Readings in: the verification-and-storage pipeline ([`service`]), the MQTT subscriber
//! ([`mqtt`]) and the HTTP endpoints ([`routes`]). See docs/ingest.md.

pub mod mqtt;
pub mod routes;
pub mod service;

pub use service::{
    Decision, Incoming, IngestConfig, IngestService, ReadingResult, ReceiptStatus, VerdictKind,
    MAX_BATCH_READINGS, MAX_BODY_BYTES,
};
