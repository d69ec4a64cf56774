//! NREL's Solar Position Algorithm (I. Reda and A. Andreas, "Solar Position Algorithm for Solar
//! Radiation Applications", NREL/TP-560-34302, 2004; revised 2008), implemented from the paper:
//! uncertainty ±0.0003° for years −2000..6000, given the right ΔT.
//!
//! Steps (numbers are the paper's section 3.x): Julian day/century/millennium (3.1); Earth
//! heliocentric longitude, latitude and radius from the VSOP87 periodic terms (3.2); geocentric
//! longitude/latitude (3.3); nutation (3.4); true obliquity of the ecliptic (3.5); aberration
//! (3.6); apparent sun longitude (3.7); apparent sidereal time (3.8); geocentric right
//! ascension and declination (3.9, 3.10); observer hour angle (3.11); topocentric parallax
//! (3.12); topocentric hour angle (3.13); elevation, refraction, zenith (3.14); azimuth (3.15).

use super::calendar::julian_day;
use super::spa_tables::{B_TERMS, L_TERMS, NUTATION, R_TERMS};

/// Everything the SPA needs about the instant, the observer and the atmosphere.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpaInput {
    /// The instant, UTC milliseconds since the Unix epoch.
    pub unix_ms: i64,
    /// ΔT = TT − UT in seconds (see [`super::delta_t`]).
    pub delta_t_s: f64,
    /// Geodetic latitude, degrees, north positive, −90..=90.
    pub latitude_deg: f64,
    /// Longitude, degrees, east positive, −180..=180.
    pub longitude_deg: f64,
    /// Observer elevation above sea level, metres.
    pub elevation_m: f64,
    /// Annual average local pressure, millibars (hPa).
    pub pressure_mbar: f64,
    /// Annual average local temperature, °C.
    pub temperature_c: f64,
    /// Atmospheric refraction at sunrise and sunset, degrees (the paper's default is 0.5667).
    /// With the sun's semi-diameter (0.26667°) it sets below which geometric elevation no
    /// refraction correction is applied.
    pub atmos_refract_deg: f64,
}

/// The SPA results we use, plus the intermediate quantities the paper tabulates for its example
/// (so tests can check each stage).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpaOutput {
    pub julian_day: f64,
    /// Earth heliocentric longitude L, degrees (0..360).
    pub heliocentric_longitude_deg: f64,
    /// Earth heliocentric latitude B, degrees.
    pub heliocentric_latitude_deg: f64,
    /// Earth radius vector R, astronomical units (the Earth–sun distance).
    pub radius_au: f64,
    /// Observer local hour angle H, degrees (0..360, westward from south).
    pub hour_angle_deg: f64,
    /// Nutation in longitude Δψ, degrees.
    pub nutation_longitude_deg: f64,
    /// Nutation in obliquity Δε, degrees.
    pub nutation_obliquity_deg: f64,
    /// True obliquity of the ecliptic ε, degrees.
    pub obliquity_deg: f64,
    /// Geocentric sun right ascension α, degrees (0..360).
    pub right_ascension_deg: f64,
    /// Geocentric sun declination δ, degrees.
    pub declination_deg: f64,
    /// Topocentric sun declination δ′, degrees.
    pub topocentric_declination_deg: f64,
    /// Topocentric elevation angle without refraction e0, degrees.
    pub elevation_deg: f64,
    /// Topocentric elevation angle with refraction e, degrees.
    pub apparent_elevation_deg: f64,
    /// Topocentric zenith angle θ = 90° − e (with refraction), degrees.
    pub zenith_deg: f64,
    /// Topocentric azimuth Φ, degrees eastward (clockwise) from north, 0..360.
    pub azimuth_deg: f64,
}

/// Mean equatorial radius of the Earth used by the paper's parallax step, metres.
const EARTH_RADIUS_M: f64 = 6_378_140.0;

/// `Σ A·cos(B + C·x)` over one table of periodic terms.
fn sum_terms(terms: &[[f64; 3]], x: f64) -> f64 {
    terms.iter().map(|t| t[0] * (t[1] + t[2] * x).cos()).sum()
}

/// `(Σ_i group_i · x^i) / 10^8` — the paper's eq. 10–11 shape for L, B and R.
fn series(groups: &[&[[f64; 3]]], x: f64) -> f64 {
    let mut power = 1.0;
    let mut total = 0.0;
    for group in groups {
        total += sum_terms(group, x) * power;
        power *= x;
    }
    total / 1e8
}

fn poly(t: f64, c: &[f64]) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * t + k)
}

fn wrap360(deg: f64) -> f64 {
    deg.rem_euclid(360.0)
}

