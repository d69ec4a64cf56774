//! The settlement subcommands of `sunmesh`: `settle`, `report`, `verify-log`, `log export`
//! and `factors import`. `cli.rs` holds the enum; the arguments and the work are here.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use settlement::carbon::FactorTable;

use super::chart;
use super::keys::{load_or_create_log_key, DEFAULT_LOG_KEY_FILE, DEFAULT_LOG_ORIGIN};
use super::report::{self, ReportFormat};
use super::verify;
use super::{RunOutcome, SettleConfig, Settlement};
use crate::error::{PlatformError, Result};
use crate::store::Store;

/// The example emission factor table, used when `factors import` is given no file.
pub const EXAMPLE_FACTORS: &str = include_str!("../../../settlement/data/emission_factors.csv");

/// Where the log signing key is and what the log is called.
#[derive(Debug, Clone, Args)]
pub struct LogKeyArgs {
    /// The log's Ed25519 signing key (PKCS#8); created with mode 0600 if missing.
    #[arg(long, env = "SUNMESH_LOG_KEY", default_value = DEFAULT_LOG_KEY_FILE, value_name = "FILE")]
    pub log_key: PathBuf,
    /// The log's origin line and key name, as in every checkpoint.
    #[arg(long, env = "SUNMESH_LOG_ORIGIN", default_value = DEFAULT_LOG_ORIGIN, value_name = "NAME")]
    pub log_origin: String,
}

impl LogKeyArgs {
    pub fn settlement(&self, store: Store) -> Result<Settlement> {
        let signer = load_or_create_log_key(&self.log_key, &self.log_origin)?;
        let config = SettleConfig {
            log_origin: self.log_origin.clone(),
            ..SettleConfig::default()
        };
        Ok(Settlement::new(store, signer, config))
    }
}

/// `sunmesh settle`: settle one (zone, slot) now.
#[derive(Debug, Args)]
pub struct SettleArgs {
    #[arg(long, value_name = "ZONE")]
    pub zone: String,
    /// The slot's start, RFC 3339 (e.g. 2026-05-28T12:00:00Z).
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub slot: i64,
    /// 1 for the initial run, n > 1 to reconcile run n − 1 with the current inputs.
    #[arg(long, default_value_t = 1)]
    pub version: u32,
    #[command(flatten)]
    pub key: LogKeyArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
}

/// `sunmesh report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// First slot start included, RFC 3339.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub from: i64,
    /// Slot starts before this time are included, RFC 3339.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub to: i64,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FormatArg,
    #[arg(long, value_name = "ZONE")]
    pub zone: Option<String>,
    /// Write the report here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also draw the UTC day holding --from as an SVG chart into FILE.
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
}

/// `sunmesh verify-log`: check an exported log offline.
#[derive(Debug, Args)]
pub struct VerifyLogArgs {
    /// The leaves, one per line (`leaves.jsonl` of `sunmesh log export`).
    #[arg(long, value_name = "FILE")]
    pub leaves: PathBuf,
    /// The signed checkpoint covering exactly those leaves.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// The log's public key: a file, 64 hex digits, or a verifier key `name+id+base64`.
    #[arg(long, value_name = "FILE|HEX")]
    pub public_key: String,
    /// A checkpoint seen earlier: proves the log only grew since.
    #[arg(long, value_name = "FILE")]
    pub earlier_checkpoint: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Write the leaves, the latest checkpoint and the public key (what verify-log takes).
    Export(LogExportArgs),
}

#[derive(Debug, Args)]
pub struct LogExportArgs {
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub key: LogKeyArgs,
}

#[derive(Debug, Subcommand)]
pub enum FactorsCommand {
    /// Replace the emission factor table with a CSV file (default: the bundled example).
    Import(FactorsImportArgs),
}

#[derive(Debug, Args)]
pub struct FactorsImportArgs {
    /// `zone,valid_from,valid_to,kind,source,version,g_co2e_per_mwh`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

pub fn parse_time(text: &str) -> std::result::Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("{e}; expected RFC 3339 such as 2026-05-28T12:00:00Z"))
}

