//! A corpus of bad readings, each rejected or flagged with the right reason, and honest clear
//! days that must pass untouched.
//!
//! The clear-day profiles were produced with pvlib-python 0.16.1 by
//! /work/scratch-settlement/gen_profiles.py (not part of the test run): a 5 kW array, Perez
//! transposition of an Ineichen clear sky with Linke turbidity 3 (an ordinary clear day, hazier
//! than the verifier's bound), 1-minute samples summed into 15-minute energies, performance
//! ratio 0.9, rounded to Wh. Slot i covers [00:00 + 15 min·i, +15 min) UTC.

use reading::{ChainHash, DeviceStatus, Reading, SignedReading, SigningKey};
use settlement::solar::{self, calendar::unix_ms_from_civil, BoundPlane, Site};
use settlement::verify::{
    assess, neighbourhood_outliers, resolve, sun, verify, Assessment, ChainHead, DeviceContext,
    FlagReason, KeyStatus, OperatorDecision, PeerYield, RejectReason, Verdict, VerifyConfig,
};

const Q: i64 = 900_000;
const H: i64 = 3_600_000;

const BERLIN_JUNE_21_2025: [u64; 96] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 9, 17, 23, 29, 34, 45, 89, 141, 195, 253, 312, 372, 433,
    494, 554, 612, 669, 724, 777, 827, 874, 918, 958, 995, 1028, 1057, 1082, 1103, 1119, 1130,
    1138, 1140, 1138, 1131, 1120, 1104, 1084, 1060, 1031, 999, 962, 922, 878, 832, 782, 729, 675,
    618, 560, 500, 439, 378, 318, 258, 201, 146, 94, 48, 35, 30, 24, 17, 10, 4, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const BERLIN_DEC_21_2025: [u64; 96] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 29,
    86, 157, 225, 288, 346, 398, 445, 485, 519, 546, 567, 582, 590, 592, 587, 577, 559, 536, 506,
    470, 427, 379, 324, 263, 199, 129, 61, 15, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const SYDNEY_JUNE_21_2025: [u64; 96] = [
    772, 808, 840, 866, 886, 902, 911, 916, 915, 908, 896, 879, 856, 828, 794, 756, 712, 663, 609,
    550, 487, 420, 347, 268, 185, 102, 28, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 6, 53, 135, 218, 300, 376, 447, 512, 574, 631, 683, 730,
];
const TROMSO_JUNE_21_2025_VERTICAL_WEST: [u64; 96] = [
    11, 13, 15, 17, 20, 23, 26, 30, 33, 36, 40, 44, 47, 51, 57, 62, 65, 69, 72, 76, 79, 83, 86, 89,
    92, 95, 98, 100, 103, 109, 112, 114, 116, 118, 119, 121, 122, 123, 124, 124, 125, 125, 125,
    152, 212, 272, 331, 388, 444, 497, 548, 597, 643, 685, 724, 759, 790, 828, 852, 871, 884, 893,
    896, 895, 888, 876, 859, 837, 810, 778, 742, 704, 665, 618, 569, 518, 466, 413, 361, 311, 263,
    219, 179, 144, 113, 85, 63, 45, 32, 21, 12, 7, 7, 8, 8, 10,
];

/// A simulated device and the verifier's view of it (what the shell would store).
struct Device {
    key: SigningKey,
    ctx: DeviceContext,
    last: Option<Reading>,
    cfg: VerifyConfig,
}

impl Device {
    fn new(seed: u8, lat: f64, lon: f64) -> Device {
        let key = SigningKey::from_seed(&[seed; 32]).unwrap();
        let ctx = DeviceContext {
            public_key: key.public_key(),
            status: KeyStatus::Active,
            nameplate_w: 5_000,
            site: Site::new(lat, lon).unwrap(),
            head: None,
            stored_at_sequence: None,
        };
        Device {
            key,
            ctx,
            last: None,
            cfg: VerifyConfig::default(),
        }
    }

    fn berlin(seed: u8) -> Device {
        Device::new(seed, 52.52, 13.405)
    }

