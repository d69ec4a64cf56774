//! The ingest pipeline (decode → verify → store) on both backends: honest chains, the corpus of
//! bad readings end to end through storage, idempotency, operator review and concurrency.

#[path = "support/readings.rs"]
mod chains;
mod common;

use chains::{Chain, DAWN, FIVE_MIN, MIDNIGHT, NOON};
use common::{new_device, on_each_backend, race, TestDb};
use platform::ingest::service::{
    decode_json_batch, decode_payload, decode_wire_batch, BatchError, Item,
};
use platform::ingest::{Decision, Incoming, IngestConfig, IngestService, ReceiptStatus};
use platform::store::readings::{self, ReadingPage};
use platform::PlatformError;
use reading::{ChainHash, SignedReading, SigningKey};
use settlement::verify::{FlagReason, OperatorDecision, RejectReason, Verdict};

const QUARTER: i64 = 900_000;

fn service(db: &TestDb, seeds: &[u8]) -> IngestService {
    let store = db.store();
    for &seed in seeds {
        store
            .register_device_creating_owner(&new_device(seed, "alice"), NOON - 86_400_000)
            .unwrap();
    }
    IngestService::new(store, IngestConfig::default()).unwrap()
}

fn now_after(readings: &[SignedReading]) -> i64 {
    readings
        .iter()
        .map(|r| r.reading.timestamp_ms)
        .max()
        .unwrap()
        + 1_000
}

fn ingest(svc: &IngestService, readings: &[SignedReading], now: i64) -> Vec<Decision> {
    let batch: Vec<Incoming> = readings.iter().cloned().map(Incoming::now).collect();
    svc.ingest(&batch, now).unwrap()
}

fn page() -> ReadingPage {
    ReadingPage {
        after_sequence: 0,
        limit: 10_000,
    }
}

fn total_export(svc: &IngestService, chain: &Chain) -> i64 {
    svc.store()
        .verified_energy(&chain.key.device_id(), 0, i64::MAX)
        .unwrap()
        .iter()
        .map(|s| s.export_wh)
        .sum()
}

fn honest_chain_is_accepted_and_booked_per_slot(db: &TestDb) {
    let svc = service(db, &[1]);
    let mut chain = Chain::new(1, NOON);
    let readings = chain.honest(12);
    let decisions = ingest(&svc, &readings, now_after(&readings));
    assert!(
        decisions.iter().all(|d| *d == Decision::Accepted),
        "{decisions:?}"
    );
    let id = chain.key.device_id();
    let stored = svc.store().device_readings(&id, page()).unwrap();
    assert_eq!(stored.len(), 12);
    assert!(stored.iter().all(|r| r.reading.verdict == "accepted"));
    // The first reading only sets the counters: 11 × 100 Wh over 55 minutes from 11:05.
    assert!(stored[0].energy.is_none());
    let slots = svc.store().verified_energy(&id, 0, i64::MAX).unwrap();
    assert_eq!(slots.iter().map(|s| s.export_wh).sum::<i64>(), 1_100);
    assert!(slots.iter().all(|s| s.slot_start_ms % QUARTER == 0));
    // 11:05–11:15 is 2 readings, 11:15–11:30 and 11:30–11:45 are 3 each, 11:45–12:00 is 3.
    let per_slot: Vec<(i64, i64)> = slots
        .iter()
        .map(|s| ((s.slot_start_ms - NOON) / 60_000, s.export_wh))
        .collect();
    assert_eq!(per_slot, vec![(0, 200), (15, 300), (30, 300), (45, 300)]);
    assert!(svc.store().reading_gaps(&id).unwrap().is_empty());
}

