//! The daemon: for every configured source, a poll task (read → guard → sign → spool) and a
//! ship task (spool → uplink → ack → spool), sharing the source's spool.
//!
//! Readings are timestamped by a [`Clock`]: the system clock in the daemon; `sunmesh demo`
//! passes its simulated clock so that real agents run through a simulated day.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reading::SigningKey;
use tokio::sync::Notify;

use crate::config::{Config, SourceConfig, SourceKind, UplinkKind};
use crate::error::{AgentError, Result};
use crate::modbus_map::Profile;
use crate::mqtt_source::{Dialect, MqttSource};
use crate::signer::{guard_counter, load_key, next_reading, Values};
use crate::source::{Measurement, ProfileSource, Source, SunSpecSource};
use crate::spool::Spool;
use crate::uplink::{
    acked_prefix, http::HttpUplink, mqtt::MqttUplink, random_u32, Backoff, Uplink,
};

/// Builds the source a config entry describes.
pub fn build_source(cfg: &Config, s: &SourceConfig) -> Result<Box<dyn Source>> {
    let timeout = Duration::from_millis(cfg.device_timeout_ms);
    Ok(match &s.kind {
        SourceKind::Sunspec { url, unit } => {
            Box::new(SunSpecSource::new(url.parse()?, *unit, timeout))
        }
        SourceKind::Profile { url, unit, profile } => Box::new(ProfileSource::new(
            url.parse()?,
            *unit,
            timeout,
            Profile::load(profile)?,
        )),
        other => {
            let (dialect, broker) = Dialect::from_config(other)?;
            Box::new(MqttSource::start(
                &s.name,
                dialect,
                &broker,
                Duration::from_secs_f64(s.stale_after_s),
            )?)
        }
    })
}

/// Where the agent reads UTC milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The system clock, what the daemon uses.
pub fn system_clock() -> Clock {
    Arc::new(now_ms)
}

/// Turns one measurement into a signed reading and spools it. Returns the sequence taken.
pub fn take_reading(
    name: &str,
    key: &SigningKey,
    spool: &Mutex<Spool>,
    m: &Measurement,
    now_ms: i64,
) -> Result<u64> {
    let (Some(power_w), Some(energy)) = (m.power_w, m.energy_wh) else {
        return Err(AgentError::NoValue(format!(
            "power {} and energy {}: the device reports a point as not implemented, so there is no reading",
            m.power_w.map_or("absent".into(), |p| format!("{p} W")),
            m.energy_wh.map_or("absent".into(), |e| format!("{e} Wh")),
        )));
    };
    let mut sp = spool.lock().map_err(|_| AgentError::Spool {
        path: name.into(),
        reason: "lock poisoned".into(),
    })?;
    let tip = sp.tip();
    let (export_wh, import_wh) = if tip.sequence == 0 {
        (energy, m.import_wh.unwrap_or(0))
    } else {
        let (e, why_e) = guard_counter("production/export total", tip.export_wh, energy);
        let (i, why_i) = guard_counter(
            "import total",
            tip.import_wh,
            m.import_wh.unwrap_or(tip.import_wh),
        );
        for why in [why_e, why_i].into_iter().flatten() {
            tracing::warn!(source = name, "{why}");
        }
        (e, i)
    };
    let r = next_reading(
        key,
        &tip,
        now_ms,
        Values {
            export_wh,
            import_wh,
            power_w,
            status: m.status,
        },
    );
    sp.append(&r)?;
    Ok(r.reading.sequence)
}

async fn poll_loop(
    name: String,
    mut source: Box<dyn Source>,
    key: SigningKey,
    spool: Arc<Mutex<Spool>>,
    notify: Arc<Notify>,
    every: Duration,
    clock: Clock,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // the same failure every poll (an inverter asleep all night) is logged once, then every
    // REPEAT_LOG_EVERY polls, to spare the SD card
    const REPEAT_LOG_EVERY: u64 = 360;
    let mut last_error: Option<(String, u64)> = None;
    loop {
        ticker.tick().await;
        // The reading's time is when the device was asked: a device answers in milliseconds,
        // but under a fast simulated clock the wait for the answer would be minutes.
        let asked_at = clock();
        let res = match source.sample().await {
            Ok(m) => take_reading(&name, &key, &spool, &m, asked_at),
            Err(e) => Err(e),
        };
        match res {
            Ok(seq) => {
                if let Some((_, n)) = last_error.take() {
                    tracing::info!(source = %name, failed_polls = n, "readings resumed");
                }
                tracing::debug!(source = %name, sequence = seq, "reading taken");
                notify.notify_one();
            }
            Err(e) => {
                let msg = e.to_string();
                match &mut last_error {
                    Some((prev, n)) if *prev == msg => {
                        *n += 1;
                        if *n % REPEAT_LOG_EVERY == 0 {
                            tracing::warn!(source = %name, device = %source.describe(), failed_polls = *n, "still no reading: {msg}");
                        } else {
                            tracing::debug!(source = %name, "no reading: {msg}");
                        }
                    }
                    _ => {
                        tracing::warn!(source = %name, device = %source.describe(), "no reading: {msg}");
                        last_error = Some((msg, 1));
                    }
                }
            }
        }
    }
}

