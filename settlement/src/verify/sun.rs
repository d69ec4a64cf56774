//! Rule 6: solar geometry. No production while the sun is down; no more than a clear sky
//! allows.
//!
//! - **Night** — the sun's apparent elevation is below −0.833° (its upper limb under the
//!   horizon) at every sample of the interval. The meter tolerance is a budget per night: the
//!   export of a device's night intervals since its last interval with any daylight may sum to
//!   `meter_tolerance_wh`; a reading that would take the sum past it is rejected
//!   (`production_at_night`). The running sum is the chain head's
//!   [`night_export_wh`](super::ChainHead::night_export_wh). Per reading, the tolerance grew
//!   with the cadence: 10 Wh a minute is 600 W all night.
//! - **Clear-sky bound** — nameplate_w × H / 1000 W/m² × margin, where H (Wh/m²) is the
//!   clear-sky irradiation over the interval ([`crate::solar::interval_sun`]: Ineichen–Perez,
//!   Linke turbidity 2, samples ≤ 5 min apart, upper step sum) on the configured plane; rounded
//!   up to the next Wh, plus the meter tolerance. Above it → flagged (`above_clear_sky`), not
//!   rejected: cloud-edge enhancement, snow albedo and mis-registered nameplates are real, so
//!   an operator decides.

use crate::solar::{interval_sun, BoundPlane, Site};

use super::context::VerifyConfig;
use super::reasons::{FlagReason, RejectReason};

/// What the sun allowed over an interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SunAssessment {
    pub night: bool,
    /// Clear-sky production bound, Wh, before the meter tolerance is added.
    pub clear_sky_bound_wh: u64,
}

/// nameplate_w × irradiation / 1000 × margin‰, rounded up; a non-finite irradiation (which a
/// validated [`Site`] never produces) gives `u64::MAX` so bad arithmetic never flags anyone.
pub fn clear_sky_bound_wh(
    nameplate_w: u32,
    irradiation_wh_per_m2: f64,
    margin_permille: u32,
) -> u64 {
    let wh = f64::from(nameplate_w) * irradiation_wh_per_m2 / 1000.0 * f64::from(margin_permille)
        / 1000.0;
    if !wh.is_finite() {
        return u64::MAX;
    }
    // `as` saturates for floats beyond u64 and maps negatives to 0.
    wh.max(0.0).ceil() as u64
}

pub fn assess_sun(
    site: Site,
    nameplate_w: u32,
    start_ms: i64,
    end_ms: i64,
    plane: BoundPlane,
    margin_permille: u32,
) -> SunAssessment {
    let s = interval_sun(site, start_ms, end_ms, plane);
    SunAssessment {
        night: s.night,
        clear_sky_bound_wh: clear_sky_bound_wh(nameplate_w, s.clear_sky_wh_per_m2, margin_permille),
    }
}

/// What rule 6 let through: its flag, and the night budget spent once this reading counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SunCheck {
    pub flag: Option<FlagReason>,
    /// The device's night export including this reading, Wh, for its new chain head: the
    /// previous total plus this reading's export when the interval was all night, 0 when any
    /// of it was daylight (a new night starts with a whole budget).
    pub night_export_wh: u64,
}