fn redelivery_is_idempotent(db: &TestDb) {
    let svc = service(db, &[1]);
    let mut chain = Chain::new(1, NOON);
    let readings = chain.honest(6);
    let now = now_after(&readings);
    ingest(&svc, &readings, now);
    // The whole batch again, and a batch that repeats readings within itself.
    let again = ingest(&svc, &readings, now + 5_000);
    assert!(again
        .iter()
        .all(|d| *d == Decision::Duplicate(Verdict::Accepted)));
    let mut doubled = chain.honest(2);
    doubled.extend(doubled.clone());
    let d = ingest(&svc, &doubled, now_after(&doubled));
    assert_eq!(
        d,
        vec![
            Decision::Accepted,
            Decision::Accepted,
            Decision::Duplicate(Verdict::Accepted),
            Decision::Duplicate(Verdict::Accepted)
        ]
    );
    let id = chain.key.device_id();
    assert_eq!(svc.store().device_readings(&id, page()).unwrap().len(), 8);
    assert_eq!(total_export(&svc, &chain), 700);
}

/// Every bad reading of the corpus, each answered with its reason and none counted.
fn bad_readings_are_answered_with_their_reason_and_never_counted(db: &TestDb) {
    let svc = service(db, &[1, 2, 3, 4, 5]);
    let store = svc.store().clone();
    let mut chain = Chain::new(1, NOON);
    let base = chain.honest(3);
    let now = now_after(&base) + 60 * 60 * 1000;
    ingest(&svc, &base, now);
    let booked = total_export(&svc, &chain);
    let id = chain.key.device_id();

    let expect = |r: SignedReading, want: Decision| {
        let got = ingest(&svc, std::slice::from_ref(&r), now);
        assert_eq!(got, vec![want], "sequence {}", r.reading.sequence);
    };

    // Forged signature: one bit of the signature flipped.
    let mut forged = chain.peek(FIVE_MIN, 100);
    forged.signature[10] ^= 1;
    expect(forged, Decision::Rejected(RejectReason::BadSignature));
    // Bytes altered after signing (more energy than was signed).
    let mut altered = chain.peek(FIVE_MIN, 100);
    altered.reading.export_wh += 1_000;
    expect(altered, Decision::Rejected(RejectReason::BadSignature));
    // Wrong key: device 1's reading signed by device 2's key.
    let wrong = SignedReading::sign(
        chain.peek(FIVE_MIN, 100).reading,
        &SigningKey::from_seed(&[2; 32]).unwrap(),
    );
    expect(wrong, Decision::Rejected(RejectReason::BadSignature));
    // Unknown device.
    let mut stranger = Chain::new(99, NOON);
    expect(
        stranger.next(FIVE_MIN, 1),
        Decision::Rejected(RejectReason::UnknownDevice),
    );
    // Far-future timestamp.
    let future = chain.peek(2 * 60 * 60 * 1000, 100);
    expect(future, Decision::Rejected(RejectReason::FutureTimestamp));
    // Reordered: 5 arrives before 4 (a gap is recorded), then 4 is out of order.
    let four = chain.peek(FIVE_MIN, 100);
    chain.advance(&four);
    let five = chain.next(FIVE_MIN, 100);
    expect(five, Decision::Accepted);
    expect(four, Decision::Rejected(RejectReason::OutOfOrder));
    let gaps = store.reading_gaps(&id).unwrap();
    assert_eq!((gaps[0].from_seq, gaps[0].to_seq), (4, 4));
    // Replayed: an old reading again is answered as the duplicate it is, never stored twice.
    expect(base[1].clone(), Decision::Duplicate(Verdict::Accepted));
    // Counter rollback: flagged, no energy.
    let mut rollback = chain.peek(FIVE_MIN, 0).reading;
    rollback.export_wh -= 500;
    let rollback = chain.sign(rollback);
    chain.advance(&rollback);
    expect(
        rollback,
        Decision::Flagged(vec![FlagReason::CounterRollback]),
    );
    // Production above the nameplate (4,600 W for 5 minutes is 383 Wh).
    let too_much = chain.next(FIVE_MIN, 5_000);
    expect(too_much, Decision::Rejected(RejectReason::AboveNameplate));
    // Sequence conflict: a different reading with a used sequence; the device goes under review.
    let mut conflict = base[2].reading;
    conflict.power_w += 1;
    expect(
        chain.sign(conflict),
        Decision::Rejected(RejectReason::SequenceConflict),
    );
    assert_eq!(
        store.device_review(&id).unwrap().as_deref(),
        Some("sequence_conflict")
    );
    expect(
        chain.next(FIVE_MIN, 100),
        Decision::Flagged(vec![FlagReason::DeviceUnderReview]),
    );
    store.clear_device_review(&id, now).unwrap();
    assert!(matches!(
        store.clear_device_review(&id, now),
        Err(PlatformError::DeviceNotUnderReview { .. })
    ));
    expect(chain.next(FIVE_MIN, 100), Decision::Accepted);
    // Broken chain: the next sequence with a prev_hash that is not the head's.
    let mut broken = chain.peek(FIVE_MIN, 100).reading;
    broken.prev_hash = ChainHash::from_bytes([7; 32]);
    expect(
        chain.sign(broken),
        Decision::Rejected(RejectReason::BrokenChain),
    );
    assert!(store.device_review(&id).unwrap().is_some());
    // Only the honest readings' energy was booked: 5 (after 3) and the one after review.
    assert_eq!(total_export(&svc, &chain), booked + 200 + 100);

    // Production at night (device 3): rejected, but the chain moves on.
    let mut night = Chain::new(3, MIDNIGHT);
    let first = night.next(FIVE_MIN, 0);
    let at_night = night.next(15 * 60 * 1000, 300);
    let after = night.next(15 * 60 * 1000, 0);
    let d = ingest(&svc, &[first, at_night, after], night.timestamp_ms + 1_000);
    assert_eq!(
        d,
        vec![
            Decision::Accepted,
            Decision::Rejected(RejectReason::ProductionAtNight),
            Decision::Accepted
        ]
    );
    assert_eq!(total_export(&svc, &night), 0);
    // Above clear sky (device 4): at dawn, far below the nameplate bound, far above the sun.
    let mut dawn = Chain::new(4, DAWN);
    let first = dawn.next(FIVE_MIN, 0);
    let bright = dawn.next(15 * 60 * 1000, 1_000);
    let d = ingest(&svc, &[first, bright], dawn.timestamp_ms + 1_000);
    assert_eq!(
        d[1],
        Decision::Flagged(vec![FlagReason::AboveClearSky]),
        "{d:?}"
    );
    assert_eq!(total_export(&svc, &dawn), 0);
    // Revoked device (device 5): its authentic readings are refused.
    let mut revoked = Chain::new(5, NOON);
    store.revoke_device(&revoked.key.device_id(), NOON).unwrap();
    let r = revoked.next(FIVE_MIN, 0);
    expect(r, Decision::Rejected(RejectReason::RevokedDevice));
    assert_eq!(total_export(&svc, &revoked), 0);

    // The authentic rejections that could not join a chain are logged; forgeries are not.
    let logged: Vec<String> = store
        .rejected_log(&id)
        .unwrap()
        .into_iter()
        .map(|(_, reason)| reason)
        .collect();
    assert_eq!(
        logged,
        [
            "future_timestamp",
            "out_of_order",
            "sequence_conflict",
            "broken_chain"
        ]
    );
}

