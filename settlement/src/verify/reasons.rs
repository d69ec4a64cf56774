//! Verdicts and their reason codes. The snake_case codes are a stable contract: they are
//! stored with every reading, shown to operators and returned by the API.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a reading was rejected: its energy never counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The reading names a device that is not registered.
    UnknownDevice,
    /// The signature does not verify with the registered key (forged, wrong key, altered bytes).
    BadSignature,
    /// The device's key has been revoked.
    RevokedDevice,
    /// The identical reading was already received (same sequence, same chain hash).
    Replayed,
    /// A different reading with an already-used sequence number: the device (or its key) has
    /// signed two histories. Also flags the device.
    SequenceConflict,
    /// Sequence (or timestamp) not after the device's chain head, and not a known reading.
    OutOfOrder,
    /// `prev_hash` does not match the chain hash of the previous reading. Also flags the device.
    BrokenChain,
    /// Timestamp later than now + allowed clock skew.
    FutureTimestamp,
    /// Timestamp earlier than now − acceptance window.
    TooOld,
    /// More energy than nameplate × elapsed time × tolerance.
    AboveNameplate,
    /// Production while the sun was below the horizon for the whole interval.
    ProductionAtNight,
    /// An operator rejected a flagged reading.
    OperatorRejected,
}

/// Why a reading is held for an operator: its energy counts only once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    /// A cumulative counter went backwards (meter reset or replacement, or tampering).
    CounterRollback,
    /// The interval the reading claims does not match the time since the previous reading, so
    /// the counter delta does not measure that interval.
    EnergyMismatch,
    /// More energy than the clear-sky bound for the site and interval.
    AboveClearSky,
    /// Capacity-normalised yield is an outlier against the zone's other sites.
    NeighbourhoodOutlier,
    /// The device is under review (e.g. after a sequence conflict); everything it sends is held.
    DeviceUnderReview,
}

impl RejectReason {
    pub const ALL: [RejectReason; 12] = [
        Self::UnknownDevice,
        Self::BadSignature,
        Self::RevokedDevice,
        Self::Replayed,
        Self::SequenceConflict,
        Self::OutOfOrder,
        Self::BrokenChain,
        Self::FutureTimestamp,
        Self::TooOld,
        Self::AboveNameplate,
        Self::ProductionAtNight,
        Self::OperatorRejected,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownDevice => "unknown_device",
            Self::BadSignature => "bad_signature",
            Self::RevokedDevice => "revoked_device",
            Self::Replayed => "replayed",
            Self::SequenceConflict => "sequence_conflict",
            Self::OutOfOrder => "out_of_order",
            Self::BrokenChain => "broken_chain",
            Self::FutureTimestamp => "future_timestamp",
            Self::TooOld => "too_old",
            Self::AboveNameplate => "above_nameplate",
            Self::ProductionAtNight => "production_at_night",
            Self::OperatorRejected => "operator_rejected",
        }
    }

    /// Whether the device itself should be put under review: it signed two different
    /// histories, which an honest device never does.
    pub fn flags_device(self) -> bool {
        matches!(self, Self::SequenceConflict | Self::BrokenChain)
    }

    /// Whether the reading still becomes the device's chain head. Integrity failures (identity,
    /// signature, sequence, chain, time) do not: the reading is not part of the device's
    /// history. Physics failures do: the reading is authentic and its counters are the
    /// baseline for the next one, only its energy is refused.
    pub fn advances_chain(self) -> bool {
        matches!(self, Self::AboveNameplate | Self::ProductionAtNight)
    }
}

impl FlagReason {
    pub const ALL: [FlagReason; 5] = [
        Self::CounterRollback,
        Self::EnergyMismatch,
        Self::AboveClearSky,
        Self::NeighbourhoodOutlier,
        Self::DeviceUnderReview,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::CounterRollback => "counter_rollback",
            Self::EnergyMismatch => "energy_mismatch",
            Self::AboveClearSky => "above_clear_sky",
            Self::NeighbourhoodOutlier => "neighbourhood_outlier",
            Self::DeviceUnderReview => "device_under_review",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for FlagReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for RejectReason {
    type Err = UnknownReasonCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| UnknownReasonCode(s.to_owned()))
    }
}

