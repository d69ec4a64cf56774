//! The Wh each seller has committed in one book: resting plus already sold.
//!
//! A small open-addressing table (linear probing, key and value side by side) rather than a hash
//! map. With hundreds of books open, the table of the book an order goes to is usually cold, and
//! a hash map's control bytes and its entry are two cache misses where this is mostly one.
//! Entries are never removed: a commitment only goes away when its book closes, and then the
//! whole table goes. That keeps linear probing simple. Iteration follows the table, so whatever
//! is shown from it must be sorted first (snapshots do).

use crate::order::AccountId;

#[derive(Debug, Clone, Default)]
pub(crate) struct SellCommitments {
    /// (account + 1, Wh). Key 0 marks a free slot. The length is 0 or a power of two, and at
    /// most half the slots are used.
    slots: Vec<(u64, u64)>,
    used: usize,
    /// The account `u64::MAX`, whose key would wrap round to the free marker.
    max_account: Option<u64>,
}

const FIRST_CAPACITY: usize = 8;

impl SellCommitments {
    #[inline]
    fn home(&self, key: u64) -> usize {
        // Fibonacci hashing: the top bits of the product spread consecutive account ids.
        let bits = self.slots.len().trailing_zeros();
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
    }

    /// Slot holding `key`, or the free slot where it would go. The table must not be empty.
    #[inline]
    fn probe(&self, key: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let k = self.slots[i].0;
            if k == key || k == 0 {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Wh committed by `account` here (0 when none).
    #[inline]
    pub(crate) fn get(&self, account: AccountId) -> u64 {
        let Some(key) = account.0.checked_add(1) else {
            return self.max_account.unwrap_or(0);
        };
        if self.slots.is_empty() {
            return 0;
        }
        let (k, q) = self.slots[self.probe(key)];
        if k == key {
            q
        } else {
            0
        }
    }

    fn value_mut(&mut self, account: AccountId) -> &mut u64 {
        let Some(key) = account.0.checked_add(1) else {
            return self.max_account.get_or_insert(0);
        };
        if (self.used + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let i = self.probe(key);
        if self.slots[i].0 == 0 {
            self.slots[i].0 = key;
            self.used += 1;
        }
        &mut self.slots[i].1
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(FIRST_CAPACITY);
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); cap]);
        for (k, q) in old {
            if k != 0 {
                let i = self.probe(k);
                self.slots[i] = (k, q);
            }
        }
    }

    /// Adds `qty` to what `account` has committed here.
    pub(crate) fn add(&mut self, account: AccountId, qty: u64) {
        let v = self.value_mut(account);
        *v = v.saturating_add(qty);
    }

    /// Frees `qty` of what `account` has committed here (never below zero).
    pub(crate) fn sub(&mut self, account: AccountId, qty: u64) {
        let Some(key) = account.0.checked_add(1) else {
            if let Some(v) = self.max_account.as_mut() {
                *v = v.saturating_sub(qty);
            }
            return;
        };
        if self.slots.is_empty() {
            return;
        }
        let i = self.probe(key);
        if self.slots[i].0 == key {
            self.slots[i].1 = self.slots[i].1.saturating_sub(qty);
        }
    }

    /// Every (account, Wh) pair, zeros included, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (AccountId, u64)> + '_ {
        self.slots
            .iter()
            .filter(|(k, _)| *k != 0)
            .map(|&(k, q)| (AccountId(k - 1), q))
            .chain(self.max_account.map(|q| (AccountId(u64::MAX), q)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn extreme_account_ids_are_kept_apart() {
        let mut c = SellCommitments::default();
        c.add(AccountId(u64::MAX), 5);
        c.add(AccountId(0), 7);
        c.sub(AccountId(u64::MAX), 2);
        assert_eq!(c.get(AccountId(u64::MAX)), 3);
        assert_eq!(c.get(AccountId(0)), 7);
        assert_eq!(c.get(AccountId(1)), 0);
        let mut all: Vec<_> = c.iter().collect();
        all.sort_unstable();
        assert_eq!(all, vec![(AccountId(0), 7), (AccountId(u64::MAX), 3)]);
    }

    proptest! {
        #[test]
        fn behaves_like_a_map_from_account_to_wh(
            ops in proptest::collection::vec(
                (prop_oneof![0u64..64, Just(u64::MAX), Just(u64::MAX - 1)], 0u64..100, any::<bool>()),
                0..300,
            ),
        ) {
            let mut c = SellCommitments::default();
            let mut m: BTreeMap<u64, u64> = BTreeMap::new();
            for (a, q, add) in ops {
                if add {
                    c.add(AccountId(a), q);
                    *m.entry(a).or_insert(0) += q;
                } else {
                    c.sub(AccountId(a), q);
                    if let Some(v) = m.get_mut(&a) {
                        *v = v.saturating_sub(q);
                    }
                }
                prop_assert_eq!(c.get(AccountId(a)), m.get(&a).copied().unwrap_or(0));
            }
            let mut all: Vec<_> = c.iter().filter(|(_, q)| *q > 0).map(|(a, q)| (a.0, q)).collect();
            all.sort_unstable();
            let want: Vec<_> = m.into_iter().filter(|(_, q)| *q > 0).collect();
            prop_assert_eq!(all, want);
        }
    }
}
