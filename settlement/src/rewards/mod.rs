//! Reward tokens: a pool per epoch (default one week) from a configured schedule, shared pro
//! rata to the carbon grams each participant was minted in the epoch, exactly: the
//! largest-remainder method gives out the whole pool, ties broken by the smaller account id.

use crate::ledger::{
    derive_transfer_id, Account, AccountId, Code, LedgerId, Owner, Purpose, References, Transfer,
    TransferKind,
};
use crate::merkle::{reward_mint_leaf, RewardMintRecord};

/// One week in milliseconds.
pub const DEFAULT_EPOCH_MS: i64 = 7 * 24 * 3600 * 1000;

/// Reward ids are global, not per zone; this stands in for the zone in their derivation.
const REWARD_SCOPE: &str = "*rewards*";

/// Epoch n covers `[genesis + n·len, genesis + (n+1)·len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochCalendar {
    pub genesis_ms: i64,
    pub epoch_len_ms: i64,
}

impl EpochCalendar {
    pub fn weekly(genesis_ms: i64) -> Self {
        Self {
            genesis_ms,
            epoch_len_ms: DEFAULT_EPOCH_MS,
        }
    }

    /// The epoch holding `at_ms`, or `None` before genesis or for a non-positive length.
    pub fn epoch_of(&self, at_ms: i64) -> Option<u64> {
        if self.epoch_len_ms <= 0 || at_ms < self.genesis_ms {
            return None;
        }
        u64::try_from(
            (i128::from(at_ms) - i128::from(self.genesis_ms)) / i128::from(self.epoch_len_ms),
        )
        .ok()
    }

    pub fn epoch_start_ms(&self, epoch: u64) -> i64 {
        let start = i128::from(self.genesis_ms) + i128::from(epoch) * i128::from(self.epoch_len_ms);
        i64::try_from(start).unwrap_or(i64::MAX)
    }
}

/// How many reward base units each epoch's pool holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolSchedule {
    Constant {
        per_epoch: u128,
    },
    /// `initial / 2^(epoch / every_epochs)`, floored (Bitcoin-style halving).
    Halving {
        initial: u128,
        every_epochs: u64,
    },
}

impl PoolSchedule {
    pub fn pool(&self, epoch: u64) -> u128 {
        match *self {
            PoolSchedule::Constant { per_epoch } => per_epoch,
            PoolSchedule::Halving {
                initial,
                every_epochs,
            } => {
                let halvings = epoch.checked_div(every_epochs).unwrap_or(0);
                u32::try_from(halvings)
                    .ok()
                    .and_then(|h| initial.checked_shr(h))
                    .unwrap_or(0)
            }
        }
    }
}

/// Splits `pool` over `weights` in proportion, exactly (the parts sum to `pool` whenever
/// some weight is positive; with no weight nothing is given out). Each part is
/// `floor(pool × w / W)`; the units left over go one each to the largest fractional
/// remainders, ties to the smaller account id. Accounts listed twice are merged.
/// Exact for total weights below 2^64 (grams: 18 million tonnes per epoch).
pub fn largest_remainder(
    pool: u128,
    weights: &[(AccountId, u128)],
) -> Vec<(AccountId, u128, u128)> {
    let mut merged: Vec<(AccountId, u128)> = weights.to_vec();
    merged.sort_unstable_by_key(|w| w.0);
    merged.dedup_by(|later, first| {
        if later.0 == first.0 {
            first.1 = first.1.saturating_add(later.1);
            true
        } else {
            false
        }
    });
    merged.retain(|w| w.1 > 0);
    let total: u128 = merged.iter().fold(0u128, |a, w| a.saturating_add(w.1));
    if total == 0 {
        return Vec::new();
    }
    // pool × w / W = q·w + r·w / W with pool = q·W + r, which avoids overflowing pool × w.
    let (q, r) = (pool / total, pool % total);
    let mut parts: Vec<(AccountId, u128, u128, u128)> = merged
        .iter()
        .map(|&(account, w)| {
            let rw = r.saturating_mul(w);
            (
                account,
                w,
                q.saturating_mul(w).saturating_add(rw / total),
                rw % total,
            )
        })
        .collect();
    let given = parts.iter().fold(0u128, |a, p| a.saturating_add(p.2));
    let mut left = pool.saturating_sub(given);
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        parts[b]
            .3
            .cmp(&parts[a].3)
            .then(parts[a].0.cmp(&parts[b].0))
    });
    for i in order {
        if left == 0 {
            break;
        }
        parts[i].2 = parts[i].2.saturating_add(1);
        left -= 1;
    }
    parts
        .into_iter()
        .map(|(a, w, amount, _)| (a, w, amount))
        .collect()
}

/// One epoch's reward distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochRewards {
    pub epoch: u64,
    pub epoch_start_ms: i64,
    pub epoch_len_ms: i64,
    pub pool: u128,
    /// (account, carbon grams in the epoch, reward units), by account.
    pub shares: Vec<(AccountId, u128, u128)>,
    pub transfers: Vec<Transfer>,
    pub log_leaves: Vec<Vec<u8>>,
}

