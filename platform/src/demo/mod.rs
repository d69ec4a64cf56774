//! `sunmesh demo`: a simulated neighbourhood, end to end, on the embedded defaults.
//!
//! One process runs the very same stack as `sunmesh serve` (store on a SQLite file in the demo
//! directory, embedded MQTT broker on a free loopback port, ingest, exchange, settlement
//! scheduler, HTTP API and web page) on a simulated clock that runs `--speed` times faster
//! than real time. Around it: N households, each a `meter-agent` simulator (an inverter of its
//! own size and orientation behind a grid meter) read over Modbus TCP by a real meter agent
//! that signs and ships readings over MQTT; a few meters are dishonest or faulty. Households
//! trade through the HTTP API with their own keys. After the day: a summary, the report and
//! the chart.
//!
//! Owns only orchestration and the simulation's choices; every rule it shows (verification,
//! matching, settlement) is the cores' and runs unchanged. Files: [`neighbourhood`] (who
//! lives there), [`strategy`] (what they order), [`households`] (accounts, devices,
//! simulators, agents), [`trader`] (HTTP orders), [`summary`] (the end of the day),
//! [`progress`] (the bar), [`rng`] (seeded randomness).

pub mod households;
pub mod neighbourhood;
pub mod progress;
pub mod rng;
pub mod strategy;
pub mod summary;
pub mod trader;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::{self, SimClock};
use crate::config::{MqttConfig, ServeConfig, SettlementSettings};
use crate::error::{PlatformError, Result};
use crate::registry::{AccountName, ApiKeySecret, Role, Zone};
use crate::serve::{self, Tuning};
use crate::settle::{ScheduleConfig, SettleConfig};
use crate::trading::MarketSettings;

/// The demo's market zone.
pub const ZONE: &str = "demo-ams";
/// Simulated time before the day starts, so every agent has a first reading (which only
/// establishes its counters) before midnight.
const WARMUP_MS: i64 = 30 * 60_000;
const DAY_MS: i64 = 24 * 3_600_000;
/// Orders for a slot are placed this long before it starts (simulated).
const ORDER_LEAD_MS: i64 = 3 * 3_600_000;
/// Every household's trading funds, micro-units (1,000 units of currency).
const FUNDS_MICRO: i64 = 1_000_000_000;
/// Micro-units per kWh around which households price.
const REFERENCE_PRICE: i64 = 250_000;
/// The least real time the late-reading window lasts, however fast the clock.
const LATE_READINGS_REAL: Duration = Duration::from_millis(1500);
/// How long (real time) the summary waits for the scheduler to settle the day's last slot.
const LAST_SLOT_WAIT: Duration = Duration::from_secs(60);
/// The demo database's file name inside the demo directory.
const DATABASE_FILE: &str = "sunmesh-demo.db";

/// What `sunmesh demo` was asked to do.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    pub households: usize,
    pub seed: u64,
    pub speed: f64,
    /// The simulated day, UTC.
    pub date: chrono::NaiveDate,
    pub dir: PathBuf,
    pub listen: SocketAddr,
    /// Whether `listen` was given; if not and it is taken, a free port is used instead.
    pub listen_explicit: bool,
    pub keep_running: bool,
    /// Simulated seconds between two readings of each agent.
    pub poll_s: u64,
}

/// The files of earlier demo runs that a new run replaces (nothing else in the directory is
/// touched).
const OWNED_FILES: [&str; 8] = [
    DATABASE_FILE,
    "sunmesh-demo.db-wal",
    "sunmesh-demo.db-shm",
    "log.key",
    "demo.log",
    "summary.json",
    "report.csv",
    "report.json",
];

