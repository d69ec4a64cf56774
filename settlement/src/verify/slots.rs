//! Verified energy per delivery slot. A reading's counter delta covers `(start, end]`, which
//! rarely lines up with the market's slots (15 min, aligned to UTC quarter-hours), so the
//! energy is shared out in proportion to overlap, in whole Wh, with the remainder going to the
//! slots with the largest fractional shares (earlier slot on ties) — the shares always sum to
//! the reading's energy exactly.

use serde::{Deserialize, Serialize};

use crate::error::SettlementError;

/// Most slots one reading may be split over (31 days of 15-minute slots); a longer span is a
/// data problem, not a split problem.
pub const MAX_SLOTS_PER_READING: i64 = 31 * 96;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotEnergy {
    /// Start of the delivery slot, UTC ms (a multiple of the slot length).
    pub slot_start_ms: i64,
    pub wh: u64,
}

/// Split `wh` produced over `[start_ms, end_ms)` across slots of `slot_ms` aligned to the Unix
/// epoch (so 15-minute slots align to UTC quarter-hours). Slots with zero overlap are omitted;
/// slots whose share rounds to 0 Wh are kept (the reading did cover them).
pub fn split_into_slots(
    start_ms: i64,
    end_ms: i64,
    wh: u64,
    slot_ms: i64,
) -> Result<Vec<SlotEnergy>, SettlementError> {
    if slot_ms <= 0 {
        return Err(SettlementError::InvalidConfig("slot length must be > 0 ms"));
    }
    if end_ms <= start_ms {
        return Err(SettlementError::EmptyInterval { start_ms, end_ms });
    }
    let first = start_ms.div_euclid(slot_ms);
    let last = (end_ms - 1).div_euclid(slot_ms);
    if last - first >= MAX_SLOTS_PER_READING {
        return Err(SettlementError::IntervalTooLong {
            slots: last - first + 1,
            max: MAX_SLOTS_PER_READING,
        });
    }
    let total = i128::from(end_ms) - i128::from(start_ms);
    let mut out = Vec::new();
    let mut remainders = Vec::new();
    let mut given: u128 = 0;
    for k in first..=last {
        let s0 = i128::from(k) * i128::from(slot_ms);
        let s1 = s0 + i128::from(slot_ms);
        let overlap = s1.min(i128::from(end_ms)) - s0.max(i128::from(start_ms));
        let share = u128::from(wh) * overlap as u128;
        let whole = share / total as u128;
        given += whole;
        remainders.push((share % total as u128, out.len()));
        out.push(SlotEnergy {
            slot_start_ms: i64::try_from(s0).unwrap_or(i64::MIN),
            wh: u64::try_from(whole).unwrap_or(u64::MAX),
        });
    }
    // Largest remainder first; the sort is stable, so ties keep the earlier slot first.
    remainders.sort_by_key(|r| std::cmp::Reverse(r.0));
    let left = u128::from(wh) - given; // < number of slots
    for &(_, idx) in remainders
        .iter()
        .take(usize::try_from(left).unwrap_or(usize::MAX))
    {
        out[idx].wh += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const Q: i64 = 900_000;

    #[test]
    fn aligned_interval_is_one_slot() {
        let got = split_into_slots(4 * Q, 5 * Q, 1_234, Q).unwrap();
        assert_eq!(
            got,
            vec![SlotEnergy {
                slot_start_ms: 4 * Q,
                wh: 1_234
            }]
        );
    }

    #[test]
    fn straddling_interval_is_shared_by_overlap() {
        // 10 minutes in slot 0, 5 minutes in slot 1: 2/3 and 1/3 of 100 Wh = 66.67 / 33.33.
        let got = split_into_slots(5 * 60_000, 20 * 60_000, 100, Q).unwrap();
        assert_eq!(got[0].wh, 67);
        assert_eq!(got[1].wh, 33);
        assert_eq!(got[1].slot_start_ms, Q);
    }

    #[test]
    fn rejects_bad_inputs_with_reasons() {
        assert!(matches!(
            split_into_slots(0, Q, 1, 0),
            Err(SettlementError::InvalidConfig(_))
        ));
        assert!(matches!(
            split_into_slots(Q, Q, 1, Q),
            Err(SettlementError::EmptyInterval { .. })
        ));
        assert!(matches!(
            split_into_slots(0, 40 * 86_400_000, 1, Q),
            Err(SettlementError::IntervalTooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn shares_sum_to_the_energy_and_stay_proportional(
            start in -10_000_000_000i64..10_000_000_000,
            len in 1i64..(3 * 86_400_000),
            wh in 0u64..10_000_000,
        ) {
            let got = split_into_slots(start, start + len, wh, Q).unwrap();
            prop_assert_eq!(got.iter().map(|s| s.wh).sum::<u64>(), wh);
            for s in &got {
                prop_assert_eq!(s.slot_start_ms.rem_euclid(Q), 0);
                let overlap = (s.slot_start_ms + Q).min(start + len) - s.slot_start_ms.max(start);
                prop_assert!(overlap > 0);
                let exact = wh as f64 * overlap as f64 / len as f64;
                prop_assert!((s.wh as f64 - exact).abs() < 1.0 + 1e-6);
            }
        }
    }
}
