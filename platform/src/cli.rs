//! The `sunmesh` command line. Arguments are parsed into registry types by clap, so bad input
//! is refused (exit status 2) before the database is even opened.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use reading::{DeviceId, PublicKey};

use crate::clock::now_ms;
use crate::config::{Overrides, ServeConfig};
use crate::error::Result;
use crate::registry::{
    parse_device_id, parse_public_key, AccountName, ApiKeySecret, Device, DeviceState, Latitude,
    Location, Longitude, NameplateW, NewDevice, Role, Zone, DEFAULT_OWNER, DEFAULT_ZONE,
};
use crate::settle::commands as settle_cmd;
use crate::store::Store;

/// Used when neither `--database` nor `DATABASE_URL` is given: a SQLite file in the working
/// directory, so one process is a whole installation.
pub const DEFAULT_DATABASE: &str = "sunmesh.db";

#[derive(Debug, Parser)]
#[command(
    name = "sunmesh",
    version,
    about = "sunmesh platform: neighbourhood solar, verified and traded"
)]
pub struct Cli {
    /// The database: a SQLite file path (created if missing) or a postgres:// URL.
    /// Default: `DATABASE_URL`, else the config file's `database` (serve), else `sunmesh.db`.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "SQLITE-PATH|POSTGRES-URL"
    )]
    pub database: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register, list and revoke devices (meters and inverters with their own signing key).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Settle one (zone, slot): ledger, mints, log leaves, report row, signed checkpoint.
    Settle(settle_cmd::SettleArgs),
    /// Settlement report rows as CSV or JSON (and a day's SVG chart).
    Report(settle_cmd::ReportArgs),
    /// Check an exported transparency log offline (no database needed).
    VerifyLog(settle_cmd::VerifyLogArgs),
    /// The transparency log.
    #[command(subcommand)]
    Log(settle_cmd::LogCommand),
    /// The emission factor table.
    #[command(subcommand)]
    Factors(settle_cmd::FactorsCommand),
    /// Sun position and clear-sky irradiance at a place and time (NREL SPA, Ineichen–Perez),
    /// printed as one JSON object.
    Solar(SolarArgs),
    /// Create accounts from the command line (the way to make the first admin or operator).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Run the platform: HTTP API, web page, ingest, settlement.
    Serve(ServeArgs),
    /// A simulated neighbourhood end to end on the embedded defaults: households with
    /// simulated inverters and real meter agents, trading over the HTTP API, a day settled
    /// faster than real time, then a summary and the day's report.
    Demo(DemoArgs),
    /// Print the OpenAPI document (the source of openapi/openapi.json).
    Openapi,
    /// Inspect the exchange's journal.
    #[command(subcommand)]
    Journal(JournalCli),
}

#[derive(Debug, Subcommand)]
pub enum JournalCli {
    /// Rebuild the engine from the first journal entry (ignoring snapshots) and print its
    /// state hash; compare with `GET /v1/admin/engine`.
    Replay {
        /// Stop after this journal entry (default: the whole journal).
        #[arg(long, value_name = "SEQ")]
        upto: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account and print its first API key (shown once).
    Add {
        /// Unique account name.
        #[arg(long)]
        name: AccountName,
        /// prosumer, consumer, operator or admin.
        #[arg(long)]
        role: Role,
    },
    /// List accounts.
    List,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML config file (see platform/sunmesh.example.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on, host:port (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// An external MQTT broker URL (default: the embedded broker).
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// Where the embedded MQTT broker listens (default 127.0.0.1:1884).
    #[arg(long, value_name = "ADDR")]
    pub mqtt_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Households in the neighbourhood (3 in 20 have dishonest or faulty meters).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub households: u16,
    /// Seed of every random choice: the same seed, the same neighbourhood and orders.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How many times faster than real time the simulated day runs (≥ 1).
    #[arg(long, default_value_t = 2000.0, value_parser = parse_speed)]
    pub speed: f64,
    /// The simulated day, UTC (a sunny midsummer day by default).
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2026-06-21")]
    pub date: chrono::NaiveDate,
    /// Where the database, logs, report and chart go; earlier demo files there are replaced.
    #[arg(long, value_name = "PATH", default_value = "sunmesh-demo")]
    pub dir: std::path::PathBuf,
    /// Address of the API and web page (default 127.0.0.1:8080, or a free port if it is busy).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Keep the platform and its web page up after the summary, until Ctrl-C.
    #[arg(long)]
    pub keep_running: bool,
    /// Simulated seconds between two readings of each meter agent.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub poll_s: u64,
}

fn parse_speed(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 1.0 => Ok(v),
        _ => Err(format!("{text:?}: give a number ≥ 1, e.g. 2000")),
    }
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct SolarArgs {
    /// Latitude in decimal degrees, north positive (-90..=90).
    #[arg(long, value_name = "DEGREES", value_parser = parse_latitude)]
    pub lat: f64,
    /// Longitude in decimal degrees, east positive (-180..=180).
    #[arg(long, value_name = "DEGREES", value_parser = parse_longitude)]
    pub lon: f64,
    /// The instant, RFC 3339 with an offset, e.g. 2026-06-21T12:00:00Z.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub at: i64,
}

fn parse_degrees(text: &str, limit: f64, what: &str) -> std::result::Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| {
        format!("{what} {text:?} is not a number; give decimal degrees, e.g. 52.52")
    })?;
    if !value.is_finite() || value.abs() > limit {
        return Err(format!(
            "{what} {text:?} is outside -{limit}..={limit} degrees"
        ));
    }
    Ok(value)
}

fn parse_latitude(text: &str) -> std::result::Result<f64, String> {
    parse_degrees(text, 90.0, "latitude")
}

fn parse_longitude(text: &str) -> std::result::Result<f64, String> {
    parse_degrees(text, 180.0, "longitude")
}

/// An RFC 3339 instant as UTC milliseconds.
fn parse_instant(text: &str) -> std::result::Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            format!("{text:?} is not an RFC 3339 instant ({e}); write e.g. 2026-06-21T12:00:00Z")
        })
}

