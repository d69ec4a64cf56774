//! Where a device is: latitude and longitude in integer micro-degrees.
//!
//! Micro-degrees (about 0.1 m) are far finer than any solar model needs, compare exactly, and
//! store as the same INTEGER on both database backends.

use std::fmt;
use std::str::FromStr;

use crate::error::PlatformError;

const MICRO_PER_DEGREE: f64 = 1_000_000.0;

/// Latitude in micro-degrees, north positive, within [-90°, 90°].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Latitude(i32);

/// Longitude in micro-degrees, east positive, within [-180°, 180°].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Longitude(i32);

/// A site's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub latitude: Latitude,
    pub longitude: Longitude,
}

/// Parses decimal degrees to micro-degrees within ±`limit_degrees`, rounding to the nearest
/// micro-degree. The reason is returned for the caller to wrap in its own error variant.
fn parse_degrees(text: &str, limit_degrees: i32) -> Result<i32, &'static str> {
    let degrees: f64 = text
        .trim()
        .parse()
        .map_err(|_| "expected decimal degrees, e.g. 52.5201 or -0.1278")?;
    from_degrees(degrees, limit_degrees)
}

fn from_degrees(degrees: f64, limit_degrees: i32) -> Result<i32, &'static str> {
    if !degrees.is_finite() {
        return Err("expected a finite number of decimal degrees");
    }
    let micro = (degrees * MICRO_PER_DEGREE).round();
    let limit = f64::from(limit_degrees) * MICRO_PER_DEGREE;
    if micro.abs() > limit {
        return Err(if limit_degrees == 90 {
            "latitude must be between -90 and 90 degrees"
        } else {
            "longitude must be between -180 and 180 degrees"
        });
    }
    // In range of ±180e6, so the cast is exact.
    Ok(micro as i32)
}

fn check_micro(micro: i32, limit_degrees: i32) -> bool {
    micro.unsigned_abs() <= limit_degrees.unsigned_abs() * 1_000_000
}

fn write_micro(f: &mut fmt::Formatter<'_>, micro: i32) -> fmt::Result {
    let sign = if micro < 0 { "-" } else { "" };
    let abs = micro.unsigned_abs();
    // `pad` so that table columns can set a width.
    f.pad(&format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000))
}

impl Latitude {
    pub fn from_micro(micro: i32) -> Result<Self, PlatformError> {
        if check_micro(micro, 90) {
            Ok(Self(micro))
        } else {
            Err(PlatformError::InvalidLatitude {
                input: micro.to_string() + " micro-degrees",
                reason: "latitude must be between -90 and 90 degrees",
            })
        }
    }

    pub fn from_degrees(degrees: f64) -> Result<Self, PlatformError> {
        from_degrees(degrees, 90)
            .map(Self)
            .map_err(|reason| PlatformError::InvalidLatitude {
                input: degrees.to_string(),
                reason,
            })
    }

    pub fn micro_degrees(self) -> i32 {
        self.0
    }

    pub fn degrees(self) -> f64 {
        f64::from(self.0) / MICRO_PER_DEGREE
    }
}

impl Longitude {
    pub fn from_micro(micro: i32) -> Result<Self, PlatformError> {
        if check_micro(micro, 180) {
            Ok(Self(micro))
        } else {
            Err(PlatformError::InvalidLongitude {
                input: micro.to_string() + " micro-degrees",
                reason: "longitude must be between -180 and 180 degrees",
            })
        }
    }

    pub fn from_degrees(degrees: f64) -> Result<Self, PlatformError> {
        from_degrees(degrees, 180)
            .map(Self)
            .map_err(|reason| PlatformError::InvalidLongitude {
                input: degrees.to_string(),
                reason,
            })
    }

    pub fn micro_degrees(self) -> i32 {
        self.0
    }

    pub fn degrees(self) -> f64 {
        f64::from(self.0) / MICRO_PER_DEGREE
    }
}

impl FromStr for Latitude {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_degrees(s, 90)
            .map(Self)
            .map_err(|reason| PlatformError::InvalidLatitude {
                input: s.to_owned(),
                reason,
            })
    }
}

