//! Cost of the solar geometry and of verifying one reading.
//!
//! `cargo bench -p settlement --bench verification` prints criterion's figures, then one line
//! per measurement: `spa_positions_per_s`, `interval_sun_15min_per_s`, `assess_per_s` (a full
//! rules 1–6 pass on a 15-minute reading, signature check included).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use reading::{ChainHash, DeviceStatus, Reading, SignedReading, SigningKey};
use settlement::solar::{self, BoundPlane, Site};
use settlement::verify::{assess, ChainHead, DeviceContext, KeyStatus, VerifyConfig};

const NOON: i64 = 1_750_503_600_000; // 2025-06-21T11:00:00Z
const Q: i64 = 900_000;

fn fixture() -> (SignedReading, DeviceContext) {
    let key = SigningKey::from_seed(&[42u8; 32]).expect("fixed seed");
    let prev = Reading {
        device_id: key.device_id(),
        sequence: 41,
        timestamp_ms: NOON - Q,
        interval_ms: Q as u32,
        export_wh: 1_000_000,
        import_wh: 0,
        power_w: 4_000,
        status: DeviceStatus::Ok,
        prev_hash: ChainHash::from_bytes([7u8; 32]),
    };
    let next = Reading {
        sequence: 42,
        timestamp_ms: NOON,
        export_wh: prev.export_wh + 1_000,
        prev_hash: prev.chain_hash(),
        ..prev
    };
    let ctx = DeviceContext {
        public_key: key.public_key(),
        status: KeyStatus::Active,
        nameplate_w: 5_000,
        site: Site::new(52.52, 13.405).expect("valid"),
        head: Some(ChainHead::of(&prev)),
        stored_at_sequence: None,
    };
    (SignedReading::sign(next, &key), ctx)
}

fn per_second(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_millis(500) {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn benches(c: &mut Criterion) {
    let site = Site::new(52.52, 13.405).expect("valid");
    let (signed, ctx) = fixture();
    let cfg = VerifyConfig::default();
    c.bench_function("spa_position", |b| {
        b.iter(|| solar::position(black_box(52.52), black_box(13.405), black_box(NOON)))
    });
    c.bench_function("interval_sun_15min", |b| {
        b.iter(|| solar::interval_sun(site, black_box(NOON - Q), NOON, BoundPlane::SunFacing))
    });
    c.bench_function("assess_15min_reading", |b| {
        b.iter(|| assess(black_box(&signed), Some(&ctx), &cfg, NOON + 1_000))
    });
}

criterion_group!(group, benches);

fn main() {
    group();
    Criterion::default().final_summary();
    let site = Site::new(52.52, 13.405).expect("valid");
    let (signed, ctx) = fixture();
    let cfg = VerifyConfig::default();
    let mut t = NOON;
    let spa = per_second(|| {
        t += 1;
        black_box(solar::position(52.52, 13.405, t));
    });
    let sun = per_second(|| {
        black_box(solar::interval_sun(
            site,
            NOON - Q,
            NOON,
            BoundPlane::SunFacing,
        ));
    });
    let a = per_second(|| {
        black_box(assess(&signed, Some(&ctx), &cfg, NOON + 1_000));
    });
    println!("spa_positions_per_s {spa:.0}");
    println!("interval_sun_15min_per_s {sun:.0}");
    println!("assess_per_s {a:.0}");
}