/// Run the full SPA. Never panics; out-of-range inputs give meaningless (possibly NaN) angles,
/// so callers validate coordinates first (see [`crate::solar::Site`]).
pub fn spa(input: &SpaInput) -> SpaOutput {
    // 3.1 time scales
    let jd = julian_day(input.unix_ms);
    let jde = jd + input.delta_t_s / 86_400.0;
    let jc = (jd - 2_451_545.0) / 36_525.0;
    let jce = (jde - 2_451_545.0) / 36_525.0;
    let jme = jce / 10.0;

    // 3.2 Earth heliocentric position
    let l_deg = wrap360(series(&L_TERMS, jme).to_degrees());
    let b_deg = series(&B_TERMS, jme).to_degrees();
    let r_au = series(&R_TERMS, jme);

    // 3.3 geocentric
    let theta = wrap360(l_deg + 180.0);
    let beta = -b_deg;

    // 3.4 nutation
    let x = [
        poly(
            jce,
            &[297.85036, 445_267.111_480, -0.001_914_2, 1.0 / 189_474.0],
        ),
        poly(
            jce,
            &[357.52772, 35_999.050_340, -0.000_160_3, -1.0 / 300_000.0],
        ),
        poly(
            jce,
            &[134.96298, 477_198.867_398, 0.008_697_2, 1.0 / 56_250.0],
        ),
        poly(
            jce,
            &[93.27191, 483_202.017_538, -0.003_682_5, 1.0 / 327_270.0],
        ),
        poly(
            jce,
            &[125.04452, -1_934.136_261, 0.002_070_8, 1.0 / 450_000.0],
        ),
    ];
    let (mut dpsi, mut deps) = (0.0, 0.0);
    for (y, [a, b, c, d]) in NUTATION.iter() {
        let arg: f64 = y
            .iter()
            .zip(x.iter())
            .map(|(&yi, &xi)| f64::from(yi) * xi)
            .sum::<f64>()
            .to_radians();
        dpsi += (a + b * jce) * arg.sin();
        deps += (c + d * jce) * arg.cos();
    }
    let dpsi = dpsi / 36_000_000.0;
    let deps = deps / 36_000_000.0;

    // 3.5 obliquity
    let u = jme / 10.0;
    let eps0 = poly(
        u,
        &[
            84_381.448, -4_680.93, -1.55, 1_999.25, -51.38, -249.67, -39.05, 7.12, 27.87, 5.79,
            2.45,
        ],
    );
    let eps = eps0 / 3600.0 + deps;

    // 3.6–3.7 aberration, apparent sun longitude
    let dtau = -20.4898 / (3600.0 * r_au);
    let lambda = theta + dpsi + dtau;

    // 3.8 apparent sidereal time at Greenwich
    let nu0 = wrap360(
        280.460_618_37 + 360.985_647_366_29 * (jd - 2_451_545.0) + 0.000_387_933 * jc * jc
            - jc * jc * jc / 38_710_000.0,
    );
    let eps_r = eps.to_radians();
    let nu = nu0 + dpsi * eps_r.cos();

    // 3.9–3.10 geocentric right ascension and declination
    let lambda_r = lambda.to_radians();
    let beta_r = beta.to_radians();
    let alpha = wrap360(
        (lambda_r.sin() * eps_r.cos() - beta_r.tan() * eps_r.sin())
            .atan2(lambda_r.cos())
            .to_degrees(),
    );
    let delta_r = (beta_r.sin() * eps_r.cos() + beta_r.cos() * eps_r.sin() * lambda_r.sin()).asin();

    // 3.11 observer local hour angle
    let h = wrap360(nu + input.longitude_deg - alpha);

    // 3.12 topocentric parallax
    let xi_r = (8.794 / (3600.0 * r_au)).to_radians();
    let phi_r = input.latitude_deg.to_radians();
    let u_r = (0.996_647_19 * phi_r.tan()).atan();
    let xt = u_r.cos() + input.elevation_m / EARTH_RADIUS_M * phi_r.cos();
    let yt = 0.996_647_19 * u_r.sin() + input.elevation_m / EARTH_RADIUS_M * phi_r.sin();
    let h_r = h.to_radians();
    let denom = delta_r.cos() - xt * xi_r.sin() * h_r.cos();
    let dalpha_r = (-xt * xi_r.sin() * h_r.sin()).atan2(denom);
    let delta_p_r = ((delta_r.sin() - yt * xi_r.sin()) * dalpha_r.cos()).atan2(denom);

    // 3.13 topocentric local hour angle
    let hp_r = h_r - dalpha_r;

    // 3.14 elevation, refraction, zenith
    let e0 = (phi_r.sin() * delta_p_r.sin() + phi_r.cos() * delta_p_r.cos() * hp_r.cos())
        .asin()
        .to_degrees();
    let de = if e0 >= -(0.26667 + input.atmos_refract_deg) {
        (input.pressure_mbar / 1010.0) * (283.0 / (273.0 + input.temperature_c)) * 1.02
            / (60.0 * (e0 + 10.3 / (e0 + 5.11)).to_radians().tan())
    } else {
        0.0
    };
    let e = e0 + de;

    // 3.15 azimuth: astronomers' Γ (westward from south), then Φ (eastward from north)
    let gamma = hp_r
        .sin()
        .atan2(hp_r.cos() * phi_r.sin() - delta_p_r.tan() * phi_r.cos())
        .to_degrees();
    let azimuth = wrap360(gamma + 180.0);

    SpaOutput {
        julian_day: jd,
        heliocentric_longitude_deg: l_deg,
        heliocentric_latitude_deg: b_deg,
        radius_au: r_au,
        hour_angle_deg: h,
        nutation_longitude_deg: dpsi,
        nutation_obliquity_deg: deps,
        obliquity_deg: eps,
        right_ascension_deg: alpha,
        declination_deg: delta_r.to_degrees(),
        topocentric_declination_deg: delta_p_r.to_degrees(),
        elevation_deg: e0,
        apparent_elevation_deg: e,
        zenith_deg: 90.0 - e,
        azimuth_deg: azimuth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solar::calendar::unix_ms_from_civil;

    /// The worked example of the SPA paper (Table A5.1; also the output of NREL's `spa_tester.c`):
    /// 2003-10-17 12:30:30 local time, time zone −7 h, i.e. 19:30:30 UTC; ΔT 67 s; latitude
    /// 39.742476°, longitude −105.1786°, elevation 1830.14 m, 820 mbar, 11 °C, refraction 0.5667°.
    fn paper_example() -> SpaOutput {
        let ms = unix_ms_from_civil(2003, 10, 17) + ((19 * 60 + 30) * 60 + 30) * 1000;
        spa(&SpaInput {
            unix_ms: ms,
            delta_t_s: 67.0,
            latitude_deg: 39.742476,
            longitude_deg: -105.1786,
            elevation_m: 1830.14,
            pressure_mbar: 820.0,
            temperature_c: 11.0,
            atmos_refract_deg: 0.5667,
        })
    }

    fn assert_close(what: &str, got: f64, want: f64, tol: f64) {
        assert!(
            (got - want).abs() <= tol,
            "{what}: got {got}, want {want} ± {tol}"
        );
    }

    #[test]
    fn nrel_spa_paper_example() {
        let o = paper_example();
        // Published results (paper Table A5.1 / spa_tester.c output), to their printed precision.
        assert_close("julian day", o.julian_day, 2_452_930.312_847, 1e-6);
        assert_close("L", o.heliocentric_longitude_deg, 24.018_261_691_7, 1e-8);
        assert_close("B", o.heliocentric_latitude_deg, -0.000_101_121_9, 1e-10);
        assert_close("R", o.radius_au, 0.996_542_297_4, 1e-9);
        assert_close("Δψ", o.nutation_longitude_deg, -0.003_998_404, 1e-9);
        assert_close("Δε", o.nutation_obliquity_deg, 0.001_666_568, 1e-9);
        assert_close("ε", o.obliquity_deg, 23.440_465, 1e-6);
        assert_close("α", o.right_ascension_deg, 202.227_41, 1e-5);
        assert_close("δ", o.declination_deg, -9.314_34, 1e-5);
        assert_close("H", o.hour_angle_deg, 11.105_902, 1e-6);
        assert_close("δ′", o.topocentric_declination_deg, -9.316_179, 1e-6);
        assert_close("e0", o.elevation_deg, 39.872_046, 1e-6);
        assert_close("e", o.apparent_elevation_deg, 39.888_378, 1e-6);
        assert_close("zenith", o.zenith_deg, 50.111_622, 1e-6);
        // Φ = 194.340241° eastward from north (Γ = 14.340241° westward from south).
        assert_close("azimuth", o.azimuth_deg, 194.340_241, 1e-6);
    }

    #[test]
    fn refraction_switches_off_below_the_visible_disc() {
        // Below −(0.26667° + refraction) the sun's upper limb is under the apparent horizon and
        // SPA applies no refraction; just above it the correction is about half a degree.
        let mut input = SpaInput {
            unix_ms: 0,
            delta_t_s: 69.0,
            latitude_deg: 0.0,
            longitude_deg: 0.0,
            elevation_m: 0.0,
            pressure_mbar: 1010.0,
            temperature_c: 10.0,
            atmos_refract_deg: 0.5667,
        };
        // Scan one day in minutes; whenever e0 < -0.83337 the two elevations are equal.
        let start = unix_ms_from_civil(2024, 3, 20);
        let mut seen_night = false;
        let mut seen_horizon = false;
        for minute in 0..1440 {
            input.unix_ms = start + minute * 60_000;
            let o = spa(&input);
            if o.elevation_deg < -0.83337 {
                seen_night = true;
                assert_eq!(o.apparent_elevation_deg, o.elevation_deg);
            } else if o.elevation_deg.abs() < 0.2 {
                seen_horizon = true;
                let refr = o.apparent_elevation_deg - o.elevation_deg;
                assert!((0.4..0.7).contains(&refr), "refraction {refr}");
            }
        }
        assert!(seen_night && seen_horizon);
    }
}