    /// The next honest reading: 15 minutes later, `wh` more on the export counter.
    fn next(&self, timestamp_ms: i64, wh: u64) -> Reading {
        match &self.last {
            None => Reading {
                device_id: self.key.device_id(),
                sequence: 1,
                timestamp_ms,
                interval_ms: Q as u32,
                export_wh: 1_000_000 + wh,
                import_wh: 5_000,
                power_w: 0,
                status: DeviceStatus::Ok,
                prev_hash: ChainHash::GENESIS,
            },
            Some(prev) => Reading {
                sequence: prev.sequence + 1,
                timestamp_ms,
                interval_ms: u32::try_from(timestamp_ms - prev.timestamp_ms).unwrap_or(u32::MAX),
                export_wh: prev.export_wh + wh,
                power_w: i32::try_from(wh * 4).unwrap_or(i32::MAX),
                prev_hash: prev.chain_hash(),
                ..*prev
            },
        }
    }

    fn sign(&self, r: Reading) -> SignedReading {
        SignedReading::sign(r, &self.key)
    }

    /// Verify at `now_ms` (default: one second after the reading) and apply the outcome the way
    /// the shell would: move the head, flag the device.
    fn submit_at(&mut self, signed: &SignedReading, now_ms: i64) -> Assessment {
        let a = assess(signed, Some(&self.ctx), &self.cfg, now_ms);
        if let Some(head) = a.new_head {
            self.ctx.head = Some(head);
            self.last = Some(signed.reading);
        }
        if a.flag_device {
            self.ctx.status = KeyStatus::UnderReview;
        }
        a
    }

    fn submit(&mut self, signed: &SignedReading) -> Assessment {
        let now = signed.reading.timestamp_ms + 1_000;
        self.submit_at(signed, now)
    }

    /// Feed `n` honest readings ending at `start + 15 min·i`, `wh` each; returns the last.
    fn run(&mut self, start_ms: i64, n: usize, wh: u64) -> Reading {
        for i in 1..=n as i64 {
            let r = self.next(start_ms + i * Q, wh);
            let a = self.submit(&self.sign(r));
            assert_eq!(a.verdict, Verdict::Accepted, "warm-up reading {i}");
        }
        self.last.unwrap()
    }
}

fn day(y: i64, m: u32, d: u32) -> i64 {
    unix_ms_from_civil(y, m, d)
}

/// A Berlin device with a few accepted late-morning readings (2025-06-21, 08:00–09:00 UTC).
fn warmed_up(seed: u8) -> Device {
    let mut dev = Device::berlin(seed);
    dev.run(day(2025, 6, 21) + 8 * H, 4, 900);
    dev
}

// ---- honest days -------------------------------------------------------------------------

fn run_clear_day(mut dev: Device, day_ms: i64, profile: &[u64; 96]) -> u64 {
    let mut verified = 0;
    for (i, &wh) in profile.iter().enumerate() {
        let end = day_ms + (i as i64 + 1) * Q;
        let r = dev.next(end, wh);
        let a = dev.submit(&dev.sign(r));
        assert_eq!(a.verdict, Verdict::Accepted, "slot {i} ({wh} Wh): {a:?}");
        verified += a.energy.map_or(0, |e| e.export_wh);
    }
    verified
}

#[test]
fn clear_days_pass_without_flags() {
    let cases: [(&str, Device, i64, &[u64; 96]); 4] = [
        (
            "Berlin June",
            Device::berlin(1),
            day(2025, 6, 21),
            &BERLIN_JUNE_21_2025,
        ),
        (
            "Berlin December",
            Device::berlin(2),
            day(2025, 12, 21),
            &BERLIN_DEC_21_2025,
        ),
        (
            "Sydney June",
            Device::new(3, -33.8688, 151.2093),
            day(2025, 6, 21),
            &SYDNEY_JUNE_21_2025,
        ),
        (
            "Tromsø June, vertical west wall",
            Device::new(4, 69.6492, 18.9553),
            day(2025, 6, 21),
            &TROMSO_JUNE_21_2025_VERTICAL_WEST,
        ),
    ];
    for (name, dev, day_ms, profile) in cases {
        let verified = run_clear_day(dev, day_ms, profile);
        // The first reading only establishes the counters.
        let expected: u64 = profile[1..].iter().sum();
        assert_eq!(verified, expected, "{name}");
    }
}