pub fn run_settle(store: Store, args: SettleArgs, now_ms: i64, out: &mut dyn Write) -> Result<()> {
    let settlement = args.key.settlement(store)?;
    match settlement.run_slot(&args.zone, args.slot, now_ms, args.version)? {
        RunOutcome::Settled {
            transfers,
            leaves,
            first_leaf_index,
            checkpoint_size,
        } => writeln!(
            out,
            "settled zone {} slot {} run {}: {transfers} transfers, {leaves} log leaves from index {first_leaf_index}, checkpoint size {checkpoint_size}",
            args.zone, args.slot, args.version
        )?,
        RunOutcome::AlreadySettled { inputs_changed } => writeln!(
            out,
            "zone {} slot {} run {} was settled before; nothing changed{}",
            args.zone,
            args.slot,
            args.version,
            if inputs_changed {
                " (its inputs changed since: run the next version to reconcile)"
            } else {
                ""
            }
        )?,
    }
    Ok(())
}

pub fn run_report(store: &Store, args: ReportArgs, out: &mut dyn Write) -> Result<()> {
    if args.to <= args.from {
        return Err(PlatformError::InvalidArgument {
            what: "time range",
            input: format!("{}..{}", args.from, args.to),
            reason: "--to must be after --from".into(),
        });
    }
    let rows = report::load(store, args.from, args.to, args.zone.as_deref())?;
    let format = match args.format {
        FormatArg::Csv => ReportFormat::Csv,
        FormatArg::Json => ReportFormat::Json,
    };
    let text = report::render(&rows, format);
    match &args.out {
        Some(path) => std::fs::write(path, text)?,
        None => out.write_all(text.as_bytes())?,
    }
    if let Some(path) = &args.chart {
        let day = chart::day_start(args.from);
        let series = chart::day_series(store, day, args.zone.as_deref())?;
        let title = format!(
            "sunmesh {}{}",
            chrono::DateTime::from_timestamp_millis(day)
                .map_or_else(|| day.to_string(), |d| d.format("%Y-%m-%d").to_string()),
            args.zone
                .as_deref()
                .map_or(String::new(), |z| format!(" {z}"))
        );
        std::fs::write(path, chart::render_day(day, &title, &series)?)?;
    }
    Ok(())
}

pub fn run_verify_log(args: VerifyLogArgs, out: &mut dyn Write) -> Result<()> {
    let summary = verify::verify_files(
        &args.leaves,
        &args.checkpoint,
        &args.public_key,
        args.earlier_checkpoint.as_deref(),
    )?;
    write!(
        out,
        "log verified: origin {}, {} leaves, root {}",
        summary.origin,
        summary.size,
        hex::encode(summary.root)
    )?;
    match summary.consistent_with {
        Some(size) => writeln!(
            out,
            ", consistent with the earlier checkpoint of size {size}"
        )?,
        None => writeln!(out)?,
    }
    Ok(())
}

pub fn run_log(store: Store, command: LogCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        LogCommand::Export(args) => {
            let settlement = args.key.settlement(store)?;
            let summary = verify::export_log(
                settlement.store(),
                &args.key.log_origin,
                &settlement.public_key(),
                &args.out,
            )?;
            writeln!(
                out,
                "exported {} leaves: {}, {}, {}",
                summary.size,
                summary.leaves.display(),
                summary.checkpoint.display(),
                summary.public_key.display()
            )?;
        }
    }
    Ok(())
}

pub fn run_factors(
    store: &Store,
    command: FactorsCommand,
    now_ms: i64,
    out: &mut dyn Write,
) -> Result<()> {
    match command {
        FactorsCommand::Import(args) => {
            let (text, name) = match &args.file {
                Some(path) => (
                    std::fs::read_to_string(path).map_err(|e| PlatformError::InvalidArgument {
                        what: "factor file",
                        input: path.display().to_string(),
                        reason: e.to_string(),
                    })?,
                    path.display().to_string(),
                ),
                None => (EXAMPLE_FACTORS.to_owned(), "the bundled example".to_owned()),
            };
            let table = FactorTable::from_csv(&text).map_err(PlatformError::core(format!(
                "reading emission factors from {name}"
            )))?;
            let count = store.replace_emission_factors(&table, now_ms)?;
            writeln!(out, "imported {count} emission factors from {name}")?;
        }
    }
    Ok(())
}

/// Loads the bundled example emission factors when the table is empty, so a fresh
/// installation can mint carbon credits for the zones it covers; returns how many rows were
/// loaded (None: the operator's table is there and is left alone).
pub fn seed_example_factors(store: &Store, now_ms: i64) -> Result<Option<usize>> {
    if !store.emission_factors()?.is_empty() {
        return Ok(None);
    }
    let table = FactorTable::from_csv(EXAMPLE_FACTORS).map_err(PlatformError::core(
        "reading the bundled example emission factors",
    ))?;
    Ok(Some(store.replace_emission_factors(&table, now_ms)?))
}
