//! The integer arithmetic of delivery and money: factors as exact fractions, floors made
//! explicit, and no floats anywhere.

use std::cmp::Ordering;

/// `min(1, have / contracted)` as an exact fraction `num / den` with `num ≤ den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryFactor {
    pub num: u128,
    pub den: u128,
}

impl DeliveryFactor {
    pub const ONE: DeliveryFactor = DeliveryFactor { num: 1, den: 1 };

    /// A party that contracted nothing has nothing to fall short of: factor 1.
    pub fn new(have: u128, contracted: u128) -> Self {
        if contracted == 0 || have >= contracted {
            Self::ONE
        } else {
            Self {
                num: have,
                den: contracted,
            }
        }
    }

    /// The smaller of two factors, compared exactly by cross-multiplication. Numerators and
    /// denominators are sums of u64 quantities, far below 2^64 in practice; the comparison
    /// saturates rather than wraps if they were not.
    pub fn min(self, other: Self) -> Self {
        let left = self.num.saturating_mul(other.den);
        let right = other.num.saturating_mul(self.den);
        match left.cmp(&right) {
            Ordering::Greater => other,
            _ => self,
        }
    }
}

/// `floor(q × f)` Wh.
pub fn delivered_wh(qty_wh: u64, factor: DeliveryFactor) -> u64 {
    if factor.num >= factor.den {
        return qty_wh;
    }
    // q × num fits: q < 2^64 and num < den; if den itself exceeds 2^64 the product may
    // saturate, which only rounds the delivery down.
    let value = u128::from(qty_wh).saturating_mul(factor.num) / factor.den;
    u64::try_from(value).unwrap_or(qty_wh).min(qty_wh)
}

/// What the buyer pays the seller for `wh` at `price` micro per kWh: `floor(wh × p / 1000)`.
/// Negative when the price is negative (the seller pays the buyer).
pub fn trade_value(wh: u64, price_micro_per_kwh: i64) -> i128 {
    (i128::from(wh) * i128::from(price_micro_per_kwh)).div_euclid(1000)
}

/// What a party pays the imbalance account for a shortfall: `floor(wh × p / 1000)`; the
/// party receives money when the imbalance price is negative.
pub fn shortfall_charge(shortfall_wh: u64, price_micro_per_kwh: i64) -> i128 {
    trade_value(shortfall_wh, price_micro_per_kwh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_are_capped_at_one_and_compared_exactly() {
        assert_eq!(DeliveryFactor::new(5, 0), DeliveryFactor::ONE);
        assert_eq!(DeliveryFactor::new(7, 5), DeliveryFactor::ONE);
        let third = DeliveryFactor::new(1, 3);
        let half = DeliveryFactor::new(2, 4);
        assert_eq!(third.min(half), third);
        assert_eq!(half.min(third), third);
        assert_eq!(DeliveryFactor::ONE.min(half), half);
    }

    #[test]
    fn delivery_floors() {
        assert_eq!(delivered_wh(1000, DeliveryFactor::new(1, 3)), 333);
        assert_eq!(delivered_wh(1000, DeliveryFactor::new(2, 3)), 666);
        assert_eq!(
            delivered_wh(u64::MAX, DeliveryFactor::new(1, 2)),
            u64::MAX / 2
        );
        assert_eq!(delivered_wh(10, DeliveryFactor::new(0, 7)), 0);
    }

    #[test]
    fn money_floors_toward_the_buyer_paying_less() {
        // 1 Wh at 150,000 micro/kWh = 150 micro exactly.
        assert_eq!(trade_value(1, 150_000), 150);
        // 333 Wh at 1,001 micro/kWh = 333.333 → 333.
        assert_eq!(trade_value(333, 1_001), 333);
        // Negative price: −333.333 → −334 (the buyer receives 334, the seller pays 334).
        assert_eq!(trade_value(333, -1_001), -334);
        assert_eq!(trade_value(0, -5), 0);
        assert!(trade_value(u64::MAX, i64::MIN) < 0);
    }
}
