//! Operator review of flagged readings: a flagged reading is kept with its reasons and counts
//! only once an operator releases it; an operator may also reject it.

use serde::{Deserialize, Serialize};

use crate::error::SettlementError;

use super::reasons::{RejectReason, Verdict};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorDecision {
    /// The flags were explained (e.g. a meter swap, a bright day): the energy counts.
    Release,
    /// The energy does not count (`operator_rejected`).
    Reject,
}

/// The verdict after an operator's decision. Only flagged readings can be decided; the shell
/// keeps the original flags alongside the decision for the audit trail.
pub fn resolve(verdict: &Verdict, decision: OperatorDecision) -> Result<Verdict, SettlementError> {
    match (verdict, decision) {
        (Verdict::Flagged(_), OperatorDecision::Release) => Ok(Verdict::Accepted),
        (Verdict::Flagged(_), OperatorDecision::Reject) => {
            Ok(Verdict::Rejected(RejectReason::OperatorRejected))
        }
        (Verdict::Accepted, _) => Err(SettlementError::NotFlagged("accepted")),
        (Verdict::Rejected(_), _) => Err(SettlementError::NotFlagged("rejected")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::FlagReason;

    #[test]
    fn flagged_readings_are_released_or_rejected() {
        let flagged = Verdict::Flagged(vec![FlagReason::AboveClearSky]);
        assert_eq!(
            resolve(&flagged, OperatorDecision::Release),
            Ok(Verdict::Accepted)
        );
        assert_eq!(
            resolve(&flagged, OperatorDecision::Reject),
            Ok(Verdict::Rejected(RejectReason::OperatorRejected))
        );
    }

    #[test]
    fn other_verdicts_cannot_be_decided() {
        assert_eq!(
            resolve(&Verdict::Accepted, OperatorDecision::Reject),
            Err(SettlementError::NotFlagged("accepted"))
        );
        assert_eq!(
            resolve(
                &Verdict::Rejected(RejectReason::BadSignature),
                OperatorDecision::Release
            ),
            Err(SettlementError::NotFlagged("rejected"))
        );
    }
}
