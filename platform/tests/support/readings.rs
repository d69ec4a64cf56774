//! Signed reading chains for ingest tests: honest by default, bent on purpose by the tests.

#![allow(dead_code)]

use reading::{ChainHash, DeviceStatus, Reading, SignedReading, SigningKey};

/// 2026-06-21 11:00 UTC: midday at the test devices' site (52.52° N, 0.13° W).
pub const NOON: i64 = 1_782_039_600_000;
/// 2026-06-21 00:00 UTC: night there.
pub const MIDNIGHT: i64 = 1_782_000_000_000;
/// 2026-06-21 03:50 UTC: just after sunrise there.
pub const DAWN: i64 = 1_782_013_800_000;
pub const FIVE_MIN: i64 = 5 * 60 * 1000;

/// One device's chain of readings, built forward.
pub struct Chain {
    pub key: SigningKey,
    pub sequence: u64,
    pub timestamp_ms: i64,
    pub export_wh: u64,
    pub import_wh: u64,
    pub prev: ChainHash,
}

impl Chain {
    /// A chain for the device with key seed `seed` (as `common::new_device(seed, ..)`); the
    /// first reading will be at `start_ms + step`.
    pub fn new(seed: u8, start_ms: i64) -> Chain {
        Chain {
            key: SigningKey::from_seed(&[seed; 32]).expect("valid seed"),
            sequence: 0,
            timestamp_ms: start_ms,
            export_wh: 1_000_000,
            import_wh: 5_000,
            prev: ChainHash::GENESIS,
        }
    }

    /// The next reading, `step_ms` later with `export_wh` more production; the chain moves.
    pub fn next(&mut self, step_ms: i64, export_wh: u64) -> SignedReading {
        let r = self.peek(step_ms, export_wh);
        self.advance(&r);
        r
    }

    /// What `next` would return, without moving the chain.
    pub fn peek(&self, step_ms: i64, export_wh: u64) -> SignedReading {
        let reading = Reading {
            device_id: self.key.device_id(),
            sequence: self.sequence + 1,
            timestamp_ms: self.timestamp_ms + step_ms,
            interval_ms: u32::try_from(step_ms).expect("step fits u32"),
            export_wh: self.export_wh + export_wh,
            import_wh: self.import_wh,
            power_w: 2_000,
            status: DeviceStatus::Ok,
            prev_hash: self.prev,
        };
        SignedReading::sign(reading, &self.key)
    }

    /// Moves the chain past `r` (for readings built by hand).
    pub fn advance(&mut self, r: &SignedReading) {
        self.sequence = r.reading.sequence;
        self.timestamp_ms = r.reading.timestamp_ms;
        self.export_wh = r.reading.export_wh;
        self.import_wh = r.reading.import_wh;
        self.prev = r.chain_hash();
    }

    /// Re-signs a modified reading with this chain's key.
    pub fn sign(&self, reading: Reading) -> SignedReading {
        SignedReading::sign(reading, &self.key)
    }

    /// `n` honest five-minute readings of 100 Wh each.
    pub fn honest(&mut self, n: usize) -> Vec<SignedReading> {
        (0..n).map(|_| self.next(FIVE_MIN, 100)).collect()
    }
}
