//! The settlement crate's one error type.

use thiserror::Error;

/// What was wrong with an input to the settlement core, and what to do about it.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SettlementError {
    #[error(
        "latitude {0} is outside -90..=90 degrees; pass WGS84 decimal degrees, north positive"
    )]
    InvalidLatitude(f64),
    #[error(
        "longitude {0} is outside -180..=180 degrees; pass WGS84 decimal degrees, east positive"
    )]
    InvalidLongitude(f64),
    #[error("invalid verification config: {0}")]
    InvalidConfig(&'static str),
    #[error(
        "interval {start_ms}..{end_ms} ms is empty or reversed; the end must be after the start"
    )]
    EmptyInterval { start_ms: i64, end_ms: i64 },
    #[error("interval spans {slots} delivery slots, more than the {max} one reading may cover; check the device clock or split the data")]
    IntervalTooLong { slots: i64, max: i64 },
    #[error("only a flagged reading can be released or rejected; this one is already {0}")]
    NotFlagged(&'static str),
}