/// The `sunmesh solar` answer.
pub fn solar_json(lat_deg: f64, lon_deg: f64, unix_ms: i64) -> serde_json::Value {
    let sun = settlement::solar::position(lat_deg, lon_deg, unix_ms);
    let clear = settlement::solar::clear_sky(&sun);
    serde_json::json!({
        "elevation_deg": sun.elevation_deg,
        "apparent_elevation_deg": sun.apparent_elevation_deg,
        "azimuth_deg": sun.azimuth_deg,
        "clear_sky_ghi_wm2": clear.ghi_wm2,
    })
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Register a device by its Ed25519 public key; prints its device id.
    Add(AddDevice),
    /// List registered devices.
    List(ListDevices),
    /// Revoke a device for good: its readings are no longer accepted.
    Revoke(RevokeDevice),
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct AddDevice {
    /// The device's Ed25519 public key, 64 hex characters, as made by `meter-agent keygen`.
    #[arg(long, value_name = "HEX", value_parser = parse_public_key)]
    pub pubkey: PublicKey,
    /// Rated AC output in whole watts.
    #[arg(long = "nameplate-w", value_name = "W")]
    pub nameplate_w: NameplateW,
    /// Latitude in decimal degrees, north positive.
    #[arg(long, value_name = "DEGREES")]
    pub lat: Latitude,
    /// Longitude in decimal degrees, east positive.
    #[arg(long, value_name = "DEGREES")]
    pub lon: Longitude,
    /// Owning account; created as a prosumer if it does not exist.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_OWNER)]
    pub owner: AccountName,
    /// Market zone the device trades in.
    #[arg(long, value_name = "ZONE", default_value = DEFAULT_ZONE)]
    pub zone: Zone,
}

impl AddDevice {
    pub fn into_new_device(self) -> NewDevice {
        NewDevice {
            public_key: self.pubkey,
            owner: self.owner,
            nameplate: self.nameplate_w,
            location: Location {
                latitude: self.lat,
                longitude: self.lon,
            },
            zone: self.zone,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListDevices {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RevokeDevice {
    /// The device id (32 hex characters, see `sunmesh device list`).
    #[arg(value_name = "ID", value_parser = parse_device_id)]
    pub id: DeviceId,
}

/// Parses the process arguments, runs the command and turns the outcome into an exit status:
/// 0 success, 1 refused or failed (message on stderr), 2 bad usage (clap's message).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli, &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command, writing its normal output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    let database = cli.database;
    let open =
        |database: Option<String>| Store::open(database.as_deref().unwrap_or(DEFAULT_DATABASE));
    match cli.command {
        Command::Device(command) => run_device(&open(database)?, command, out),
        Command::Account(command) => run_account(&open(database)?, command, out),
        Command::Serve(args) => {
            let config = ServeConfig::load(
                args.config.as_deref(),
                Overrides {
                    listen: args.listen,
                    // clap already merged `--database` with DATABASE_URL (flag wins).
                    database,
                    mqtt: args.mqtt,
                    mqtt_listen: args.mqtt_listen,
                },
            )?;
            crate::serve::run(config)
        }
        Command::Demo(args) => crate::demo::run(
            crate::demo::DemoConfig {
                households: usize::from(args.households),
                seed: args.seed,
                speed: args.speed,
                date: args.date,
                dir: args.dir,
                listen: args
                    .listen
                    .unwrap_or(crate::config::ServeConfig::default().listen),
                listen_explicit: args.listen.is_some(),
                keep_running: args.keep_running,
                poll_s: args.poll_s,
            },
            out,
        ),
        Command::Journal(JournalCli::Replay { upto }) => {
            let store = open(database)?;
            let ledger = crate::trading::recovery::replay(&store, None, upto.unwrap_or(i64::MAX))?;
            match ledger {
                Some(l) => writeln!(
                    out,
                    "state_hash {}\njournal_len {}",
                    l.state_hash_hex(),
                    l.seq
                )?,
                None => writeln!(out, "the journal is empty")?,
            }
            Ok(())
        }
        Command::Openapi => {
            out.write_all(crate::api::openapi::document_json().as_bytes())?;
            Ok(())
        }
        Command::Settle(args) => settle_cmd::run_settle(open(database)?, args, now_ms(), out),
        Command::Report(args) => settle_cmd::run_report(&open(database)?, args, out),
        Command::VerifyLog(args) => settle_cmd::run_verify_log(args, out),
        Command::Log(command) => settle_cmd::run_log(open(database)?, command, out),
        Command::Factors(command) => {
            settle_cmd::run_factors(&open(database)?, command, now_ms(), out)
        }
        Command::Solar(args) => {
            writeln!(out, "{}", solar_json(args.lat, args.lon, args.at))?;
            Ok(())
        }
    }
}

fn run_account(store: &Store, command: AccountCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        AccountCommand::Add { name, role } => {
            let secret = ApiKeySecret::generate()?;
            let (account, _) =
                store.create_account_with_key(&name, role, &secret.hash(), now_ms())?;
            writeln!(
                out,
                "created {} account {} (id {})\napi key (shown once): {}",
                account.role,
                account.name,
                account.id,
                secret.expose()
            )?;
        }
        AccountCommand::List => {
            for account in store.accounts()? {
                writeln!(
                    out,
                    "{:>6}  {:<9}  {}",
                    account.id, account.role, account.name
                )?;
            }
        }
    }
    Ok(())
}

fn run_device(store: &Store, command: DeviceCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        DeviceCommand::Add(args) => {
            let device = store.register_device_creating_owner(&args.into_new_device(), now_ms())?;
            writeln!(
                out,
                "registered device {} (owner {}, zone {}, nameplate {}, at {}, {})",
                device.id,
                device.owner,
                device.zone,
                device.nameplate,
                device.location.latitude,
                device.location.longitude
            )?;
        }
        DeviceCommand::List(args) => {
            let devices = store.devices()?;
            if args.json {
                let rows: Vec<_> = devices.iter().map(device_json).collect();
                writeln!(out, "{}", serde_json::Value::Array(rows))?;
            } else {
                write_table(out, &devices)?;
            }
        }
        DeviceCommand::Revoke(args) => {
            let device = store.revoke_device(&args.id, now_ms())?;
            writeln!(out, "revoked device {} (owner {})", device.id, device.owner)?;
        }
    }
    Ok(())
}

fn device_json(device: &Device) -> serde_json::Value {
    let revoked_at_ms = match device.state {
        DeviceState::Active => None,
        DeviceState::Revoked { at_ms } => Some(at_ms),
    };
    serde_json::json!({
        "id": device.id.to_hex(),
        "public_key": device.public_key.to_hex(),
        "owner": device.owner.as_str(),
        "zone": device.zone.as_str(),
        "nameplate_w": device.nameplate.watts(),
        "latitude_micro": device.location.latitude.micro_degrees(),
        "longitude_micro": device.location.longitude.micro_degrees(),
        "status": device.state.as_str(),
        "registered_at_ms": device.registered_at_ms,
        "revoked_at_ms": revoked_at_ms,
    })
}

fn write_table(out: &mut dyn Write, devices: &[Device]) -> Result<()> {
    if devices.is_empty() {
        writeln!(out, "no devices registered")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<32}  {:<7}  {:<16}  {:<12}  {:>11}  {:>10}  {:>11}  REGISTERED",
        "ID", "STATUS", "OWNER", "ZONE", "NAMEPLATE_W", "LAT", "LON"
    )?;
    for device in devices {
        writeln!(
            out,
            "{:<32}  {:<7}  {:<16}  {:<12}  {:>11}  {:>10}  {:>11}  {}",
            device.id,
            device.state.as_str(),
            device.owner,
            device.zone,
            device.nameplate.watts(),
            device.location.latitude,
            device.location.longitude,
            utc_text(device.registered_at_ms)
        )?;
    }
    Ok(())
}

fn utc_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms"),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}
