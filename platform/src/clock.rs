//! The shell's one clock. Cores take time as an argument; entry points read it here.

use std::time::{SystemTime, UNIX_EPOCH};

/// UTC milliseconds since the Unix epoch (0 if the system clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
