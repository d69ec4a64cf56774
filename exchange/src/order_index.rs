//! The order-id index: where each resting order lives, found by its id.
//!
//! The engine hands out order ids sequentially, so the ids of resting orders crowd into a window
//! that slides upwards. A direct-mapped table over that window finds an order with two array
//! reads and grows one page at a time. A hash map, which this replaces, rehashes every entry at
//! once when it doubles: at 229k, 459k and 918k resting orders that stalled one command for
//! 24–47 ms (the platform's execute timings and the `resting_growth` bench).
//!
//! Layout: the window is a deque of pages starting at page number `base`; a page holds
//! [`PAGE_SLOTS`] consecutive ids, 8 bytes each (a packed [`Loc`], or [`EMPTY`]), and a count of
//! its live slots. A page is allocated when its first id arrives and freed when its last leaves;
//! freed pages at either end of the deque are dropped, so the window spans the live ids only.
//!
//! Ids outside the window. The window spans at most `max_pages` pages ([`MAX_PAGES`]), so one
//! far-off id (a snapshot may hold ids up to `u64::MAX - 2`) can never make it allocate more than
//! that. Every id the engine issues is above all ids it issued before, so the window follows the
//! highest ids: an id above the window appends pages, and when the span would exceed the bound
//! the lowest pages are evicted, their ids moved to `far`. An id below the window prepends pages
//! if the span allows and otherwise goes to `far` itself. `far` is a `BTreeMap`: it grows a node at
//! a time (no whole-table rehash either) and is ordered, so nothing depends on hashing. It is
//! empty unless orders outlive `MAX_PAGES * PAGE_SLOTS` newer ids or a snapshot scatters ids.
//! Invariant: an id inside the window's page range is in its page, an id outside it is in `far`;
//! when the window grows over ids that `far` holds, they move into the pages.
//!
//! Memory: 8 bytes per id in the window's span (8 KiB pages) plus 8 bytes per page of span for
//! the deque. Worst case, each page holds a single long-lived order: `MAX_PAGES` pages of 8 KiB
//! (128 MiB), which takes 16,384 resting orders spread one per 1,024 issued ids. Typically it is
//! 8 bytes per id issued since the oldest resting order, about half a hash map's 16 bytes plus
//! spare capacity per entry.
//!
//! The index is never iterated by the engine, so its layout cannot change any output.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use crate::order::OrderId;

/// Where a resting order lives: book slot and slab index inside that book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) book: u32,
    pub(crate) node: u32,
}

const PAGE_BITS: u32 = 10;
/// Ids per page. 1,024 slots of 8 bytes keep a page that one long-lived order pins at 8 KiB
/// while a page is still allocated only once per 1,024 orders.
pub(crate) const PAGE_SLOTS: usize = 1 << PAGE_BITS;
const SLOT_MASK: u64 = PAGE_SLOTS as u64 - 1;
/// Bound on the window's span in pages: 16.7M ids, at most 128 MiB of pages and a 128 KiB deque.
pub(crate) const MAX_PAGES: u64 = 1 << 14;

/// A free slot: a `Loc` whose node is the slab's NIL link, which no resting order ever has.
const EMPTY: u64 = u64::MAX;

impl Loc {
    #[inline]
    fn pack(self) -> u64 {
        (u64::from(self.book) << 32) | u64::from(self.node)
    }

    #[inline]
    fn unpack(v: u64) -> Option<Loc> {
        (v != EMPTY).then_some(Loc {
            book: (v >> 32) as u32,
            node: v as u32,
        })
    }
}

#[derive(Clone)]
struct Page {
    slots: [u64; PAGE_SLOTS],
    /// Slots that are not EMPTY.
    live: u32,
}

impl Page {
    fn new() -> Box<Page> {
        Box::new(Page {
            slots: [EMPTY; PAGE_SLOTS],
            live: 0,
        })
    }
}

#[derive(Clone)]
pub(crate) struct OrderIndex {
    /// Page number (id / PAGE_SLOTS) of `pages[0]`.
    base: u64,
    /// Empty, or starts and ends with an allocated page; never longer than `max_pages`.
    pages: VecDeque<Option<Box<Page>>>,
    /// Ids held in `pages`.
    in_pages: usize,
    /// Ids outside the window's page range.
    far: BTreeMap<u64, Loc>,
    /// One freed (all EMPTY) page kept back, so an order book that keeps resting and cancelling
    /// one order at a page boundary does not allocate and fill 8 KiB each time.
    spare: Option<Box<Page>>,
    max_pages: u64,
}

impl Default for OrderIndex {
    fn default() -> Self {
        Self::with_max_pages(MAX_PAGES)
    }
}

impl fmt::Debug for OrderIndex {
    // A summary: the pages themselves are thousands of slots each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderIndex")
            .field("len", &self.len())
            .field("base_page", &self.base)
            .field("pages", &self.pages.len())
            .field("far", &self.far.len())
            .finish()
    }
}

