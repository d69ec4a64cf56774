//! Reading verification: what "verified production" means. Each rule is a small pure function
//! in its own module with its own tests; [`assess`] / [`verify`] run rules 1–6 on one reading,
//! and [`neighbourhood_outliers`] runs rule 7 over a zone and interval.
//!
//! | code | verdict | rule | meaning |
//! |---|---|---|---|
//! | `unknown_device` | rejected | 1 [`identity`] | no registration for the device id |
//! | `bad_signature` | rejected | 1 | signature does not verify with the registered key |
//! | `revoked_device` | rejected | 1 | the key is revoked |
//! | `replayed` | rejected | 2 [`sequence`] | identical reading already received |
//! | `sequence_conflict` | rejected, device flagged | 2 | different reading for a used sequence |
//! | `out_of_order` | rejected | 2 | sequence or timestamp not after the chain head |
//! | `broken_chain` | rejected, device flagged | 2 | `prev_hash` ≠ chain hash of the previous reading |
//! | `future_timestamp` | rejected | 4 [`timestamp`] | later than now + skew |
//! | `too_old` | rejected | 4 | earlier than now − acceptance window |
//! | `above_nameplate` | rejected (chain advances) | 5 [`nameplate`] | energy > nameplate × elapsed × tolerance + meter tolerance |
//! | `production_at_night` | rejected (chain advances) | 6 [`sun`] | with the sun down all interval, energy beyond what is left of the night's meter tolerance (a budget per night, [`ChainHead::night_export_wh`]) |
//! | `operator_rejected` | rejected | [`review`] | an operator rejected a flagged reading |
//! | `counter_rollback` | flagged | 3 [`counters`] | a cumulative counter went backwards |
//! | `energy_mismatch` | flagged | 3 | claimed interval ≠ time since previous reading (± skew) |
//! | `above_clear_sky` | flagged | 6 | energy > clear-sky bound × margin + meter tolerance |
//! | `neighbourhood_outlier` | flagged | 7 [`neighbourhood`] | yield is a robust outlier in its zone |
//! | `device_under_review` | flagged | — | the device is under review; everything it sends is held |
//!
//! Order: identity → sequence/chain → timestamp → counters → nameplate → sun. The first
//! rejection wins; flags accumulate. Gaps in the sequence are not a verdict: [`Assessment::gap`]
//! reports them for the shell to record. The energy a reading measures is the counter delta
//! since the chain head ([`counters::IntervalEnergy`]); a device's first reading only
//! establishes its counters. Verified energy per delivery slot comes from accepted (or
//! released) readings through [`slots::split_into_slots`].

pub mod context;
pub mod counters;
pub mod identity;
pub mod nameplate;
pub mod neighbourhood;
pub mod reasons;
pub mod review;
pub mod sequence;
pub mod slots;
pub mod sun;
pub mod timestamp;

#[cfg(test)]
pub(crate) mod test_support;

use std::ops::Range;

use reading::{Reading, SignedReading};

pub use context::{gaps, ChainHead, DeviceContext, KeyStatus, VerifyConfig};
pub use counters::IntervalEnergy;
pub use neighbourhood::{neighbourhood_outliers, Direction, Outlier, PeerYield};
pub use reasons::{FlagReason, RejectReason, Verdict};
pub use review::{resolve, OperatorDecision};
pub use sequence::Continuity;
pub use slots::{split_into_slots, SlotEnergy};

impl ChainHead {
    /// The head a reading becomes once it passes the integrity rules, with no night export
    /// spent ([`assess`] carries the device's running total over).
    pub fn of(reading: &Reading) -> ChainHead {
        ChainHead {
            sequence: reading.sequence,
            chain_hash: reading.chain_hash(),
            export_wh: reading.export_wh,
            import_wh: reading.import_wh,
            timestamp_ms: reading.timestamp_ms,
            night_export_wh: 0,
        }
    }
}

