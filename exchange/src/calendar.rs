//! The market calendar: which delivery slots can be traded at a given instant.
//!
//! A slot opens `horizon_ms` before delivery starts and closes at gate closure,
//! `gate_lead_ms` before delivery starts. Slots are aligned to multiples of the slot length since
//! the Unix epoch, which for 15 minutes means UTC quarter-hours.

use serde::{Deserialize, Serialize};

use crate::error::ExchangeError;
use crate::order::SlotId;

/// Default slot length: 15 minutes.
pub const QUARTER_HOUR_MS: i64 = 15 * 60 * 1000;

/// Bound on how many slots `open_slots` may list, so a misconfigured horizon cannot make it
/// allocate without limit (a week of quarter-hours is 672).
pub const MAX_OPEN_SLOTS: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    slot_len_ms: i64,
    horizon_ms: i64,
    gate_lead_ms: i64,
}

impl Calendar {
    /// `horizon_ms`: how long before delivery a slot opens; `gate_lead_ms`: how long before
    /// delivery it closes. The horizon must be longer than the lead, or no slot is ever open.
    pub fn new(
        slot_len_ms: i64,
        horizon_ms: i64,
        gate_lead_ms: i64,
    ) -> Result<Self, ExchangeError> {
        if slot_len_ms <= 0 {
            return Err(ExchangeError::InvalidConfig(format!(
                "slot length must be positive, got {slot_len_ms} ms"
            )));
        }
        if gate_lead_ms < 0 {
            return Err(ExchangeError::InvalidConfig(format!(
                "gate-closure lead must not be negative, got {gate_lead_ms} ms"
            )));
        }
        if horizon_ms <= gate_lead_ms {
            return Err(ExchangeError::InvalidConfig(format!(
                "horizon ({horizon_ms} ms) must be longer than the gate-closure lead ({gate_lead_ms} ms)"
            )));
        }
        if horizon_ms / slot_len_ms > MAX_OPEN_SLOTS {
            return Err(ExchangeError::InvalidConfig(format!(
                "horizon ({horizon_ms} ms) spans more than {MAX_OPEN_SLOTS} slots; shorten it"
            )));
        }
        Ok(Calendar {
            slot_len_ms,
            horizon_ms,
            gate_lead_ms,
        })
    }

    /// 15-minute slots, open 48 h ahead, gate closure 5 min before delivery.
    pub fn quarter_hours_48h() -> Self {
        Calendar {
            slot_len_ms: QUARTER_HOUR_MS,
            horizon_ms: 48 * 3_600_000,
            gate_lead_ms: 5 * 60_000,
        }
    }

    pub fn slot_len_ms(&self) -> i64 {
        self.slot_len_ms
    }

    pub fn horizon_ms(&self) -> i64 {
        self.horizon_ms
    }

    pub fn gate_lead_ms(&self) -> i64 {
        self.gate_lead_ms
    }

    /// The slot whose delivery interval contains `ts_ms` (saturating at the ends of time, where
    /// no slot is ever open anyway).
    pub fn slot_of(&self, ts_ms: i64) -> SlotId {
        SlotId(
            ts_ms
                .div_euclid(self.slot_len_ms)
                .saturating_mul(self.slot_len_ms),
        )
    }

    pub fn is_aligned(&self, slot: SlotId) -> bool {
        slot.0.rem_euclid(self.slot_len_ms) == 0
    }

    /// First instant at which orders for `slot` are accepted.
    pub fn opens_at(&self, slot: SlotId) -> i64 {
        slot.0.saturating_sub(self.horizon_ms)
    }

    /// The instant at which the book closes and resting orders expire.
    pub fn gate_closure(&self, slot: SlotId) -> i64 {
        slot.0.saturating_sub(self.gate_lead_ms)
    }

    /// Open means: aligned, opened, and gate closure not yet reached (closure is exclusive).
    pub fn is_open(&self, slot: SlotId, now_ms: i64) -> bool {
        self.is_aligned(slot) && self.opens_at(slot) <= now_ms && now_ms < self.gate_closure(slot)
    }

