//! A fixed, seedless hasher for the engine's lookup tables.
//!
//! std's default hasher is randomly seeded per process and slower than needed for integer keys.
//! Nothing the engine outputs ever depends on hash-table iteration order (snapshots and views are
//! sorted), so this only has to be fast and the same everywhere.

use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate word hasher (the rustc "Fx" scheme).
#[derive(Default, Clone, Copy)]
pub struct FixedHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FixedHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FixedHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // Fold the high bits down: hashbrown takes its bucket from the low bits and its tag from
        // the top seven, and sequential keys differ mostly in the low bits before mixing.
        self.hash ^ (self.hash >> 29)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

pub type FixedState = BuildHasherDefault<FixedHasher>;
pub type FixedMap<K, V> = std::collections::HashMap<K, V, FixedState>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn h<T: Hash>(v: T) -> u64 {
        FixedState::default().hash_one(v)
    }

    #[test]
    fn same_value_same_hash_and_neighbours_differ() {
        assert_eq!(h(42u64), h(42u64));
        assert_ne!(h(1u64), h(2u64));
        assert_ne!(h((1u64, 2u64)), h((2u64, 1u64)));
    }
}
