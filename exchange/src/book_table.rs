//! Book key → book index, for the lookup every order does.
//!
//! Open books form a grid: the slots inside the trading horizon × the configured zones. So the
//! table is a ring of slot rows with one cell per zone, indexed by slot number and zone position,
//! and each cell also stores its slot to tell apart slots that share a row. A lookup is a
//! division, a search of the short zone list and one load from a few kilobytes that stay in
//! cache, where a hash map probes a table spread over every book. A key that does not fit (its
//! cell taken, an unknown zone, or a grid too large to allocate) goes to a small hash map
//! instead, so the table is correct for any key. It is never iterated.

use crate::calendar::Calendar;
use crate::fixed_hash::FixedMap;
use crate::order::{BookKey, ZoneId};

const EMPTY: u32 = u32::MAX;

/// Upper bound on cells, so a long horizon with many zones cannot allocate without limit.
const MAX_CELLS: usize = 1 << 14;

/// Zone ids below this find their column through a direct table rather than a search.
const DIRECT_ZONES: u32 = 1 << 12;

#[derive(Debug, Clone)]
pub(crate) struct BookTable {
    slot_len_ms: i64,
    /// Rows, a power of two (so the row is a mask), or 0 when the grid would be too large.
    rows: usize,
    zones: Vec<ZoneId>,
    /// Column + 1 by zone id, for ids below `DIRECT_ZONES` (0: not a configured zone).
    column: Vec<u16>,
    /// (slot start, book index) per row and zone; `EMPTY` marks a free cell.
    cells: Vec<(i64, u32)>,
    spill: FixedMap<BookKey, u32>,
}

impl BookTable {
    /// `zones` must be sorted (the validated configuration's are).
    pub(crate) fn new(calendar: &Calendar, zones: &[ZoneId]) -> Self {
        // A validated calendar has a positive slot length; the guard keeps a bad one from
        // dividing by zero here.
        let slot_len_ms = calendar.slot_len_ms().max(1);
        let open = (calendar.horizon_ms() / slot_len_ms).clamp(0, 1 << 40) as usize + 2;
        let rows = open.next_power_of_two();
        let rows = if rows.saturating_mul(zones.len()) <= MAX_CELLS {
            rows
        } else {
            0
        };
        let direct = zones.iter().filter(|z| z.0 < DIRECT_ZONES);
        let mut column = vec![0u16; direct.clone().map(|z| z.0 as usize + 1).max().unwrap_or(0)];
        if rows > 0 {
            for z in direct {
                if let Ok(c) = zones.binary_search(z) {
                    column[z.0 as usize] = c as u16 + 1;
                }
            }
        }
        BookTable {
            slot_len_ms,
            rows,
            zones: zones.to_vec(),
            column,
            cells: vec![(0, EMPTY); rows * zones.len()],
            spill: FixedMap::default(),
        }
    }

    #[inline]
    fn cell(&self, key: &BookKey) -> Option<usize> {
        if self.rows == 0 {
            return None;
        }
        let zone = match self.column.get(key.zone.0 as usize) {
            Some(&c) if c > 0 => c as usize - 1,
            Some(_) => return None,
            None => self.zones.binary_search(&key.zone).ok()?,
        };
        let row = key.slot.0.div_euclid(self.slot_len_ms) as usize & (self.rows - 1);
        Some(row * self.zones.len() + zone)
    }

    #[inline]
    pub(crate) fn get(&self, key: &BookKey) -> Option<u32> {
        if let Some(c) = self.cell(key) {
            let (slot, bi) = self.cells[c];
            if bi != EMPTY && slot == key.slot.0 {
                return Some(bi);
            }
        }
        if self.spill.is_empty() {
            return None;
        }
        self.spill.get(key).copied()
    }

    /// Records a key that is not in the table yet.
    pub(crate) fn insert(&mut self, key: BookKey, bi: u32) {
        if let Some(c) = self.cell(&key) {
            if self.cells[c].1 == EMPTY {
                self.cells[c] = (key.slot.0, bi);
                return;
            }
        }
        self.spill.insert(key, bi);
    }

