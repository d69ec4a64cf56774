//! Rule 5: a site cannot produce more than its nameplate power for the whole elapsed time,
//! times a tolerance (rated power is measured at standard test conditions; cold, bright days
//! and meter error push a little above it).

use super::context::VerifyConfig;
use super::reasons::RejectReason;

const MS_PER_HOUR: u128 = 3_600_000;

/// nameplate_w × elapsed_ms × tolerance‰ in Wh, rounded **up** to the next whole Wh (rounding
/// never rejects an honest reading), saturating at `u64::MAX`. Negative elapsed time gives 0.
pub fn nameplate_bound_wh(nameplate_w: u32, elapsed_ms: i64, tolerance_permille: u32) -> u64 {
    let elapsed = u128::try_from(elapsed_ms.max(0)).unwrap_or(0);
    let numerator = u128::from(nameplate_w) * elapsed * u128::from(tolerance_permille);
    let denominator = MS_PER_HOUR * 1_000;
    u64::try_from(numerator.div_ceil(denominator)).unwrap_or(u64::MAX)
}

/// `above_nameplate` when `energy_wh` exceeds the bound plus the meter tolerance.
pub fn check_nameplate(
    energy_wh: u64,
    elapsed_ms: i64,
    nameplate_w: u32,
    cfg: &VerifyConfig,
) -> Result<(), RejectReason> {
    let bound = nameplate_bound_wh(nameplate_w, elapsed_ms, cfg.nameplate_tolerance_permille)
        .saturating_add(cfg.meter_tolerance_wh);
    if energy_wh > bound {
        Err(RejectReason::AboveNameplate)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_is_exact_or_rounded_up() {
        // 4 kW for 15 min at 120 % = 1200 Wh exactly.
        assert_eq!(nameplate_bound_wh(4_000, 900_000, 1_200), 1_200);
        // 1 W for 1 s at 100 % = 0.000277… Wh → 1 Wh.
        assert_eq!(nameplate_bound_wh(1, 1_000, 1_000), 1);
        assert_eq!(nameplate_bound_wh(4_000, 0, 1_200), 0);
        assert_eq!(nameplate_bound_wh(4_000, -5, 1_200), 0);
        assert_eq!(nameplate_bound_wh(u32::MAX, i64::MAX, u32::MAX), u64::MAX);
    }

    #[test]
    fn rejects_only_above_bound_plus_tolerance() {
        let cfg = VerifyConfig {
            nameplate_tolerance_permille: 1_200,
            meter_tolerance_wh: 10,
            ..VerifyConfig::default()
        };
        assert_eq!(check_nameplate(1_210, 900_000, 4_000, &cfg), Ok(()));
        assert_eq!(
            check_nameplate(1_211, 900_000, 4_000, &cfg),
            Err(RejectReason::AboveNameplate)
        );
        // A gap makes the elapsed time, and so the bound, longer.
        assert_eq!(check_nameplate(2_400, 1_800_000, 4_000, &cfg), Ok(()));
    }
}