// ---- rule 1: identity ---------------------------------------------------------------------

#[test]
fn forged_signature_is_rejected() {
    let mut dev = warmed_up(10);
    let r = dev.next(dev.last.unwrap().timestamp_ms + Q, 900);
    let mut forged = dev.sign(r);
    forged.signature = [0x5a; 64];
    assert_eq!(
        dev.submit(&forged).verdict,
        Verdict::Rejected(RejectReason::BadSignature)
    );
    // Same for a reading altered after signing (claims more energy).
    let mut altered = dev.sign(r);
    altered.reading.export_wh += 5_000;
    assert_eq!(
        dev.submit(&altered).verdict,
        Verdict::Rejected(RejectReason::BadSignature)
    );
    // Neither moved the chain: the honest reading still links.
    assert_eq!(dev.submit(&dev.sign(r)).verdict, Verdict::Accepted);
}

#[test]
fn wrong_key_is_rejected() {
    let mut dev = warmed_up(11);
    let r = dev.next(dev.last.unwrap().timestamp_ms + Q, 900);
    let intruder = SigningKey::from_seed(&[99; 32]).unwrap();
    let signed = SignedReading::sign(r, &intruder);
    assert_eq!(
        dev.submit(&signed).verdict,
        Verdict::Rejected(RejectReason::BadSignature)
    );
}

#[test]
fn unknown_device_is_rejected() {
    let stranger = Device::berlin(12);
    let r = stranger.next(day(2025, 6, 21) + 9 * H, 0);
    let v = verify(
        &stranger.sign(r),
        None,
        &VerifyConfig::default(),
        r.timestamp_ms,
    );
    assert_eq!(v, Verdict::Rejected(RejectReason::UnknownDevice));
}

#[test]
fn revoked_device_is_rejected() {
    let mut dev = warmed_up(13);
    dev.ctx.status = KeyStatus::Revoked;
    let r = dev.next(dev.last.unwrap().timestamp_ms + Q, 900);
    assert_eq!(
        dev.submit(&dev.sign(r)).verdict,
        Verdict::Rejected(RejectReason::RevokedDevice)
    );
}

// ---- rule 2: sequence and chain ---------------------------------------------------------

#[test]
fn replayed_reading_is_rejected() {
    let mut dev = warmed_up(14);
    let head = dev.sign(dev.last.unwrap());
    assert_eq!(
        dev.submit(&head).verdict,
        Verdict::Rejected(RejectReason::Replayed)
    );
    // An older reading the shell still has: also a replay.
    let r = dev.next(dev.last.unwrap().timestamp_ms + Q, 900);
    let older = dev.last.unwrap();
    dev.submit(&dev.sign(r));
    dev.ctx.stored_at_sequence = Some(older.chain_hash());
    assert_eq!(
        dev.submit(&dev.sign(older)).verdict,
        Verdict::Rejected(RejectReason::Replayed)
    );
}

#[test]
fn reordered_sequence_is_rejected_and_gap_recorded() {
    let mut dev = warmed_up(15);
    let t = dev.last.unwrap().timestamp_ms;
    let r5 = dev.next(t + Q, 900);
    let r6 = Reading {
        sequence: r5.sequence + 1,
        timestamp_ms: t + 2 * Q,
        interval_ms: Q as u32,
        export_wh: r5.export_wh + 900,
        prev_hash: r5.chain_hash(),
        ..r5
    };
    // r6 arrives first: accepted, the missing sequence number is recorded as a gap.
    let a = dev.submit(&dev.sign(r6));
    assert_eq!(a.verdict, Verdict::Accepted);
    assert_eq!(a.gap, Some(r5.sequence..r6.sequence));
    assert_eq!(a.energy.unwrap().export_wh, 1_800);
    // r5 arrives late: out of order (its energy is already inside r6's counter delta).
    let a = dev.submit(&dev.sign(r5));
    assert_eq!(a.verdict, Verdict::Rejected(RejectReason::OutOfOrder));
    assert!(!a.flag_device);
}

