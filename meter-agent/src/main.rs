//! `meter-agent` command line; the work lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use meter_agent::{
    agent, config::Config, modbus_map::Profile, register, signer, simulator, source,
};

#[derive(Parser)]
#[command(
    name = "meter-agent",
    version,
    about = "Reads solar inverters and meters, signs every reading, spools durably, ships"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon.
    Run {
        #[arg(long, default_value = "/etc/meter-agent/agent.toml")]
        config: PathBuf,
    },
    /// Create Ed25519 device keys (PKCS#8, mode 0600) and print the public keys.
    Keygen {
        /// Create the missing key of every source in this config.
        #[arg(long, conflicts_with = "out")]
        config: Option<PathBuf>,
        /// Write one key to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Send each source's public key, nameplate, location and zone to the platform.
    Register {
        #[arg(long)]
        platform: String,
        #[arg(long, default_value = "/etc/meter-agent/agent.toml")]
        config: PathBuf,
    },
    /// Read a device once and print the reading as JSON.
    Read {
        /// Required: read one value and exit (the daemon is `run`).
        #[arg(long, required = true)]
        once: bool,
        /// A SunSpec device: tcp://HOST:PORT or rtu:///dev/ttyUSB0?baud=9600.
        #[arg(long, conflicts_with = "profile")]
        sunspec: Option<String>,
        /// A register-map profile (TOML); use with --device.
        #[arg(long, requires = "device")]
        profile: Option<PathBuf>,
        /// Device URL for --profile.
        #[arg(long)]
        device: Option<String>,
        #[arg(long, default_value_t = 1)]
        unit: u8,
        #[arg(long, default_value_t = 3000)]
        timeout_ms: u64,
    },
    /// Serve a simulated SunSpec inverter + meter (models 1, 103, 203) over Modbus TCP.
    Simulate {
        #[arg(long, default_value = "127.0.0.1:5020")]
        listen: String,
        /// Simulated time runs this many times faster.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        #[arg(long, default_value_t = 52.52, allow_hyphen_values = true)]
        lat: f64,
        #[arg(long, default_value_t = 13.40, allow_hyphen_values = true)]
        lon: f64,
        #[arg(long, default_value_t = 5000)]
        nameplate_w: u32,
        /// Household load behind the simulated grid meter, W.
        #[arg(long, default_value_t = 400)]
        load_w: u32,
        /// Simulated start time, UTC ms (default: now).
        #[arg(long)]
        start_ms: Option<i64>,
        #[arg(long, default_value_t = 1_000_000)]
        initial_energy_wh: u64,
        #[arg(long, default_value_t = 1)]
        unit: u8,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("meter-agent: {e}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // one thread is plenty for a handful of devices and keeps the footprint small on a Pi
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    rt.block_on(async move {
        match cli.cmd {
            Cmd::Run { config } => match Config::load(&config) {
                Ok(cfg) => agent::run(cfg).await.map_or_else(fail, |_| ExitCode::SUCCESS),
                Err(e) => fail(e),
            },
            Cmd::Keygen { config, out } => keygen(config, out),
            Cmd::Register { platform, config } => match Config::load(&config) {
                Ok(cfg) => match register::register_all(&cfg, &platform).await {
                    Ok(lines) => {
                        lines.iter().for_each(|l| println!("{l}"));
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e),
                },
                Err(e) => fail(e),
            },
            Cmd::Read { once: _, sunspec, profile, device, unit, timeout_ms } => {
                let timeout = Duration::from_millis(timeout_ms);
                let res = match (sunspec, profile, device) {
                    (Some(url), _, _) => match url.parse() {
                        Ok(u) => source::read_once_sunspec(u, unit, timeout).await,
                        Err(e) => Err(e),
                    },
                    (None, Some(p), Some(d)) => match (Profile::load(&p), d.parse()) {
                        (Ok(p), Ok(u)) => source::read_once_profile(u, unit, timeout, p).await,
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    },
                    _ => return fail("give --sunspec URL, or --profile FILE with --device URL"),
                };
                match res {
                    Ok(v) => {
                        println!("{v}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e),
                }
            }
            Cmd::Simulate { listen, speed, lat, lon, nameplate_w, load_w, start_ms, initial_energy_wh, unit } => {
                if !(speed > 0.0 && speed.is_finite()) {
                    return fail("--speed must be a positive number");
                }
                let listener = match tokio::net::TcpListener::bind(&listen).await {
                    Ok(l) => l,
                    Err(e) => return fail(format!("cannot listen on {listen}: {e}")),
                };
                let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(listen);
                let start_ms = start_ms.unwrap_or_else(|| {
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
                });
                let cfg = simulator::SimConfig {
                    site: simulator::solar::Site { latitude: lat, longitude: lon, nameplate_w },
                    speed,
                    start_ms,
                    initial_energy_wh,
                    load_w,
                    unit,
                    serial: format!("SIM-{nameplate_w}"),
                    panel: None,
                    tamper: simulator::Tamper::Honest,
                };
                tracing::info!(%addr, speed, lat, lon, nameplate_w, "SunSpec simulator listening (models 1, 103, 203 at 40000)");
                // tests and scripts read this line to learn the port when listening on :0
                println!("listening on {addr}");
                match simulator::run(listener, cfg).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => fail(e),
                }
            }
        }
    })
}

fn keygen(config: Option<PathBuf>, out: Option<PathBuf>) -> ExitCode {
    let show = |name: &str, k: &reading::SigningKey, path: &std::path::Path, new: bool| {
        println!(
            "{name}: public_key={} device_id={} key_file={}{}",
            k.public_key().to_hex(),
            k.device_id(),
            path.display(),
            if new { " (new)" } else { "" }
        );
    };
    match (config, out) {
        (None, Some(path)) => match signer::keygen(&path) {
            Ok(k) => {
                show("key", &k, &path, true);
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        (Some(cfg), None) => {
            let cfg = match Config::load(&cfg) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            for s in &cfg.sources {
                let path = cfg.key_file(s);
                let res = if path.exists() {
                    signer::load_key(&path).map(|k| (k, false))
                } else {
                    signer::keygen(&path).map(|k| (k, true))
                };
                match res {
                    Ok((k, new)) => show(&s.name, &k, &path, new),
                    Err(e) => return fail(e),
                }
            }
            ExitCode::SUCCESS
        }
        _ => fail("give --config agent.toml (keys for every source) or --out FILE"),
    }
}
