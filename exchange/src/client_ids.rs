//! The client order ids one account has in use, each tagged with the book that used it.
//!
//! Kept as sorted, disjoint, maximal runs of consecutive ids used in the same book. Accounts
//! normally number their orders 1, 2, 3, …, so an account trading one slot at a time holds a
//! single run: the duplicate check on the hot path is a look at the last run, memory does not
//! grow with the number of orders, and when a book closes its runs are simply dropped. The
//! representation is canonical (one per set of (id, book) pairs), so snapshots built from it are
//! too.
//!
//! The end of the last run (its `hi` and book) is also kept inline, next to the vector's header:
//! with many accounts and books the run vector's last element is a cold cache line, and the
//! common check and insert (a new id past the end) need only those two values.

use crate::order::BookKey;

/// Ids `lo..=hi`, all used in `book`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) lo: u64,
    pub(crate) hi: u64,
    pub(crate) book: BookKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientIds {
    runs: Vec<Run>,
    /// `runs.last()`'s `hi` and book; the default values when `runs` is empty.
    last_hi: u64,
    last_book: BookKey,
}

impl Default for ClientIds {
    fn default() -> Self {
        ClientIds {
            runs: Vec::new(),
            last_hi: 0,
            last_book: BookKey {
                slot: crate::order::SlotId(0),
                zone: crate::order::ZoneId(0),
            },
        }
    }
}

impl ClientIds {
    fn from_vec(runs: Vec<Run>) -> Self {
        let mut c = ClientIds {
            runs,
            ..ClientIds::default()
        };
        c.sync_last();
        c
    }

    /// Refreshes the inline end after a change not at the end; reset when empty, so equal sets
    /// of runs always compare equal.
    fn sync_last(&mut self) {
        let d = ClientIds::default();
        (self.last_hi, self.last_book) = self
            .runs
            .last()
            .map_or((d.last_hi, d.last_book), |r| (r.hi, r.book));
    }

    /// Whether `id` lies past every run (the common case), judged without touching the runs.
    #[inline]
    fn past_end(&self, id: u64) -> bool {
        self.runs.is_empty() || self.last_hi < id
    }

    /// Index of the first run whose `hi` is ≥ `id`.
    fn first_not_below(&self, id: u64) -> usize {
        if self.past_end(id) {
            self.runs.len()
        } else {
            self.runs.partition_point(|r| r.hi < id)
        }
    }

    #[inline]
    pub(crate) fn contains(&self, id: u64) -> bool {
        if self.past_end(id) {
            return false;
        }
        let i = self.first_not_below(id);
        self.runs.get(i).is_some_and(|r| r.lo <= id)
    }

    /// Records `id` as used in `book`; returns false if it was in use already.
    pub(crate) fn insert(&mut self, id: u64, book: BookKey) -> bool {
        if self.past_end(id) {
            // Appending: only the inline end is read; the vector is only written.
            let joins = !self.runs.is_empty()
                && self.last_book == book
                && self.last_hi.checked_add(1) == Some(id);
            match self.runs.last_mut() {
                Some(last) if joins => last.hi = id,
                _ => self.runs.push(Run {
                    lo: id,
                    hi: id,
                    book,
                }),
            }
            self.last_hi = id;
            self.last_book = book;
            return true;
        }
        let inserted = self.insert_inside(id, book);
        self.sync_last();
        inserted
    }

    fn insert_inside(&mut self, id: u64, book: BookKey) -> bool {
        let i = self.first_not_below(id);
        if self.runs.get(i).is_some_and(|r| r.lo <= id) {
            return false;
        }
        let joins_prev = i > 0
            && self.runs[i - 1].book == book
            && self.runs[i - 1].hi.checked_add(1) == Some(id);
        let joins_next = self
            .runs
            .get(i)
            .is_some_and(|r| r.book == book && id.checked_add(1) == Some(r.lo));
        match (joins_prev, joins_next) {
            (true, true) => {
                self.runs[i - 1].hi = self.runs[i].hi;
                self.runs.remove(i);
            }
            (true, false) => self.runs[i - 1].hi = id,
            (false, true) => self.runs[i].lo = id,
            (false, false) => self.runs.insert(
                i,
                Run {
                    lo: id,
                    hi: id,
                    book,
                },
            ),
        }
        true
    }

