//! ΔT = TT − UT, the difference between Terrestrial Time (which drives the ephemeris) and
//! Universal Time (which drives the clock and the Earth's rotation), in seconds.
//!
//! Source: F. Espenak and J. Meeus, "Polynomial expressions for Delta T", NASA Five Millennium
//! Canon of Solar Eclipses (NASA/TP-2006-214141), published at
//! eclipse.gsfc.nasa.gov/SEcat5/deltatpoly.html. Each polynomial is valid for its own range and
//! uses the decimal year `y = year + (month − 0.5) / 12` (the middle of the month); we use the
//! same convention so our values match theirs (and pvlib's `spa.calculate_deltat`) exactly.
//!
//! The pieces from 1950 onward matter to us (1986–2005 is a fit to observations, 2005–2050 and
//! 2050–2150 are extrapolations that Espenak and Meeus themselves flag as uncertain by a few
//! seconds); the historical pieces are kept because they are cheap and make the function total.
//! A ΔT error of 1 s moves the sun by about 0.004° in hour angle, so the extrapolation
//! uncertainty stays inside our 0.01° budget for decades.

use super::calendar::civil_date;

/// The Espenak–Meeus decimal year for an instant: the middle of its UTC month.
pub fn decimal_year(unix_ms: i64) -> f64 {
    let d = civil_date(unix_ms);
    d.year as f64 + (f64::from(d.month) - 0.5) / 12.0
}

/// ΔT in seconds for an instant, by the Espenak–Meeus polynomials.
pub fn delta_t_seconds(unix_ms: i64) -> f64 {
    delta_t_for_decimal_year(decimal_year(unix_ms))
}

/// ΔT in seconds for a decimal year `y` (see the module docs for the convention).
pub fn delta_t_for_decimal_year(y: f64) -> f64 {
    // Horner evaluation of c0 + c1·t + c2·t² + …
    fn poly(t: f64, c: &[f64]) -> f64 {
        c.iter().rev().fold(0.0, |acc, &k| acc * t + k)
    }
    let long_term = |y: f64| {
        let u = (y - 1820.0) / 100.0;
        -20.0 + 32.0 * u * u
    };
    if y < -500.0 {
        long_term(y)
    } else if y < 500.0 {
        poly(
            y / 100.0,
            &[
                10583.6,
                -1014.41,
                33.78311,
                -5.952053,
                -0.1798452,
                0.022174192,
                0.0090316521,
            ],
        )
    } else if y < 1600.0 {
        poly(
            (y - 1000.0) / 100.0,
            &[
                1574.2,
                -556.01,
                71.23472,
                0.319781,
                -0.8503463,
                -0.005050998,
                0.0083572073,
            ],
        )
    } else if y < 1700.0 {
        poly(y - 1600.0, &[120.0, -0.9808, -0.01532, 1.0 / 7129.0])
    } else if y < 1800.0 {
        poly(
            y - 1700.0,
            &[8.83, 0.1603, -0.0059285, 0.00013336, -1.0 / 1_174_000.0],
        )
    } else if y < 1860.0 {
        poly(
            y - 1800.0,
            &[
                13.72,
                -0.332447,
                0.0068612,
                0.0041116,
                -0.00037436,
                0.0000121272,
                -0.0000001699,
                0.000000000875,
            ],
        )
    } else if y < 1900.0 {
        poly(
            y - 1860.0,
            &[
                7.62,
                0.5737,
                -0.251754,
                0.01680668,
                -0.0004473624,
                1.0 / 233_174.0,
            ],
        )
    } else if y < 1920.0 {
        poly(
            y - 1900.0,
            &[-2.79, 1.494119, -0.0598939, 0.0061966, -0.000197],
        )
    } else if y < 1941.0 {
        poly(y - 1920.0, &[21.20, 0.84493, -0.076100, 0.0020936])
    } else if y < 1961.0 {
        poly(y - 1950.0, &[29.07, 0.407, -1.0 / 233.0, 1.0 / 2547.0])
    } else if y < 1986.0 {
        poly(y - 1975.0, &[45.45, 1.067, -1.0 / 260.0, -1.0 / 718.0])
    } else if y < 2005.0 {
        poly(
            y - 2000.0,
            &[
                63.86,
                0.3345,
                -0.060374,
                0.0017275,
                0.000651814,
                0.00002373599,
            ],
        )
    } else if y < 2050.0 {
        poly(y - 2000.0, &[62.92, 0.32217, 0.005589])
    } else if y < 2150.0 {
        long_term(y) - 0.5628 * (2150.0 - y)
    } else {
        long_term(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solar::calendar::unix_ms_from_civil;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn anchors_of_the_polynomials() {
        // Each polynomial is expanded around a year where its constant term is the tabulated ΔT.
        assert!(close(delta_t_for_decimal_year(1950.0), 29.07, 1e-9));
        assert!(close(delta_t_for_decimal_year(1975.0), 45.45, 1e-9));
        assert!(close(delta_t_for_decimal_year(2000.0), 63.86, 1e-9));
    }

    #[test]
    fn matches_observed_values_within_the_fit() {
        // Observed ΔT at the start of each year, as tabulated by Espenak–Meeus (values quoted
        // from memory: 1960 33.15 s, 1980 50.54 s, 1990 56.86 s, 2005 64.69 s); the
        // polynomials are fits to such observations and stay within a fraction of a second.
        assert!(close(delta_t_for_decimal_year(1960.0), 33.15, 0.2));
        assert!(close(delta_t_for_decimal_year(1980.0), 50.54, 0.2));
        assert!(close(delta_t_for_decimal_year(1990.0), 56.86, 0.2));
        assert!(close(delta_t_for_decimal_year(2005.0), 64.69, 0.05));
        assert!(close(delta_t_for_decimal_year(2004.999), 64.69, 0.05));
    }

    #[test]
    fn extrapolated_pieces_join_smoothly() {
        // Espenak–Meeus chose the 2050–2150 term so that the curve is continuous at 2150 and
        // roughly continuous at 2050 (their 2050 value is ≈ 93 s from both sides).
        let before = delta_t_for_decimal_year(2049.9999);
        let after = delta_t_for_decimal_year(2050.0);
        assert!(close(before, 93.0, 0.5), "{before}");
        assert!(close(after, 93.0, 0.5), "{after}");
        let at_2150 = delta_t_for_decimal_year(2150.0);
        assert!(close(delta_t_for_decimal_year(2149.9999), at_2150, 1e-3));
        assert!(close(at_2150, 328.48, 0.01), "{at_2150}");
    }

    #[test]
    fn every_month_1950_to_2150_is_plausible_and_continuous() {
        let mut prev = delta_t_for_decimal_year(1950.0);
        for i in 1..(200 * 12) {
            let y = 1950.0 + f64::from(i) / 12.0;
            let dt = delta_t_for_decimal_year(y);
            assert!((25.0..=330.0).contains(&dt), "ΔT({y}) = {dt}");
            // Month-to-month change is tiny even across piece boundaries.
            assert!((dt - prev).abs() < 1.0, "jump at {y}: {prev} -> {dt}");
            prev = dt;
        }
    }

    #[test]
    fn instant_uses_middle_of_month() {
        let ms = unix_ms_from_civil(2005, 1, 20);
        assert!(close(decimal_year(ms), 2005.0 + 0.5 / 12.0, 1e-12));
        // 2005-01: 62.92 + 0.32217·5.0417 + 0.005589·5.0417² = 64.686…
        assert!(close(delta_t_seconds(ms), 64.686, 0.001));
    }
}
