//! Invariants over arbitrary inputs: the geometry stays in range, the verifier never panics and
//! never lets an unauthenticated reading through, and no cadence stretches the night budget.

use proptest::prelude::*;
use reading::{ChainHash, DeviceStatus, Reading, SignedReading, SigningKey};
use settlement::solar::{self, calendar::unix_ms_from_civil, BoundPlane, Site};
use settlement::verify::{
    assess, neighbourhood_outliers, ChainHead, DeviceContext, KeyStatus, PeerYield, RejectReason,
    Verdict, VerifyConfig,
};

fn years_1950_2100() -> std::ops::Range<i64> {
    unix_ms_from_civil(1950, 1, 1)..unix_ms_from_civil(2101, 1, 1)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sun_position_is_always_in_range(
        lat in -90.0f64..=90.0,
        lon in -180.0f64..=180.0,
        ms in years_1950_2100(),
    ) {
        let p = solar::position(lat, lon, ms);
        prop_assert!((-90.0..=90.0).contains(&p.elevation_deg));
        prop_assert!(p.apparent_elevation_deg >= p.elevation_deg);
        prop_assert!(p.apparent_elevation_deg - p.elevation_deg < 0.75);
        prop_assert!((0.0..360.0).contains(&p.azimuth_deg));
        prop_assert!((0.98..1.02).contains(&p.earth_sun_distance_au));
        let ghi = solar::clear_sky_ghi_wm2(lat, lon, ms);
        prop_assert!((0.0..1_200.0).contains(&ghi));
        prop_assert_eq!(ghi == 0.0, p.zenith_deg >= 90.0);
    }

    #[test]
    fn clear_sky_integral_grows_with_the_interval(
        lat in -66.0f64..=66.0,
        lon in -180.0f64..=180.0,
        start in years_1950_2100(),
        len in 1i64..(6 * 3_600_000),
    ) {
        let site = Site::new(lat, lon).unwrap();
        let s = solar::interval_sun(site, start, start + len, BoundPlane::SunFacing);
        let h = solar::interval_sun(site, start, start + len, BoundPlane::Horizontal);
        prop_assert!(s.clear_sky_wh_per_m2 >= 0.0);
        prop_assert!(s.clear_sky_wh_per_m2 + 1e-9 >= h.clear_sky_wh_per_m2);
        // Never more than the extraterrestrial beam plus sky for every hour of it.
        prop_assert!(s.clear_sky_wh_per_m2 <= 1.5 * 1_420.0 * len as f64 / 3_600_000.0);
    }

    #[test]
    fn verifier_never_panics_and_only_accepts_authentic_readings(
        seq in 0u64..20,
        ts_offset in -10_000_000_000i64..10_000_000_000,
        interval_ms in any::<u32>(),
        export_wh in any::<u64>(),
        import_wh in any::<u64>(),
        power_w in any::<i32>(),
        head_seq in 0u64..10,
        night_spent in any::<u64>(),
        flip in any::<bool>(),
        byte in 0usize..64,
    ) {
        let key = SigningKey::from_seed(&[7; 32]).unwrap();
        let now = unix_ms_from_civil(2025, 6, 21) + 11 * 3_600_000;
        let r = Reading {
            device_id: key.device_id(),
            sequence: seq,
            timestamp_ms: now + ts_offset,
            interval_ms,
            export_wh,
            import_wh,
            power_w,
            status: DeviceStatus::Ok,
            prev_hash: ChainHash::GENESIS,
        };
        let head = (head_seq > 0).then(|| ChainHead {
            sequence: head_seq,
            chain_hash: ChainHash::from_bytes([head_seq as u8; 32]),
            export_wh: export_wh / 2,
            import_wh: import_wh / 2,
            timestamp_ms: now - 900_000,
            night_export_wh: night_spent,
        });
        let ctx = DeviceContext {
            public_key: key.public_key(),
            status: KeyStatus::Active,
            nameplate_w: 5_000,
            site: Site::new(52.52, 13.405).unwrap(),
            head,
            stored_at_sequence: None,
        };
        let mut signed = SignedReading::sign(r, &key);
        if flip {
            signed.signature[byte] ^= 0x80;
        }
        let a = assess(&signed, Some(&ctx), &VerifyConfig::default(), now);
        if flip {
            prop_assert_eq!(a.verdict, Verdict::Rejected(RejectReason::BadSignature));
        }
        if let Some(e) = a.energy {
            prop_assert!(e.end_ms > e.start_ms);
            prop_assert!(a.new_head.is_some());
        }
        let _ = neighbourhood_outliers(
            &[PeerYield { device: key.device_id(), nameplate_w: 5_000, energy_wh: export_wh }],
            &VerifyConfig::default(),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The night budget, whatever the cadence: over one night (the readings since the last
    /// interval with daylight) the export that rule 6 lets through never sums to more than
    /// `meter_tolerance_wh`, and a reading that fits in what is left is never refused for it.
    #[test]
    fn no_cadence_lets_night_export_exceed_the_tolerance_per_night(
        start_offset_min in 0i64..(24 * 60),
        step_ms in prop_oneof![1_000i64..120_000, 120_000i64..(3 * 3_600_000)],
        claims in prop::collection::vec(prop_oneof![Just(0u64), 0u64..4, 0u64..40], 1..100),
        tolerance in 0u64..30,
    ) {
        let key = SigningKey::from_seed(&[9; 32]).unwrap();
        let site = Site::new(52.52, 13.405).unwrap();
        let cfg = VerifyConfig { meter_tolerance_wh: tolerance, ..VerifyConfig::default() };
        let mut prev = Reading {
            device_id: key.device_id(),
            sequence: 1,
            timestamp_ms: unix_ms_from_civil(2025, 12, 21) + start_offset_min * 60_000,
            interval_ms: 60_000,
            export_wh: 1_000_000,
            import_wh: 0,
            power_w: 0,
            status: DeviceStatus::Ok,
            prev_hash: ChainHash::GENESIS,
        };
        let mut ctx = DeviceContext {
            public_key: key.public_key(),
            status: KeyStatus::Active,
            nameplate_w: 5_000,
            site,
            head: Some(ChainHead::of(&prev)),
            stored_at_sequence: None,
        };
        // What the oracle says the device has had let through this night.
        let mut spent = 0u64;
        for wh in claims {
            let r = Reading {
                sequence: prev.sequence + 1,
                timestamp_ms: prev.timestamp_ms + step_ms,
                interval_ms: u32::try_from(step_ms).unwrap(),
                export_wh: prev.export_wh + wh,
                prev_hash: prev.chain_hash(),
                ..prev
            };
            let night =
                solar::interval_sun(site, prev.timestamp_ms, r.timestamp_ms, cfg.clear_sky_plane)
                    .night;
            let a = assess(&SignedReading::sign(r, &key), Some(&ctx), &cfg, r.timestamp_ms + 1_000);
            let refused_at_night = a.verdict == Verdict::Rejected(RejectReason::ProductionAtNight);
            // Rule 5 runs first: a reading it refuses (a large claim over a step of seconds)
            // never reaches rule 6 and leaves the total as it was.
            let above_nameplate = a.verdict == Verdict::Rejected(RejectReason::AboveNameplate);
            if above_nameplate {
                prop_assert!(wh > tolerance);
            } else if night {
                prop_assert_eq!(refused_at_night, spent.saturating_add(wh) > tolerance);
                if !refused_at_night {
                    spent += wh;
                }
            } else {
                prop_assert!(!refused_at_night);
                spent = 0;
            }
            prop_assert!(spent <= tolerance);
            let head = a.new_head.unwrap();
            prop_assert_eq!(head.night_export_wh, spent);
            ctx.head = Some(head);
            prev = r;
        }
    }
}