    /// Frees every id used in one of the `closed` books (sorted).
    pub(crate) fn release(&mut self, closed: &[BookKey]) {
        self.runs.retain(|r| closed.binary_search(&r.book).is_err());
        self.sync_last();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    pub(crate) fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Rebuilds from runs in any order; `None` if they overlap or are not maximal (two runs of
    /// the same book side by side), i.e. could not have come from [`runs`](Self::runs).
    pub(crate) fn from_runs(mut runs: Vec<Run>) -> Option<Self> {
        runs.sort_unstable_by_key(|r| r.lo);
        let ok = runs.iter().all(|r| r.lo <= r.hi)
            && runs.windows(2).all(|w| {
                w[0].hi < w[1].lo
                    && !(w[0].book == w[1].book && w[0].hi.checked_add(1) == Some(w[1].lo))
            });
        ok.then(|| ClientIds::from_vec(runs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{SlotId, ZoneId};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn book(n: i64) -> BookKey {
        BookKey {
            slot: SlotId(n),
            zone: ZoneId(1),
        }
    }

    #[test]
    fn sequential_ids_in_one_book_stay_one_run() {
        let mut c = ClientIds::default();
        for id in 1..=1000 {
            assert!(c.insert(id, book(0)));
        }
        assert_eq!(
            c.runs(),
            &[Run {
                lo: 1,
                hi: 1000,
                book: book(0)
            }]
        );
        assert!(!c.insert(500, book(1)), "in use, whatever the book");
        assert!(c.contains(1) && c.contains(1000) && !c.contains(0) && !c.contains(1001));
    }

    #[test]
    fn runs_split_by_book_and_closing_a_book_frees_only_its_ids() {
        let mut c = ClientIds::default();
        for (id, b) in [(1, 0), (2, 1), (3, 0), (4, 0), (u64::MAX, 1), (0, 1)] {
            assert!(c.insert(id, book(b)));
        }
        assert_eq!(c.runs().len(), 5);
        c.release(&[book(1)]);
        assert_eq!(
            c.runs(),
            &[
                Run {
                    lo: 1,
                    hi: 1,
                    book: book(0)
                },
                Run {
                    lo: 3,
                    hi: 4,
                    book: book(0)
                }
            ]
        );
        assert!(!c.contains(2) && c.insert(2, book(0)));
        assert_eq!(
            c.runs(),
            &[Run {
                lo: 1,
                hi: 4,
                book: book(0)
            }],
            "refilling the gap merges"
        );
        assert!(ClientIds::from_runs(vec![
            Run {
                lo: 1,
                hi: 2,
                book: book(0)
            },
            Run {
                lo: 3,
                hi: 3,
                book: book(0)
            }
        ])
        .is_none());
        assert!(ClientIds::from_runs(vec![
            Run {
                lo: 3,
                hi: 3,
                book: book(1)
            },
            Run {
                lo: 1,
                hi: 2,
                book: book(0)
            }
        ])
        .is_some());
    }

    proptest! {
        #[test]
        fn behaves_like_a_map_from_id_to_book(
            ops in proptest::collection::vec((0u64..48, 0i64..3, proptest::bool::weighted(0.1)), 0..200),
        ) {
            let mut c = ClientIds::default();
            let mut m: BTreeMap<u64, i64> = BTreeMap::new();
            for (id, b, close) in ops {
                if close {
                    c.release(&[book(b)]);
                    m.retain(|_, v| *v != b);
                } else {
                    let fresh = !m.contains_key(&id);
                    prop_assert_eq!(c.insert(id, book(b)), fresh);
                    m.entry(id).or_insert(b);
                }
                for probe in 0..50 {
                    prop_assert_eq!(c.contains(probe), m.contains_key(&probe));
                }
                // Canonical: rebuilding from the runs gives the same value.
                prop_assert_eq!(ClientIds::from_runs(c.runs().to_vec()), Some(c.clone()));
            }
        }
    }
}
