//! Rule 3: cumulative counters never go backwards, and the counter delta measures the interval
//! the reading claims to close.

use reading::Reading;
use serde::{Deserialize, Serialize};

use super::context::ChainHead;
use super::reasons::FlagReason;

/// The energy a reading measures: the counter deltas since the chain head, over
/// `(start_ms, end_ms]` (head timestamp to reading timestamp).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalEnergy {
    pub start_ms: i64,
    pub end_ms: i64,
    pub export_wh: u64,
    pub import_wh: u64,
}

impl IntervalEnergy {
    pub fn elapsed_ms(&self) -> i64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Counter deltas since the head, or `counter_rollback` when either counter went backwards (a
/// meter reset or replacement, or tampering: the interval's energy is unknown, so an operator
/// decides).
pub fn counter_delta(head: &ChainHead, reading: &Reading) -> Result<IntervalEnergy, FlagReason> {
    let export_wh = reading
        .export_wh
        .checked_sub(head.export_wh)
        .ok_or(FlagReason::CounterRollback)?;
    let import_wh = reading
        .import_wh
        .checked_sub(head.import_wh)
        .ok_or(FlagReason::CounterRollback)?;
    Ok(IntervalEnergy {
        start_ms: head.timestamp_ms,
        end_ms: reading.timestamp_ms,
        export_wh,
        import_wh,
    })
}

/// `energy_mismatch` when the reading directly follows the head but the interval it claims
/// (`interval_ms`) differs from the time since the head by more than `skew_ms`: the counter
/// delta then measures a different interval from the one the device says it measured.
pub fn check_interval(head: &ChainHead, reading: &Reading, skew_ms: i64) -> Option<FlagReason> {
    let elapsed = reading.timestamp_ms.saturating_sub(head.timestamp_ms);
    let claimed = i64::from(reading.interval_ms);
    (elapsed.abs_diff(claimed) > skew_ms.unsigned_abs()).then_some(FlagReason::EnergyMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::test_support::{head_of, key, reading_for};

    #[test]
    fn delta_over_the_interval() {
        let r1 = reading_for(&key(1), 1);
        let r2 = Reading {
            sequence: 2,
            timestamp_ms: r1.timestamp_ms + 900_000,
            export_wh: r1.export_wh + 250,
            import_wh: r1.import_wh + 3,
            ..r1
        };
        assert_eq!(
            counter_delta(&head_of(&r1), &r2),
            Ok(IntervalEnergy {
                start_ms: r1.timestamp_ms,
                end_ms: r2.timestamp_ms,
                export_wh: 250,
                import_wh: 3
            })
        );
    }

    #[test]
    fn either_counter_going_backwards_is_a_rollback() {
        let r1 = Reading {
            import_wh: 50,
            ..reading_for(&key(1), 1)
        };
        let head = head_of(&r1);
        let export_back = Reading {
            export_wh: r1.export_wh - 1,
            ..r1
        };
        assert_eq!(
            counter_delta(&head, &export_back),
            Err(FlagReason::CounterRollback)
        );
        let import_back = Reading {
            import_wh: 49,
            export_wh: r1.export_wh + 10,
            ..r1
        };
        assert_eq!(
            counter_delta(&head, &import_back),
            Err(FlagReason::CounterRollback)
        );
        // Unchanged counters are fine (no production).
        assert!(counter_delta(&head, &r1).is_ok());
    }

    #[test]
    fn claimed_interval_must_match_elapsed_time() {
        let r1 = reading_for(&key(1), 1);
        let head = head_of(&r1);
        let ok = Reading {
            timestamp_ms: r1.timestamp_ms + 900_000,
            interval_ms: 900_000,
            ..r1
        };
        assert_eq!(check_interval(&head, &ok, 120_000), None);
        let jittered = Reading {
            timestamp_ms: r1.timestamp_ms + 900_000 + 120_000,
            ..ok
        };
        assert_eq!(check_interval(&head, &jittered, 120_000), None);
        let claims_less = Reading {
            timestamp_ms: r1.timestamp_ms + 3_600_000,
            ..ok
        };
        assert_eq!(
            check_interval(&head, &claims_less, 120_000),
            Some(FlagReason::EnergyMismatch)
        );
    }
}
