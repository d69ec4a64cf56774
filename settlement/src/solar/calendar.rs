//! Civil (proleptic Gregorian, UTC) dates from Unix milliseconds, without a date library: the
//! geometry needs only the year and month (for ΔT) and the Julian day, and a core must not
//! depend on the host's time zone database.

/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;

/// Julian day of the Unix epoch, 1970-01-01T00:00:00Z.
pub const UNIX_EPOCH_JD: f64 = 2_440_587.5;

/// A UTC calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilDate {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
}

/// The UTC date containing `unix_ms` (Howard Hinnant's `civil_from_days`, exact for every i64
/// day count we can reach from i64 milliseconds).
pub fn civil_date(unix_ms: i64) -> CivilDate {
    let days = unix_ms.div_euclid(DAY_MS);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    CivilDate { year, month, day }
}

/// Unix milliseconds of 00:00 UTC on the given date (Hinnant's `days_from_civil`). Used by tests
/// and callers that build instants from calendar fields.
pub fn unix_ms_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * DAY_MS
}

/// Julian day (UT) of an instant.
pub fn julian_day(unix_ms: i64) -> f64 {
    // Split into whole days and the remainder so the fraction keeps full f64 precision.
    let days = unix_ms.div_euclid(DAY_MS);
    let rem = unix_ms.rem_euclid(DAY_MS);
    UNIX_EPOCH_JD + days as f64 + rem as f64 / DAY_MS as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(
            civil_date(0),
            CivilDate {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            civil_date(-1),
            CivilDate {
                year: 1969,
                month: 12,
                day: 31
            }
        );
        // 2000-02-29 (leap day in a 400-year leap century)
        let ms = unix_ms_from_civil(2000, 2, 29);
        assert_eq!(ms, 951_782_400_000);
        assert_eq!(
            civil_date(ms + DAY_MS - 1),
            CivilDate {
                year: 2000,
                month: 2,
                day: 29
            }
        );
        // 2100 is not a leap year
        assert_eq!(
            civil_date(unix_ms_from_civil(2100, 2, 28) + DAY_MS),
            CivilDate {
                year: 2100,
                month: 3,
                day: 1
            }
        );
    }

    #[test]
    fn round_trip_1900_to_2200() {
        let mut ms = unix_ms_from_civil(1900, 1, 1);
        let end = unix_ms_from_civil(2200, 1, 1);
        while ms < end {
            let d = civil_date(ms);
            assert_eq!(unix_ms_from_civil(d.year, d.month, d.day), ms);
            ms += DAY_MS;
        }
    }

    #[test]
    fn julian_day_of_j2000() {
        // J2000.0 = 2000-01-01T12:00:00 TT; as UT instant 2000-01-01T12:00Z is JD 2451545.0.
        let ms = unix_ms_from_civil(2000, 1, 1) + DAY_MS / 2;
        assert_eq!(julian_day(ms), 2_451_545.0);
    }
}
