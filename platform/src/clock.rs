//! The shell's one clock. Cores take time as an argument; entry points read it here.
//!
//! Normally that is the system clock. `sunmesh demo` installs a simulated clock once, before
//! it starts anything: a simulated day then runs `speed` times faster than real time, and every
//! part of the platform that reads [`now_ms`] (ingest's time window, the engine's gate closure,
//! the settlement scheduler, account and key timestamps) sees the same simulated instant.

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::error::{PlatformError, Result};

/// Simulated time: held at `start_ms` until [`SimClock::start`], then advancing `speed`
/// simulated ms per real ms. Clones share the start.
#[derive(Clone, Debug)]
pub struct SimClock {
    start_ms: i64,
    speed: f64,
    base: Arc<OnceLock<Instant>>,
}

impl SimClock {
    /// A clock held at `start_ms`, to run `speed` times faster than real time once started.
    /// `speed` must be finite and at least 1 (a slower clock would let real timeouts outrun
    /// simulated time).
    pub fn new(start_ms: i64, speed: f64) -> Result<Self> {
        if !speed.is_finite() || speed < 1.0 {
            return Err(PlatformError::InvalidArgument {
                what: "clock speed",
                input: speed.to_string(),
                reason: "must be a finite number ≥ 1".to_owned(),
            });
        }
        Ok(Self {
            start_ms,
            speed,
            base: Arc::new(OnceLock::new()),
        })
    }

    /// Lets time run from now on (a second call changes nothing). Until then the clock
    /// shows `start_ms`, so setting up (opening the store, registering devices) takes no
    /// simulated time, however slow the machine.
    pub fn start(&self) {
        let _ = self.base.set(Instant::now());
    }

    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The simulated instant after `real_elapsed_ms` real milliseconds of running.
    pub fn at_elapsed(&self, real_elapsed_ms: f64) -> i64 {
        let sim = (real_elapsed_ms * self.speed).clamp(0.0, 9.0e15);
        // Clamped to a range well inside i64, so the cast is exact enough and cannot overflow.
        self.start_ms.saturating_add(sim as i64)
    }

    pub fn now_ms(&self) -> i64 {
        match self.base.get() {
            Some(base) => self.at_elapsed(base.elapsed().as_secs_f64() * 1000.0),
            None => self.start_ms,
        }
    }

    /// How long, in real time, until the simulated clock shows `at_ms` (zero if it has;
    /// counted as if running when it has not started).
    pub fn real_until(&self, at_ms: i64) -> std::time::Duration {
        let sim_ms = at_ms.saturating_sub(self.now_ms()).max(0) as f64;
        std::time::Duration::from_secs_f64(sim_ms / self.speed / 1000.0)
    }
}

static SIMULATED: OnceLock<SimClock> = OnceLock::new();

/// Makes [`now_ms`] return simulated time from now on, for the rest of the process. Only one
/// simulated clock can ever be installed: a second call fails, since parts of the platform
/// (the engine, which never goes back in time) would otherwise see time jump.
pub fn install_simulated(clock: SimClock) -> Result<SimClock> {
    SIMULATED
        .set(clock.clone())
        .map_err(|_| PlatformError::Config("a simulated clock is already installed".into()))?;
    Ok(clock)
}

/// The installed simulated clock, if any.
pub fn simulated() -> Option<SimClock> {
    SIMULATED.get().cloned()
}

/// UTC milliseconds since the Unix epoch (0 if the system clock is before 1970), or the
/// simulated instant once [`install_simulated`] has been called.
pub fn now_ms() -> i64 {
    match SIMULATED.get() {
        Some(sim) => sim.now_ms(),
        None => system_now_ms(),
    }
}

/// The system clock, whatever is installed (for real-time measurements and file names).
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_runs_speed_times_faster_from_its_start() {
        let clock = SimClock::new(1_000_000, 2000.0).unwrap();
        assert_eq!(clock.at_elapsed(0.0), 1_000_000);
        assert_eq!(clock.at_elapsed(1.5), 1_003_000);
        assert_eq!(clock.at_elapsed(45_000.0), 1_000_000 + 90_000_000);
        // Negative elapsed time (cannot happen with Instant) is held at the start.
        assert_eq!(clock.at_elapsed(-5.0), 1_000_000);
    }

    #[test]
    fn the_clock_is_held_until_started_then_advances() {
        let clock = SimClock::new(0, 1000.0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now_ms(), 0, "held at its start");
        assert_eq!(
            clock.real_until(60_000),
            std::time::Duration::from_millis(60)
        );
        let shared = clock.clone();
        clock.start();
        let a = shared.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = clock.now_ms();
        // 20 ms real is at least 20 s simulated.
        assert!(b - a >= 20_000, "{a} → {b}");
        let wait = clock.real_until(b + 60_000);
        assert!(wait <= std::time::Duration::from_millis(60), "{wait:?}");
        assert_eq!(clock.real_until(0), std::time::Duration::ZERO);
    }

    #[test]
    fn slower_or_nonsense_speeds_are_refused() {
        for speed in [0.0, 0.5, -3.0, f64::NAN, f64::INFINITY] {
            assert!(SimClock::new(0, speed).is_err(), "{speed}");
        }
        assert!(SimClock::new(0, 1.0).is_ok());
    }
}