/// Rule 6 for `energy_wh` exported over `(start_ms, end_ms]` by a device that has already
/// exported `night_export_wh` this night (its chain head's running total).
///
/// On `Err(production_at_night)` the caller keeps the head's total as it was: the refused
/// energy never counts, so it does not spend the budget either, and what was accepted in the
/// night still never exceeds `meter_tolerance_wh`. Flagged readings do spend it, since an
/// operator may release them.
pub fn check_sun(
    site: Site,
    nameplate_w: u32,
    start_ms: i64,
    end_ms: i64,
    energy_wh: u64,
    night_export_wh: u64,
    cfg: &VerifyConfig,
) -> Result<SunCheck, RejectReason> {
    // Nothing to add and nothing to reset: whatever the sun did, the answer is the same, and
    // sampling the sun is most of this rule's cost for every idle device every night.
    if energy_wh == 0 && night_export_wh == 0 {
        return Ok(SunCheck {
            flag: None,
            night_export_wh: 0,
        });
    }
    let sun = assess_sun(
        site,
        nameplate_w,
        start_ms,
        end_ms,
        cfg.clear_sky_plane,
        cfg.clear_sky_margin_permille,
    );
    if sun.night {
        // What is left of the budget, not `total + energy > tolerance`: a head already past
        // the tolerance (it was lowered since) must not turn a zero reading into a rejection.
        let left = cfg.meter_tolerance_wh.saturating_sub(night_export_wh);
        if energy_wh > left {
            return Err(RejectReason::ProductionAtNight);
        }
        return Ok(SunCheck {
            flag: None,
            night_export_wh: night_export_wh.saturating_add(energy_wh),
        });
    }
    let bound = sun
        .clear_sky_bound_wh
        .saturating_add(cfg.meter_tolerance_wh);
    Ok(SunCheck {
        flag: (energy_wh > bound).then_some(FlagReason::AboveClearSky),
        night_export_wh: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solar::calendar::unix_ms_from_civil;

    const H: i64 = 3_600_000;
    const Q: i64 = 900_000;

    fn berlin() -> Site {
        Site::new(52.52, 13.405).unwrap()
    }

    /// Rule 6 for a 5 kW array in Berlin with `spent` Wh of night export behind it.
    fn check(start: i64, end: i64, energy: u64, spent: u64) -> Result<SunCheck, RejectReason> {
        let cfg = VerifyConfig::default();
        check_sun(berlin(), 5_000, start, end, energy, spent, &cfg)
    }

    /// Rule 6's flag for a device with `spent` Wh of night export behind it.
    fn flag(
        start: i64,
        end: i64,
        energy: u64,
        spent: u64,
    ) -> Result<Option<FlagReason>, RejectReason> {
        check(start, end, energy, spent).map(|c| c.flag)
    }

    /// The night export a device has spent after an accepted reading.
    fn spent_after(start: i64, end: i64, energy: u64, spent: u64) -> u64 {
        check(start, end, energy, spent)
            .map(|c| c.night_export_wh)
            .unwrap_or_else(|r| panic!("{energy} Wh after {spent} Wh: {r}"))
    }

    #[test]
    fn night_production_is_rejected_beyond_the_meter_tolerance() {
        // 00:00 CEST. A fresh night: one reading may carry the whole tolerance, as before the
        // budget.
        let midnight = unix_ms_from_civil(2025, 6, 21) - 2 * H;
        assert_eq!(
            flag(midnight, midnight + Q, 11, 0),
            Err(RejectReason::ProductionAtNight)
        );
        assert_eq!(flag(midnight, midnight + Q, 10, 0), Ok(None));
        assert_eq!(spent_after(midnight, midnight + Q, 10, 0), 10);
        // With 4 Wh already spent this night only 6 are left, whatever the interval length.
        assert_eq!(
            flag(midnight, midnight + Q, 7, 4),
            Err(RejectReason::ProductionAtNight)
        );
        assert_eq!(
            flag(midnight, midnight + 60_000, 7, 4),
            Err(RejectReason::ProductionAtNight)
        );
        assert_eq!(spent_after(midnight, midnight + Q, 6, 4), 10);
        assert_eq!(
            flag(midnight, midnight + 60_000, 1, 10),
            Err(RejectReason::ProductionAtNight)
        );
    }

    #[test]
    fn zero_export_at_night_keeps_the_total_and_is_never_rejected() {
        let midnight = unix_ms_from_civil(2025, 6, 21) - 2 * H;
        assert_eq!(spent_after(midnight, midnight + Q, 0, 0), 0);
        assert_eq!(spent_after(midnight, midnight + Q, 0, 10), 10);
        // A head past the tolerance (the tolerance was lowered since): zero is still fine,
        // any export is not.
        assert_eq!(flag(midnight, midnight + Q, 0, 25), Ok(None));
        assert_eq!(spent_after(midnight, midnight + Q, 0, 25), 25);
        assert_eq!(
            flag(midnight, midnight + Q, 1, 25),
            Err(RejectReason::ProductionAtNight)
        );
    }

    #[test]
    fn any_daylight_in_the_interval_resets_the_night_budget() {
        let day = unix_ms_from_civil(2025, 6, 21);
        let noon = day + 11 * H;
        assert_eq!(spent_after(noon - Q, noon, 0, 10), 0);
        assert_eq!(spent_after(noon - Q, noon, 800, 10), 0);
        // 02:30–02:45 UTC straddles sunrise (about 02:43): not night, so the budget is whole
        // again, and 20 Wh of dawn light is judged by the clear-sky bound instead.
        let dawn = day + 2 * H + 30 * 60_000;
        assert_eq!(flag(dawn, dawn + Q, 20, 10), Ok(None));
        assert_eq!(spent_after(dawn, dawn + Q, 20, 10), 0);
        // Its first minute, 02:30–02:31, is still all night: the spent budget still binds.
        assert_eq!(
            flag(dawn, dawn + 60_000, 1, 10),
            Err(RejectReason::ProductionAtNight)
        );
    }

    #[test]
    fn interval_across_sunrise_is_not_night() {
        // Berlin sunrise on 2025-06-21 is about 02:43 UTC; the quarter 02:30–02:45 straddles it.
        let start = unix_ms_from_civil(2025, 6, 21) + 2 * H + 30 * 60_000;
        let sun = assess_sun(
            berlin(),
            5_000,
            start,
            start + Q,
            BoundPlane::SunFacing,
            1_400,
        );
        assert!(!sun.night);
        // Dawn production from diffuse light (the daylight floor) is fine; noon-sized is not.
        assert!(sun.clear_sky_bound_wh > 0, "{sun:?}");
        assert_eq!(flag(start, start + Q, 20, 0), Ok(None));
        assert_eq!(
            flag(start, start + Q, 1_000, 0),
            Ok(Some(FlagReason::AboveClearSky))
        );
    }

    #[test]
    fn noon_full_power_passes_and_double_is_flagged() {
        let cfg = VerifyConfig::default();
        let noon = unix_ms_from_civil(2025, 6, 21) + 11 * H; // 13:00 CEST, near solar noon
        let sun = assess_sun(
            berlin(),
            5_000,
            noon - Q,
            noon,
            cfg.clear_sky_plane,
            cfg.clear_sky_margin_permille,
        );
        // 5 kW for 15 min is 1250 Wh; the bound must allow it (clear summer noon ≈ 1 kW/m²).
        assert!(sun.clear_sky_bound_wh >= 1_250, "{sun:?}");
        assert_eq!(flag(noon - Q, noon, 1_250, 0), Ok(None));
        assert_eq!(
            flag(noon - Q, noon, 2_500, 0),
            Ok(Some(FlagReason::AboveClearSky))
        );
    }

    #[test]
    fn sun_facing_bound_lets_tilted_winter_arrays_through() {
        // Berlin, 21 December, local noon: sun ≈ 14° high. pvlib's Perez transposition of the
        // same clear sky (Ineichen, TL 2) gives ≈ 654 W/m² on a 35° south-facing plane, so an
        // array can make ~55 % of nameplate after losses; the horizontal bound would flag it,
        // the sun-facing one does not.
        let noon = unix_ms_from_civil(2025, 12, 21) + 11 * H;
        let energy = 5_000 * 55 / 100 / 4; // 687 Wh in 15 min
        let horizontal = assess_sun(
            berlin(),
            5_000,
            noon - Q,
            noon,
            BoundPlane::Horizontal,
            1_400,
        );
        let facing = assess_sun(
            berlin(),
            5_000,
            noon - Q,
            noon,
            BoundPlane::SunFacing,
            1_400,
        );
        assert!(horizontal.clear_sky_bound_wh < energy, "{horizontal:?}");
        assert!(facing.clear_sky_bound_wh >= energy, "{facing:?}");
    }

    #[test]
    fn bound_rounding() {
        assert_eq!(clear_sky_bound_wh(1_000, 250.0, 1_000), 250);
        assert_eq!(clear_sky_bound_wh(1_000, 250.0001, 1_000), 251);
        assert_eq!(clear_sky_bound_wh(1_000, 0.0, 1_400), 0);
        assert_eq!(clear_sky_bound_wh(1_000, f64::NAN, 1_400), u64::MAX);
        assert_eq!(clear_sky_bound_wh(u32::MAX, 1e30, u32::MAX), u64::MAX);
    }
}
