//! The signed-reading wire format v1: the contract between `meter-agent` and the platform.
//!
//! Owns the canonical byte layout of one meter reading, its Ed25519 signature (ring), its
//! chain hash, its JSON form and the device identity derived from a public key. The layout is
//! specified in `docs/reading-format.md`; `tests/vectors.json` pins it.
//!
//! Must never do I/O, read a clock or use randomness (key generation lives in the shells), and
//! must never panic on bytes or JSON from outside: every decoder returns a typed
//! [`ReadingError`].

mod error;
mod ids;
mod json;
mod layout;
mod signing;

pub use error::ReadingError;
pub use ids::{ChainHash, DeviceId, PublicKey};
pub use layout::{DeviceStatus, Reading, CANONICAL_LEN, FORMAT_VERSION};
pub use signing::{SignedReading, SigningKey, DOMAIN_PREFIX, SIGNATURE_LEN, WIRE_LEN};
