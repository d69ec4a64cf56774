//! Solar geometry for the physics rules: where the sun is (NREL SPA), how much light a clear
//! sky gives (Ineichen–Perez), and the clear-sky production bound for an interval.
//!
//! - [`position`]: topocentric sun position at sea level for a latitude, longitude and instant,
//!   with ΔT from the Espenak–Meeus polynomials ([`delta_t`]). Accuracy: the full SPA
//!   ([`spa`]), ±0.0003° per its authors; our tests reproduce the SPA paper's example to 1e-6°
//!   and a table of pvlib `spa_python` values (1950–2100, polar, southern, date line) within
//!   an asserted 1e-5° (measured worst 5e-10°; required: 0.01°).
//! - [`clear_sky_ghi_wm2`] / [`clear_sky()`]: irradiance from [`clear_sky::ineichen`] with a fixed
//!   Linke turbidity of 2.0.
//! - [`interval_sun`]: samples an interval for the night rule and integrates the clear-sky bound.
//!
//! Floats are fine here (angles and irradiance are physical estimates); energies that leave this
//! module are integer Wh with the rounding stated where they are made.

pub mod calendar;
pub mod clear_sky;
pub mod delta_t;
pub mod spa;
mod spa_tables;

pub use clear_sky::ClearSky;

use serde::{Deserialize, Serialize};

use crate::error::SettlementError;

/// Pressure for "standard refraction", millibars: the reference conditions of Bennett's
/// refraction formula that SPA uses (1010 mbar, 10 °C), where its pressure/temperature factor is
/// exactly 1. (pvlib's defaults, 1013.25 mbar and 12 °C, differ by < 0.003° at the horizon.)
pub const STANDARD_PRESSURE_MBAR: f64 = 1010.0;
/// Temperature for standard refraction, °C (see [`STANDARD_PRESSURE_MBAR`]).
pub const STANDARD_TEMPERATURE_C: f64 = 10.0;
/// Refraction at the horizon assumed by SPA, degrees.
pub const HORIZON_REFRACTION_DEG: f64 = 0.5667;
/// Apparent elevation of the sun's centre at sunrise/sunset: its upper limb touches the apparent
/// horizon (0.5667° refraction + 0.26667° semi-diameter, conventionally −0.833°).
pub const SUNRISE_ELEVATION_DEG: f64 = -0.833;

/// A site on the WGS84 ellipsoid, validated once at the edge (also when deserialized).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSite")]
pub struct Site {
    lat_deg: f64,
    lon_deg: f64,
}

#[derive(Deserialize)]
struct RawSite {
    lat_deg: f64,
    lon_deg: f64,
}

impl TryFrom<RawSite> for Site {
    type Error = SettlementError;
    fn try_from(raw: RawSite) -> Result<Site, SettlementError> {
        Site::new(raw.lat_deg, raw.lon_deg)
    }
}

impl Site {
    /// `lat_deg` north positive in −90..=90, `lon_deg` east positive in −180..=180.
    pub fn new(lat_deg: f64, lon_deg: f64) -> Result<Site, SettlementError> {
        if !(-90.0..=90.0).contains(&lat_deg) {
            return Err(SettlementError::InvalidLatitude(lat_deg));
        }
        if !(-180.0..=180.0).contains(&lon_deg) {
            return Err(SettlementError::InvalidLongitude(lon_deg));
        }
        Ok(Site { lat_deg, lon_deg })
    }

    pub fn lat_deg(&self) -> f64 {
        self.lat_deg
    }

    pub fn lon_deg(&self) -> f64 {
        self.lon_deg
    }
}

/// Where the sun is for an observer at sea level.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SunPosition {
    /// Topocentric elevation of the sun's centre without atmospheric refraction, degrees.
    pub elevation_deg: f64,
    /// Topocentric elevation with standard refraction (1010 mbar, 10 °C), degrees. SPA applies
    /// no refraction once the whole disc is below the horizon (elevation < −0.83337°).
    pub apparent_elevation_deg: f64,
    /// Topocentric zenith angle, 90° − apparent elevation (SPA's θ), degrees.
    pub zenith_deg: f64,
    /// Azimuth, degrees clockwise (eastward) from geographic north, 0..360.
    pub azimuth_deg: f64,
    /// Earth–sun distance, astronomical units.
    pub earth_sun_distance_au: f64,
    /// ΔT used for the instant, seconds.
    pub delta_t_s: f64,
}

impl SunPosition {
    /// Whether the sun's upper limb is below the apparent horizon (sun "set").
    pub fn is_night(&self) -> bool {
        self.apparent_elevation_deg < SUNRISE_ELEVATION_DEG
    }
}

