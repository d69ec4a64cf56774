//! The progress bar while the simulated day runs: simulated time of day, readings stored,
//! orders, trades and settled slots. Drawn on stderr by `indicatif` (hidden when stderr is not
//! a terminal); the counts come from the store, read off the server's thread.

use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::trader::TraderStats;
use crate::clock::SimClock;
use crate::error::Result;
use crate::store::Store;

/// How often the bar is redrawn (real time).
const REDRAW: Duration = Duration::from_millis(200);

fn time_of_day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format("%H:%M").to_string())
}

/// Shows progress until the simulated clock reaches `end_ms` or `stop_early` says so (an
/// agent that ended early means something broke).
pub async fn run(
    store: &Store,
    stats: &TraderStats,
    clock: SimClock,
    day_start_ms: i64,
    end_ms: i64,
    stop_early: impl Fn() -> bool,
) -> Result<()> {
    let minutes = |ms: i64| u64::try_from((ms - clock.start_ms()) / 60_000).unwrap_or(0);
    let bar = ProgressBar::new(minutes(end_ms));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:32}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    loop {
        let now = clock.now_ms();
        let counts = {
            let store = store.clone();
            actix_web::web::block(move || -> Result<(i64, i64)> {
                Ok((store.reading_count()?, store.settlement_run_count()?))
            })
            .await
        };
        let (readings, settled) = match counts {
            Ok(Ok(c)) => c,
            _ => (0, 0),
        };
        let phase = if now < day_start_ms {
            "before dawn of the day".to_owned()
        } else if now < day_start_ms + 24 * 3_600_000 {
            time_of_day(now)
        } else {
            "day over, settling the last slots".to_owned()
        };
        bar.set_position(minutes(now.min(end_ms)));
        bar.set_message(format!(
            "{phase} · readings {readings} · orders {} · trades {} · slots settled {settled}",
            stats.placed.load(Ordering::Relaxed),
            stats.trades.load(Ordering::Relaxed),
        ));
        if now >= end_ms || stop_early() {
            break;
        }
        actix_web::rt::time::sleep(
            REDRAW.min(clock.real_until(end_ms).max(Duration::from_millis(1))),
        )
        .await;
    }
    bar.finish_and_clear();
    Ok(())
}
