//! One day of settlement through the store: 10,000 meters, 96 slots, ~100,000 trades, with
//! the ledger, carbon mints, log leaves, report rows and a signed checkpoint per slot, one
//! transaction per slot. Prints wall times for SQLite and, when `TEST_DATABASE_URL` is set,
//! PostgreSQL (in a fresh schema that is dropped afterwards).
//!
//! `cargo bench -p platform --bench settle_day_store`

use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use platform::settle::{RunOutcome, SettleConfig, Settlement};
use platform::Store;
use settlement::allocation::{MeterInput, QualityCounts, TradeInput};
use settlement::carbon::FactorTable;
use settlement::ledger::{AccountId, LedgerId, TransferId};
use settlement::merkle::LogSigner;

const METERS: u64 = 10_000;
const PRODUCERS: u64 = 5_000;
const SLOTS: i64 = 96;
const SLOT_MS: i64 = 900_000;
const TRADES_PER_DAY: u64 = 100_000;
/// 2026-05-28T00:00Z (UTC midnight).
const DAY: i64 = 1_779_926_400_000;
const ZONE: &str = "PH-LV";

/// A small deterministic generator (SplitMix64), so every run settles the same day.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Solar output in 0..=1000 per mille for slot i (daylight 05:00–19:00 UTC, a sine arch).
fn daylight(slot: i64) -> u64 {
    let (rise, set) = (20, 76);
    if slot < rise || slot >= set {
        return 0;
    }
    let x = (slot - rise) as f64 / (set - rise) as f64;
    (std::f64::consts::PI * x).sin().mul_add(1000.0, 0.0) as u64
}

struct Day {
    trades: Vec<Vec<TradeInput>>,
    meters: Vec<Vec<MeterInput>>,
}

fn generate() -> Day {
    let mut rng = Rng(20_261_126);
    let sunny: Vec<i64> = (0..SLOTS).filter(|s| daylight(*s) > 0).collect();
    let per_slot = TRADES_PER_DAY / sunny.len() as u64;
    let mut trades = vec![Vec::new(); SLOTS as usize];
    let mut meters = vec![Vec::new(); SLOTS as usize];
    let mut next_trade = 1u64;
    for slot in 0..SLOTS {
        let sun = daylight(slot);
        if sun > 0 {
            for _ in 0..per_slot {
                let seller = 1 + rng.below(PRODUCERS);
                let buyer = PRODUCERS + 1 + rng.below(METERS - PRODUCERS);
                trades[slot as usize].push(TradeInput {
                    trade_id: next_trade,
                    seller: AccountId(seller),
                    buyer: AccountId(buyer),
                    qty_wh: 50 + rng.below(300),
                    price_micro_per_kwh: 80_000 + rng.below(170_000) as i64,
                });
                next_trade += 1;
            }
        }
        for account in 1..=METERS {
            let (export, import) = if account <= PRODUCERS {
                (rng.below(800) * sun / 1000, rng.below(100))
            } else {
                (0, 100 + rng.below(600))
            };
            if export == 0 && import == 0 {
                continue;
            }
            meters[slot as usize].push(MeterInput {
                account: AccountId(account),
                verified_export_wh: export,
                metered_import_wh: import,
                reading_range: Some((slot as u64 * 4, slot as u64 * 4 + 3)),
                quality: QualityCounts {
                    verified: 4,
                    ..QualityCounts::default()
                },
            });
        }
    }
    Day { trades, meters }
}

fn bench(label: &str, url: &str, day: &Day) {
    let store = Store::open(url).expect("open the store");
    let factors = FactorTable::from_csv(platform::settle::commands::EXAMPLE_FACTORS)
        .expect("example factors");
    store
        .replace_emission_factors(&factors, DAY)
        .expect("factors");
    let signer = LogSigner::from_seed("bench.sunmesh/log", &[9; 32]).expect("signer");
    let config = SettleConfig {
        log_origin: "bench.sunmesh/log".into(),
        ..SettleConfig::default()
    };
    let s = Settlement::new(store.clone(), signer, config);

    // Setup (the trading and ingest sides' work): funds, trades with escrows, energy.
    let setup = Instant::now();
    let deposits: Vec<_> = (PRODUCERS + 1..=METERS)
        .map(|a| {
            (
                AccountId(a),
                LedgerId::Currency,
                1_000_000_000,
                TransferId(u128::from(a)),
            )
        })
        .collect();
    s.deposit(&deposits, DAY).expect("deposits");
    let mut record_secs = 0.0;
    for slot in 0..SLOTS {
        let start = DAY + slot * SLOT_MS;
        let t = Instant::now();
        s.record_trades(ZONE, start, &day.trades[slot as usize], DAY)
            .expect("record trades");
        record_secs += t.elapsed().as_secs_f64();
        store
            .put_slot_energy(ZONE, start, &day.meters[slot as usize])
            .expect("energy");
    }
    let setup_secs = setup.elapsed().as_secs_f64();

    let settle = Instant::now();
    let cpu_before = cpu_seconds();
    let (mut transfers, mut leaves) = (0usize, 0usize);
    for slot in 0..SLOTS {
        let start = DAY + slot * SLOT_MS;
        match s
            .run_slot(ZONE, start, DAY + 2 * 86_400_000, 1)
            .expect("settle")
        {
            RunOutcome::Settled {
                transfers: t,
                leaves: l,
                ..
            } => {
                transfers += t;
                leaves += l;
            }
            other => panic!("slot {slot} was not settled: {other:?}"),
        }
    }
    let settle_secs = settle.elapsed().as_secs_f64();
    let settle_cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    let check = Instant::now();
    s.check_invariants().expect("invariants");
    let check_secs = check.elapsed().as_secs_f64();
    let trades: usize = day.trades.iter().map(Vec::len).sum();
    let meter_rows: usize = day.meters.iter().map(Vec::len).sum();
    println!(
        "settle_day_store {label}: {METERS} meters, {SLOTS} slots, {trades} trades, {meter_rows} slot-energy rows -> {transfers} transfers, {} mints, {leaves} log leaves (log size {}), {} report rows, a signed checkpoint per slot: settle {settle_secs:.2} s wall ({:.1} ms/slot), {} CPU of this process; invariant check {check_secs:.2} s; setup {setup_secs:.2} s (of which trades+escrows {record_secs:.2} s)",
        store.mint_count().expect("count"),
        store.log_size().expect("size"),
        store.report_row_count().expect("count"),
        settle_secs * 1000.0 / SLOTS as f64,
        settle_cpu.map_or("unknown".to_owned(), |c| format!("{c:.2} s")),
    );
}

/// User + system CPU time of this process (Linux `/proc/self/stat`, 100 ticks per second),
/// so a figure taken on a busy machine can be read next to the wall time.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() {
    let day = generate();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("bench.db");
    bench("sqlite", path.to_str().expect("UTF-8 path"), &day);

    let Some(admin) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("settle_day_store postgres: skipped, TEST_DATABASE_URL is not set");
        return;
    };
    let schema = format!("sunmesh_bench_{}", std::process::id());
    let mut conn = PgConnection::establish(&admin).expect("connect to PostgreSQL");
    conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create schema");
    let separator = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{separator}options=-csearch_path%3D{schema}");
    bench("postgres", &url, &day);
    conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("drop schema");
}