fn operator_releases_or_rejects_flagged_readings(db: &TestDb) {
    let svc = service(db, &[4]);
    let store = svc.store().clone();
    let mut dawn = Chain::new(4, DAWN);
    let first = dawn.next(FIVE_MIN, 0);
    let a = dawn.next(15 * 60 * 1000, 1_000);
    let b = dawn.next(15 * 60 * 1000, 1_000);
    let d = ingest(&svc, &[first, a.clone(), b], dawn.timestamp_ms + 1_000);
    assert!(matches!(d[1], Decision::Flagged(_)) && matches!(d[2], Decision::Flagged(_)));
    let id = dawn.key.device_id();
    assert_eq!(store.flagged_readings(100).unwrap().len(), 2);
    assert_eq!(total_export(&svc, &dawn), 0);
    let slot = IngestConfig::default().slot_ms;

    let released = store
        .decide_flagged(&id, 2, OperatorDecision::Release, "operator", slot, NOON)
        .unwrap();
    assert_eq!(released.reading.verdict, "accepted");
    assert_eq!(total_export(&svc, &dawn), 1_000);
    let rejected = store
        .decide_flagged(&id, 3, OperatorDecision::Reject, "operator", slot, NOON)
        .unwrap();
    assert_eq!(rejected.reading.verdict, "rejected");
    assert_eq!(
        rejected.reading.reason_codes(),
        ["operator_rejected", "above_clear_sky"]
    );
    assert_eq!(total_export(&svc, &dawn), 1_000);
    assert!(store.flagged_readings(100).unwrap().is_empty());
    // Decisions are final, and only flagged readings can be decided.
    assert!(matches!(
        store.decide_flagged(&id, 2, OperatorDecision::Reject, "operator", slot, NOON),
        Err(PlatformError::NotFlagged { .. })
    ));
    assert!(matches!(
        store.decide_flagged(&id, 9, OperatorDecision::Release, "operator", slot, NOON),
        Err(PlatformError::ReadingNotFound { .. })
    ));
    // A resent flagged-then-released reading is a duplicate with its current verdict.
    let again = ingest(&svc, &[a], NOON);
    assert_eq!(again, vec![Decision::Duplicate(Verdict::Accepted)]);
}

