//! The end of the day: what the neighbourhood produced, traded and settled, which readings
//! the platform refused and why, read back from the platform's own store; the day's report
//! (CSV, JSON) and chart (SVG) written next to the database; all of it as a `summary.json`
//! and as text for the terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::households::Registered;
use super::neighbourhood::Conduct;
use super::trader::TraderStats;
use crate::error::{PlatformError, Result};
use crate::settle::report::{self, ReportFormat};
use crate::store::Store;

/// One household's line.
#[derive(Debug, Clone, Serialize)]
pub struct HouseSummary {
    pub name: String,
    pub conduct: &'static str,
    pub device_id: String,
    pub nameplate_w: u32,
    pub load_w: u32,
    pub azimuth_deg: f64,
    pub tilt_deg: f64,
    pub taken: u64,
    pub accepted: u64,
    pub flagged: u64,
    pub rejected: u64,
    /// `verdict:reason` → readings (a flagged reading with two reasons counts under both).
    pub reasons: BTreeMap<String, u64>,
    pub verified_export_wh: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Readings {
    pub taken: u64,
    pub accepted: u64,
    pub flagged: u64,
    pub rejected: u64,
    pub by_reason: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Trading {
    pub orders_placed: u64,
    pub orders_accepted: u64,
    pub orders_refused: BTreeMap<String, u64>,
    pub trades: i64,
    pub traded_wh: i64,
    pub traded_value_micro: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Settled {
    pub slots: u64,
    /// Ledger transfers the settlement runs posted.
    pub transfers: u64,
    pub contracted_wh: u64,
    pub delivered_wh: u64,
    pub imbalance_wh: u64,
    pub imbalance_amount_micro: i128,
    pub carbon_g: u128,
    pub reward_units_minted: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Checkpoint {
    pub size: u64,
    pub root: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Files {
    pub directory: PathBuf,
    pub database: PathBuf,
    pub report_csv: PathBuf,
    pub report_json: PathBuf,
    pub chart_svg: PathBuf,
    pub summary_json: PathBuf,
    pub log: PathBuf,
}

/// Everything the demo reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub date: String,
    pub zone: String,
    pub seed: u64,
    pub speed: f64,
    pub households: usize,
    /// Real seconds from the first reading to the summary.
    pub real_seconds: f64,
    pub readings: Readings,
    pub verified_export_wh: i64,
    pub metered_import_wh: i64,
    pub trading: Trading,
    pub settlement: Settled,
    pub checkpoint: Option<Checkpoint>,
    pub houses: Vec<HouseSummary>,
    pub files: Files,
    pub web_url: String,
}

/// What [`collect`] needs besides the store.
pub struct Inputs<'a> {
    pub houses: &'a [Registered],
    pub taken: &'a [u64],
    pub trader: &'a TraderStats,
    pub day_start_ms: i64,
    pub day_end_ms: i64,
    pub date: String,
    pub zone: String,
    pub seed: u64,
    pub speed: f64,
    pub real_seconds: f64,
    pub files: Files,
    pub web_url: String,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Reads the day back from the store and writes the report and chart files.
pub fn collect(store: &Store, input: Inputs<'_>) -> Result<Summary> {
    let tallies = store.verdict_tallies()?;
    let energy = store.verified_energy_by_device(input.day_start_ms, input.day_end_ms)?;
    let mut houses = Vec::with_capacity(input.houses.len());
    let mut readings = Readings::default();
    for (i, r) in input.houses.iter().enumerate() {
        let mut h = HouseSummary {
            name: r.house.name.clone(),
            conduct: r.house.conduct.code(),
            device_id: r.device_id.clone(),
            nameplate_w: r.house.site.nameplate_w,
            load_w: r.house.load_w,
            azimuth_deg: r.house.panel.azimuth_deg,
            tilt_deg: r.house.panel.tilt_deg,
            taken: input.taken.get(i).copied().unwrap_or(0),
            accepted: 0,
            flagged: 0,
            rejected: 0,
            reasons: BTreeMap::new(),
            verified_export_wh: energy
                .iter()
                .find(|(d, _, _)| *d == r.device_id)
                .map_or(0, |(_, e, _)| *e),
        };
        for t in tallies.iter().filter(|t| t.device_id == r.device_id) {
            let n = count(t.count);
            match t.verdict.as_str() {
                "accepted" => h.accepted += n,
                "flagged" => h.flagged += n,
                _ => h.rejected += n,
            }
            for reason in t.reasons.split(',').filter(|s| !s.is_empty()) {
                *h.reasons
                    .entry(format!("{}:{reason}", t.verdict))
                    .or_default() += n;
            }
        }
        readings.taken += h.taken;
        readings.accepted += h.accepted;
        readings.flagged += h.flagged;
        readings.rejected += h.rejected;
        for (k, v) in &h.reasons {
            *readings.by_reason.entry(k.clone()).or_default() += v;
        }
        houses.push(h);
    }

    let trades = store.trade_totals(input.day_start_ms, input.day_end_ms)?;
    let trading = Trading {
        orders_placed: input
            .trader
            .placed
            .load(std::sync::atomic::Ordering::Relaxed),
        orders_accepted: input
            .trader
            .accepted
            .load(std::sync::atomic::Ordering::Relaxed),
        orders_refused: input.trader.refusals(),
        trades: trades.trades,
        traded_wh: trades.qty_wh,
        traded_value_micro: trades.value_micro,
    };

    let rows = report::load(store, input.day_start_ms, input.day_end_ms, None)?;
    let mut settled = Settled::default();
    for r in &rows {
        settled.slots += 1;
        settled.transfers += r.row.transfer_ids.len() as u64;
        settled.contracted_wh += r.row.contracted_wh;
        settled.delivered_wh += r.row.delivered_wh;
        settled.imbalance_wh += r.row.imbalance_wh;
        settled.imbalance_amount_micro += r.row.imbalance_amount_micro;
        settled.carbon_g += r.row.carbon_g;
    }
    settled.reward_units_minted = store
        .reward_epochs()?
        .iter()
        .filter(|e| e.epoch_start_ms >= input.day_start_ms && e.epoch_start_ms < input.day_end_ms)
        .map(|e| e.minted)
        .sum();
    let files = input.files;
    write(&files.report_csv, &report::render(&rows, ReportFormat::Csv))?;
    write(
        &files.report_json,
        &report::render(&rows, ReportFormat::Json),
    )?;
    let series = crate::settle::chart::day_series(store, input.day_start_ms, None)?;
    let title = format!("sunmesh demo, {} ({} households)", input.date, houses.len());
    write(
        &files.chart_svg,
        &crate::settle::chart::render_day(input.day_start_ms, &title, &series)?,
    )?;
    let checkpoint = store.latest_checkpoint()?.map(|c| Checkpoint {
        size: c.size,
        root: hex::encode(c.root),
    });
    let summary = Summary {
        date: input.date,
        zone: input.zone,
        seed: input.seed,
        speed: input.speed,
        households: houses.len(),
        real_seconds: input.real_seconds,
        readings,
        verified_export_wh: energy.iter().map(|(_, e, _)| *e).sum(),
        metered_import_wh: energy.iter().map(|(_, _, i)| *i).sum(),
        trading,
        settlement: settled,
        checkpoint,
        houses,
        files,
        web_url: input.web_url,
    };
    let json = serde_json::to_string_pretty(&summary)
        .map_err(|e| PlatformError::Demo(format!("summary JSON: {e}")))?;
    write(&summary.files.summary_json, &json)?;
    Ok(summary)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| PlatformError::Demo(format!("cannot write {}: {e}", path.display())))
}

fn kwh(wh: i64) -> String {
    format!("{:.1} kWh", wh as f64 / 1000.0)
}

fn money(micro: i128) -> String {
    format!("{:.2}", micro as f64 / 1_000_000.0)
}

fn reasons_text(reasons: &BTreeMap<String, u64>, verdict: &str) -> String {
    let parts: Vec<String> = reasons
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(verdict)
                .and_then(|r| r.strip_prefix(':'))
                .map(|r| format!("{r} {v}"))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// The summary as the terminal shows it.
pub fn render(s: &Summary, conducts: &[(String, Conduct)]) -> String {
    let mut t = String::new();
    let r = &s.readings;
    let tr = &s.trading;
    let st = &s.settlement;
    let _ = writeln!(
        t,
        "sunmesh demo: {} in zone {}, {} households, seed {}, {}× real time ({:.1} s)\n",
        s.date, s.zone, s.households, s.seed, s.speed, s.real_seconds
    );
    let _ = writeln!(
        t,
        "Readings       taken {}, accepted {}, flagged {}, rejected {}",
        r.taken, r.accepted, r.flagged, r.rejected
    );
    for (reason, n) in r.by_reason.iter() {
        let who: Vec<&str> = s
            .houses
            .iter()
            .filter(|h| h.reasons.contains_key(reason))
            .map(|h| h.name.as_str())
            .collect();
        let _ = writeln!(t, "  {reason:<34} {n:>6}  {}", who.join(" "));
    }
    let _ = writeln!(t, "Dishonest and faulty meters");
    for h in s.houses.iter().filter(|h| h.conduct != "honest") {
        let label = conducts
            .iter()
            .find(|(n, _)| *n == h.name)
            .map_or(h.conduct, |(_, c)| c.label());
        let _ = writeln!(
            t,
            "  {} ({label}): accepted {}, flagged {}{}, rejected {}{}",
            h.name,
            h.accepted,
            h.flagged,
            reasons_text(&h.reasons, "flagged"),
            h.rejected,
            reasons_text(&h.reasons, "rejected"),
        );
    }
    let _ = writeln!(
        t,
        "Energy         produced (verified export) {}, metered import {}",
        kwh(s.verified_export_wh),
        kwh(s.metered_import_wh)
    );
    let refused: Vec<String> = tr
        .orders_refused
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        t,
        "Trading        orders {} (accepted {}{}), trades {}, traded {} for {}",
        tr.orders_placed,
        tr.orders_accepted,
        if refused.is_empty() {
            String::new()
        } else {
            format!("; refused: {}", refused.join(", "))
        },
        tr.trades,
        kwh(tr.traded_wh),
        money(i128::from(tr.traded_value_micro)),
    );
    let _ = writeln!(
        t,
        "Settlement     slots settled {} ({} transfers), contracted {}, delivered {}, imbalance {} costing {}",
        st.slots,
        st.transfers,
        kwh(i64::try_from(st.contracted_wh).unwrap_or(i64::MAX)),
        kwh(i64::try_from(st.delivered_wh).unwrap_or(i64::MAX)),
        kwh(i64::try_from(st.imbalance_wh).unwrap_or(i64::MAX)),
        money(st.imbalance_amount_micro),
    );
    let _ = writeln!(
        t,
        "Tokens         carbon credits {} g CO2e, reward units {}",
        st.carbon_g, st.reward_units_minted
    );
    match &s.checkpoint {
        Some(c) => {
            let _ = writeln!(t, "Log checkpoint size {}, root {}", c.size, c.root);
        }
        None => {
            let _ = writeln!(t, "Log checkpoint none (nothing was settled)");
        }
    }
    let f = &s.files;
    let _ = writeln!(
        t,
        "Report         {}\n               {}\n               {}",
        f.report_csv.display(),
        f.report_json.display(),
        f.chart_svg.display()
    );
    let _ = writeln!(
        t,
        "Summary        {}\nDatabase       {}\nLog            {}",
        f.summary_json.display(),
        f.database.display(),
        f.log.display()
    );
    let _ = writeln!(t, "Web page       {}", s.web_url);
    t
}