#[test]
fn broken_chain_is_rejected_and_flags_the_device() {
    let mut dev = warmed_up(16);
    let mut r = dev.next(dev.last.unwrap().timestamp_ms + Q, 900);
    r.prev_hash = ChainHash::from_bytes([0xab; 32]);
    let a = dev.submit(&dev.sign(r));
    assert_eq!(a.verdict, Verdict::Rejected(RejectReason::BrokenChain));
    assert!(a.flag_device);
}

#[test]
fn sequence_conflict_is_rejected_and_flags_the_device() {
    let mut dev = warmed_up(17);
    let head = dev.last.unwrap();
    let twin = Reading {
        export_wh: head.export_wh + 400,
        ..head
    };
    let a = dev.submit(&dev.sign(twin));
    assert_eq!(a.verdict, Verdict::Rejected(RejectReason::SequenceConflict));
    assert!(a.flag_device);
    // From now on the device's honest readings are held for review.
    let r = dev.next(head.timestamp_ms + Q, 900);
    assert_eq!(
        dev.submit(&dev.sign(r)).verdict,
        Verdict::Flagged(vec![FlagReason::DeviceUnderReview])
    );
}

// ---- rule 3: counters ----------------------------------------------------------------------

#[test]
fn counter_rollback_is_flagged_and_becomes_the_new_baseline() {
    let mut dev = warmed_up(18);
    let mut r = dev.next(dev.last.unwrap().timestamp_ms + Q, 0);
    r.export_wh = 12; // meter replaced or reset
    let a = dev.submit(&dev.sign(r));
    assert_eq!(
        a.verdict,
        Verdict::Flagged(vec![FlagReason::CounterRollback])
    );
    assert_eq!(a.energy, None);
    // The next reading measures from the new counter value.
    let r = dev.next(r.timestamp_ms + Q, 800);
    let a = dev.submit(&dev.sign(r));
    assert_eq!(a.verdict, Verdict::Accepted);
    assert_eq!(a.energy.unwrap().export_wh, 800);
}

#[test]
fn claimed_interval_that_disagrees_with_the_clock_is_flagged() {
    let mut dev = warmed_up(19);
    let mut r = dev.next(dev.last.unwrap().timestamp_ms + Q, 900);
    r.interval_ms = 60_000;
    assert_eq!(
        dev.submit(&dev.sign(r)).verdict,
        Verdict::Flagged(vec![FlagReason::EnergyMismatch])
    );
}

// ---- rule 4: time --------------------------------------------------------------------------

#[test]
fn far_future_timestamp_is_rejected() {
    let mut dev = warmed_up(20);
    let now = dev.last.unwrap().timestamp_ms + Q;
    let r = dev.next(now + 365 * 24 * H, 900);
    let a = dev.submit_at(&dev.sign(r), now);
    assert_eq!(a.verdict, Verdict::Rejected(RejectReason::FutureTimestamp));
    // Within the skew it is fine.
    let r = dev.next(now + 60_000, 900);
    let a = dev.submit_at(&dev.sign(r), now);
    assert_eq!(a.verdict, Verdict::Accepted);
}

#[test]
fn reading_older_than_the_window_is_rejected() {
    let mut dev = warmed_up(21);
    let r = dev.next(dev.last.unwrap().timestamp_ms + Q, 900);
    let a = dev.submit_at(&dev.sign(r), r.timestamp_ms + 3 * 24 * H);
    assert_eq!(a.verdict, Verdict::Rejected(RejectReason::TooOld));
}

// ---- rules 5 and 6: physics -----------------------------------------------------------