/// The sun's position at `unix_ms` (UTC) seen from (`lat_deg`, `lon_deg`) at altitude 0 m.
///
/// Coordinates are not validated here (the CLI and [`Site::new`] do that); out-of-range input
/// gives meaningless angles, never a panic.
pub fn position(lat_deg: f64, lon_deg: f64, unix_ms: i64) -> SunPosition {
    let delta_t_s = delta_t::delta_t_seconds(unix_ms);
    let o = spa::spa(&spa::SpaInput {
        unix_ms,
        delta_t_s,
        latitude_deg: lat_deg,
        longitude_deg: lon_deg,
        elevation_m: 0.0,
        pressure_mbar: STANDARD_PRESSURE_MBAR,
        temperature_c: STANDARD_TEMPERATURE_C,
        atmos_refract_deg: HORIZON_REFRACTION_DEG,
    });
    SunPosition {
        elevation_deg: o.elevation_deg,
        apparent_elevation_deg: o.apparent_elevation_deg,
        zenith_deg: o.zenith_deg,
        azimuth_deg: o.azimuth_deg,
        earth_sun_distance_au: o.radius_au,
        delta_t_s,
    }
}

/// Clear-sky irradiance components for a sun position (see [`mod@clear_sky`] module docs).
pub fn clear_sky(sun: &SunPosition) -> ClearSky {
    clear_sky::ineichen(
        sun.zenith_deg,
        sun.earth_sun_distance_au,
        clear_sky::LINKE_TURBIDITY,
    )
}

/// Clear-sky global horizontal irradiance, W/m², at (`lat_deg`, `lon_deg`) and `unix_ms`:
/// Ineichen–Perez, Linke turbidity 2.0, sea level; 0 when the sun is below the horizon.
pub fn clear_sky_ghi_wm2(lat_deg: f64, lon_deg: f64, unix_ms: i64) -> f64 {
    clear_sky(&position(lat_deg, lon_deg, unix_ms)).ghi_wm2
}

/// Which clear-sky irradiance scales the nameplate in the production bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundPlane {
    /// Global horizontal irradiance: right for flat-mounted arrays, but flags tilted arrays when
    /// the sun is low (winter, mornings, high latitudes).
    Horizontal,
    /// A plane facing the sun ([`ClearSky::sun_facing_wm2`]): bounds every orientation.
    SunFacing,
}

/// Irradiance floor while the sun is up, W/m². Clear-sky models go to 0 at the horizon, but
/// the sky is bright well before: measured diffuse light around sunrise is typically
/// 10–30 W/m². Without a floor every honest dawn reading above the meter tolerance would be
/// flagged; 25 W/m² on a 5 kW array is 31 Wh per 15 min.
pub const DAYLIGHT_FLOOR_WM2: f64 = 25.0;

/// Longest step between two sun samples in an interval.
pub const MAX_SAMPLE_STEP_MS: i64 = 5 * 60 * 1000;
/// Most sun samples taken for one interval (an interval spanning a long gap gets coarser
/// steps rather than unbounded work).
pub const MAX_SAMPLES: usize = 600;

/// What the sun did over an interval, from evenly spaced samples (both ends included, at least
/// 3, at most [`MAX_SAMPLES`], at most [`MAX_SAMPLE_STEP_MS`] apart when the cap allows).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntervalSun {
    /// Every sample had the sun below the apparent horizon ([`SunPosition::is_night`]).
    pub night: bool,
    /// ∫ clear-sky irradiance dt over the interval on the chosen plane, in Wh/m² (at least
    /// [`DAYLIGHT_FLOOR_WM2`] while the sun is up, 0 once it is down), integrated
    /// as an upper step sum: each step between two samples counts its larger endpoint, so the
    /// coarse sampling overestimates (never underestimates) on monotone stretches.
    pub clear_sky_wh_per_m2: f64,
    /// Highest apparent elevation seen, degrees.
    pub max_apparent_elevation_deg: f64,
}

/// Sample the sun over `[start_ms, end_ms]` at `site`. An empty or reversed interval is a single
/// instant at `start_ms` with zero integral.
pub fn interval_sun(site: Site, start_ms: i64, end_ms: i64, plane: BoundPlane) -> IntervalSun {
    let span = end_ms.saturating_sub(start_ms).max(0);
    let steps_wanted =
        (span / MAX_SAMPLE_STEP_MS + i64::from(span % MAX_SAMPLE_STEP_MS != 0)).max(2);
    let steps = steps_wanted.min(MAX_SAMPLES as i64 - 1).max(1);
    let irradiance = |sun: &SunPosition| {
        let c = clear_sky(sun);
        match plane {
            BoundPlane::Horizontal => c.ghi_wm2,
            BoundPlane::SunFacing => c.sun_facing_wm2,
        }
    };
    let mut night = true;
    let mut max_el = f64::NEG_INFINITY;
    let mut integral_w_ms = 0.0;
    let mut prev: Option<f64> = None;
    for i in 0..=steps {
        // i128 keeps span·i exact for any i64 span.
        let t = start_ms + ((i128::from(span) * i128::from(i)) / i128::from(steps)) as i64;
        let sun = position(site.lat_deg, site.lon_deg, t);
        night &= sun.is_night();
        max_el = max_el.max(sun.apparent_elevation_deg);
        let e = if sun.is_night() {
            0.0
        } else {
            irradiance(&sun).max(DAYLIGHT_FLOOR_WM2)
        };
        if let Some(p) = prev {
            integral_w_ms += p.max(e) * (span as f64 / steps as f64);
        }
        prev = Some(e);
    }
    IntervalSun {
        night,
        clear_sky_wh_per_m2: integral_w_ms / 3_600_000.0,
        max_apparent_elevation_deg: max_el,
    }
}

