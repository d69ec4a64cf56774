//! Rule 7: neighbourhood consistency. In one zone and one interval, sites see nearly the same
//! sky, so their capacity-normalised yields (Wh per W of nameplate) cluster. A site far from
//! the cluster, measured robustly, is flagged `neighbourhood_outlier`.
//!
//! Statistic: the robust z-score |y − median| / (1.4826 × MAD), where MAD is the median absolute
//! deviation (1.4826 × MAD estimates the standard deviation of normal data, and neither the
//! median nor the MAD moves much when a few sites lie). The spread has a floor
//! (`mad_floor_uwh_per_w`) so a zone where everyone reports the same yield does not turn tiny
//! differences into outliers. Nobody is judged unless at least `min_peers` other sites reported.
//!
//! Everything is integer (yields in µWh per W), so the result is exactly reproducible.

use reading::DeviceId;
use serde::{Deserialize, Serialize};

use super::context::VerifyConfig;

/// One site's verified production in the zone and interval under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerYield {
    pub device: DeviceId,
    pub nameplate_w: u32,
    pub energy_wh: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// More than the neighbours: the case that matters for minting.
    High,
    /// Less than the neighbours: shading or a fault, reported for the owner's benefit.
    Low,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outlier {
    pub device: DeviceId,
    pub direction: Direction,
    /// Robust z-score in thousandths (`u64::MAX` when the spread is zero).
    pub score_milli: u64,
}

/// µWh per W of nameplate, saturating. A zero nameplate has no yield (the site is skipped).
pub fn yield_uwh_per_w(energy_wh: u64, nameplate_w: u32) -> Option<u64> {
    if nameplate_w == 0 {
        return None;
    }
    let y = u128::from(energy_wh) * 1_000_000 / u128::from(nameplate_w);
    Some(u64::try_from(y).unwrap_or(u64::MAX))
}

/// Lower median of a non-empty slice (sorts it). Lower rather than mean-of-two keeps it an
/// observed value and avoids rounding.
fn lower_median(values: &mut [u64]) -> Option<u64> {
    values.sort_unstable();
    let n = values.len();
    (n > 0).then(|| values[(n - 1) / 2])
}

