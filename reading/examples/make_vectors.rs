//! Regenerates the published test vectors:
//! `cargo run -p reading --example make_vectors > reading/tests/vectors.json`.
//! The vectors pin the format: the test in `tests/vectors.rs` checks them against the code and
//! `docs/reading-format.md` prints the same values.

use reading::{ChainHash, DeviceStatus, Reading, SignedReading, SigningKey, DOMAIN_PREFIX};
use serde_json::json;

fn seed(byte: u8) -> [u8; 32] {
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = byte.wrapping_add(i as u8);
    }
    seed
}

fn main() {
    let key_a = SigningKey::from_seed(&seed(0x00)).expect("fixed seed");
    let key_b = SigningKey::from_seed(&seed(0xA0)).expect("fixed seed");

    let first = Reading {
        device_id: key_a.device_id(),
        sequence: 1,
        timestamp_ms: 1_782_900_000_000,
        interval_ms: 60_000,
        export_wh: 1_000_000,
        import_wh: 250_000,
        power_w: 3_200,
        status: DeviceStatus::Ok,
        prev_hash: ChainHash::GENESIS,
    };
    let second = Reading {
        sequence: 2,
        timestamp_ms: first.timestamp_ms + 60_000,
        export_wh: first.export_wh + 54,
        power_w: 3_260,
        prev_hash: first.chain_hash(),
        ..first
    };
    let night = Reading {
        device_id: key_b.device_id(),
        sequence: 7_305,
        timestamp_ms: 1_767_225_600_000,
        interval_ms: 900_000,
        export_wh: 0,
        import_wh: 4_096,
        power_w: -180,
        status: DeviceStatus::Standby,
        prev_hash: ChainHash::from_bytes([0x5A; 32]),
    };
    let fault = Reading {
        status: DeviceStatus::Fault,
        sequence: 7_306,
        timestamp_ms: night.timestamp_ms + 900_000,
        power_w: 0,
        prev_hash: night.chain_hash(),
        ..night
    };
    let extremes = Reading {
        device_id: key_b.device_id(),
        sequence: u64::MAX,
        timestamp_ms: -1,
        interval_ms: u32::MAX,
        export_wh: u64::MAX,
        import_wh: u64::MAX,
        power_w: i32::MIN,
        status: DeviceStatus::Off,
        prev_hash: ChainHash::from_bytes([0xFF; 32]),
    };

    let cases = [
        (
            "first reading of a device (genesis prev_hash)",
            &key_a,
            0x00u8,
            first,
        ),
        ("second reading, chained to the first", &key_a, 0x00, second),
        (
            "night: standby, importing, 15-minute interval",
            &key_b,
            0xA0,
            night,
        ),
        (
            "fault status, chained to the night reading",
            &key_b,
            0xA0,
            fault,
        ),
        ("extreme values in every field", &key_b, 0xA0, extremes),
    ];
    let vectors: Vec<_> = cases
        .iter()
        .map(|(name, key, seed_start, reading)| {
            let signed = SignedReading::sign(*reading, key);
            let mut message = DOMAIN_PREFIX.to_vec();
            message.extend_from_slice(&reading.canonical_bytes());
            json!({
                "name": name,
                "seed_hex": hex::encode(seed(*seed_start)),
                "public_key_hex": key.public_key().to_hex(),
                "device_id_hex": key.device_id().to_hex(),
                "fields": {
                    "sequence": reading.sequence,
                    "timestamp_ms": reading.timestamp_ms,
                    "interval_ms": reading.interval_ms,
                    "export_wh": reading.export_wh,
                    "import_wh": reading.import_wh,
                    "power_w": reading.power_w,
                    "status": reading.status,
                    "prev_hash_hex": reading.prev_hash.to_hex(),
                },
                "canonical_hex": hex::encode(reading.canonical_bytes()),
                "message_hex": hex::encode(&message),
                "signature_hex": hex::encode(signed.signature),
                "wire_hex": hex::encode(signed.to_wire()),
                "chain_hash_hex": signed.chain_hash().to_hex(),
                "json": signed.to_json(),
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&vectors).expect("vectors serialise")
    );
}