    pub(crate) fn remove(&mut self, key: &BookKey) {
        if let Some(c) = self.cell(key) {
            let (slot, bi) = self.cells[c];
            if bi != EMPTY && slot == key.slot.0 {
                self.cells[c].1 = EMPTY;
                return;
            }
        }
        self.spill.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::QUARTER_HOUR_MS;
    use crate::order::SlotId;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn key(slot: i64, zone: u32) -> BookKey {
        BookKey {
            slot: SlotId(slot * QUARTER_HOUR_MS),
            zone: ZoneId(zone),
        }
    }

    #[test]
    fn slots_sharing_a_row_and_unknown_zones_are_told_apart() {
        let cal = Calendar::quarter_hours_48h();
        let mut t = BookTable::new(&cal, &[ZoneId(1), ZoneId(3), ZoneId(DIRECT_ZONES + 7)]);
        let rows = t.rows as i64;
        assert!(rows > 192, "a whole horizon fits without wrapping");
        t.insert(key(5, 1), 0);
        t.insert(key(5 + rows, 1), 1); // same cell: spills
        t.insert(key(5, 2), 2); // unknown zone: spills
        t.insert(key(-3, 3), 3);
        t.insert(key(-3, DIRECT_ZONES + 7), 4); // column found by search
        assert!(
            t.spill.len() == 2,
            "only the clash and the unknown zone spill"
        );
        assert_eq!(t.get(&key(5, 1)), Some(0));
        assert_eq!(t.get(&key(5 + rows, 1)), Some(1));
        assert_eq!(t.get(&key(5, 2)), Some(2));
        assert_eq!(t.get(&key(-3, 3)), Some(3));
        assert_eq!(t.get(&key(-3, DIRECT_ZONES + 7)), Some(4));
        assert_eq!(t.get(&key(-3, DIRECT_ZONES + 8)), None);
        assert_eq!(t.get(&key(5 + 2 * rows, 1)), None);
        assert_eq!(t.get(&key(5, 3)), None);
        t.remove(&key(5, 1));
        assert_eq!(t.get(&key(5, 1)), None);
        assert_eq!(t.get(&key(5 + rows, 1)), Some(1));
        t.remove(&key(5 + rows, 1));
        assert_eq!(t.get(&key(5 + rows, 1)), None);
    }

    #[test]
    fn a_grid_too_large_falls_back_to_hashing() {
        let cal = Calendar::new(60_000, 60 * 24 * 60_000, 0).unwrap();
        let zones: Vec<ZoneId> = (0..100).map(ZoneId).collect();
        let mut t = BookTable::new(&cal, &zones);
        assert_eq!(t.rows, 0);
        let k = BookKey {
            slot: SlotId(60_000),
            zone: ZoneId(7),
        };
        t.insert(k, 9);
        assert_eq!(t.get(&k), Some(9));
        t.remove(&k);
        assert_eq!(t.get(&k), None);
    }

    proptest! {
        #[test]
        fn behaves_like_a_map(
            ops in proptest::collection::vec((-600i64..600, 0u32..4, any::<bool>()), 0..300),
        ) {
            let cal = Calendar::quarter_hours_48h();
            let mut t = BookTable::new(&cal, &[ZoneId(1), ZoneId(2)]);
            let mut m: BTreeMap<BookKey, u32> = BTreeMap::new();
            for (i, (slot, zone, add)) in ops.into_iter().enumerate() {
                let k = key(slot, zone);
                if add {
                    if let std::collections::btree_map::Entry::Vacant(e) = m.entry(k) {
                        t.insert(k, i as u32);
                        e.insert(i as u32);
                    }
                } else {
                    t.remove(&k);
                    m.remove(&k);
                }
                for (k, v) in &m {
                    prop_assert_eq!(t.get(k), Some(*v));
                }
                prop_assert_eq!(t.get(&k), m.get(&k).copied());
            }
        }
    }
}
