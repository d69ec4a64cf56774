//! A plausible solar day for the simulator: a clear-sky-like bell from the cosine of the solar
//! zenith angle. Deliberately simple (no equation of time, no atmosphere); it only has to look
//! like a real inverter's day, stay zero at night and never exceed the nameplate.
//! [`power_on_plane_w`] adds the modules' orientation (tilt and azimuth), so an east-facing
//! array peaks in the morning and a west-facing one in the afternoon.

/// A site: latitude and longitude in degrees, nameplate in W.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Site {
    pub latitude: f64,
    pub longitude: f64,
    pub nameplate_w: u32,
}

/// The plane of the modules: tilt from horizontal and azimuth clockwise from north
/// (90 = east, 180 = south, 270 = west), degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Panel {
    pub tilt_deg: f64,
    pub azimuth_deg: f64,
}

const MS_PER_DAY: i64 = 86_400_000;

/// Declination and hour angle (radians) at `t_ms`.
fn declination_and_hour_angle(site: &Site, t_ms: i64) -> (f64, f64) {
    let days = t_ms.div_euclid(MS_PER_DAY);
    let ms_of_day = t_ms.rem_euclid(MS_PER_DAY) as f64;
    // day of year, good enough from 1970-01-01 with a 365.2425-day year
    let doy = (days as f64).rem_euclid(365.2425);
    let decl = (-23.44f64).to_radians() * ((360.0 / 365.0) * (doy + 10.0)).to_radians().cos();
    let solar_hours = ms_of_day / 3_600_000.0 + site.longitude / 15.0;
    let hour_angle = (15.0 * (solar_hours - 12.0)).to_radians();
    (decl, hour_angle)
}

/// Cosine of the solar zenith angle at `t_ms` (UTC ms since the epoch); negative below the horizon.
pub fn cos_zenith(site: &Site, t_ms: i64) -> f64 {
    let (decl, hour_angle) = declination_and_hour_angle(site, t_ms);
    let lat = site.latitude.to_radians();
    lat.sin() * decl.sin() + lat.cos() * decl.cos() * hour_angle.cos()
}

/// The sun's azimuth at `t_ms`, degrees clockwise from north.
pub fn sun_azimuth_deg(site: &Site, t_ms: i64) -> f64 {
    let (decl, h) = declination_and_hour_angle(site, t_ms);
    let lat = site.latitude.to_radians();
    let y = -decl.cos() * h.sin();
    let x = decl.sin() * lat.cos() - decl.cos() * lat.sin() * h.cos();
    y.atan2(x).to_degrees().rem_euclid(360.0)
}

/// AC power in W at `t_ms` of modules on `panel`: the beam on the plane (cosine of the angle
/// of incidence), dimmed by the air mass as the sun gets low, plus a little diffuse light;
/// 0 at night, never above the nameplate. Low sun is dimmed strongly (Meinel's air-mass
/// attenuation), so a plane facing the rising sun stays under any clear-sky bound.
pub fn power_on_plane_w(site: &Site, panel: &Panel, t_ms: i64) -> u32 {
    let c = cos_zenith(site, t_ms);
    if c <= 0.0 {
        return 0;
    }
    let s = (1.0 - c * c).max(0.0).sqrt();
    let tilt = panel.tilt_deg.to_radians();
    let delta = (sun_azimuth_deg(site, t_ms) - panel.azimuth_deg).to_radians();
    let incidence = (c * tilt.cos() + s * tilt.sin() * delta.cos()).max(0.0);
    let air_mass = 1.0 / c;
    let beam = 0.7f64.powf(air_mass.powf(0.678)) / 0.7;
    let diffuse = 0.1 * c * (1.0 + tilt.cos()) / 2.0;
    let p = f64::from(site.nameplate_w) * 0.85 * (0.9 * incidence * beam + diffuse);
    p.round().clamp(0.0, f64::from(site.nameplate_w)) as u32
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
    fn the_sun_rises_in_the_east_and_culminates_in_the_south() {
        let morning = sun_azimuth_deg(&BERLIN, MIDSUMMER + 5 * HOUR);
        let noon = sun_azimuth_deg(&BERLIN, MIDSUMMER + 11 * HOUR + 6 * 60_000);
        let evening = sun_azimuth_deg(&BERLIN, MIDSUMMER + 17 * HOUR);
        assert!((60.0..120.0).contains(&morning), "{morning}");
        assert!((170.0..190.0).contains(&noon), "{noon}");
        assert!((240.0..300.0).contains(&evening), "{evening}");
    }

    #[test]
    fn an_east_plane_leads_a_west_plane_and_nights_stay_dark() {
        let east = Panel {
            tilt_deg: 30.0,
            azimuth_deg: 90.0,
        };
        let west = Panel {
            tilt_deg: 30.0,
            azimuth_deg: 270.0,
        };
        let at = |p: &Panel, h: i64| power_on_plane_w(&BERLIN, p, MIDSUMMER + h * HOUR);
        assert!(
            at(&east, 6) > 2 * at(&west, 6),
            "{} {}",
            at(&east, 6),
            at(&west, 6)
        );
        assert!(at(&west, 16) > 2 * at(&east, 16));
        for p in [&east, &west] {
            assert_eq!(at(p, 0), 0);
            assert_eq!(at(p, 23), 0);
            for m in 0..(24 * 60) {
                assert!(power_on_plane_w(&BERLIN, p, MIDSUMMER + m * 60_000) <= 5000);
            }
        }
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
