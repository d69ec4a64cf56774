//! Registered devices: the typed form of a registration and of a stored device.

use std::fmt;
use std::str::FromStr;

use reading::{DeviceId, PublicKey};

use super::account::{AccountId, AccountName};
use super::location::Location;
use crate::error::PlatformError;

/// Largest nameplate accepted: 10 MW is far beyond a neighbourhood installation, so anything
/// above it is a typo (kW or mW entered as W), not a site.
pub const MAX_NAMEPLATE_W: u32 = 10_000_000;

/// Longest zone name accepted, in bytes (zones are ASCII).
pub const MAX_ZONE_LEN: usize = 64;

/// The zone the CLI uses when `--zone` is not given.
pub const DEFAULT_ZONE: &str = "default";

/// Parses a device's public key given as hex.
pub fn parse_public_key(text: &str) -> Result<PublicKey, PlatformError> {
    PublicKey::from_hex(text).map_err(|source| PlatformError::InvalidPublicKey {
        input: text.to_owned(),
        source,
    })
}

/// Parses a device id given as 32 hex characters.
pub fn parse_device_id(text: &str) -> Result<DeviceId, PlatformError> {
    DeviceId::from_hex(text.trim()).map_err(|source| PlatformError::InvalidDeviceId {
        input: text.to_owned(),
        source,
    })
}

/// A device's rated AC output in whole watts: 1 W ..= [`MAX_NAMEPLATE_W`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NameplateW(u32);

impl NameplateW {
    pub fn new(watts: u32) -> Result<Self, PlatformError> {
        Self::check(i64::from(watts), &watts.to_string())
    }

    /// From a stored value, which is an `i64` on both backends.
    pub fn from_i64(watts: i64) -> Result<Self, PlatformError> {
        Self::check(watts, &watts.to_string())
    }

    fn check(watts: i64, input: &str) -> Result<Self, PlatformError> {
        let reason = if watts < 0 {
            "a nameplate cannot be negative".to_owned()
        } else if watts == 0 {
            "a nameplate must be at least 1 W".to_owned()
        } else if watts > i64::from(MAX_NAMEPLATE_W) {
            format!("a nameplate is at most {MAX_NAMEPLATE_W} W (is this kW or mW entered as W?)")
        } else {
            // Checked against MAX_NAMEPLATE_W above, so it fits.
            return Ok(Self(watts as u32));
        };
        Err(PlatformError::InvalidNameplate {
            input: input.to_owned(),
            reason,
        })
    }

    pub fn watts(self) -> u32 {
        self.0
    }
}

impl FromStr for NameplateW {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let watts: i64 = s
            .trim()
            .parse()
            .map_err(|_| PlatformError::InvalidNameplate {
                input: s.to_owned(),
                reason: "expected a whole number of watts, e.g. 4600".to_owned(),
            })?;
        Self::check(watts, s)
    }
}

impl fmt::Display for NameplateW {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} W", self.0)
    }
}

/// A market zone (one order book per zone and slot): 1 to 64 ASCII letters, digits, `-`, `_`,
/// `.`, `:`, so it is safe in URLs, MQTT topics and file names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zone(String);

impl Zone {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn default_zone() -> Self {
        Self(DEFAULT_ZONE.to_owned())
    }
}

impl FromStr for Zone {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let reason = if s.is_empty() {
            Some("a zone must not be empty")
        } else if s.len() > MAX_ZONE_LEN {
            Some("a zone is at most 64 characters")
        } else if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        {
            Some("a zone may contain only ASCII letters, digits, '-', '_', '.' and ':'")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(PlatformError::InvalidZone {
                input: s.to_owned(),
                reason,
            }),
            None => Ok(Self(s.to_owned())),
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A registration request, already parsed: holding one means every field is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevice {
    pub public_key: PublicKey,
    pub owner: AccountName,
    pub nameplate: NameplateW,
    pub location: Location,
    pub zone: Zone,
}

impl NewDevice {
    /// The id the device will have: derived from its key, never chosen.
    pub fn id(&self) -> DeviceId {
        self.public_key.device_id()
    }
}

/// Whether a device's readings may be accepted. Revocation is permanent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceState {
    Active,
    Revoked { at_ms: i64 },
}

impl DeviceState {
    pub const ACTIVE: &'static str = "active";
    pub const REVOKED: &'static str = "revoked";