#[test]
fn above_nameplate_is_rejected_but_the_chain_advances() {
    let mut dev = warmed_up(22);
    // 5 kW × 15 min × 1.2 = 1500 Wh (+10 Wh meter tolerance) is the most; claim 3 kWh.
    let r = dev.next(dev.last.unwrap().timestamp_ms + Q, 3_000);
    let a = dev.submit(&dev.sign(r));
    assert_eq!(a.verdict, Verdict::Rejected(RejectReason::AboveNameplate));
    assert!(a.new_head.is_some());
    let r = dev.next(r.timestamp_ms + Q, 900);
    assert_eq!(dev.submit(&dev.sign(r)).verdict, Verdict::Accepted);
}

#[test]
fn production_at_night_is_rejected() {
    let mut dev = Device::berlin(23);
    let midnight = day(2025, 6, 21) - 2 * H; // 00:00 local summer time
    dev.run(midnight - 4 * Q, 3, 0);
    let r = dev.next(midnight, 200);
    assert_eq!(
        dev.submit(&dev.sign(r)).verdict,
        Verdict::Rejected(RejectReason::ProductionAtNight)
    );
    // A few Wh of meter noise at night is tolerated.
    let r = dev.next(midnight + Q, 5);
    assert_eq!(dev.submit(&dev.sign(r)).verdict, Verdict::Accepted);
}

// The night budget: `meter_tolerance_wh` (10 Wh) per night in all, however often a device
// reads. Berlin, 21–22 December 2025: sunset ≈ 14:55 UTC, sunrise ≈ 07:15 UTC.

/// The head's running night total after the last reading that became it.
fn night_spent(dev: &Device) -> u64 {
    dev.ctx.head.map_or(0, |h| h.night_export_wh)
}

#[test]
fn one_minute_readings_at_500_w_are_rejected_once_the_night_budget_is_spent() {
    let mut dev = Device::berlin(27);
    let t0 = day(2025, 12, 21) + 22 * H;
    dev.submit(&dev.sign(dev.next(t0, 0)));
    let mut verdicts = Vec::new();
    let mut accepted_wh = 0;
    for minute in 1..=60u64 {
        // An integer counter at 500 W: 8 or 9 Wh a minute, never above the 10 Wh tolerance,
        // so judged one reading at a time all 60 passed (500 Wh in the hour).
        let counter = 500 * minute / 60;
        let wh = counter - 500 * (minute - 1) / 60;
        let r = dev.next(t0 + minute as i64 * 60_000, wh);
        let a = dev.submit(&dev.sign(r));
        if a.verdict == Verdict::Accepted {
            accepted_wh += wh;
        }
        verdicts.push(a.verdict);
    }
    // The first night reading spends 8 of the 10 Wh; the second (8 more) is the first refused,
    // and so is every one after it: 2 Wh are left and each claims 8 or 9.
    assert_eq!(verdicts[0], Verdict::Accepted);
    assert!(
        verdicts[1..]
            .iter()
            .all(|v| *v == Verdict::Rejected(RejectReason::ProductionAtNight)),
        "{verdicts:?}"
    );
    assert_eq!(accepted_wh, 8);
    assert_eq!(night_spent(&dev), 8);
}

#[test]
fn an_honest_coarse_counter_is_never_rejected_at_night() {
    // A counter that moves in 10 Wh steps: its last step of the evening may land in the first
    // interval that is entirely night (the worst case, put there on purpose); then nothing
    // until morning. Judged from 14:00 UTC, before sunset, to 08:00 UTC the next day.
    let site = Device::berlin(0).ctx.site;
    for (seed, step_ms) in [(28u8, 60_000i64), (29, Q)] {
        let mut dev = Device::berlin(seed);
        let start = day(2025, 12, 21) + 14 * H;
        dev.submit(&dev.sign(dev.next(start, 0)));
        let mut stepped = false;
        let mut t = start;
        while t < day(2025, 12, 22) + 8 * H {
            let end = t + step_ms;
            let night = solar::interval_sun(site, t, end, BoundPlane::SunFacing).night;
            let wh = if night && !stepped {
                stepped = true;
                10
            } else {
                0
            };
            let a = dev.submit(&dev.sign(dev.next(end, wh)));
            assert_eq!(a.verdict, Verdict::Accepted, "{step_ms} ms cadence, {end}");
            if night {
                assert_eq!(night_spent(&dev), 10, "{step_ms} ms cadence, {end}");
            }
            t = end;
        }
        assert!(stepped);
        // The morning's readings had daylight: the next night starts with the whole budget.
        assert_eq!(night_spent(&dev), 0);
    }
}

