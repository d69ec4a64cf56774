//! The demo's randomness: SplitMix64, seeded from `--seed`. Small, fast and the same on every
//! platform, which is all a reproducible simulation needs (it is not for secrets).

/// A SplitMix64 generator (Steele, Lea and Flood, 2014).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for one purpose, independent of how much other generators were used:
    /// the seed mixed with the labels (e.g. household index and slot number).
    pub fn derive(seed: u64, labels: &[u64]) -> Self {
        let mut mixed = Rng(seed);
        let mut state = mixed.next_u64();
        for &label in labels {
            state = Rng(state ^ label.wrapping_mul(0xA24B_AED4_963E_E407)).next_u64();
        }
        Self(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A whole number in `low..=high` (slightly biased for huge ranges; fine for a demo).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low + 1)
    }

    /// Per-mille in `low..=high`.
    pub fn permille(&mut self, low: u64, high: u64) -> u64 {
        self.range(low, high)
    }

    /// Shuffles `items` (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.range(0, i as u64) as usize;
            items.swap(i, j);
        }
    }

    /// 32 bytes, e.g. a device key seed.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // The first outputs of Vigna's splitmix64.c started from state 0.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn derived_generators_depend_on_labels_not_on_order_of_use() {
        let a = Rng::derive(7, &[1, 2]).next_u64();
        let mut other = Rng::derive(7, &[9]);
        other.next_u64();
        assert_eq!(Rng::derive(7, &[1, 2]).next_u64(), a);
        assert_ne!(Rng::derive(7, &[2, 1]).next_u64(), a);
        assert_ne!(Rng::derive(8, &[1, 2]).next_u64(), a);
    }

    #[test]
    fn ranges_stay_inside_and_shuffles_permute() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            let x = r.range(5, 9);
            assert!((5..=9).contains(&x));
        }
        assert_eq!(r.range(4, 4), 4);
        let mut v: Vec<u32> = (0..20).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
        assert_ne!(v, sorted, "20 items almost surely move");
    }
}