async fn ship_loop(
    name: String,
    mut uplink: Box<dyn Uplink>,
    spool: Arc<Mutex<Spool>>,
    notify: Arc<Notify>,
    batch_size: usize,
    mut backoff: Backoff,
) {
    loop {
        let batch = match spool
            .lock()
            .map_err(|_| "lock poisoned".to_string())
            .and_then(|s| s.pending(batch_size).map_err(|e| e.to_string()))
        {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(source = %name, "cannot read the spool: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        }
        let res = uplink.ship(&batch).await;
        let through = res.as_ref().ok().and_then(|r| acked_prefix(&batch, r));
        match (res, through) {
            (Ok(_), Some(seq)) => {
                let hash = batch
                    .iter()
                    .find(|r| r.reading.sequence == seq)
                    .map(|r| r.chain_hash());
                let acked = match (spool.lock(), hash) {
                    (Ok(mut s), Some(h)) => s.ack_through(seq, h),
                    _ => Err(AgentError::Spool {
                        path: name.clone().into(),
                        reason: "lock poisoned".into(),
                    }),
                };
                match acked {
                    Ok(()) => {
                        tracing::debug!(source = %name, through = seq, "platform acknowledged");
                        backoff.reset();
                    }
                    Err(e) => tracing::error!(source = %name, "cannot record the ack: {e}"),
                }
            }
            (Ok(_), None) => {
                let d = backoff.next_delay(random_u32());
                tracing::warn!(source = %name, first = batch[0].reading.sequence, "platform answered without a verdict for the oldest reading; retrying in {d:?}");
                tokio::time::sleep(d).await;
            }
            (Err(e), _) => {
                let d = backoff.next_delay(random_u32());
                tracing::warn!(source = %name, pending = batch.len(), "{e}; retrying in {d:?}");
                tokio::time::sleep(d).await;
            }
        }
    }
}

/// One source with everything its two tasks need.
pub struct SourceTask {
    pub name: String,
    pub source: Box<dyn Source>,
    pub key: SigningKey,
    pub spool: Spool,
    pub uplink: Box<dyn Uplink>,
    pub batch_size: usize,
    pub backoff: Backoff,
    /// Real time between two polls.
    pub every: Duration,
}

impl SourceTask {
    /// Loads the key, opens the spool and builds the source and the uplink `cfg` describes
    /// for source `s`.
    pub fn open(cfg: &Config, s: &SourceConfig) -> Result<SourceTask> {
        let key = load_key(&cfg.key_file(s))?;
        let dir = cfg.source_dir(s).join("spool");
        let spool = Spool::open(&dir, cfg.spool.limits())?;
        tracing::info!(source = %s.name, device_id = %key.device_id(), last_sequence = spool.tip().sequence,
            pending = spool.pending_count(), "spool open");
        let source = build_source(cfg, s)?;
        let u = &cfg.uplink;
        let ack_timeout = Duration::from_secs_f64(u.ack_timeout_s);
        let uplink: Box<dyn Uplink> = match u.kind {
            UplinkKind::Http => Box::new(HttpUplink::with_ca_file(
                &u.url,
                ack_timeout,
                u.ca_file.as_deref(),
            )?),
            UplinkKind::Mqtt => Box::new(MqttUplink::connect(
                &u.url,
                key.device_id(),
                u.username.as_deref(),
                u.password.as_deref(),
                u.ca_file.as_deref(),
                ack_timeout,
                u.batch_size,
            )?),
        };
        let backoff = Backoff::new(
            Duration::from_millis(u.backoff_min_ms),
            Duration::from_millis(u.backoff_max_ms),
        );
        Ok(SourceTask {
            name: s.name.clone(),
            source,
            key,
            spool,
            uplink,
            batch_size: u.batch_size,
            backoff,
            every: cfg.poll_interval(),
        })
    }

    /// Starts the poll and ship tasks on the current runtime, timestamping with `clock`.
    pub fn spawn(self, tasks: &mut tokio::task::JoinSet<()>, clock: Clock) {
        let spool = Arc::new(Mutex::new(self.spool));
        let notify = Arc::new(Notify::new());
        tasks.spawn(ship_loop(
            self.name.clone(),
            self.uplink,
            spool.clone(),
            notify.clone(),
            self.batch_size,
            self.backoff,
        ));
        tasks.spawn(poll_loop(
            self.name,
            self.source,
            self.key,
            spool,
            notify,
            self.every,
            clock,
        ));
    }
}

/// Runs the agent until SIGINT or SIGTERM.
pub async fn run(cfg: Config) -> Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for s in &cfg.sources {
        SourceTask::open(&cfg, s)?.spawn(&mut tasks, system_clock());
    }
    tracing::info!(sources = cfg.sources.len(), "meter-agent running");
    shutdown_signal().await;
    tracing::info!("shutting down; every reading taken is on disk");
    tasks.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reading::DeviceStatus;

    fn m(power: Option<i32>, energy: Option<u64>) -> Measurement {
        Measurement {
            power_w: power,
            energy_wh: energy,
            import_wh: None,
            status: DeviceStatus::Ok,
            model: "t".into(),
        }
    }

    #[test]
    fn absent_values_never_become_readings_and_drops_are_held() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed(&[9; 32]).unwrap();
        let spool = Mutex::new(Spool::open(dir.path(), Default::default()).unwrap());
        assert!(take_reading("t", &key, &spool, &m(None, Some(5)), 1).is_err());
        assert!(take_reading("t", &key, &spool, &m(Some(5), None), 2).is_err());
        assert_eq!(spool.lock().unwrap().tip().sequence, 0);
        assert_eq!(
            take_reading("t", &key, &spool, &m(Some(5), Some(1000)), 3).unwrap(),
            1
        );
        assert_eq!(
            take_reading("t", &key, &spool, &m(Some(0), Some(0)), 4).unwrap(),
            2
        );
        let tip = spool.lock().unwrap().tip();
        assert_eq!(
            tip.export_wh, 1000,
            "a counter dropping to 0 holds the last good value"
        );
    }
}
