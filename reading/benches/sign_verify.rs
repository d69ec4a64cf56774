//! Sign and verify throughput of the v1 format, and the format's verify overhead as a ratio of
//! raw ring Ed25519 verification of the same message bytes.
//!
//! `cargo bench -p reading --bench sign_verify` prints criterion's figures, then the lines
//! `verify_per_s`, `raw_ring_verify_per_s` and `verify_overhead_ratio` (format ÷ raw; the
//! format must cost < 10 %, i.e. the ratio of throughputs must stay ≥ 0.90).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use reading::{ChainHash, DeviceStatus, Reading, SignedReading, SigningKey};
use ring::signature::{UnparsedPublicKey, ED25519};

fn sample() -> (SigningKey, SignedReading) {
    let key = SigningKey::from_seed(&[42u8; 32]).expect("fixed seed");
    let reading = Reading {
        device_id: key.device_id(),
        sequence: 1_000,
        timestamp_ms: 1_782_900_000_000,
        interval_ms: 60_000,
        export_wh: 12_345_678,
        import_wh: 2_345,
        power_w: 4_100,
        status: DeviceStatus::Ok,
        prev_hash: ChainHash::from_bytes([7u8; 32]),
    };
    let signed = SignedReading::sign(reading, &key);
    (key, signed)
}

fn benches(c: &mut Criterion) {
    let (key, signed) = sample();
    let public = key.public_key();
    let wire = signed.to_wire();
    let json = signed.to_json();
    let message = signed.reading.message();

    let mut group = c.benchmark_group("reading");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign", |b| {
        b.iter(|| SignedReading::sign(black_box(signed.reading), &key))
    });
    group.bench_function("verify_wire", |b| {
        b.iter(|| {
            let parsed = SignedReading::from_wire(black_box(&wire)).expect("valid");
            parsed.verify(&public).expect("verifies")
        })
    });
    group.bench_function("verify_json", |b| {
        b.iter(|| {
            let parsed = SignedReading::from_json(black_box(&json)).expect("valid");
            parsed.verify(&public).expect("verifies")
        })
    });
    group.bench_function("raw_ring_verify", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ED25519, public.as_bytes())
                .verify(black_box(&message), black_box(&signed.signature))
                .expect("verifies")
        })
    });
    group.finish();
}

/// Interleaved rounds of the same work so both sides see the same machine state; the median
/// round's rate is reported.
fn overhead_ratio() {
    let (key, signed) = sample();
    let public = key.public_key();
    let wire = signed.to_wire();
    let message = signed.reading.message();
    const PER_ROUND: u32 = 4_000;
    let mut format_rates = Vec::new();
    let mut raw_rates = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            let parsed = SignedReading::from_wire(black_box(&wire)).expect("valid");
            parsed.verify(&public).expect("verifies");
        }
        format_rates.push(rate(PER_ROUND, start.elapsed()));
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            UnparsedPublicKey::new(&ED25519, public.as_bytes())
                .verify(black_box(&message), black_box(&signed.signature))
                .expect("verifies");
        }
        raw_rates.push(rate(PER_ROUND, start.elapsed()));
    }
    let format = median(&mut format_rates);
    let raw = median(&mut raw_rates);
    println!("verify_per_s: {format:.0}");
    println!("raw_ring_verify_per_s: {raw:.0}");
    println!("verify_overhead_ratio: {:.3}", format / raw);
}

fn rate(count: u32, elapsed: Duration) -> f64 {
    f64::from(count) / elapsed.as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

criterion_group! {
    name = group;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = benches
}

fn main() {
    group();
    Criterion::default().final_summary();
    overhead_ratio();
}
