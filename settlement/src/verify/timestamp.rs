//! Rule 4: the timestamp is not in the future beyond the allowed clock skew and not older than
//! the acceptance window (after which the slots it would change may already be settled).

use super::context::VerifyConfig;
use super::reasons::RejectReason;

pub fn check_timestamp(
    timestamp_ms: i64,
    now_ms: i64,
    cfg: &VerifyConfig,
) -> Result<(), RejectReason> {
    if timestamp_ms > now_ms.saturating_add(cfg.skew_ms) {
        return Err(RejectReason::FutureTimestamp);
    }
    if timestamp_ms < now_ms.saturating_sub(cfg.window_ms) {
        return Err(RejectReason::TooOld);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000_000;

    #[test]
    fn boundaries_are_inclusive() {
        let cfg = VerifyConfig::default();
        assert_eq!(check_timestamp(NOW, NOW, &cfg), Ok(()));
        assert_eq!(check_timestamp(NOW + cfg.skew_ms, NOW, &cfg), Ok(()));
        assert_eq!(
            check_timestamp(NOW + cfg.skew_ms + 1, NOW, &cfg),
            Err(RejectReason::FutureTimestamp)
        );
        assert_eq!(check_timestamp(NOW - cfg.window_ms, NOW, &cfg), Ok(()));
        assert_eq!(
            check_timestamp(NOW - cfg.window_ms - 1, NOW, &cfg),
            Err(RejectReason::TooOld)
        );
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let cfg = VerifyConfig::default();
        assert_eq!(
            check_timestamp(i64::MAX, NOW, &cfg),
            Err(RejectReason::FutureTimestamp)
        );
        assert_eq!(
            check_timestamp(i64::MIN, NOW, &cfg),
            Err(RejectReason::TooOld)
        );
        assert_eq!(check_timestamp(i64::MAX, i64::MAX, &cfg), Ok(()));
        assert_eq!(check_timestamp(i64::MIN, i64::MIN, &cfg), Ok(()));
    }
}