#[test]
fn the_night_budget_resets_with_daylight() {
    let mut dev = Device::berlin(30);
    let evening = day(2025, 12, 21) + 16 * H;
    dev.submit(&dev.sign(dev.next(evening, 0)));
    let quarter = |dev: &mut Device, wh: u64| {
        let r = dev.next(dev.last.unwrap().timestamp_ms + Q, wh);
        dev.submit(&dev.sign(r)).verdict
    };
    assert_eq!(quarter(&mut dev, 10), Verdict::Accepted);
    assert_eq!(
        quarter(&mut dev, 1),
        Verdict::Rejected(RejectReason::ProductionAtNight)
    );
    // Through the night and the next short winter day, then into the next night (16:15 UTC).
    while dev.last.unwrap().timestamp_ms < day(2025, 12, 22) + 16 * H {
        assert_eq!(quarter(&mut dev, 0), Verdict::Accepted);
    }
    assert_eq!(night_spent(&dev), 0);
    assert_eq!(quarter(&mut dev, 10), Verdict::Accepted);
    assert_eq!(
        quarter(&mut dev, 1),
        Verdict::Rejected(RejectReason::ProductionAtNight)
    );
}

#[test]
fn fifteen_minute_night_readings_keep_their_limit_and_share_one_budget() {
    let mut dev = Device::berlin(31);
    let t = day(2025, 12, 21) + 20 * H;
    dev.submit(&dev.sign(dev.next(t, 0)));
    // As before: more than the tolerance in one quarter is refused, up to it passes, zeros pass.
    let r = dev.next(t + Q, 11);
    assert_eq!(
        dev.submit(&dev.sign(r)).verdict,
        Verdict::Rejected(RejectReason::ProductionAtNight)
    );
    for (i, wh) in [6u64, 0, 0, 4, 0].into_iter().enumerate() {
        let r = dev.next(t + (i as i64 + 2) * Q, wh);
        assert_eq!(dev.submit(&dev.sign(r)).verdict, Verdict::Accepted, "{i}");
    }
    // New: the 6 and 4 Wh quarters spent the night's 10 Wh, so a third small one is refused
    // (one reading at a time it would have passed).
    let r = dev.next(t + 7 * Q, 1);
    assert_eq!(
        dev.submit(&dev.sign(r)).verdict,
        Verdict::Rejected(RejectReason::ProductionAtNight)
    );
    assert_eq!(night_spent(&dev), 10);
}

#[test]
fn a_refused_night_reading_spends_nothing_but_a_flagged_one_does() {
    let t = day(2025, 12, 21) + 22 * H;
    let mut dev = Device::berlin(32);
    dev.submit(&dev.sign(dev.next(t, 0)));
    let minute = |dev: &mut Device, i: i64, wh: u64| {
        let r = dev.next(t + i * 60_000, wh);
        dev.submit(&dev.sign(r)).verdict
    };
    assert_eq!(minute(&mut dev, 1, 8), Verdict::Accepted);
    assert_eq!(
        minute(&mut dev, 2, 8),
        Verdict::Rejected(RejectReason::ProductionAtNight)
    );
    // The refused 8 Wh never counted, so the 2 Wh left are still there.
    assert_eq!(night_spent(&dev), 8);
    assert_eq!(minute(&mut dev, 3, 2), Verdict::Accepted);
    assert_eq!(night_spent(&dev), 10);

    // A device under review: its readings are held, and an operator may release them, so
    // what it exports at night spends the budget like accepted export.
    let mut held = Device::berlin(33);
    held.submit(&held.sign(held.next(t, 0)));
    held.ctx.status = KeyStatus::UnderReview;
    assert_eq!(
        minute(&mut held, 1, 8),
        Verdict::Flagged(vec![FlagReason::DeviceUnderReview])
    );
    assert_eq!(night_spent(&held), 8);
    assert_eq!(
        minute(&mut held, 2, 3),
        Verdict::Rejected(RejectReason::ProductionAtNight)
    );
}