fn held_gaps_wait_for_their_predecessor(db: &TestDb) {
    let svc = service(db, &[1]);
    let mut chain = Chain::new(1, NOON);
    let r = chain.honest(3);
    let now = now_after(&r);
    let held = |s: &SignedReading, until| Incoming {
        signed: s.clone(),
        hold_gap_until_ms: Some(until),
    };
    // 3 and 2 arrive before 1: held while the hold lasts, nothing written.
    let d = svc
        .ingest(&[held(&r[2], now + 1), held(&r[1], now + 1)], now)
        .unwrap();
    assert_eq!(d, vec![Decision::Deferred, Decision::Deferred]);
    let id = chain.key.device_id();
    assert!(svc.store().device_readings(&id, page()).unwrap().is_empty());
    // In one batch with 1 they are decided in sequence order, whatever the batch order.
    let d = svc
        .ingest(
            &[
                held(&r[2], now + 1),
                held(&r[0], now + 1),
                held(&r[1], now + 1),
            ],
            now,
        )
        .unwrap();
    assert_eq!(d, vec![Decision::Accepted; 3]);
    // Once the hold has expired a gap is recorded.
    let mut later = chain.honest(2);
    let last = later.pop().unwrap();
    let d = svc
        .ingest(&[held(&last, now)], now_after(std::slice::from_ref(&last)))
        .unwrap();
    assert_eq!(d, vec![Decision::Accepted]);
    assert_eq!(svc.store().reading_gaps(&id).unwrap().len(), 1);
}

