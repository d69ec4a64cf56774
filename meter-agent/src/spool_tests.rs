use super::*;
use crate::signer::{next_reading, Values};
use proptest::prelude::*;
use reading::{DeviceStatus, SigningKey};

fn key() -> SigningKey {
    SigningKey::from_seed(&[3; 32]).unwrap()
}

fn take(spool: &mut Spool, key: &SigningKey, n: u64) -> Vec<SignedReading> {
    (0..n)
        .map(|i| {
            let v = Values {
                export_wh: 1000 + i,
                import_wh: 0,
                power_w: 1,
                status: DeviceStatus::Ok,
            };
            let r = next_reading(
                key,
                &spool.tip(),
                1_000 * (spool.tip().sequence as i64 + 1),
                v,
            );
            spool.append(&r).unwrap();
            r
        })
        .collect()
}

fn small() -> SpoolLimits {
    SpoolLimits {
        max_bytes: 100 * RECORD as u64,
        segment_bytes: 10 * RECORD as u64,
    }
}

#[test]
fn survives_reopen_and_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let mut s = Spool::open(dir.path(), small()).unwrap();
    let first = take(&mut s, &k, 25);
    drop(s);
    let mut s = Spool::open(dir.path(), small()).unwrap();
    assert_eq!(s.tip().sequence, 25);
    assert_eq!(s.tip().hash, first[24].chain_hash());
    assert_eq!(s.pending(100).unwrap(), first);
    let more = take(&mut s, &k, 1);
    assert_eq!(more[0].reading.sequence, 26);
    assert_eq!(more[0].reading.prev_hash, first[24].chain_hash());
}

#[test]
fn ack_removes_segments_and_keeps_the_tip() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let mut s = Spool::open(dir.path(), small()).unwrap();
    let rs = take(&mut s, &k, 35);
    assert_eq!(s.segments.len(), 4);
    s.ack_through(22, rs[21].chain_hash()).unwrap();
    assert_eq!(s.segments.len(), 2, "segments 1-10 and 11-20 are gone");
    assert_eq!(
        s.pending(5).unwrap(),
        rs[22..27].to_vec(),
        "oldest first, in batches"
    );
    s.ack_through(35, rs[34].chain_hash()).unwrap();
    assert!(s.pending(5).unwrap().is_empty());
    drop(s);
    // everything acked: the tip still comes back from the spool
    let mut s = Spool::open(dir.path(), small()).unwrap();
    assert_eq!((s.tip().sequence, s.acked()), (35, 35));
    assert_eq!(take(&mut s, &k, 1)[0].reading.sequence, 36);
    assert!(
        s.ack_through(99, rs[0].chain_hash()).is_err(),
        "ack beyond the tip"
    );
}

#[test]
fn torn_tail_is_dropped_and_sequence_continues() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let mut s = Spool::open(dir.path(), small()).unwrap();
    let rs = take(&mut s, &k, 5);
    let seg = s.segments[0].path.clone();
    drop(s);
    // a half-written sixth record
    let partial = &frame(&rs[0])[..50];
    OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(partial)
        .unwrap();
    let mut s = Spool::open(dir.path(), small()).unwrap();
    assert_eq!(s.tip().sequence, 5);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), 5 * RECORD as u64);
    assert_eq!(take(&mut s, &k, 1)[0].reading.sequence, 6);
    assert_eq!(s.pending(10).unwrap().len(), 6);
}

#[test]
fn corrupt_byte_in_last_record_is_detected_by_crc() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let mut s = Spool::open(dir.path(), small()).unwrap();
    take(&mut s, &k, 3);
    let seg = s.segments[0].path.clone();
    drop(s);
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xFF;
    std::fs::write(&seg, bytes).unwrap();
    let s = Spool::open(dir.path(), small()).unwrap();
    assert_eq!(s.tip().sequence, 2);
}

#[test]
fn bound_refuses_new_readings_instead_of_dropping_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let limits = SpoolLimits {
        max_bytes: 12 * RECORD as u64,
        segment_bytes: 4 * RECORD as u64,
    };
    let mut s = Spool::open(dir.path(), limits).unwrap();
    let rs = take(&mut s, &k, 12);
    let v = Values {
        export_wh: 1,
        import_wh: 0,
        power_w: 0,
        status: DeviceStatus::Ok,
    };
    let r = next_reading(&k, &s.tip(), 99_000, v);
    assert!(matches!(s.append(&r), Err(AgentError::SpoolFull { .. })));
    assert_eq!(s.pending(100).unwrap(), rs, "nothing was dropped");
    s.ack_through(4, rs[3].chain_hash()).unwrap();
    s.append(&r).unwrap();
}

#[test]
fn a_reading_that_does_not_continue_the_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let mut s = Spool::open(dir.path(), small()).unwrap();
    let rs = take(&mut s, &k, 2);
    assert!(s.append(&rs[0]).is_err());
}

#[test]
fn segments_sort_numerically() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let limits = SpoolLimits {
        max_bytes: 1000 * RECORD as u64,
        segment_bytes: RECORD as u64,
    };
    let mut s = Spool::open(dir.path(), limits).unwrap();
    let rs = take(&mut s, &k, 12); // seg-…9 and seg-…10 must not swap
    drop(s);
    let s = Spool::open(dir.path(), limits).unwrap();
    assert_eq!(s.pending(100).unwrap(), rs);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Cutting the log at any byte (a crash mid-write) loses at most the record being written
    /// and always leaves a spool whose chain continues.
    #[test]
    fn any_truncation_recovers_a_prefix(n in 1u64..12, cut_back in 0usize..(RECORD * 2)) {
        let dir = tempfile::tempdir().unwrap();
        let k = key();
        let limits = SpoolLimits { max_bytes: 1000 * RECORD as u64, segment_bytes: 1000 * RECORD as u64 };
        let mut s = Spool::open(dir.path(), limits).unwrap();
        let rs = take(&mut s, &k, n);
        let seg = s.segments[0].path.clone();
        drop(s);
        let len = std::fs::metadata(&seg).unwrap().len() as usize;
        let new_len = len.saturating_sub(cut_back);
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(new_len as u64).unwrap();
        let mut s = Spool::open(dir.path(), limits).unwrap();
        let kept = (new_len / RECORD) as u64;
        prop_assert_eq!(s.tip().sequence, kept);
        prop_assert_eq!(s.pending(100).unwrap(), rs[..kept as usize].to_vec());
        let next = take(&mut s, &k, 1);
        prop_assert_eq!(next[0].reading.sequence, kept + 1);
    }
}

#[test]
fn an_empty_new_segment_never_costs_the_tip() {
    // crash right after a rotation created the next segment file, before its first record
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let mut s = Spool::open(dir.path(), small()).unwrap();
    let rs = take(&mut s, &k, 10);
    s.ack_through(10, rs[9].chain_hash()).unwrap();
    drop(s);
    std::fs::File::create(dir.path().join(segment_name(11))).unwrap();
    drop(Spool::open(dir.path(), small()).unwrap());
    let mut s = Spool::open(dir.path(), small()).unwrap();
    assert_eq!(
        s.tip(),
        ChainTip::of(&rs[9]),
        "time and counters come back, not just the hash"
    );
    assert_eq!(take(&mut s, &k, 1)[0].reading.sequence, 11);
}