impl FromStr for FlagReason {
    type Err = UnknownReasonCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| UnknownReasonCode(s.to_owned()))
    }
}

/// A string that is not one of the reason codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownReasonCode(pub String);

impl fmt::Display for UnknownReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not a verification reason code", self.0)
    }
}

impl std::error::Error for UnknownReasonCode {}

/// The outcome of verifying one reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Counts towards verified energy.
    Accepted,
    /// Kept, held for an operator, with every reason that applied (sorted, no duplicates).
    Flagged(Vec<FlagReason>),
    /// Refused, with the first rule that failed.
    Rejected(RejectReason),
}

impl Verdict {
    /// Build from collected flags: none → accepted.
    pub fn from_flags(mut flags: Vec<FlagReason>) -> Verdict {
        flags.sort_unstable();
        flags.dedup();
        if flags.is_empty() {
            Verdict::Accepted
        } else {
            Verdict::Flagged(flags)
        }
    }

    /// Whether the reading's energy counts towards settlement and minting now.
    pub fn counts(&self) -> bool {
        matches!(self, Verdict::Accepted)
    }

    /// Add flags (e.g. a later neighbourhood check) to a verdict. Rejections stay rejections.
    pub fn with_flags(self, extra: &[FlagReason]) -> Verdict {
        match self {
            Verdict::Rejected(r) => Verdict::Rejected(r),
            Verdict::Accepted => Verdict::from_flags(extra.to_vec()),
            Verdict::Flagged(mut f) => {
                f.extend_from_slice(extra);
                Verdict::from_flags(f)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_serde_names_and_round_trip() {
        for r in RejectReason::ALL {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.code()));
            assert_eq!(r.code().parse::<RejectReason>(), Ok(r));
            assert_eq!(r.to_string(), r.code());
        }
        for f in FlagReason::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.code()));
            assert_eq!(f.code().parse::<FlagReason>(), Ok(f));
        }
        assert!("nope".parse::<RejectReason>().is_err());
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<&str> = RejectReason::ALL.iter().map(|r| r.code()).collect();
        codes.extend(FlagReason::ALL.iter().map(|f| f.code()));
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }

    #[test]
    fn verdict_json_shape() {
        assert_eq!(
            serde_json::to_string(&Verdict::Accepted).unwrap(),
            "\"accepted\""
        );
        assert_eq!(
            serde_json::to_string(&Verdict::Rejected(RejectReason::BadSignature)).unwrap(),
            "{\"rejected\":\"bad_signature\"}"
        );
        let v = Verdict::from_flags(vec![FlagReason::AboveClearSky, FlagReason::CounterRollback]);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            "{\"flagged\":[\"counter_rollback\",\"above_clear_sky\"]}"
        );
    }

    #[test]
    fn flags_merge_sorted_and_deduplicated() {
        assert_eq!(Verdict::from_flags(vec![]), Verdict::Accepted);
        let v = Verdict::Accepted.with_flags(&[FlagReason::NeighbourhoodOutlier]);
        assert_eq!(v, Verdict::Flagged(vec![FlagReason::NeighbourhoodOutlier]));
        let v = v.with_flags(&[
            FlagReason::NeighbourhoodOutlier,
            FlagReason::CounterRollback,
        ]);
        assert_eq!(
            v,
            Verdict::Flagged(vec![
                FlagReason::CounterRollback,
                FlagReason::NeighbourhoodOutlier
            ])
        );
        let r = Verdict::Rejected(RejectReason::TooOld).with_flags(&[FlagReason::AboveClearSky]);
        assert_eq!(r, Verdict::Rejected(RejectReason::TooOld));
        assert!(Verdict::Accepted.counts() && !v.counts() && !r.counts());
    }

    #[test]
    fn only_conflicts_flag_the_device_and_only_physics_advances_the_chain() {
        for r in RejectReason::ALL {
            assert_eq!(
                r.flags_device(),
                matches!(
                    r,
                    RejectReason::SequenceConflict | RejectReason::BrokenChain
                )
            );
        }
        assert!(RejectReason::ProductionAtNight.advances_chain());
        assert!(!RejectReason::Replayed.advances_chain());
    }
}