/// Several writers (threads with their own connections, as two instances would be) ingest
/// overlapping, interleaved batches of the same devices: every reading is stored once.
fn concurrent_writers_store_each_reading_once(db: &TestDb) {
    let seeds: Vec<u8> = (10..14).collect();
    let svc = service(db, &seeds);
    let chains: Vec<Vec<SignedReading>> = seeds
        .iter()
        .map(|&s| Chain::new(s, NOON).honest(40))
        .collect();
    let now = NOON + 41 * FIVE_MIN;
    let all: Vec<SignedReading> = (0..40)
        .flat_map(|i| chains.iter().map(move |c| c[i].clone()))
        .collect();
    let svc2 = svc.clone();
    let outcomes = race(3, move |t| {
        let mut accepted = 0;
        // Each writer sends everything in batches of 16, starting at a different offset.
        let mut pending: Vec<SignedReading> = all.clone();
        pending.rotate_left(t * 16);
        let mut rounds = 0;
        while !pending.is_empty() && rounds < 1_000 {
            rounds += 1;
            let take: Vec<SignedReading> = pending.drain(..pending.len().min(16)).collect();
            let batch: Vec<Incoming> = take
                .iter()
                .map(|s| Incoming {
                    signed: s.clone(),
                    hold_gap_until_ms: Some(i64::MAX),
                })
                .collect();
            let decisions = svc2.ingest(&batch, now).unwrap();
            for (s, d) in take.into_iter().zip(decisions) {
                match d {
                    Decision::Accepted => accepted += 1,
                    Decision::Duplicate(Verdict::Accepted) => {}
                    Decision::Deferred => pending.push(s),
                    other => panic!("writer {t}: {other:?}"),
                }
            }
        }
        accepted
    });
    assert_eq!(outcomes.iter().sum::<usize>(), 4 * 40, "{outcomes:?}");
    for c in &chains {
        let id = c[0].reading.device_id;
        let stored = svc.store().device_readings(&id, page()).unwrap();
        assert_eq!(stored.len(), 40);
        assert!(stored.iter().all(|r| r.reading.verdict == "accepted"));
        assert!(svc.store().reading_gaps(&id).unwrap().is_empty());
    }
    assert_eq!(svc.store().reading_counts().unwrap()["accepted"], 160);
}

/// Rule 7 over stored verified energy: one of seven neighbours yields far more in a slot.
fn neighbourhood_outlier_is_flagged_and_unbooked_until_released(db: &TestDb) {
    let seeds: Vec<u8> = (20..27).collect();
    let svc = service(db, &seeds);
    let store = svc.store().clone();
    let quarter = 15 * 60 * 1000;
    for &seed in &seeds {
        let mut c = Chain::new(seed, NOON - FIVE_MIN);
        // Honest neighbours 600–630 Wh in the 11:00–11:15 slot; device 26 claims 1,100 Wh
        // (under its nameplate bound and the clear sky, so rules 5 and 6 pass it).
        let wh = if seed == 26 {
            1_100
        } else {
            600 + 5 * u64::from(seed - 20)
        };
        let r = [c.next(FIVE_MIN, 0), c.next(quarter, wh)];
        let d = ingest(&svc, &r, NOON + quarter + 1_000);
        assert_eq!(d, vec![Decision::Accepted; 2], "device {seed}");
    }
    let cfg = IngestConfig::default();
    let outliers = store
        .flag_neighbourhood_outliers("DE-BER-1", NOON, &cfg.verify, cfg.slot_ms)
        .unwrap();
    let odd = Chain::new(26, NOON).key.device_id();
    assert_eq!(outliers.len(), 1, "{outliers:?}");
    assert_eq!(outliers[0].device, odd);
    assert_eq!(outliers[0].direction, settlement::verify::Direction::High);
    let flagged = store.flagged_readings(10).unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].reading.reason_codes(), ["neighbourhood_outlier"]);
    let booked = |id| {
        store
            .verified_energy(&id, 0, i64::MAX)
            .unwrap()
            .iter()
            .map(|s| s.export_wh)
            .sum::<i64>()
    };
    assert_eq!(booked(odd), 0);
    assert_eq!(booked(Chain::new(20, NOON).key.device_id()), 600);
    store
        .decide_flagged(
            &odd,
            2,
            OperatorDecision::Release,
            "operator",
            cfg.slot_ms,
            NOON,
        )
        .unwrap();
    assert_eq!(booked(odd), 1_100);
}

