//! Bringing the neighbourhood to life: each household gets an account with its own API key and
//! a registered device (its public key, nameplate, location, zone) in the platform's store,
//! then a `meter-agent` simulator serving its inverter over Modbus TCP on loopback and a real
//! meter agent polling it, signing readings and shipping them over MQTT to the platform's
//! embedded broker, all on the demo's simulated clock.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meter_agent::agent::{Clock, SourceTask};
use meter_agent::simulator::{self, SimConfig};
use meter_agent::source::SunSpecSource;
use meter_agent::spool::{Spool, SpoolLimits};
use meter_agent::uplink::mqtt::MqttUplink;
use meter_agent::uplink::Backoff;
use reading::SigningKey;

use super::neighbourhood::Household;
use crate::error::{PlatformError, Result};
use crate::registry::{
    AccountName, ApiKeySecret, Latitude, Location, Longitude, NameplateW, NewDevice, Role, Zone,
};
use crate::store::Store;

/// Lifetime energy on every inverter's counter when the day starts, Wh.
const INITIAL_ENERGY_WH: u64 = 2_000_000;
/// Readings shipped per MQTT batch (the agent's default).
const UPLINK_BATCH: usize = 100;
/// How long an agent waits for the platform's verdicts before retrying (real time).
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Modbus request timeout (real time).
const DEVICE_TIMEOUT: Duration = Duration::from_secs(2);

/// A household as registered: its account, key and device.
#[derive(Clone, Debug)]
pub struct Registered {
    pub house: Household,
    pub account_id: i64,
    pub api_key: String,
    pub device_id: String,
}

fn demo_error(what: &str, e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Demo(format!("{what}: {e}"))
}

fn key_of(house: &Household) -> Result<SigningKey> {
    SigningKey::from_seed(&house.key_seed).map_err(|e| demo_error(&house.name, e))
}

/// Creates every household's prosumer account (with an API key) and registers its device.
pub fn register(
    store: &Store,
    houses: &[Household],
    zone: &Zone,
    now_ms: i64,
) -> Result<Vec<Registered>> {
    houses
        .iter()
        .map(|house| {
            let name: AccountName = house.name.parse()?;
            let secret = ApiKeySecret::generate()?;
            let (account, _) =
                store.create_account_with_key(&name, Role::Prosumer, &secret.hash(), now_ms)?;
            let key = key_of(house)?;
            let device = store.register_device(
                &NewDevice {
                    public_key: key.public_key(),
                    owner: name,
                    nameplate: NameplateW::new(house.site.nameplate_w)?,
                    location: Location {
                        latitude: Latitude::from_degrees(house.site.latitude)?,
                        longitude: Longitude::from_degrees(house.site.longitude)?,
                    },
                    zone: zone.clone(),
                },
                now_ms,
            )?;
            Ok(Registered {
                house: house.clone(),
                account_id: account.id.0,
                api_key: secret.expose().to_owned(),
                device_id: device.id.to_hex(),
            })
        })
        .collect()
}

/// Where a household's agent keeps its spool.
pub fn spool_dir(dir: &Path, house: &Household) -> PathBuf {
    dir.join("households").join(&house.name).join("spool")
}

/// One household's view of the simulated clock: its agent reads the demo's clock and notes
/// the instant; its simulator answers as of the instant its agent last asked.
///
/// A real device answers within milliseconds, which no reading notices. On a clock running
/// 2000× real time, the few real milliseconds a busy machine takes to schedule the simulator
/// after the agent asked would be simulated minutes: the reading would carry energy measured
/// a minute after its timestamp, and honest households would be refused `above_nameplate`.
/// Answering as of the asking instant keeps the simulation as instantaneous as the real thing.
#[derive(Clone)]
pub struct HouseClock {
    asked_at: Arc<AtomicI64>,
    clock: Clock,
}

impl HouseClock {
    pub fn new(clock: Clock) -> Self {
        Self {
            asked_at: Arc::new(AtomicI64::new(clock())),
            clock,
        }
    }

    /// The agent's clock: the demo's time, remembered as the asking instant.
    pub fn for_agent(&self) -> Clock {
        let (asked_at, clock) = (self.asked_at.clone(), self.clock.clone());
        Arc::new(move || {
            let now = clock();
            asked_at.fetch_max(now, Ordering::SeqCst);
            now
        })
    }

    /// The simulator's clock: the last asking instant.
    pub fn for_simulator(&self) -> Clock {
        let asked_at = self.asked_at.clone();
        Arc::new(move || asked_at.load(Ordering::SeqCst))
    }
}