#[test]
fn production_above_clear_sky_is_flagged() {
    // 03:00–03:15 UTC in Berlin in June, a quarter of an hour after sunrise: the sun is 2–4°
    // high and the honest clear-day profile has 3 Wh. 1200 Wh fits under the nameplate bound
    // (1510 Wh) but no panel orientation can collect that much light so soon after sunrise.
    let mut dev = Device::berlin(24);
    let t = day(2025, 6, 21) + 3 * H;
    dev.run(t - 2 * Q, 2, 0);
    let sun = sun::assess_sun(dev.ctx.site, 5_000, t, t + Q, BoundPlane::SunFacing, 1_400);
    assert!(!sun.night && sun.clear_sky_bound_wh < 1_200, "{sun:?}");
    let r = dev.next(t + Q, 1_200);
    assert_eq!(
        dev.submit(&dev.sign(r)).verdict,
        Verdict::Flagged(vec![FlagReason::AboveClearSky])
    );
    // In the afternoon of a winter day (13:45–14:00 UTC, sun ~5° high) too.
    let mut dev = Device::berlin(26);
    let t = day(2025, 12, 21) + 13 * H + 45 * 60_000;
    dev.run(t - 2 * Q, 2, 50);
    let sun = sun::assess_sun(dev.ctx.site, 5_000, t, t + Q, BoundPlane::SunFacing, 1_400);
    assert!(!sun.night && sun.clear_sky_bound_wh < 1_200, "{sun:?}");
    let r = dev.next(t + Q, 1_200);
    assert_eq!(
        dev.submit(&dev.sign(r)).verdict,
        Verdict::Flagged(vec![FlagReason::AboveClearSky])
    );
}

#[test]
fn an_operator_can_release_or_reject_a_flagged_reading() {
    let flagged = Verdict::Flagged(vec![FlagReason::AboveClearSky]);
    assert!(!flagged.counts());
    assert!(resolve(&flagged, OperatorDecision::Release)
        .unwrap()
        .counts());
    assert_eq!(
        resolve(&flagged, OperatorDecision::Reject),
        Ok(Verdict::Rejected(RejectReason::OperatorRejected))
    );
}

// ---- rule 7: neighbours ------------------------------------------------------------------

#[test]
fn neighbourhood_outlier_is_flagged() {
    // Eight Berlin sites in the same 15 minutes near noon, sizes 3–10 kW, yields ≈ 0.2 Wh/W;
    // one reports 0.29 Wh/W — under its own clear-sky bound but far above its neighbours.
    let sizes = [3_000u32, 4_000, 5_000, 6_000, 7_000, 8_000, 10_000, 5_000];
    let yields_milli = [200u64, 205, 198, 210, 195, 202, 207, 290];
    let zone: Vec<PeerYield> = sizes
        .iter()
        .zip(yields_milli)
        .enumerate()
        .map(|(i, (&w, y))| PeerYield {
            device: SigningKey::from_seed(&[40 + i as u8; 32])
                .unwrap()
                .device_id(),
            nameplate_w: w,
            energy_wh: u64::from(w) * y / 1_000,
        })
        .collect();
    let out = neighbourhood_outliers(&zone, &VerifyConfig::default());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].device, zone[7].device);
    let v = Verdict::Accepted.with_flags(&[FlagReason::NeighbourhoodOutlier]);
    assert_eq!(v, Verdict::Flagged(vec![FlagReason::NeighbourhoodOutlier]));
}

#[test]
fn chain_head_tracks_accepted_readings() {
    let dev = warmed_up(25);
    assert_eq!(dev.ctx.head, Some(ChainHead::of(&dev.last.unwrap())));
}
