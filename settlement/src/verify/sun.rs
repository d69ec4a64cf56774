//! Rule 6: solar geometry. No production while the sun is down; no more than a clear sky
//! allows.
//!
//! - **Night** — the sun's apparent elevation is below −0.833° (its upper limb under the
//!   horizon) at every sample of the interval → production above the meter tolerance is
//!   rejected (`production_at_night`).
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

/// Rule 6 for `energy_wh` exported over `(start_ms, end_ms]`.
pub fn check_sun(
    site: Site,
    nameplate_w: u32,
    start_ms: i64,
    end_ms: i64,
    energy_wh: u64,
    cfg: &VerifyConfig,
) -> Result<Option<FlagReason>, RejectReason> {
    if energy_wh <= cfg.meter_tolerance_wh {
        return Ok(None);
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
        return Err(RejectReason::ProductionAtNight);
    }
    let bound = sun
        .clear_sky_bound_wh
        .saturating_add(cfg.meter_tolerance_wh);
    Ok((energy_wh > bound).then_some(FlagReason::AboveClearSky))
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

    #[test]
    fn night_production_is_rejected_beyond_the_meter_tolerance() {
        let cfg = VerifyConfig::default();
        let midnight = unix_ms_from_civil(2025, 6, 21) - 2 * H; // 00:00 CEST
        let r = check_sun(berlin(), 5_000, midnight, midnight + Q, 11, &cfg);
        assert_eq!(r, Err(RejectReason::ProductionAtNight));
        let r = check_sun(berlin(), 5_000, midnight, midnight + Q, 10, &cfg);
        assert_eq!(r, Ok(None));
    }

    #[test]
    fn interval_across_sunrise_is_not_night() {
        // Berlin sunrise on 2025-06-21 is about 02:43 UTC; the quarter 02:30–02:45 straddles it.
        let cfg = VerifyConfig::default();
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
        assert_eq!(
            check_sun(berlin(), 5_000, start, start + Q, 20, &cfg),
            Ok(None)
        );
        assert_eq!(
            check_sun(berlin(), 5_000, start, start + Q, 1_000, &cfg),
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
        assert_eq!(
            check_sun(berlin(), 5_000, noon - Q, noon, 1_250, &cfg),
            Ok(None)
        );
        assert_eq!(
            check_sun(berlin(), 5_000, noon - Q, noon, 2_500, &cfg),
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