impl OrderIndex {
    /// `max_pages` is at least 1; tests use small bounds to reach the eviction paths.
    fn with_max_pages(max_pages: u64) -> Self {
        OrderIndex {
            base: 0,
            pages: VecDeque::new(),
            in_pages: 0,
            far: BTreeMap::new(),
            spare: None,
            max_pages: max_pages.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.in_pages + self.far.len()
    }

    /// Position of `id` in the window: (page index, slot), or None outside it.
    #[inline]
    fn position(&self, id: u64) -> Option<(usize, usize)> {
        let page = (id >> PAGE_BITS).wrapping_sub(self.base);
        (page < self.pages.len() as u64).then_some((page as usize, (id & SLOT_MASK) as usize))
    }

    #[inline]
    pub(crate) fn get(&self, id: OrderId) -> Option<Loc> {
        match self.position(id.0) {
            Some((p, s)) => Loc::unpack(self.pages.get(p)?.as_ref()?.slots[s]),
            None => self.far.get(&id.0).copied(),
        }
    }

    /// Stores `loc` for `id` and returns what was stored before.
    pub(crate) fn insert(&mut self, id: OrderId, loc: Loc) -> Option<Loc> {
        debug_assert!(loc.pack() != EMPTY, "a slab index is never NIL");
        if !self.cover(id.0 >> PAGE_BITS) {
            return self.far.insert(id.0, loc);
        }
        self.put(id.0, loc)
    }

    /// Removes `id` and returns where it was.
    pub(crate) fn remove(&mut self, id: OrderId) -> Option<Loc> {
        let Some((p, s)) = self.position(id.0) else {
            return self.far.remove(&id.0);
        };
        let entry = self.pages.get_mut(p)?;
        let page = entry.as_mut()?;
        let old = Loc::unpack(std::mem::replace(&mut page.slots[s], EMPTY))?;
        page.live -= 1;
        self.in_pages -= 1;
        if page.live == 0 {
            let freed = entry.take();
            if self.spare.is_none() {
                self.spare = freed;
            }
            self.trim();
        }
        Some(old)
    }

    pub(crate) fn clear(&mut self) {
        self.pages.clear();
        self.far.clear();
        self.in_pages = 0;
        self.base = 0;
    }

    /// Stores into the window; `id`'s page must be inside it.
    fn put(&mut self, id: u64, loc: Loc) -> Option<Loc> {
        let (p, s) = self.position(id)?;
        let spare = &mut self.spare;
        let page = self
            .pages
            .get_mut(p)?
            .get_or_insert_with(|| match spare.take() {
                Some(pg) => pg,
                None => Page::new(),
            });
        let old = Loc::unpack(std::mem::replace(&mut page.slots[s], loc.pack()));
        if old.is_none() {
            page.live += 1;
            self.in_pages += 1;
        }
        old
    }

    /// Makes the window cover `page` if the span bound allows; false if the id belongs in `far`.
    fn cover(&mut self, page: u64) -> bool {
        let end = self.base + self.pages.len() as u64;
        if self.pages.is_empty() {
            self.rebase(page);
        } else if page >= end {
            // Above the window, where new ids arrive: drop the lowest pages to make room.
            self.evict_below((page + 1).saturating_sub(self.max_pages));
            if self.pages.is_empty() {
                self.rebase(page);
            } else {
                // The eviction left base > page - max_pages: at most max_pages new entries.
                let end = self.base + self.pages.len() as u64;
                self.pages
                    .extend(std::iter::repeat_with(|| None).take((page + 1 - end) as usize));
                self.adopt(end, page);
            }
        } else if page < self.base {
            if end - page > self.max_pages {
                return false;
            }
            let old_base = self.base;
            for _ in page..old_base {
                self.pages.push_front(None);
            }
            self.base = page;
            self.adopt(page, old_base - 1);
        }
        true
    }

    /// Starts an empty window at `page`.
    fn rebase(&mut self, page: u64) {
        self.base = page;
        self.pages.push_back(None);
        self.adopt(page, page);
    }

    /// Moves the ids `far` holds in pages `lo..=hi` (now inside the window) into their pages.
    fn adopt(&mut self, lo: u64, hi: u64) {
        if self.far.is_empty() {
            return;
        }
        let ids = (lo << PAGE_BITS)..=((hi << PAGE_BITS) | SLOT_MASK);
        let moving: Vec<(u64, Loc)> = self.far.range(ids).map(|(k, v)| (*k, *v)).collect();
        for (id, loc) in moving {
            self.far.remove(&id);
            self.put(id, loc);
        }
    }

    /// Moves every id of the pages below page number `lowest` to `far` and drops those pages.
    fn evict_below(&mut self, lowest: u64) {
        while self.base < lowest {
            let Some(entry) = self.pages.pop_front() else {
                break;
            };
            if let Some(mut page) = entry {
                let first = self.base << PAGE_BITS;
                for (s, v) in page.slots.iter_mut().enumerate() {
                    if let Some(loc) = Loc::unpack(std::mem::replace(v, EMPTY)) {
                        self.far.insert(first | s as u64, loc);
                    }
                }
                self.in_pages -= page.live as usize;
                page.live = 0;
                if self.spare.is_none() {
                    self.spare = Some(page);
                }
            }
            self.base += 1;
        }
        self.trim();
    }

    /// Drops freed pages at both ends, so the window starts and ends at live ids.
    fn trim(&mut self) {
        while matches!(self.pages.front(), Some(None)) {
            self.pages.pop_front();
            self.base += 1;
        }
        while matches!(self.pages.back(), Some(None)) {
            self.pages.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn loc(n: u64) -> Loc {
        Loc {
            book: (n % 7) as u32,
            node: (n % 1_000_003) as u32,
        }
    }

    /// Every structural promise of the module's doc, checked from the outside in.
    fn check(ix: &OrderIndex) {
        assert!(
            ix.pages.len() as u64 <= ix.max_pages,
            "{ix:?} spans too many pages"
        );
        if !ix.pages.is_empty() {
            assert!(ix.pages.front().is_some_and(Option::is_some), "{ix:?}");
            assert!(ix.pages.back().is_some_and(Option::is_some), "{ix:?}");
        }
        let mut live = 0;
        for page in ix.pages.iter().flatten() {
            let n = page.slots.iter().filter(|v| **v != EMPTY).count();
            assert_eq!(n, page.live as usize);
            assert!(n > 0, "an empty page is still allocated");
            live += n;
        }
        assert_eq!(live, ix.in_pages);
        for id in ix.far.keys() {
            assert!(
                ix.position(*id).is_none(),
                "far holds {id}, inside the window"
            );
        }
        if let Some(spare) = &ix.spare {
            assert!(spare.slots.iter().all(|v| *v == EMPTY) && spare.live == 0);
        }
    }

    #[test]
    fn sequential_ids_fill_pages_and_emptying_frees_them() {
        let mut ix = OrderIndex::default();
        let n = 10 * PAGE_SLOTS as u64;
        for id in 1..=n {
            assert_eq!(ix.insert(OrderId(id), loc(id)), None);
        }
        check(&ix);
        assert_eq!(
            (ix.len(), ix.pages.len(), ix.far.len()),
            (n as usize, 11, 0)
        );
        // Removing the oldest ids drops the leading pages: the window follows the live ids.
        for id in 1..=5 * PAGE_SLOTS as u64 {
            assert_eq!(ix.remove(OrderId(id)), Some(loc(id)));
        }
        check(&ix);
        assert_eq!((ix.base, ix.pages.len()), (5, 6));
        for id in (5 * PAGE_SLOTS as u64 + 1..=n).rev() {
            assert_eq!(ix.remove(OrderId(id)), Some(loc(id)));
        }
        check(&ix);
        assert_eq!((ix.len(), ix.pages.len()), (0, 0));
        assert_eq!(ix.get(OrderId(3)), None);
    }

    #[test]
    fn insert_returns_the_old_value_and_remove_the_removed_one() {
        let mut ix = OrderIndex::default();
        assert_eq!(ix.insert(OrderId(5), loc(1)), None);
        assert_eq!(ix.insert(OrderId(5), loc(2)), Some(loc(1)));
        assert_eq!((ix.get(OrderId(5)), ix.len()), (Some(loc(2)), 1));
        assert_eq!(ix.remove(OrderId(6)), None);
        assert_eq!(ix.remove(OrderId(5)), Some(loc(2)));
        assert_eq!((ix.remove(OrderId(5)), ix.len()), (None, 0));
    }

    #[test]
    fn the_largest_and_smallest_ids_together_stay_small() {
        // A restored snapshot may hold ids at both ends of the range.
        let mut ix = OrderIndex::default();
        let top = u64::MAX - 2;
        for id in [0, 1, top, u64::MAX, 7] {
            ix.insert(OrderId(id), loc(id));
        }
        check(&ix);
        assert!(ix.pages.len() <= 2, "{ix:?}");
        assert_eq!(ix.len(), 5);
        for id in [0, 1, top, u64::MAX, 7] {
            assert_eq!(ix.get(OrderId(id)), Some(loc(id)));
        }
        // The window followed the highest ids, where new ones arrive.
        assert_eq!(ix.far.len(), 3);
        assert_eq!(ix.insert(OrderId(u64::MAX - 1), loc(9)), None);
        assert_eq!(ix.far.len(), 3);
    }

    #[test]
    fn a_window_at_its_bound_evicts_its_oldest_pages_and_takes_them_back() {
        let mut ix = OrderIndex::with_max_pages(4);
        let p = PAGE_SLOTS as u64;
        for id in [3, p + 3, 4 * p + 3] {
            ix.insert(OrderId(id), loc(id));
        }
        check(&ix);
        // Page 4 is more than four pages above page 0: page 0 went to `far`.
        assert_eq!((ix.base, ix.far.len()), (1, 1));
        // An id far below cannot stretch the window either.
        ix.insert(OrderId(2), loc(2));
        assert_eq!(ix.far.len(), 2);
        check(&ix);
        // Once the high ids are gone, the window comes back down and takes page 0's ids back.
        ix.remove(OrderId(4 * p + 3));
        ix.remove(OrderId(p + 3));
        assert!(ix.pages.is_empty());
        ix.insert(OrderId(4), loc(4));
        check(&ix);
        assert_eq!((ix.far.len(), ix.in_pages), (0, 3));
        for id in [2, 3, 4] {
            assert_eq!(ix.get(OrderId(id)), Some(loc(id)));
        }
    }

    #[test]
    fn clear_forgets_everything() {
        let mut ix = OrderIndex::with_max_pages(2);
        for id in [1, 5_000, 90_000, u64::MAX] {
            ix.insert(OrderId(id), loc(id));
        }
        ix.clear();
        check(&ix);
        assert_eq!(ix.len(), 0);
        assert_eq!(ix.get(OrderId(u64::MAX)), None);
        assert_eq!(ix.insert(OrderId(1), loc(1)), None);
        assert_eq!(ix.len(), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64, Loc),
        Remove(u64),
        Get(u64),
        /// Inserts `n` consecutive ids from the given one, as the engine issues them.
        Run(u64, u16),
        /// Removes `n` consecutive ids: drains whole pages, so windows empty and move.
        RemoveRun(u64, u16),
        /// Removes the live id at this rank (mod the count): random ids mostly miss.
        RemoveLive(usize),
        Clear,
    }

    /// Dense ids over a few pages, clusters at far-apart bases (both ends of the range
    /// included), and ids anywhere.
    fn id() -> impl Strategy<Value = u64> {
        let bases = prop::sample::select(vec![0, 1 << 20, 1 << 40, u64::MAX - 6_000]);
        prop_oneof![
            4 => 0u64..6 * PAGE_SLOTS as u64,
            4 => (bases, 0u64..6_000).prop_map(|(b, o)| b + o),
            1 => any::<u64>(),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        let loc = (any::<u32>(), 0..u32::MAX).prop_map(|(book, node)| Loc { book, node });
        prop_oneof![
            6 => (id(), loc).prop_map(|(i, l)| Op::Insert(i, l)),
            4 => id().prop_map(Op::Remove),
            3 => id().prop_map(Op::Get),
            1 => (id(), 0u16..3_000).prop_map(|(i, n)| Op::Run(i, n)),
            1 => (id(), 0u16..6_000).prop_map(|(i, n)| Op::RemoveRun(i, n)),
            3 => any::<usize>().prop_map(Op::RemoveLive),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn behaves_like_a_hash_map(
            max_pages in prop_oneof![1u64..6, Just(MAX_PAGES)],
            ops in prop::collection::vec(op(), 1..120),
        ) {
            let mut ix = OrderIndex::with_max_pages(max_pages);
            let mut model: HashMap<u64, Loc> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(i, l) => {
                        prop_assert_eq!(ix.insert(OrderId(i), l), model.insert(i, l));
                    }
                    Op::Remove(i) => prop_assert_eq!(ix.remove(OrderId(i)), model.remove(&i)),
                    Op::Get(i) => prop_assert_eq!(ix.get(OrderId(i)), model.get(&i).copied()),
                    Op::Run(from, n) => {
                        for i in (from..=u64::MAX).take(n as usize) {
                            let l = loc(i);
                            prop_assert_eq!(ix.insert(OrderId(i), l), model.insert(i, l));
                        }
                    }
                    Op::RemoveRun(from, n) => {
                        for i in (from..=u64::MAX).take(n as usize) {
                            prop_assert_eq!(ix.remove(OrderId(i)), model.remove(&i));
                        }
                    }
                    Op::RemoveLive(rank) => {
                        let mut live: Vec<u64> = model.keys().copied().collect();
                        live.sort_unstable();
                        if let Some(&i) = live.get(rank % live.len().max(1)) {
                            prop_assert_eq!(ix.remove(OrderId(i)), model.remove(&i));
                        }
                    }
                    Op::Clear => {
                        ix.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(ix.len(), model.len());
                check(&ix);
            }
            for (i, l) in &model {
                prop_assert_eq!(ix.get(OrderId(*i)), Some(*l));
            }
        }
    }
}
