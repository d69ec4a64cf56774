//! A plausible solar day for the simulator: a clear-sky-like bell from the cosine of the solar
//! zenith angle. Deliberately simple (no equation of time, no atmosphere); it only has to look
//! like a real inverter's day, stay zero at night and never exceed the nameplate.

/// A site: latitude and longitude in degrees, nameplate in W.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Site {
    pub latitude: f64,
    pub longitude: f64,
    pub nameplate_w: u32,
}

const MS_PER_DAY: i64 = 86_400_000;

/// Cosine of the solar zenith angle at `t_ms` (UTC ms since the epoch); negative below the horizon.
pub fn cos_zenith(site: &Site, t_ms: i64) -> f64 {
    let days = t_ms.div_euclid(MS_PER_DAY);
    let ms_of_day = t_ms.rem_euclid(MS_PER_DAY) as f64;
    // day of year, good enough from 1970-01-01 with a 365.2425-day year
    let doy = (days as f64).rem_euclid(365.2425);
    let decl = (-23.44f64).to_radians() * ((360.0 / 365.0) * (doy + 10.0)).to_radians().cos();
    let solar_hours = ms_of_day / 3_600_000.0 + site.longitude / 15.0;
    let hour_angle = (15.0 * (solar_hours - 12.0)).to_radians();
    let lat = site.latitude.to_radians();
    lat.sin() * decl.sin() + lat.cos() * decl.cos() * hour_angle.cos()
}

/// AC power in W at `t_ms`: 0 at night, up to 85 % of nameplate at a zenith sun.
pub fn power_w(site: &Site, t_ms: i64) -> u32 {
    let c = cos_zenith(site, t_ms);
    if c <= 0.0 {
        return 0;
    }
    let p = f64::from(site.nameplate_w) * 0.85 * c.powf(1.2);
    p.round().clamp(0.0, f64::from(site.nameplate_w)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERLIN: Site = Site {
        latitude: 52.52,
        longitude: 13.40,
        nameplate_w: 5000,
    };
    // 2026-06-21 00:00 UTC
    const MIDSUMMER: i64 = 1_781_913_600_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn zero_at_night_peak_near_noon() {
        assert_eq!(power_w(&BERLIN, MIDSUMMER), 0, "midnight");
        assert_eq!(power_w(&BERLIN, MIDSUMMER + 22 * HOUR), 0, "late evening");
        // solar noon in Berlin is about 11:06 UTC
        let noon = power_w(&BERLIN, MIDSUMMER + 11 * HOUR);
        assert!(noon > 3000 && noon <= 5000, "{noon}");
        assert!(power_w(&BERLIN, MIDSUMMER + 7 * HOUR) < noon);
        assert!(power_w(&BERLIN, MIDSUMMER + 15 * HOUR) < noon);
    }

    #[test]
    fn winter_is_weaker_than_summer() {
        let december = MIDSUMMER + 183 * 24 * HOUR;
        assert!(power_w(&BERLIN, december + 11 * HOUR) < power_w(&BERLIN, MIDSUMMER + 11 * HOUR));
    }

    #[test]
    fn never_above_nameplate_anywhere() {
        for lat in [-60.0, -23.4, 0.0, 23.4, 60.0] {
            let site = Site {
                latitude: lat,
                longitude: 0.0,
                nameplate_w: 1000,
            };
            for h in 0..(24 * 365) {
                assert!(power_w(&site, MIDSUMMER + h * HOUR) <= 1000);
            }
        }
    }
}