impl FromStr for Longitude {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_degrees(s, 180)
            .map(Self)
            .map_err(|reason| PlatformError::InvalidLongitude {
                input: s.to_owned(),
                reason,
            })
    }
}

/// Decimal degrees with all six stored decimals, so `Display` then `FromStr` is lossless.
impl fmt::Display for Latitude {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_micro(f, self.0)
    }
}

impl fmt::Display for Longitude {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_micro(f, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_decimal_degrees_to_micro_degrees() {
        assert_eq!(
            "52.5201".parse::<Latitude>().unwrap().micro_degrees(),
            52_520_100
        );
        assert_eq!(
            "-0.1278".parse::<Longitude>().unwrap().micro_degrees(),
            -127_800
        );
        assert_eq!(
            " 13.4049 ".parse::<Longitude>().unwrap().micro_degrees(),
            13_404_900
        );
        // Finer than a micro-degree rounds to the nearest one.
        assert_eq!(
            "1.0000004".parse::<Latitude>().unwrap().micro_degrees(),
            1_000_000
        );
        assert_eq!(
            "1.0000006".parse::<Latitude>().unwrap().micro_degrees(),
            1_000_001
        );
    }

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(
            "90".parse::<Latitude>().unwrap().micro_degrees(),
            90_000_000
        );
        assert_eq!(
            "-90".parse::<Latitude>().unwrap().micro_degrees(),
            -90_000_000
        );
        assert_eq!(
            "180".parse::<Longitude>().unwrap().micro_degrees(),
            180_000_000
        );
        assert_eq!(
            "-180".parse::<Longitude>().unwrap().micro_degrees(),
            -180_000_000
        );
    }

    #[test]
    fn rejects_out_of_range_and_non_numbers() {
        for bad in [
            "90.000001",
            "-90.5",
            "91",
            "1e3",
            "NaN",
            "inf",
            "-inf",
            "",
            "north",
            "52,5",
        ] {
            let err = bad.parse::<Latitude>().unwrap_err();
            assert!(
                matches!(err, PlatformError::InvalidLatitude { ref input, .. } if input == bad),
                "{bad}: {err}"
            );
        }
        for bad in ["180.000001", "-181", "360", "NaN", "east"] {
            let err = bad.parse::<Longitude>().unwrap_err();
            assert!(
                matches!(err, PlatformError::InvalidLongitude { .. }),
                "{bad}: {err}"
            );
        }
        assert!(Latitude::from_micro(90_000_001).is_err());
        assert!(Latitude::from_micro(i32::MIN).is_err());
        assert!(Longitude::from_micro(-180_000_001).is_err());
        assert!(Longitude::from_micro(i32::MAX).is_err());
        assert!(Latitude::from_degrees(f64::NAN).is_err());
        assert!(Longitude::from_degrees(f64::INFINITY).is_err());
    }

    #[test]
    fn error_message_says_what_is_accepted() {
        let message = "95".parse::<Latitude>().unwrap_err().to_string();
        assert!(message.contains("\"95\""), "{message}");
        assert!(message.contains("between -90 and 90"), "{message}");
    }

    #[test]
    fn display_shows_six_decimals_with_sign() {
        assert_eq!(Latitude::from_micro(-500).unwrap().to_string(), "-0.000500");
        assert_eq!(
            Longitude::from_micro(13_404_900).unwrap().to_string(),
            "13.404900"
        );
        assert_eq!(
            Longitude::from_micro(-180_000_000).unwrap().to_string(),
            "-180.000000"
        );
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(lat in -90_000_000i32..=90_000_000, lon in -180_000_000i32..=180_000_000) {
            let latitude = Latitude::from_micro(lat).unwrap();
            let longitude = Longitude::from_micro(lon).unwrap();
            prop_assert_eq!(latitude.to_string().parse::<Latitude>().unwrap(), latitude);
            prop_assert_eq!(longitude.to_string().parse::<Longitude>().unwrap(), longitude);
            prop_assert_eq!(Latitude::from_degrees(latitude.degrees()).unwrap(), latitude);
        }
    }
}