#[cfg(test)]
mod tests {
    use super::calendar::unix_ms_from_civil;
    use super::*;

    #[test]
    fn site_validation() {
        assert!(Site::new(90.0, -180.0).is_ok());
        assert_eq!(
            Site::new(90.5, 0.0),
            Err(SettlementError::InvalidLatitude(90.5))
        );
        assert_eq!(
            Site::new(0.0, 181.0),
            Err(SettlementError::InvalidLongitude(181.0))
        );
        assert!(Site::new(f64::NAN, 0.0).is_err());
        assert!(Site::new(0.0, f64::INFINITY).is_err());
    }

    #[test]
    fn site_deserialization_validates() {
        let ok: Site = serde_json::from_str(r#"{"lat_deg":52.5,"lon_deg":13.4}"#).unwrap();
        assert_eq!(ok, Site::new(52.5, 13.4).unwrap());
        let bad = serde_json::from_str::<Site>(r#"{"lat_deg":152.5,"lon_deg":13.4}"#);
        assert!(bad.unwrap_err().to_string().contains("latitude 152.5"));
    }

    #[test]
    fn ghi_is_zero_at_night_and_large_at_noon() {
        // Quito (near the equator) at local noon ≈ 17:14 UTC on the March equinox.
        let noon = unix_ms_from_civil(2024, 3, 20) + (17 * 60 + 14) * 60_000;
        let midnight = noon - 12 * 3_600_000;
        assert_eq!(clear_sky_ghi_wm2(-0.18, -78.47, midnight), 0.0);
        let ghi = clear_sky_ghi_wm2(-0.18, -78.47, noon);
        assert!((1050.0..1120.0).contains(&ghi), "{ghi}");
    }

    #[test]
    fn a_clear_day_integrates_to_a_plausible_total() {
        // Berlin, 21 June: a clear day gives roughly 8 kWh/m² horizontal.
        let site = Site::new(52.52, 13.40).unwrap();
        let day = unix_ms_from_civil(2025, 6, 21);
        let s = interval_sun(site, day, day + 86_400_000, BoundPlane::Horizontal);
        assert!(!s.night);
        assert!(
            (7_000.0..9_500.0).contains(&s.clear_sky_wh_per_m2),
            "{}",
            s.clear_sky_wh_per_m2
        );
        let tilted = interval_sun(site, day, day + 86_400_000, BoundPlane::SunFacing);
        assert!(tilted.clear_sky_wh_per_m2 > s.clear_sky_wh_per_m2);
    }

    #[test]
    fn night_interval_and_polar_night() {
        let berlin = Site::new(52.52, 13.40).unwrap();
        let midnight = unix_ms_from_civil(2025, 1, 10);
        let s = interval_sun(berlin, midnight, midnight + 900_000, BoundPlane::SunFacing);
        assert!(s.night);
        assert_eq!(s.clear_sky_wh_per_m2, 0.0);
        // Longyearbyen (78.2° N) at noon in December: polar night.
        let svalbard = Site::new(78.22, 15.65).unwrap();
        let noon = unix_ms_from_civil(2025, 12, 21) + 11 * 3_600_000;
        assert!(interval_sun(svalbard, noon, noon + 3_600_000, BoundPlane::SunFacing).night);
        // ...and midnight sun in June.
        let midnight = unix_ms_from_civil(2025, 6, 21) - 3_600_000;
        let s = interval_sun(
            svalbard,
            midnight,
            midnight + 900_000,
            BoundPlane::Horizontal,
        );
        assert!(!s.night && s.clear_sky_wh_per_m2 > 0.0);
    }

    #[test]
    fn reversed_and_huge_intervals_do_not_panic() {
        let site = Site::new(0.0, 0.0).unwrap();
        let s = interval_sun(site, 10, 0, BoundPlane::Horizontal);
        assert_eq!(s.clear_sky_wh_per_m2, 0.0);
        let s = interval_sun(site, 0, 365 * 86_400_000, BoundPlane::Horizontal);
        assert!(s.clear_sky_wh_per_m2.is_finite());
    }
}