/// Everything the shell needs after verifying one reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub verdict: Verdict,
    /// Sequence numbers skipped before this reading (to record as a gap).
    pub gap: Option<Range<u64>>,
    /// The counter delta this reading measures; `None` for a device's first reading, after a
    /// counter rollback, and for readings that failed an integrity rule.
    pub energy: Option<IntervalEnergy>,
    /// The device's new chain head, when the reading becomes it (see
    /// [`RejectReason::advances_chain`]).
    pub new_head: Option<ChainHead>,
    /// The device should be put under review ([`RejectReason::flags_device`]).
    pub flag_device: bool,
}

impl Assessment {
    fn rejected(reason: RejectReason) -> Assessment {
        Assessment {
            verdict: Verdict::Rejected(reason),
            gap: None,
            energy: None,
            new_head: None,
            flag_device: reason.flags_device(),
        }
    }
}

/// Rules 1–6 for one reading. `ctx` is the registration found for the reading's device id
/// (`None`: unknown device); `now_ms` is the verifier's clock, passed in.
pub fn assess(
    signed: &SignedReading,
    ctx: Option<&DeviceContext>,
    cfg: &VerifyConfig,
    now_ms: i64,
) -> Assessment {
    let ctx = match identity::check_identity(signed, ctx) {
        Ok(ctx) => ctx,
        Err(r) => return Assessment::rejected(r),
    };
    let reading = &signed.reading;
    let hash = reading.chain_hash();
    let continuity =
        match sequence::check_sequence(reading, hash, ctx.head.as_ref(), ctx.stored_at_sequence) {
            Ok(c) => c,
            Err(r) => return Assessment::rejected(r),
        };
    if let Err(r) = timestamp::check_timestamp(reading.timestamp_ms, now_ms, cfg) {
        return Assessment::rejected(r);
    }

    let gap = match continuity {
        Continuity::Gap(ref g) => Some(g.clone()),
        Continuity::Linked => None,
    };
    // The night budget carries over unless rule 6 spends or resets it: a reading that never
    // reaches rule 6 (a device's first, a counter rollback, `above_nameplate`) or that rule 6
    // rejects leaves it as it was.
    let mut new_head = ChainHead {
        night_export_wh: ctx.head.map_or(0, |h| h.night_export_wh),
        ..ChainHead::of(reading)
    };
    let mut out = Assessment {
        verdict: Verdict::Accepted,
        gap,
        energy: None,
        new_head: None,
        flag_device: false,
    };
    let mut flags = Vec::new();
    if ctx.status == KeyStatus::UnderReview {
        flags.push(FlagReason::DeviceUnderReview);
    }
    if let Some(head) = ctx.head.as_ref() {
        if continuity == Continuity::Linked {
            flags.extend(counters::check_interval(head, reading, cfg.skew_ms));
        }
        match counters::counter_delta(head, reading) {
            Err(flag) => flags.push(flag),
            Ok(energy) => {
                out.energy = Some(energy);
                let physics = nameplate::check_nameplate(
                    energy.export_wh,
                    energy.elapsed_ms(),
                    ctx.nameplate_w,
                    cfg,
                )
                .and_then(|()| {
                    sun::check_sun(
                        ctx.site,
                        ctx.nameplate_w,
                        energy.start_ms,
                        energy.end_ms,
                        energy.export_wh,
                        head.night_export_wh,
                        cfg,
                    )
                });
                match physics {
                    Ok(sun) => {
                        flags.extend(sun.flag);
                        new_head.night_export_wh = sun.night_export_wh;
                    }
                    Err(r) => {
                        out.verdict = Verdict::Rejected(r);
                        out.new_head = Some(new_head);
                        return out;
                    }
                }
            }
        }
    }
    out.verdict = Verdict::from_flags(flags);
    out.new_head = Some(new_head);
    out
}

/// Rules 1–6 for one reading; [`assess`] without the details.
pub fn verify(
    signed: &SignedReading,
    ctx: Option<&DeviceContext>,
    cfg: &VerifyConfig,
    now_ms: i64,
) -> Verdict {
    assess(signed, ctx, cfg, now_ms).verdict
}
