//! Round trips for any reading, and no panic on any bytes or text from outside.

use proptest::prelude::*;
use reading::{ChainHash, DeviceId, DeviceStatus, Reading, SignedReading, SigningKey, WIRE_LEN};

fn any_status() -> impl Strategy<Value = DeviceStatus> {
    prop_oneof![
        Just(DeviceStatus::Ok),
        Just(DeviceStatus::Standby),
        Just(DeviceStatus::Fault),
        Just(DeviceStatus::Off),
    ]
}

prop_compose! {
    fn any_reading()(
        device in any::<[u8; 16]>(),
        sequence in any::<u64>(),
        timestamp_ms in any::<i64>(),
        interval_ms in any::<u32>(),
        export_wh in any::<u64>(),
        import_wh in any::<u64>(),
        power_w in any::<i32>(),
        status in any_status(),
        prev in any::<[u8; 32]>(),
    ) -> Reading {
        Reading {
            device_id: DeviceId::from_bytes(device),
            sequence, timestamp_ms, interval_ms, export_wh, import_wh, power_w, status,
            prev_hash: ChainHash::from_bytes(prev),
        }
    }
}

proptest! {
    #[test]
    fn canonical_wire_and_json_round_trip(reading in any_reading(), signature in any::<[u8; 32]>()) {
        prop_assert_eq!(Reading::from_canonical(&reading.canonical_bytes()), Ok(reading));
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&signature);
        let signed = SignedReading { reading, signature: sig };
        prop_assert_eq!(SignedReading::from_wire(&signed.to_wire()), Ok(signed.clone()));
        prop_assert_eq!(SignedReading::from_json(&signed.to_json()), Ok(signed));
    }

    #[test]
    fn signed_readings_verify_and_tampered_ones_do_not(reading in any_reading(), seed in any::<[u8; 32]>(), field in 0usize..6) {
        let key = SigningKey::from_seed(&seed).unwrap();
        let reading = Reading { device_id: key.device_id(), ..reading };
        let signed = SignedReading::sign(reading, &key);
        prop_assert!(signed.verify(&key.public_key()).is_ok());
        let mut tampered = signed.clone();
        let r = &mut tampered.reading;
        match field {
            0 => r.sequence ^= 1,
            1 => r.timestamp_ms ^= 1,
            2 => r.export_wh ^= 1,
            3 => r.import_wh ^= 1,
            4 => r.power_w ^= 1,
            _ => r.interval_ms ^= 1,
        }
        prop_assert!(tampered.verify(&key.public_key()).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2 * WIRE_LEN)) {
        let _ = SignedReading::from_wire(&bytes);
        let _ = Reading::from_canonical(&bytes);
        let _ = SignedReading::from_json(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn wire_sized_random_bytes_never_panic(bytes in any::<[u8; 32]>(), tail in proptest::collection::vec(any::<u8>(), WIRE_LEN - 32)) {
        let mut wire = bytes.to_vec();
        wire.extend(tail);
        wire[0] = 1;
        let _ = SignedReading::from_wire(&wire);
    }
}
