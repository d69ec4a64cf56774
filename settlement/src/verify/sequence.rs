//! Rule 2: sequence numbers strictly increase per device and each reading's `prev_hash` links
//! to the previous reading. Gaps are recorded, not rejected (a lost reading leaves the counters
//! intact); a second, different reading for a used sequence number is a conflict.

use std::ops::Range;

use reading::{ChainHash, Reading};

use super::context::{gaps, ChainHead};
use super::reasons::RejectReason;

/// How a reading that passed continues its device's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Continuity {
    /// The next sequence number, linked by `prev_hash` (or sequence 1 from genesis).
    Linked,
    /// Sequence numbers were skipped; `prev_hash` refers to a reading we never saw, so the
    /// link cannot be checked.
    Gap(Range<u64>),
}

/// Check `reading` (whose own chain hash is `hash`) against the chain head. `stored` is the
/// chain hash of the stored reading with the same sequence number, if any (see
/// [`DeviceContext::stored_at_sequence`](super::DeviceContext::stored_at_sequence)).
pub fn check_sequence(
    reading: &Reading,
    hash: ChainHash,
    head: Option<&ChainHead>,
    stored: Option<ChainHash>,
) -> Result<Continuity, RejectReason> {
    let seq = reading.sequence;
    let Some(head) = head else {
        return match seq {
            0 => Err(RejectReason::OutOfOrder),
            1 if reading.prev_hash == ChainHash::GENESIS => Ok(Continuity::Linked),
            1 => Err(RejectReason::BrokenChain),
            _ => Ok(Continuity::Gap(gaps(0, seq).unwrap_or(1..seq))),
        };
    };
    if seq <= head.sequence {
        let known = if seq == head.sequence {
            Some(head.chain_hash)
        } else {
            stored
        };
        return Err(match known {
            Some(h) if h == hash => RejectReason::Replayed,
            Some(_) => RejectReason::SequenceConflict,
            None => RejectReason::OutOfOrder,
        });
    }
    // Time must move forward with the sequence, or the counter delta has no interval.
    if reading.timestamp_ms <= head.timestamp_ms {
        return Err(RejectReason::OutOfOrder);
    }
    match gaps(head.sequence, seq) {
        None if reading.prev_hash == head.chain_hash => Ok(Continuity::Linked),
        None => Err(RejectReason::BrokenChain),
        // It claims to follow the head directly while skipping numbers: contradictory.
        Some(_) if reading.prev_hash == head.chain_hash => Err(RejectReason::BrokenChain),
        Some(missing) => Ok(Continuity::Gap(missing)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::test_support::{head_of, key, reading_for};

    fn next(prev: &Reading) -> Reading {
        Reading {
            sequence: prev.sequence + 1,
            timestamp_ms: prev.timestamp_ms + 900_000,
            export_wh: prev.export_wh + 100,
            prev_hash: prev.chain_hash(),
            ..*prev
        }
    }

    #[test]
    fn first_reading_links_to_genesis() {
        let r = reading_for(&key(1), 1);
        assert_eq!(
            check_sequence(&r, r.chain_hash(), None, None),
            Ok(Continuity::Linked)
        );
        let bad = Reading {
            prev_hash: ChainHash::from_bytes([7; 32]),
            ..r
        };
        assert_eq!(
            check_sequence(&bad, bad.chain_hash(), None, None),
            Err(RejectReason::BrokenChain)
        );
        let zero = Reading { sequence: 0, ..r };
        assert_eq!(
            check_sequence(&zero, zero.chain_hash(), None, None),
            Err(RejectReason::OutOfOrder)
        );
    }

    #[test]
    fn first_seen_reading_after_lost_ones_records_the_gap() {
        let r = Reading {
            sequence: 4,
            prev_hash: ChainHash::from_bytes([9; 32]),
            ..reading_for(&key(1), 1)
        };
        assert_eq!(
            check_sequence(&r, r.chain_hash(), None, None),
            Ok(Continuity::Gap(1..4))
        );
    }

    #[test]
    fn next_reading_must_link() {
        let r1 = reading_for(&key(1), 1);
        let head = head_of(&r1);
        let r2 = next(&r1);
        assert_eq!(
            check_sequence(&r2, r2.chain_hash(), Some(&head), None),
            Ok(Continuity::Linked)
        );
        let broken = Reading {
            prev_hash: ChainHash::from_bytes([1; 32]),
            ..r2
        };
        assert_eq!(
            check_sequence(&broken, broken.chain_hash(), Some(&head), None),
            Err(RejectReason::BrokenChain)
        );
    }

    #[test]
    fn gaps_are_recorded_and_contradictory_links_rejected() {
        let r1 = reading_for(&key(1), 1);
        let head = head_of(&r1);
        let r2 = next(&r1);
        let r5 = Reading {
            sequence: 5,
            prev_hash: ChainHash::from_bytes([3; 32]),
            ..next(&next(&next(&r2)))
        };
        assert_eq!(
            check_sequence(&r5, r5.chain_hash(), Some(&head), None),
            Ok(Continuity::Gap(2..5))
        );
        let skipping = Reading { sequence: 5, ..r2 };
        assert_eq!(
            check_sequence(&skipping, skipping.chain_hash(), Some(&head), None),
            Err(RejectReason::BrokenChain)
        );
    }

    #[test]
    fn replay_conflict_and_reorder() {
        let r1 = reading_for(&key(1), 1);
        let r2 = next(&r1);
        let r3 = next(&r2);
        let head = head_of(&r3);
        // The head itself again: replay.
        assert_eq!(
            check_sequence(&r3, r3.chain_hash(), Some(&head), None),
            Err(RejectReason::Replayed)
        );
        // A different reading with the head's sequence: conflict.
        let forked = Reading {
            export_wh: r3.export_wh + 1,
            ..r3
        };
        assert_eq!(
            check_sequence(&forked, forked.chain_hash(), Some(&head), None),
            Err(RejectReason::SequenceConflict)
        );
        // An older sequence the shell has stored: replay or conflict by hash.
        assert_eq!(
            check_sequence(&r2, r2.chain_hash(), Some(&head), Some(r2.chain_hash())),
            Err(RejectReason::Replayed)
        );
        assert_eq!(
            check_sequence(&r2, r2.chain_hash(), Some(&head), Some(r1.chain_hash())),
            Err(RejectReason::SequenceConflict)
        );
        // An older sequence nobody stored (it arrives after a later one): out of order.
        assert_eq!(
            check_sequence(&r2, r2.chain_hash(), Some(&head), None),
            Err(RejectReason::OutOfOrder)
        );
    }

    #[test]
    fn time_must_advance_with_the_sequence() {
        let r1 = reading_for(&key(1), 1);
        let head = head_of(&r1);
        let r2 = Reading {
            timestamp_ms: r1.timestamp_ms,
            ..next(&r1)
        };
        assert_eq!(
            check_sequence(&r2, r2.chain_hash(), Some(&head), None),
            Err(RejectReason::OutOfOrder)
        );
    }
}
