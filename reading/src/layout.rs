//! The canonical byte layout v1 of one reading (documented in `docs/reading-format.md`).
//!
//! Fixed size, big-endian, no optional fields: the same reading always gives the same bytes,
//! so a signature and a chain hash over them mean one thing only.

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::{ChainHash, DeviceId, ReadingError, DOMAIN_PREFIX};

/// The only layout version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the canonical bytes of one reading.
pub const CANONICAL_LEN: usize = 90;

// Field offsets; the document's table is generated from the same numbers by hand, and the
// test vectors pin both.
const OFF_VERSION: usize = 0;
const OFF_DEVICE: usize = 1;
const OFF_SEQUENCE: usize = 17;
const OFF_TIMESTAMP: usize = 25;
const OFF_INTERVAL: usize = 33;
const OFF_EXPORT: usize = 37;
const OFF_IMPORT: usize = 45;
const OFF_POWER: usize = 53;
const OFF_STATUS: usize = 57;
const OFF_PREV: usize = 58;

/// What the device said about itself when it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Producing or metering normally.
    Ok = 0,
    /// Awake but not producing (night, sleeping inverter).
    Standby = 1,
    /// The device reports a fault; its counters may still be read.
    Fault = 2,
    /// Switched off or unreachable behind a gateway.
    Off = 3,
}

impl DeviceStatus {
    fn from_byte(byte: u8) -> Result<Self, ReadingError> {
        match byte {
            0 => Ok(Self::Ok),
            1 => Ok(Self::Standby),
            2 => Ok(Self::Fault),
            3 => Ok(Self::Off),
            other => Err(ReadingError::UnknownStatus(other)),
        }
    }
}

/// One meter reading, before signing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub device_id: DeviceId,
    /// Strictly increasing per device; the first reading is 1.
    pub sequence: u64,
    /// UTC milliseconds at the end of the interval this reading closes.
    pub timestamp_ms: i64,
    /// Length of that interval in milliseconds.
    pub interval_ms: u32,
    /// Cumulative production (inverter) or export (meter) counter, Wh.
    pub export_wh: u64,
    /// Cumulative import counter, Wh (0 for a device that cannot import).
    pub import_wh: u64,
    /// Instantaneous AC power at `timestamp_ms`, W; negative when consuming.
    pub power_w: i32,
    pub status: DeviceStatus,
    /// Chain hash of the previous reading, [`ChainHash::GENESIS`] for sequence 1.
    pub prev_hash: ChainHash,
}

impl Reading {
    pub fn canonical_bytes(&self) -> [u8; CANONICAL_LEN] {
        let mut out = [0u8; CANONICAL_LEN];
        out[OFF_VERSION] = FORMAT_VERSION;
        out[OFF_DEVICE..OFF_SEQUENCE].copy_from_slice(self.device_id.as_bytes());
        out[OFF_SEQUENCE..OFF_TIMESTAMP].copy_from_slice(&self.sequence.to_be_bytes());
        out[OFF_TIMESTAMP..OFF_INTERVAL].copy_from_slice(&self.timestamp_ms.to_be_bytes());
        out[OFF_INTERVAL..OFF_EXPORT].copy_from_slice(&self.interval_ms.to_be_bytes());
        out[OFF_EXPORT..OFF_IMPORT].copy_from_slice(&self.export_wh.to_be_bytes());
        out[OFF_IMPORT..OFF_POWER].copy_from_slice(&self.import_wh.to_be_bytes());
        out[OFF_POWER..OFF_STATUS].copy_from_slice(&self.power_w.to_be_bytes());
        out[OFF_STATUS] = self.status as u8;
        out[OFF_PREV..CANONICAL_LEN].copy_from_slice(self.prev_hash.as_bytes());
        out
    }