fn prepare_dir(dir: &Path) -> Result<()> {
    let io = |e: std::io::Error| PlatformError::Demo(format!("directory {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    for name in OWNED_FILES.iter().copied().chain(["chart.svg"]) {
        match std::fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    match std::fs::remove_dir_all(dir.join("households")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
        _ => Ok(()),
    }
}

/// Logs go to `demo.log` in the demo directory: the terminal shows the progress bar.
fn init_logging(path: &Path) -> Result<()> {
    let file = std::fs::File::create(path)
        .map_err(|e| PlatformError::Demo(format!("cannot create {}: {e}", path.display())))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttd=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}

/// The HTTP address: the one asked for; without `--listen`, a free port if the default is
/// taken (said on stderr).
fn choose_listen(config: &DemoConfig) -> Result<SocketAddr> {
    if config.listen_explicit {
        return Ok(config.listen);
    }
    match TcpListener::bind(config.listen) {
        Ok(probe) => {
            drop(probe);
            Ok(config.listen)
        }
        Err(e) => {
            eprintln!(
                "note: {} is busy ({e}); serving the demo on a free port instead (--listen picks one)",
                config.listen
            );
            Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
        }
    }
}

/// Runs the demo and writes its summary to `out`.
pub fn run(config: DemoConfig, out: &mut dyn Write) -> Result<()> {
    if config.households == 0 || config.households > 500 {
        return Err(PlatformError::Demo(format!(
            "--households {} must be between 1 and 500",
            config.households
        )));
    }
    if config.poll_s == 0 {
        return Err(PlatformError::Demo("--poll-s must be at least 1".into()));
    }
    prepare_dir(&config.dir)?;
    let dir = config
        .dir
        .canonicalize()
        .unwrap_or_else(|_| config.dir.clone());
    init_logging(&dir.join("demo.log"))?;
    let day_start_ms = config
        .date
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| PlatformError::Demo(format!("bad date {}", config.date)))?;
    let listen = choose_listen(&config)?;
    let sim = clock::install_simulated(SimClock::new(day_start_ms - WARMUP_MS, config.speed)?)?;
    let market = MarketSettings {
        zones: vec![ZONE.to_owned()],
        // Books close at their gate within a few simulated minutes even when nobody trades.
        tick_interval_ms: 200,
        ..MarketSettings::default()
    };
    let serve_config = ServeConfig {
        listen,
        database: dir.join(DATABASE_FILE).display().to_string(),
        mqtt: MqttConfig {
            url: None,
            embedded_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            client_id: None,
        },
        settlement: SettlementSettings {
            log_key: dir.join("log.key"),
            ..SettlementSettings::default()
        },
        market,
        ..ServeConfig::default()
    };
    let default_schedule = ScheduleConfig::default();
    // Late readings get their 30 simulated minutes, but never less than LATE_READINGS_REAL of
    // real time: on a clock this fast, the real delays of agents, broker and ingest on a busy
    // machine are simulated minutes, and a slot fed before its readings are in stays short.
    let schedule = ScheduleConfig {
        late_reading_ms: default_schedule
            .late_reading_ms
            .max((LATE_READINGS_REAL.as_secs_f64() * config.speed * 1000.0) as i64),
        // The demo ends before any slot is two days old, and reward epochs wait for the
        // reconciliation of their slots: without it the day's pool is minted at its end.
        reconcile_after_ms: 0,
        ..default_schedule
    };
    // Settle a slot within about half a slot (real time) of its late-reading window closing.
    let settle_every = Duration::from_secs_f64(
        (schedule.slot_len_ms as f64 / config.speed / 2000.0).clamp(0.05, 1.0),
    );
    let tuning = Tuning {
        settle: SettleConfig {
            // One reward epoch per simulated day, so the day's reward pool is minted at its end.
            epochs: settlement::rewards::EpochCalendar {
                genesis_ms: day_start_ms,
                epoch_len_ms: DAY_MS,
            },
            ..Tuning::from_config(&serve_config).settle
        },
        schedule,
        settle_every,
    };
    let day = Day {
        config,
        dir,
        sim,
        day_start_ms,
        serve_config,
        tuning,
    };
    actix_web::rt::System::new().block_on(day.run(out))
}

/// One demo run, from server start to summary.
struct Day {
    config: DemoConfig,
    dir: PathBuf,
    sim: SimClock,
    day_start_ms: i64,
    serve_config: ServeConfig,
    tuning: Tuning,
}

impl Day {
    async fn run(self, out: &mut dyn Write) -> Result<()> {
        let started = Instant::now();
        let serve::Running {
            addr,
            handle,
            server,
            state,
            ingest,
        } = serve::start_with(&self.serve_config, self.tuning.clone()).await?;
        // The server accepts connections once its future is polled.
        let serving = actix_web::rt::spawn(server);
        let store = state.store.clone();
        let zone: Zone = ZONE.parse()?;
        let houses = neighbourhood::plan(self.config.households, self.config.seed);
        let now = clock::now_ms();
        self.import_factor(&store, now)?;
        let registered = households::register(&store, &houses, &zone, now)?;
        let admin_secret = ApiKeySecret::generate()?;
        let admin_name: AccountName = "demo-admin".parse()?;
        store.create_account_with_key(&admin_name, Role::Admin, &admin_secret.hash(), now)?;
        let admin_key = admin_secret.expose().to_owned();
        let web_url = format!("http://{addr}/");
        let api = trader::Api::new(format!("http://{addr}"))?;

        let neighbourhood = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("neighbourhood")
            .enable_all()
            .build()
            .map_err(|e| PlatformError::Demo(format!("cannot start a runtime: {e}")))?;
        let outcome = self
            .simulate(
                &neighbourhood,
                &state,
                &ingest.mqtt_url,
                api,
                &registered,
                admin_secret,
            )
            .await;
        neighbourhood.shutdown_background();
        let stats = outcome?;

        // The scheduler settles the day's last slot (and mints the day's rewards) once its
        // late readings are in; the summary waits for that, within reason.
        let last_slot = self.day_start_ms + DAY_MS - self.tuning.schedule.slot_len_ms;
        let settled_by = Instant::now() + LAST_SLOT_WAIT;
        loop {
            let s = store.clone();
            let done = actix_web::web::block(move || s.settled_slots(ZONE, &[last_slot]))
                .await
                .map_err(|e| PlatformError::Demo(format!("waiting for settlement: {e}")))??;
            if !done.is_empty() {
                break;
            }
            if Instant::now() >= settled_by {
                tracing::warn!("the day's last slot is not settled yet; summarising what is");
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }

        let taken = households::readings_taken(&self.dir, &houses)?;
        let date = self.config.date.to_string();
        let files = summary::Files {
            directory: self.dir.clone(),
            database: self.dir.join(DATABASE_FILE),
            report_csv: self.dir.join("report.csv"),
            report_json: self.dir.join("report.json"),
            chart_svg: self.dir.join("chart.svg"),
            summary_json: self.dir.join("summary.json"),
            log: self.dir.join("demo.log"),
        };
        let summary = summary::collect(
            &store,
            summary::Inputs {
                houses: &registered,
                taken: &taken,
                trader: &stats,
                day_start_ms: self.day_start_ms,
                day_end_ms: self.day_start_ms + DAY_MS,
                date,
                zone: ZONE.to_owned(),
                seed: self.config.seed,
                speed: self.config.speed,
                real_seconds: started.elapsed().as_secs_f64(),
                files,
                web_url: web_url.clone(),
            },
        )?;
        let conducts: Vec<_> = houses.iter().map(|h| (h.name.clone(), h.conduct)).collect();
        out.write_all(summary::render(&summary, &conducts).as_bytes())?;
        if self.config.keep_running {
            writeln!(
                out,
                "\nThe web page stays up at {web_url} (admin API key: {admin_key}). Ctrl-C stops it."
            )?;
            out.flush()?;
            let signal = serve::shutdown_signal().await;
            tracing::info!(signal, "demo stopping");
        }
        handle.stop(true).await;
        let _ = serving.await;
        drop(ingest);
        Ok(())
    }

    /// Fund, start the households and the trader, show progress until the day (and its late
    /// readings) are over; returns what the trader did.
    async fn simulate(
        &self,
        rt: &tokio::runtime::Runtime,
        state: &crate::api::AppState,
        mqtt_url: &str,
        api: trader::Api,
        registered: &[households::Registered],
        admin: ApiKeySecret,
    ) -> Result<Arc<trader::TraderStats>> {
        let funding_api = api.clone();
        let funded = registered.to_vec();
        let admin_key = admin.expose().to_owned();
        rt.spawn(async move { trader::fund(&funding_api, &admin_key, &funded, FUNDS_MICRO).await })
            .await
            .map_err(|e| PlatformError::Demo(format!("funding: {e}")))??;

        let stats = Arc::new(trader::TraderStats::default());
        let slot_len = self.tuning.schedule.slot_len_ms;
        let plan = trader::Plan {
            zone: ZONE.to_owned(),
            rules: strategy::Rules {
                slot_len_ms: slot_len,
                tick: self.serve_config.market.tick,
                reference_price: REFERENCE_PRICE,
                max_order_qty_wh: self.serve_config.market.max_order_qty_wh,
            },
            seed: self.config.seed,
            slots: (0..DAY_MS / slot_len)
                .map(|k| self.day_start_ms + k * slot_len)
                .collect(),
            lead_ms: ORDER_LEAD_MS,
        };
        // The first slots' orders go out while the clock is still held.
        let later = {
            let (api, houses, plan, stats) = (
                api.clone(),
                registered.to_vec(),
                plan.clone(),
                stats.clone(),
            );
            let held_at = self.sim.now_ms();
            rt.spawn(async move { trader::place_due(&api, &houses, &plan, held_at, &stats).await })
                .await
                .map_err(|e| PlatformError::Demo(format!("first orders: {e}")))?
        };
        let plan = trader::Plan {
            slots: later,
            ..plan
        };

        let sim = self.sim.clone();
        let clock: meter_agent::agent::Clock = Arc::new(move || sim.now_ms());
        let houses: Vec<_> = registered.iter().map(|r| r.house.clone()).collect();
        let clocks: Vec<_> = houses
            .iter()
            .map(|_| households::HouseClock::new(clock.clone()))
            .collect();
        let addrs = {
            let (houses, clocks) = (houses.clone(), clocks.clone());
            rt.spawn(async move {
                // The simulators live as long as the runtime.
                let mut tasks = tokio::task::JoinSet::new();
                let addrs = households::start_simulators(&houses, &clocks, &mut tasks).await;
                tasks.detach_all();
                addrs
            })
            .await
            .map_err(|e| PlatformError::Demo(format!("simulators: {e}")))??
        };

        // Setting up took no simulated time; the day starts now.
        self.sim.start();
        let agents = households::start_agents(
            &houses,
            &addrs,
            &clocks,
            &households::AgentSetup {
                dir: self.dir.clone(),
                mqtt_url: mqtt_url.to_owned(),
                poll_every: Duration::from_secs_f64(self.config.poll_s as f64 / self.config.speed),
            },
        )?;
        let trading = rt.spawn(trader::run(
            api,
            registered.to_vec(),
            plan,
            self.sim.clone(),
            stats.clone(),
        ));

        // The day is over once its last slot's late readings are in and a tick has settled it.
        let end_ms =
            self.day_start_ms + DAY_MS + self.tuning.schedule.late_reading_ms + 2 * slot_len;
        let shown = progress::run(
            &state.store,
            &stats,
            self.sim.clone(),
            self.day_start_ms,
            end_ms,
            || agents.any_finished(),
        )
        .await;
        trading.abort();
        actix_web::web::block(move || agents.stop())
            .await
            .map_err(|e| PlatformError::Demo(format!("stopping the agents: {e}")))??;
        shown?;
        Ok(stats)
    }

    /// The day's grid emission factor for the demo zone, next to the bundled example table.
    fn import_factor(&self, store: &crate::store::Store, now_ms: i64) -> Result<()> {
        // From the evening before (the warm-up readings) to the day after (late slots).
        let date = self.config.date;
        let from = date.pred_opt().unwrap_or(date);
        let to = date.succ_opt().and_then(|d| d.succ_opt()).unwrap_or(date);
        let text = format!(
            "{}\n{ZONE},{from},{to},annual_average,\"EEA, greenhouse gas emission intensity of \
             electricity generation, EU-27 2018: 281 gCO2e/kWh (applied to the demo day)\",\
             EEA-2018,281000\n",
            crate::settle::commands::EXAMPLE_FACTORS.trim_end(),
        );
        let table = settlement::carbon::FactorTable::from_csv(&text)
            .map_err(PlatformError::core("reading the demo's emission factors"))?;
        store.replace_emission_factors(&table, now_ms)?;
        Ok(())
    }
}