/// Which of `samples` (one zone, one interval) are outliers, in input order. Returns nothing
/// when fewer than `min_peers + 1` sites with a non-zero nameplate reported.
pub fn neighbourhood_outliers(samples: &[PeerYield], cfg: &VerifyConfig) -> Vec<Outlier> {
    let yields: Vec<(DeviceId, u64)> = samples
        .iter()
        .filter_map(|s| yield_uwh_per_w(s.energy_wh, s.nameplate_w).map(|y| (s.device, y)))
        .collect();
    if yields.len() < cfg.min_peers.saturating_add(1) {
        return Vec::new();
    }
    let mut values: Vec<u64> = yields.iter().map(|&(_, y)| y).collect();
    let Some(median) = lower_median(&mut values) else {
        return Vec::new();
    };
    let mut deviations: Vec<u64> = values.iter().map(|&y| y.abs_diff(median)).collect();
    let mad = lower_median(&mut deviations).unwrap_or(0);
    // scale × 10⁴ = max(1.4826 × MAD, floor) × 10⁴
    let scale_e4 = (u128::from(mad) * 14_826).max(u128::from(cfg.mad_floor_uwh_per_w) * 10_000);
    let threshold = u128::from(cfg.mad_threshold_milli);
    yields
        .into_iter()
        .filter_map(|(device, y)| {
            let dev = u128::from(y.abs_diff(median));
            // A zero spread makes any deviation infinitely unusual.
            let score = (dev * 1_000 * 10_000)
                .checked_div(scale_e4)
                .unwrap_or(if dev == 0 { 0 } else { u128::MAX });
            (score > threshold).then(|| Outlier {
                device,
                direction: if y > median {
                    Direction::High
                } else {
                    Direction::Low
                },
                score_milli: u64::try_from(score).unwrap_or(u64::MAX),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(n: u8) -> DeviceId {
        DeviceId::from_bytes([n; 16])
    }

    fn zone(energies: &[(u32, u64)]) -> Vec<PeerYield> {
        energies
            .iter()
            .enumerate()
            .map(|(i, &(nameplate_w, energy_wh))| PeerYield {
                device: dev(i as u8),
                nameplate_w,
                energy_wh,
            })
            .collect()
    }

    #[test]
    fn normalises_by_capacity() {
        // Six sites of different sizes all at 0.2 Wh/W: nobody is an outlier.
        let z = zone(&[
            (4_000, 800),
            (5_000, 1_000),
            (10_000, 2_000),
            (3_000, 600),
            (6_000, 1_200),
            (2_000, 400),
        ]);
        assert!(neighbourhood_outliers(&z, &VerifyConfig::default()).is_empty());
    }

    #[test]
    fn flags_a_site_far_above_its_neighbours() {
        let z = zone(&[
            (4_000, 800),
            (5_000, 1_020),
            (10_000, 1_950),
            (3_000, 610),
            (6_000, 1_180),
            (2_000, 1_000),
        ]);
        let out = neighbourhood_outliers(&z, &VerifyConfig::default());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].device, dev(5));
        assert_eq!(out[0].direction, Direction::High);
        assert!(out[0].score_milli > 3_500);
    }

    #[test]
    fn reports_low_outliers_too() {
        let z = zone(&[
            (4_000, 800),
            (5_000, 1_020),
            (10_000, 1_950),
            (3_000, 610),
            (6_000, 1_180),
            (2_000, 10),
        ]);
        let out = neighbourhood_outliers(&z, &VerifyConfig::default());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].direction, Direction::Low);
    }

    #[test]
    fn needs_enough_peers() {
        let cfg = VerifyConfig {
            min_peers: 5,
            ..VerifyConfig::default()
        };
        // Five sites = four peers each: not enough to judge, however odd one looks.
        let z = zone(&[
            (4_000, 800),
            (5_000, 1_000),
            (10_000, 2_000),
            (3_000, 600),
            (2_000, 2_000),
        ]);
        assert!(neighbourhood_outliers(&z, &cfg).is_empty());
        // Zero-nameplate entries do not count as peers.
        let mut z6 = z.clone();
        z6.push(PeerYield {
            device: dev(9),
            nameplate_w: 0,
            energy_wh: 5,
        });
        assert!(neighbourhood_outliers(&z6, &cfg).is_empty());
    }

    #[test]
    fn floor_keeps_identical_zones_calm() {
        // Everyone at exactly 0.2 Wh/W except one at 0.2035: MAD is 0, but the floor
        // (5000 µWh/W) makes the deviation 3500/5000 = 0.7 robust sigmas, not an outlier.
        let z = zone(&[
            (1_000, 200),
            (1_000, 200),
            (1_000, 200),
            (1_000, 200),
            (1_000, 200),
            (2_000, 407),
        ]);
        assert!(neighbourhood_outliers(&z, &VerifyConfig::default()).is_empty());
        // Without a floor the same zone flags it with an infinite score.
        let cfg = VerifyConfig {
            mad_floor_uwh_per_w: 0,
            ..VerifyConfig::default()
        };
        let out = neighbourhood_outliers(&z, &cfg);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].score_milli, u64::MAX);
    }

    #[test]
    fn one_liar_does_not_shift_the_reference() {
        // With a mean/standard-deviation test a big enough liar inflates the spread and hides;
        // with median/MAD the honest cluster is unchanged.
        let mut energies = vec![(5_000u32, 1_000u64); 6];
        energies.push((5_000, 1_000_000));
        energies[1].1 = 1_040;
        energies[2].1 = 960;
        let out = neighbourhood_outliers(&zone(&energies), &VerifyConfig::default());
        assert_eq!(
            out.iter().map(|o| o.device).collect::<Vec<_>>(),
            vec![dev(6)]
        );
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let z = zone(&[(1, u64::MAX), (1, 0), (1, 0), (1, 0), (1, 0), (1, 0)]);
        let out = neighbourhood_outliers(&z, &VerifyConfig::default());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].direction, Direction::High);
    }
}
