//! What the engine host's group commits cost, exported at `/metrics`: how many commits (on
//! SQLite one WAL fsync each), how long each took and how many commands each carried. The
//! order benchmark (`scripts/bench-orders.sh`) reads them to say where the time goes.

use prometheus::{Histogram, HistogramOpts};

#[derive(Clone)]
pub struct GroupMetrics {
    /// Seconds from BEGIN to the end of COMMIT, per group.
    pub commit_seconds: Histogram,
    /// Commands (orders, cancels, ticks, …) per group.
    pub group_commands: Histogram,
}

impl GroupMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        Ok(Self {
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "trading_commit_seconds",
                    "duration of one trading group commit (journal and derived rows, one fsync)",
                )
                .buckets(vec![0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5]),
            )?,
            group_commands: Histogram::with_opts(
                HistogramOpts::new(
                    "trading_group_commands",
                    "commands per trading group commit",
                )
                .buckets(vec![1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0]),
            )?,
        })
    }

    /// Adds these to `registry` (the API's, so they appear at `/metrics`).
    pub fn register(&self, registry: &prometheus::Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.commit_seconds.clone()))?;
        registry.register(Box::new(self.group_commands.clone()))
    }
}
