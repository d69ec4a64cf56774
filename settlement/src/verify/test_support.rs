//! Fixtures shared by the rule modules' unit tests.

use reading::{ChainHash, DeviceStatus, Reading, SigningKey};

use super::context::{ChainHead, DeviceContext, KeyStatus};
use crate::solar::Site;

/// 2025-06-21T11:00:00Z: Berlin near solar noon.
pub const NOON_MS: i64 = 1_750_503_600_000;

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32]).expect("any 32-byte seed is a valid Ed25519 key")
}

pub fn context_for(k: &SigningKey) -> DeviceContext {
    DeviceContext {
        public_key: k.public_key(),
        status: KeyStatus::Active,
        nameplate_w: 5_000,
        site: Site::new(52.52, 13.405).expect("Berlin is on Earth"),
        head: None,
        stored_at_sequence: None,
    }
}

/// Sequence `seq` of device `k`, 15-minute interval ending at noon, genesis link.
pub fn reading_for(k: &SigningKey, seq: u64) -> Reading {
    Reading {
        device_id: k.device_id(),
        sequence: seq,
        timestamp_ms: NOON_MS,
        interval_ms: 900_000,
        export_wh: 10_000,
        import_wh: 0,
        power_w: 4_000,
        status: DeviceStatus::Ok,
        prev_hash: ChainHash::GENESIS,
    }
}

pub fn head_of(r: &Reading) -> ChainHead {
    ChainHead::of(r)
}