    /// Every slot open at `now_ms`, earliest first.
    pub fn open_slots(&self, now_ms: i64) -> Vec<SlotId> {
        // Earliest open slot: the first aligned slot whose gate closure is after now.
        let first_start = now_ms.saturating_add(self.gate_lead_ms);
        let mut s = self.slot_of(first_start);
        if self.gate_closure(s) <= now_ms {
            s = SlotId(s.0.saturating_add(self.slot_len_ms));
        }
        let mut out = Vec::new();
        while self.is_open(s, now_ms) {
            out.push(s);
            s = SlotId(s.0.saturating_add(self.slot_len_ms));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn slots_align_to_quarter_hours_including_before_epoch() {
        let c = Calendar::quarter_hours_48h();
        assert_eq!(c.slot_of(0), SlotId(0));
        assert_eq!(c.slot_of(QUARTER_HOUR_MS - 1), SlotId(0));
        assert_eq!(c.slot_of(QUARTER_HOUR_MS), SlotId(QUARTER_HOUR_MS));
        assert_eq!(c.slot_of(-1), SlotId(-QUARTER_HOUR_MS));
        assert!(!c.is_aligned(SlotId(1)));
        // The ends of time do not overflow.
        assert!(c.slot_of(i64::MIN).0 <= i64::MIN + QUARTER_HOUR_MS);
        assert!(c.slot_of(i64::MAX).0 > i64::MAX - QUARTER_HOUR_MS);
        assert!(c.open_slots(i64::MAX).is_empty());
        assert!(c.open_slots(i64::MIN).len() <= 192);
    }

    #[test]
    fn slot_is_open_from_horizon_until_gate_closure() {
        let c = Calendar::new(QUARTER_HOUR_MS, 48 * H, 5 * 60_000).unwrap();
        let slot = SlotId(100 * QUARTER_HOUR_MS);
        assert!(!c.is_open(slot, slot.0 - 48 * H - 1));
        assert!(c.is_open(slot, slot.0 - 48 * H));
        assert!(c.is_open(slot, slot.0 - 5 * 60_000 - 1));
        assert!(!c.is_open(slot, slot.0 - 5 * 60_000));
        assert_eq!(c.gate_closure(slot), slot.0 - 300_000);
        assert!(!c.is_open(SlotId(slot.0 + 1), slot.0 - H));
    }

    #[test]
    fn open_slots_covers_exactly_the_open_window() {
        let c = Calendar::new(QUARTER_HOUR_MS, 48 * H, 5 * 60_000).unwrap();
        let now = 1_000 * QUARTER_HOUR_MS + 7 * 60_000; // 7 minutes into a quarter-hour
        let open = c.open_slots(now);
        // 48 h = 192 slots; the current slot is past its gate, so the first is the next one.
        assert_eq!(open.first(), Some(&SlotId(1_001 * QUARTER_HOUR_MS)));
        assert_eq!(open.len(), 192);
        assert!(open.iter().all(|s| c.is_open(*s, now)));
        let before = SlotId(open[0].0 - QUARTER_HOUR_MS);
        let after = SlotId(open[open.len() - 1].0 + QUARTER_HOUR_MS);
        assert!(!c.is_open(before, now) && !c.is_open(after, now));
    }

    #[test]
    fn bad_configs_are_rejected_with_a_reason() {
        assert!(matches!(
            Calendar::new(0, H, 0),
            Err(ExchangeError::InvalidConfig(_))
        ));
        assert!(matches!(
            Calendar::new(QUARTER_HOUR_MS, H, H),
            Err(ExchangeError::InvalidConfig(_))
        ));
        assert!(matches!(
            Calendar::new(QUARTER_HOUR_MS, H, -1),
            Err(ExchangeError::InvalidConfig(_))
        ));
        assert!(matches!(
            Calendar::new(1, i64::MAX, 0),
            Err(ExchangeError::InvalidConfig(_))
        ));
    }
}
