//! Shipping readings to the platform, acknowledged end to end.
//!
//! A reading leaves the spool only when the *platform* said `accepted`, `flagged`,
//! `duplicate` or `rejected` for it (a broker's PUBACK is not enough). The contract is in README.md.

pub mod http;
pub mod mqtt;

use std::collections::HashMap;
use std::time::Duration;

use reading::SignedReading;
use serde::Deserialize;

use crate::error::Result;

/// The platform's verdict on one reading.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accepted,
    /// Stored, but held for an operator's review (e.g. above the clear-sky bound); the
    /// platform has it, so it leaves the spool like an accepted one.
    Flagged,
    /// Already stored: an earlier send arrived, our ack got lost.
    Duplicate,
    /// Will never be accepted (e.g. bad signature); retrying cannot help.
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ReadingResult {
    pub sequence: u64,
    pub status: Verdict,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Something that ships a batch and reports the platform's verdicts.
#[async_trait::async_trait]
pub trait Uplink: Send {
    /// Sends `batch` (consecutive sequences, oldest first) and returns the verdicts received.
    async fn ship(&mut self, batch: &[SignedReading]) -> Result<Vec<ReadingResult>>;
}

/// The highest sequence of `batch` such that it and every earlier one has a verdict; logs
/// rejections. `None` when the first reading has none.
pub fn acked_prefix(batch: &[SignedReading], results: &[ReadingResult]) -> Option<u64> {
    let by_seq: HashMap<u64, &ReadingResult> = results.iter().map(|r| (r.sequence, r)).collect();
    let mut through = None;
    for r in batch {
        let seq = r.reading.sequence;
        match by_seq.get(&seq) {
            Some(v) => {
                if v.status == Verdict::Rejected {
                    tracing::error!(sequence = seq, reason = ?v.reason,
                        "platform rejected the reading; it is removed from the spool (retrying cannot fix it)");
                }
                through = Some(seq);
            }
            None => break,
        }
    }
    through
}

/// Exponential back-off with full jitter, bounded.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max: max.max(min),
            current: min,
        }
    }

    pub fn reset(&mut self) {
        self.current = self.min;
    }

    /// The next delay: uniform in [min, current], then `current` doubles up to `max`.
    pub fn next_delay(&mut self, random: u32) -> Duration {
        let span = self.current.saturating_sub(self.min).as_millis() as u64;
        let jitter = if span == 0 {
            0
        } else {
            u64::from(random) % (span + 1)
        };
        let d = self.min + Duration::from_millis(jitter);
        self.current = (self.current * 2).min(self.max);
        d
    }
}

/// A random u32 for jitter, from the OS.
pub fn random_u32() -> u32 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u32::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{next_reading, ChainTip, Values};
    use reading::{DeviceStatus, SigningKey};

    fn batch(n: u64) -> Vec<SignedReading> {
        let k = SigningKey::from_seed(&[1; 32]).unwrap();
        let mut tip = ChainTip::GENESIS;
        (0..n)
            .map(|i| {
                let r = next_reading(
                    &k,
                    &tip,
                    1000 + i as i64,
                    Values {
                        export_wh: i,
                        import_wh: 0,
                        power_w: 0,
                        status: DeviceStatus::Ok,
                    },
                );
                tip = ChainTip::of(&r);
                r
            })
            .collect()
    }

    fn res(seq: u64, status: Verdict) -> ReadingResult {
        ReadingResult {
            sequence: seq,
            status,
            reason: None,
        }
    }

    #[test]
    fn prefix_stops_at_the_first_missing_verdict() {
        let b = batch(4);
        assert_eq!(acked_prefix(&b, &[]), None);
        assert_eq!(
            acked_prefix(
                &b,
                &[
                    res(1, Verdict::Accepted),
                    res(2, Verdict::Duplicate),
                    res(4, Verdict::Accepted)
                ]
            ),
            Some(2)
        );
        assert_eq!(acked_prefix(&b, &[res(2, Verdict::Accepted)]), None);
        let all: Vec<_> = (1..=4).map(|s| res(s, Verdict::Rejected)).collect();
        assert_eq!(acked_prefix(&b, &all), Some(4));
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_bounded() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        assert_eq!(b.next_delay(12345), Duration::from_millis(100));
        for _ in 0..20 {
            let d = b.next_delay(random_u32());
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(1000),
                "{d:?}"
            );
        }
        assert_eq!(
            b.next_delay(u32::MAX - 1),
            Duration::from_millis(100) + Duration::from_millis(u64::from(u32::MAX - 1) % 901)
        );
        b.reset();
        assert_eq!(b.next_delay(7), Duration::from_millis(100));
    }
}