/// Distributes epoch `epoch`'s pool to the carbon grams minted in it (net of corrections).
/// Ids derive from the epoch and account, so a repeated call yields the same transfers.
pub fn settle_epoch_rewards(
    calendar: &EpochCalendar,
    schedule: &PoolSchedule,
    epoch: u64,
    grams: &[(AccountId, u128)],
) -> EpochRewards {
    let pool = schedule.pool(epoch);
    let start = calendar.epoch_start_ms(epoch);
    let shares = largest_remainder(pool, grams);
    let total_weight = shares.iter().fold(0u128, |a, s| a.saturating_add(s.1));
    let mut transfers = Vec::new();
    let mut log_leaves = Vec::new();
    for &(account, weight, amount) in &shares {
        if amount == 0 {
            continue;
        }
        let id = derive_transfer_id(Purpose::RewardMint, REWARD_SCOPE, start, 1, account.0);
        transfers.push(Transfer {
            id,
            debit: Account::new(Owner::Issuance, LedgerId::Reward),
            credit: Account::participant(account, LedgerId::Reward),
            amount,
            kind: TransferKind::Posted,
            code: Code::RewardMint,
            refs: References {
                slot_start_ms: start,
                trade_id: None,
                reading_range: None,
                run_version: 1,
            },
        });
        log_leaves.push(reward_mint_leaf(&RewardMintRecord {
            epoch,
            epoch_start_ms: start,
            epoch_len_ms: calendar.epoch_len_ms,
            pool,
            account,
            weight_g: weight,
            total_weight_g: total_weight,
            amount,
            transfer_id: id,
        }));
    }
    EpochRewards {
        epoch,
        epoch_start_ms: start,
        epoch_len_ms: calendar.epoch_len_ms,
        pool,
        shares,
        transfers,
        log_leaves,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u64) -> AccountId {
        AccountId(n)
    }

    #[test]
    fn thirds_of_100_give_the_extra_unit_to_the_smallest_id() {
        let parts = largest_remainder(100, &[(a(3), 1), (a(1), 1), (a(2), 1)]);
        assert_eq!(parts, vec![(a(1), 1, 34), (a(2), 1, 33), (a(3), 1, 33)]);
    }

    #[test]
    fn remainders_go_to_the_largest_fractions_first() {
        // 10 × (5, 3, 2)/10 exactly; 7 × (5, 3, 2)/10 = 3.5, 2.1, 1.4 → 3, 2, 1 + 1 to a(1).
        let parts = largest_remainder(7, &[(a(1), 5), (a(2), 3), (a(3), 2)]);
        assert_eq!(parts, vec![(a(1), 5, 4), (a(2), 3, 2), (a(3), 2, 1)]);
        let sum: u128 = parts.iter().map(|p| p.2).sum();
        assert_eq!(sum, 7);
    }

    #[test]
    fn no_weight_gives_nothing_and_duplicates_merge() {
        assert!(largest_remainder(1_000, &[(a(1), 0)]).is_empty());
        assert_eq!(
            largest_remainder(10, &[(a(1), 1), (a(1), 1), (a(2), 2)]),
            vec![(a(1), 2, 5), (a(2), 2, 5)]
        );
    }

    #[test]
    fn huge_pools_do_not_overflow() {
        let pool = u128::MAX / 3;
        let parts = largest_remainder(pool, &[(a(1), 1_000_000_007), (a(2), 999)]);
        assert_eq!(parts.iter().map(|p| p.2).sum::<u128>(), pool);
    }

    #[test]
    fn schedules_and_epochs() {
        let halving = PoolSchedule::Halving {
            initial: 1_000,
            every_epochs: 52,
        };
        assert_eq!(halving.pool(0), 1_000);
        assert_eq!(halving.pool(51), 1_000);
        assert_eq!(halving.pool(52), 500);
        assert_eq!(halving.pool(52 * 200), 0);
        assert_eq!(PoolSchedule::Constant { per_epoch: 7 }.pool(9_999), 7);
        let cal = EpochCalendar::weekly(1_000);
        assert_eq!(cal.epoch_of(999), None);
        assert_eq!(cal.epoch_of(1_000), Some(0));
        assert_eq!(cal.epoch_of(1_000 + DEFAULT_EPOCH_MS), Some(1));
        assert_eq!(cal.epoch_start_ms(2), 1_000 + 2 * DEFAULT_EPOCH_MS);
    }

    #[test]
    fn epoch_rewards_mint_the_whole_pool_once() {
        let cal = EpochCalendar::weekly(0);
        let schedule = PoolSchedule::Constant { per_epoch: 1_000 };
        let grams = [(a(1), 2_187), (a(2), 683)];
        let first = settle_epoch_rewards(&cal, &schedule, 3, &grams);
        assert_eq!(first, settle_epoch_rewards(&cal, &schedule, 3, &grams));
        assert_eq!(
            first.transfers.iter().map(|t| t.amount).sum::<u128>(),
            1_000
        );
        assert_eq!(first.log_leaves.len(), 2);
        // 1000 × 2187/2870 = 762.02 → 762; 1000 × 683/2870 = 237.98 → 237 + 1.
        assert_eq!(first.shares, vec![(a(1), 2_187, 762), (a(2), 683, 238)]);
    }
}
