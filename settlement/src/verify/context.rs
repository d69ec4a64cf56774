//! What the verifier needs to know besides the reading: the device's registration and chain
//! head (from storage) and the policy knobs (from configuration).

use std::ops::Range;

use reading::{ChainHash, PublicKey};
use serde::{Deserialize, Serialize};

use crate::error::SettlementError;
use crate::solar::{BoundPlane, Site};

/// Registration state of a device key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    /// Readings are verified as usual but held (`device_under_review`) until an operator clears
    /// the device; set by the shell when a verdict [`flags_device`](super::RejectReason::flags_device).
    UnderReview,
    /// Every reading is rejected (`revoked_device`).
    Revoked,
}

/// The last reading that passed the integrity rules (identity, signature, sequence, chain,
/// time) — the device's chain head — whatever the physics rules then said about its energy,
/// and how much of the night budget (rule 6) the device has spent up to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub sequence: u64,
    pub chain_hash: ChainHash,
    pub export_wh: u64,
    pub import_wh: u64,
    pub timestamp_ms: i64,
    /// Export rule 6 let through (accepted or flagged) over the device's intervals that were
    /// entirely at night since its last interval with any daylight, Wh. It lives in the head
    /// because the night tolerance is a budget per night, not per reading: without the running
    /// total a device sending a reading a minute could claim the tolerance every minute.
    pub night_export_wh: u64,
}

/// A registered device as the verifier sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceContext {
    pub public_key: PublicKey,
    pub status: KeyStatus,
    /// Nameplate (peak) power, W.
    pub nameplate_w: u32,
    pub site: Site,
    /// `None` until the device's first reading passes the integrity rules.
    pub head: Option<ChainHead>,
    /// For a reading whose sequence is not after the head: the chain hash of the stored reading
    /// with that sequence, if the shell has one. Lets the verifier tell a replay from a
    /// conflict for old sequence numbers without seeing the whole history.
    pub stored_at_sequence: Option<ChainHash>,
}

/// Policy knobs. Defaults are documented in `docs/verification.md`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyConfig {
    /// How far a timestamp may be ahead of "now" (device clock skew), ms.
    pub skew_ms: i64,
    /// How far back a timestamp may be (the acceptance window), ms.
    pub window_ms: i64,
    /// Energy may be up to nameplate × elapsed time × this / 1000.
    pub nameplate_tolerance_permille: u32,
    /// The meter's own accuracy and resolution, Wh: a device may export up to this much in all
    /// over one night (the "night budget", rule 6: a counter step or twilight light landing in
    /// a night interval), and it is added to the nameplate and clear-sky bounds.
    pub meter_tolerance_wh: u64,
    /// Clear-sky bound = nameplate × clear-sky irradiation / 1000 W/m² × this / 1000.
    pub clear_sky_margin_permille: u32,
    /// Which clear-sky irradiance scales the nameplate.
    pub clear_sky_plane: BoundPlane,
    /// Robust z-score above which a site is a neighbourhood outlier, in thousandths.
    pub mad_threshold_milli: u32,
    /// Lower bound on the robust spread (1.4826 × MAD), in µWh per W of nameplate, so a zone
    /// where every site reports the same yield does not make tiny differences outliers.
    pub mad_floor_uwh_per_w: u64,
    /// Fewest *other* sites needed in the zone and interval before anyone can be an outlier.
    pub min_peers: usize,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            skew_ms: 2 * 60 * 1000,
            window_ms: 48 * 3600 * 1000,
            nameplate_tolerance_permille: 1_200,
            meter_tolerance_wh: 10,
            clear_sky_margin_permille: 1_400,
            clear_sky_plane: BoundPlane::SunFacing,
            mad_threshold_milli: 3_500,
            mad_floor_uwh_per_w: 5_000,
            min_peers: 5,
        }
    }
}

impl VerifyConfig {
    /// Reject settings that would make a rule meaningless.
    pub fn validate(&self) -> Result<(), SettlementError> {
        if self.skew_ms < 0 {
            return Err(SettlementError::InvalidConfig("skew_ms must be >= 0"));
        }
        if self.window_ms <= 0 {
            return Err(SettlementError::InvalidConfig(
                "window_ms must be > 0 (how old a reading may be)",
            ));
        }
        if self.nameplate_tolerance_permille < 1_000 {
            return Err(SettlementError::InvalidConfig(
                "nameplate_tolerance_permille must be >= 1000 (100 %), or honest full-power readings are rejected",
            ));
        }
        if self.clear_sky_margin_permille < 1_000 {
            return Err(SettlementError::InvalidConfig(
                "clear_sky_margin_permille must be >= 1000 (100 %), or clear days are flagged",
            ));
        }
        if self.mad_threshold_milli == 0 {
            return Err(SettlementError::InvalidConfig(
                "mad_threshold_milli must be > 0",
            ));
        }
        if self.min_peers < 2 {
            return Err(SettlementError::InvalidConfig(
                "min_peers must be >= 2: a median of fewer sites says nothing",
            ));
        }
        Ok(())
    }
}

/// The sequence numbers missing between the previous sequence `prev_seq` (0 when the device
/// has none yet; sequences start at 1) and a new one: `Some(prev+1..new)` when non-empty.
pub fn gaps(prev_seq: u64, new_seq: u64) -> Option<Range<u64>> {
    let first_missing = prev_seq.checked_add(1)?;
    (first_missing < new_seq).then_some(first_missing..new_seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_between_sequences() {
        assert_eq!(gaps(4, 5), None);
        assert_eq!(gaps(4, 7), Some(5..7));
        assert_eq!(gaps(0, 1), None);
        assert_eq!(gaps(0, 3), Some(1..3));
        assert_eq!(gaps(7, 7), None);
        assert_eq!(gaps(7, 3), None);
        assert_eq!(gaps(u64::MAX, 3), None);
    }

    #[test]
    fn default_config_is_valid_and_bad_ones_are_named() {
        assert_eq!(VerifyConfig::default().validate(), Ok(()));
        let bad = VerifyConfig {
            nameplate_tolerance_permille: 900,
            ..VerifyConfig::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(SettlementError::InvalidConfig(m)) if m.contains("nameplate")
        ));
        let bad = VerifyConfig {
            min_peers: 1,
            ..VerifyConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = VerifyConfig {
            window_ms: 0,
            ..VerifyConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