    /// The stored and displayed status.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Active => Self::ACTIVE,
            DeviceState::Revoked { .. } => Self::REVOKED,
        }
    }
}

/// A registered device as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: DeviceId,
    pub public_key: PublicKey,
    pub owner_id: AccountId,
    pub owner: AccountName,
    pub nameplate: NameplateW,
    pub location: Location,
    pub zone: Zone,
    pub state: DeviceState,
    pub registered_at_ms: i64,
}

impl Device {
    pub fn is_active(&self) -> bool {
        self.state == DeviceState::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameplate_accepts_whole_positive_watts() {
        assert_eq!("4600".parse::<NameplateW>().unwrap().watts(), 4600);
        assert_eq!("1".parse::<NameplateW>().unwrap().watts(), 1);
        assert_eq!(
            NameplateW::new(MAX_NAMEPLATE_W).unwrap().watts(),
            MAX_NAMEPLATE_W
        );
        assert_eq!(NameplateW::from_i64(250).unwrap().watts(), 250);
    }

    #[test]
    fn nameplate_rejects_negative_zero_huge_and_fractional() {
        let cases = [
            ("-5", "negative"),
            ("0", "at least 1 W"),
            ("10000001", "at most"),
            ("99999999999999999999", "whole number"),
            ("4.6", "whole number"),
            ("4kW", "whole number"),
            ("", "whole number"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<NameplateW>().unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(err, PlatformError::InvalidNameplate { .. }),
                "{input}: {message}"
            );
            assert!(message.contains(expected), "{input}: {message}");
        }
        assert!(NameplateW::new(0).is_err());
        assert!(NameplateW::from_i64(-1).is_err());
        assert!(NameplateW::from_i64(i64::MAX).is_err());
    }

    #[test]
    fn zone_accepts_safe_ascii_only() {
        for good in [
            "default",
            "DE-BER-1",
            "grid.zone_7",
            "nl:ams",
            &"z".repeat(64),
        ] {
            assert_eq!(good.parse::<Zone>().unwrap().as_str(), good);
        }
        for bad in ["", "two words", "a/b", "zone#1", "zöne", &"z".repeat(65)] {
            assert!(
                matches!(bad.parse::<Zone>(), Err(PlatformError::InvalidZone { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn public_key_and_device_id_parse_or_explain() {
        let key = PublicKey::from_array([9; 32]);
        assert_eq!(parse_public_key(&key.to_hex()).unwrap(), key);
        assert_eq!(
            parse_device_id(&key.device_id().to_hex()).unwrap(),
            key.device_id()
        );
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(66)] {
            let message = parse_public_key(bad).unwrap_err().to_string();
            assert!(message.contains("64 hex characters"), "{bad:?}: {message}");
        }
        // A public key is not a device id.
        assert!(matches!(
            parse_device_id(&key.to_hex()),
            Err(PlatformError::InvalidDeviceId { .. })
        ));
    }

    #[test]
    fn new_device_id_is_derived_from_key() {
        let key = PublicKey::from_array([3; 32]);
        let device = NewDevice {
            public_key: key,
            owner: AccountName::local(),
            nameplate: NameplateW::new(5000).unwrap(),
            location: Location {
                latitude: "52.52".parse().unwrap(),
                longitude: "13.405".parse().unwrap(),
            },
            zone: Zone::default_zone(),
        };
        assert_eq!(device.id(), key.device_id());
        assert_eq!(device.id().to_hex().len(), 32);
    }
}