/// Rule 6's night budget (`meter_tolerance_wh`, 10 Wh, per night) is carried in the device's
/// head in the store, so a restart (a new store and service on the same database) continues
/// the night where it was instead of handing the device a fresh budget.
fn night_budget_survives_a_restart(db: &TestDb) {
    let minute = 60_000;
    let mut night = Chain::new(6, MIDNIGHT);
    {
        let svc = service(db, &[6]);
        let first = night.next(minute, 0);
        let spend = night.next(minute, 8);
        let d = ingest(&svc, &[first, spend], night.timestamp_ms + 1_000);
        assert_eq!(d, vec![Decision::Accepted; 2]);
    }

    let store = db.store();
    let id = night.key.device_id();
    let mut conn = store.connection().unwrap();
    let head = readings::load_device(&mut conn, &id)
        .unwrap()
        .and_then(|loaded| loaded.context.head)
        .unwrap();
    assert_eq!(head.night_export_wh, 8);
    drop(conn);

    let svc = IngestService::new(store, IngestConfig::default()).unwrap();
    // One reading per batch, so each one's head comes from the store.
    let mut one = |wh: u64| {
        let r = night.next(minute, wh);
        ingest(&svc, &[r], night.timestamp_ms + 1_000).remove(0)
    };
    // 8 more would make 16 Wh tonight: refused. The 2 Wh left still fit; then nothing does.
    assert_eq!(one(8), Decision::Rejected(RejectReason::ProductionAtNight));
    assert_eq!(one(2), Decision::Accepted);
    assert_eq!(one(1), Decision::Rejected(RejectReason::ProductionAtNight));
    assert_eq!(one(0), Decision::Accepted);
    assert_eq!(total_export(&svc, &night), 10);
}

on_each_backend!(
    neighbourhood_outlier_is_flagged_and_unbooked_until_released,
    honest_chain_is_accepted_and_booked_per_slot,
    redelivery_is_idempotent,
    bad_readings_are_answered_with_their_reason_and_never_counted,
    operator_releases_or_rejects_flagged_readings,
    held_gaps_wait_for_their_predecessor,
    concurrent_writers_store_each_reading_once,
    night_budget_survives_a_restart,
);

// ---- decoding (no database) --------------------------------------------------------------

#[test]
fn malformed_truncated_and_huge_batches_are_refused_whole() {
    assert!(matches!(
        decode_json_batch(b"{\"readings\":[{"),
        Err(BatchError::MalformedJson(_))
    ));
    assert!(matches!(
        decode_json_batch(b"[1,2]"),
        Err(BatchError::MalformedJson(_))
    ));
    let mut chain = Chain::new(1, NOON);
    let r = chain.next(FIVE_MIN, 1);
    let wire = r.to_wire();
    assert!(matches!(
        decode_wire_batch(&wire[..wire.len() - 3]),
        Err(BatchError::Truncated(_))
    ));
    assert!(decode_payload(&wire[..100]).is_none());
    assert_eq!(decode_payload(&wire), Some(r.clone()));
    assert_eq!(decode_payload(r.to_json().as_bytes()), Some(r.clone()));
    let many: Vec<String> = (0..1_001).map(|_| r.to_json()).collect();
    let body = format!("{{\"readings\":[{}]}}", many.join(","));
    assert!(matches!(
        decode_json_batch(body.as_bytes()),
        Err(BatchError::TooManyReadings(1_001))
    ));
    let huge = vec![b' '; 2 << 20];
    assert!(matches!(
        decode_json_batch(&huge),
        Err(BatchError::BodyTooLarge(_))
    ));
}

#[test]
fn a_malformed_item_is_rejected_alone() {
    let mut chain = Chain::new(1, NOON);
    let good = chain.next(FIVE_MIN, 1);
    let body = format!(
        "{{\"readings\":[{},{{\"device_id\":\"ab\",\"sequence\":7}}]}}",
        good.to_json()
    );
    let items = decode_json_batch(body.as_bytes()).unwrap();
    assert!(matches!(items[0], Item::Reading(_)));
    assert!(matches!(
        &items[1],
        Item::Malformed {
            sequence: Some(7),
            ..
        }
    ));
    let db = TestDb::sqlite();
    let svc = service(&db, &[1]);
    let results = svc.ingest_items(&items, good.reading.timestamp_ms).unwrap();
    assert_eq!(results[0].status, ReceiptStatus::Accepted);
    assert_eq!(results[1].status, ReceiptStatus::Rejected);
    assert_eq!(results[1].reasons, ["malformed"]);
    assert_eq!(results[1].reason.as_deref(), Some("malformed"));
}
