//! When slots are due for settlement: after delivery has ended and late readings had time to
//! arrive. Pure: `now` is an argument; the platform's interval task calls
//! [`super::Settlement::settle_due`] with the clock's value.

/// Slot timing as settlement sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Delivery slots are `[k·slot_len, (k+1)·slot_len)` in UTC ms.
    pub slot_len_ms: i64,
    /// How long before a slot's start trading closes. Trades are fixed from then on; listed so
    /// the whole timeline is in one place, it does not delay settlement (delivery ends later).
    pub gate_closure_ms: i64,
    /// How long after a slot's delivery ends readings may still arrive and count.
    pub late_reading_ms: i64,
    /// How far back to look for unsettled slots (bounds the work of one tick).
    pub lookback_ms: i64,
    /// How long after a slot's delivery ends it is reconciled: its verified energy is read
    /// again (readings that arrived after it was settled, readings an operator released or
    /// rejected since) and, if that changed, a next-version run posts the corrections. The
    /// default waits out ingest's acceptance window (48 h), after which no reading for the slot
    /// can arrive any more. 0 turns scheduled reconciliation off.
    pub reconcile_after_ms: i64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            slot_len_ms: 15 * 60 * 1000,
            gate_closure_ms: 5 * 60 * 1000,
            late_reading_ms: 30 * 60 * 1000,
            lookback_ms: 2 * 24 * 3600 * 1000,
            reconcile_after_ms: 49 * 3600 * 1000,
        }
    }
}

/// Most slots one call returns (a week of 15-minute slots).
pub const MAX_DUE_SLOTS: usize = 7 * 96;

/// The starts of the slots whose delivery ended and whose late-reading window closed by
/// `now_ms`, within the look-back window, oldest first (at most [`MAX_DUE_SLOTS`], the newest
/// ones). Which of them still need a run is the store's business.
pub fn due_slots(now_ms: i64, config: &ScheduleConfig) -> Vec<i64> {
    let len = config.slot_len_ms;
    if len <= 0 {
        return Vec::new();
    }
    // The last slot with start + len + late ≤ now.
    let Some(latest_end) = now_ms.checked_sub(config.late_reading_ms.max(0)) else {
        return Vec::new();
    };
    let last_start = latest_end.div_euclid(len) * len - len;
    let earliest = now_ms.saturating_sub(config.lookback_ms.max(0));
    let first_start = earliest.div_euclid(len) * len
        + if earliest.rem_euclid(len) == 0 {
            0
        } else {
            len
        };
    let mut slots = Vec::new();
    let mut s = last_start;
    while s >= first_start && slots.len() < MAX_DUE_SLOTS {
        slots.push(s);
        s -= len;
    }
    slots.reverse();
    slots
}

/// The starts of the slots due for their scheduled reconciliation by `now_ms`
/// (`reconcile_after_ms` after their delivery ended), within the look-back window counted
/// back from that horizon, oldest first; none when reconciliation is off.
pub fn reconcile_slots(now_ms: i64, config: &ScheduleConfig) -> Vec<i64> {
    if config.reconcile_after_ms <= 0 {
        return Vec::new();
    }
    let Some(horizon) = now_ms.checked_sub(config.reconcile_after_ms) else {
        return Vec::new();
    };
    // A slot is reconciled at `reconcile_after_ms` past its end, which is `due_slots` with the
    // late window replaced by that wait and the look-back trailing the horizon, not now.
    due_slots(
        now_ms,
        &ScheduleConfig {
            late_reading_ms: config.reconcile_after_ms,
            lookback_ms: config.lookback_ms.saturating_add(now_ms - horizon),
            ..*config
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn config() -> ScheduleConfig {
        ScheduleConfig {
            slot_len_ms: 15 * MIN,
            gate_closure_ms: 5 * MIN,
            late_reading_ms: 30 * MIN,
            lookback_ms: 60 * MIN,
            reconcile_after_ms: 3 * 60 * MIN,
        }
    }

    #[test]
    fn a_slot_is_reconciled_once_the_wait_after_its_end_is_over() {
        let day = 1_780_000_000_000 / (96 * 15 * MIN) * (96 * 15 * MIN);
        let c = config();
        // The slot [day, day + 15 min) ends at day + 15 min; reconciled from 3 h after that.
        let at = day + 15 * MIN + 3 * 60 * MIN;
        assert_eq!(reconcile_slots(at - 1, &c).last(), Some(&(day - 15 * MIN)));
        assert_eq!(reconcile_slots(at, &c).last(), Some(&day));
        // The look-back (60 min) trails the horizon: four slots, the oldest first.
        assert_eq!(
            reconcile_slots(at, &c),
            vec![day - 45 * MIN, day - 30 * MIN, day - 15 * MIN, day]
        );
        let off = ScheduleConfig {
            reconcile_after_ms: 0,
            ..c
        };
        assert!(reconcile_slots(at, &off).is_empty());
        assert!(reconcile_slots(i64::MIN, &c).is_empty());
    }

    #[test]
    fn a_slot_is_due_once_delivery_and_the_late_window_are_over() {
        let day = 1_780_000_000_000 / (96 * 15 * MIN) * (96 * 15 * MIN);
        // Slot [day, day+15m) ends at +15m; late readings until +45m.
        let before = due_slots(day + 45 * MIN - 1, &config());
        assert!(!before.contains(&day), "{before:?}");
        let at = due_slots(day + 45 * MIN, &config());
        assert_eq!(at.last(), Some(&day));
        // The look-back of one hour covers the four slots starting in [now-60m, ...].
        assert_eq!(at, vec![day - 15 * MIN, day]);
        for s in &at {
            assert_eq!(s.rem_euclid(15 * MIN), 0);
            assert!(s + 15 * MIN + 30 * MIN <= day + 45 * MIN);
        }
    }

    #[test]
    fn look_back_and_cap_bound_the_answer() {
        let mut c = config();
        c.lookback_ms = 365 * 24 * 60 * MIN;
        let slots = due_slots(1_780_000_000_000, &c);
        assert_eq!(slots.len(), MAX_DUE_SLOTS);
        assert!(slots.windows(2).all(|w| w[1] - w[0] == 15 * MIN));
        c.slot_len_ms = 0;
        assert!(due_slots(1_780_000_000_000, &c).is_empty());
    }
}