    /// Parses canonical bytes: exactly [`CANONICAL_LEN`] bytes of a known version.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, ReadingError> {
        let bytes: &[u8; CANONICAL_LEN] =
            bytes.try_into().map_err(|_| ReadingError::WrongLength {
                expected: CANONICAL_LEN,
                actual: bytes.len(),
            })?;
        if bytes[OFF_VERSION] != FORMAT_VERSION {
            return Err(ReadingError::UnsupportedVersion(bytes[OFF_VERSION]));
        }
        Ok(Self {
            device_id: DeviceId::from_bytes(array(bytes, OFF_DEVICE)),
            sequence: u64::from_be_bytes(array(bytes, OFF_SEQUENCE)),
            timestamp_ms: i64::from_be_bytes(array(bytes, OFF_TIMESTAMP)),
            interval_ms: u32::from_be_bytes(array(bytes, OFF_INTERVAL)),
            export_wh: u64::from_be_bytes(array(bytes, OFF_EXPORT)),
            import_wh: u64::from_be_bytes(array(bytes, OFF_IMPORT)),
            power_w: i32::from_be_bytes(array(bytes, OFF_POWER)),
            status: DeviceStatus::from_byte(bytes[OFF_STATUS])?,
            prev_hash: ChainHash::from_bytes(array(bytes, OFF_PREV)),
        })
    }

    /// The exact bytes given to Ed25519: [`DOMAIN_PREFIX`] followed by the canonical bytes.
    pub fn message(&self) -> [u8; DOMAIN_PREFIX.len() + CANONICAL_LEN] {
        let mut message = [0u8; DOMAIN_PREFIX.len() + CANONICAL_LEN];
        message[..DOMAIN_PREFIX.len()].copy_from_slice(DOMAIN_PREFIX);
        message[DOMAIN_PREFIX.len()..].copy_from_slice(&self.canonical_bytes());
        message
    }

    /// SHA-256 over the signed message; the next reading's `prev_hash`.
    pub fn chain_hash(&self) -> ChainHash {
        let hash = digest::digest(&digest::SHA256, &self.message());
        let mut out = [0u8; 32];
        out.copy_from_slice(hash.as_ref());
        ChainHash::from_bytes(out)
    }
}

/// Copies `N` bytes at `offset`; the offsets above are compile-time constants inside a
/// fixed-size array, so the slice always has the right length.
fn array<const N: usize>(bytes: &[u8; CANONICAL_LEN], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[offset..offset + N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Reading {
        Reading {
            device_id: DeviceId::from_bytes([0xAB; 16]),
            sequence: 42,
            timestamp_ms: 1_767_225_600_000,
            interval_ms: 60_000,
            export_wh: 1_234_567,
            import_wh: 89,
            power_w: -250,
            status: DeviceStatus::Fault,
            prev_hash: ChainHash::from_bytes([0x11; 32]),
        }
    }

    #[test]
    fn offsets_tile_the_layout_exactly() {
        assert_eq!(OFF_PREV + 32, CANONICAL_LEN);
        assert_eq!(OFF_STATUS + 1, OFF_PREV);
    }

    #[test]
    fn canonical_round_trip() {
        let reading = sample();
        let bytes = reading.canonical_bytes();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(Reading::from_canonical(&bytes), Ok(reading));
    }

    #[test]
    fn rejects_wrong_length_version_and_status() {
        let bytes = sample().canonical_bytes();
        assert_eq!(
            Reading::from_canonical(&bytes[..89]),
            Err(ReadingError::WrongLength {
                expected: 90,
                actual: 89
            })
        );
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(matches!(
            Reading::from_canonical(&longer),
            Err(ReadingError::WrongLength { actual: 91, .. })
        ));
        let mut v2 = bytes;
        v2[0] = 2;
        assert_eq!(
            Reading::from_canonical(&v2),
            Err(ReadingError::UnsupportedVersion(2))
        );
        let mut status = bytes;
        status[OFF_STATUS] = 9;
        assert_eq!(
            Reading::from_canonical(&status),
            Err(ReadingError::UnknownStatus(9))
        );
    }

    #[test]
    fn chain_hash_changes_with_any_field() {
        let a = sample();
        let mut b = a;
        b.import_wh += 1;
        assert_ne!(a.chain_hash(), b.chain_hash());
    }
}