/// Starts every household's simulator on the current tokio runtime and returns their Modbus
/// addresses, in household order.
pub async fn start_simulators(
    houses: &[Household],
    clocks: &[HouseClock],
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<Vec<SocketAddr>> {
    let mut addrs = Vec::with_capacity(houses.len());
    for (house, clock) in houses.iter().zip(clocks) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| demo_error("a simulator cannot listen on loopback", e))?;
        addrs.push(
            listener
                .local_addr()
                .map_err(|e| demo_error("simulator address", e))?,
        );
        let config = SimConfig {
            site: house.site,
            speed: 1.0,
            start_ms: 0,
            initial_energy_wh: INITIAL_ENERGY_WH,
            load_w: house.load_w,
            unit: 1,
            serial: format!("SIM-{}", house.name),
            panel: Some(house.panel),
            tamper: house.conduct.tamper(),
        };
        let sim_clock = clock.for_simulator();
        let name = house.name.clone();
        tasks.spawn(async move {
            if let Err(e) = simulator::run_with_clock(listener, config, sim_clock).await {
                tracing::error!(household = %name, error = %e, "simulator stopped");
            }
        });
    }
    Ok(addrs)
}

/// What an agent needs besides its household and its clock.
#[derive(Clone)]
pub struct AgentSetup {
    pub dir: PathBuf,
    pub mqtt_url: String,
    /// Real time between two polls.
    pub poll_every: Duration,
}

/// The running agents: one thread each, with its own single-threaded runtime, as on its own
/// Raspberry Pi (the agent's spool writes are synchronous: agents sharing a runtime would
/// hold each other up).
pub struct Agents {
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<Result<()>>>,
}

impl Agents {
    /// Whether an agent stopped on its own (it failed to start).
    pub fn any_finished(&self) -> bool {
        self.threads.iter().any(|t| t.is_finished())
    }

    /// Stops every agent and waits for it (blocking).
    pub fn stop(self) -> Result<()> {
        for stop in self.stops {
            let _ = stop.send(());
        }
        let mut outcome = Ok(());
        for thread in self.threads {
            let result = thread
                .join()
                .unwrap_or_else(|_| Err(PlatformError::Demo("an agent panicked".into())));
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    }
}

/// Starts one meter agent per household, reading the simulator at `addrs[i]` on `clocks[i]`.
pub fn start_agents(
    houses: &[Household],
    addrs: &[SocketAddr],
    clocks: &[HouseClock],
    setup: &AgentSetup,
) -> Result<Agents> {
    let mut agents = Agents {
        stops: Vec::new(),
        threads: Vec::new(),
    };
    for ((house, addr), clock) in houses.iter().zip(addrs).zip(clocks) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (house, addr, setup) = (house.clone(), *addr, setup.clone());
        let clock = clock.for_agent();
        let thread = std::thread::Builder::new()
            .name(format!("agent-{}", house.name))
            .spawn(move || -> Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| demo_error(&house.name, e))?;
                rt.block_on(async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    agent_task(&house, addr, &setup)?.spawn(&mut tasks, clock);
                    let _ = stopped.await;
                    tasks.shutdown().await;
                    Ok(())
                })
            })
            .map_err(|e| demo_error("cannot start an agent thread", e))?;
        agents.stops.push(stop);
        agents.threads.push(thread);
    }
    Ok(agents)
}

/// The household's agent, as `meter-agent run` would build it from a config: SunSpec source,
/// its key, its spool, the MQTT uplink. Must run inside the agent's runtime (the uplink
/// starts its event loop there).
fn agent_task(house: &Household, addr: SocketAddr, setup: &AgentSetup) -> Result<SourceTask> {
    let key = key_of(house)?;
    let url = format!("tcp://{addr}")
        .parse()
        .map_err(|e| demo_error("simulator URL", e))?;
    let spool = Spool::open(&spool_dir(&setup.dir, house), SpoolLimits::default())
        .map_err(|e| demo_error(&house.name, e))?;
    let uplink = MqttUplink::connect(
        &setup.mqtt_url,
        key.device_id(),
        None,
        None,
        None,
        ACK_TIMEOUT,
        UPLINK_BATCH,
    )
    .map_err(|e| demo_error(&house.name, e))?;
    Ok(SourceTask {
        name: house.name.clone(),
        source: Box::new(SunSpecSource::new(url, 1, DEVICE_TIMEOUT)),
        key,
        spool,
        uplink: Box::new(uplink),
        batch_size: UPLINK_BATCH,
        backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(2)),
        every: setup.poll_every,
    })
}

/// Readings each household's agent took (its spool's last sequence), read after the agents
/// stopped.
pub fn readings_taken(dir: &Path, houses: &[Household]) -> Result<Vec<u64>> {
    houses
        .iter()
        .map(|house| {
            Spool::open(&spool_dir(dir, house), SpoolLimits::default())
                .map(|s| s.tip().sequence)
                .map_err(|e| demo_error(&house.name, e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulator_answers_as_of_its_agents_last_question() {
        let time = Arc::new(AtomicI64::new(1_000));
        let read = time.clone();
        let clocks = HouseClock::new(Arc::new(move || read.load(Ordering::SeqCst)));
        let (agent, simulator) = (clocks.for_agent(), clocks.for_simulator());
        assert_eq!(simulator(), 1_000);
        time.store(5_000, Ordering::SeqCst);
        assert_eq!(simulator(), 1_000, "time moved on, but nobody asked yet");
        assert_eq!(agent(), 5_000);
        assert_eq!(simulator(), 5_000, "the answer is as of the question");
        time.store(9_000, Ordering::SeqCst);
        assert_eq!(simulator(), 5_000);
    }
}
