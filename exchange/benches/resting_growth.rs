//! Single-submit latency while one engine fills up with 1,000,000 resting orders.
//!
//! Run: `cargo bench -p exchange --bench resting_growth`. Every order rests (buys below, sells
//! above a fixed mid, so nothing crosses), spread over 960 books (96 slots x 10 zones). What this
//! shows is the cost of growing the engine's per-order tables: a table that rehashes everything
//! when it doubles shows up as a multi-millisecond maximum, while one that grows a page at a time
//! does not. `GROWTH_ORDERS` and `GROWTH_ROUNDS` override the defaults. Figures are printed, never
//! asserted: timings depend on the machine and its load.

use std::hint::black_box;
use std::time::Instant;

use exchange::{
    AccountId, Calendar, ClientOrderId, Command, Engine, MarketConfig, NewOrder, NoLimits,
    OrderType, Price, Side, SlotId, Wh, ZoneId, QUARTER_HOUR_MS,
};

const TICK: i64 = 100;
const MID_TICKS: i64 = 2_500;
const NOW: i64 = 1_000_000 * QUARTER_HOUR_MS;
const ZONES: u32 = 10;
const SLOTS: i64 = 96;
/// Price levels per side of each book.
const LEVELS: i64 = 20;

fn config() -> MarketConfig {
    MarketConfig {
        calendar: Calendar::quarter_hours_48h(),
        zones: (1..=ZONES).map(ZoneId).collect(),
        tick: TICK,
        min_price: Price(-1_000_000),
        max_price: Price(1_000_000),
        max_order_qty: Wh(1_000_000),
    }
}

/// `n` passive orders, round-robin over the books, alternating sides per pass.
fn orders(n: usize) -> Vec<Command> {
    let cal = Calendar::quarter_hours_48h();
    let first_slot = cal.slot_of(NOW).0 + 2 * QUARTER_HOUR_MS;
    let books = (SLOTS * ZONES as i64) as usize;
    let mut client = vec![0u64; 1_001];
    (0..n)
        .map(|i| {
            let b = i % books;
            let zone = 1 + (b as u32 % ZONES);
            let slot = SlotId(first_slot + (b as i64 / ZONES as i64) * QUARTER_HOUR_MS);
            let side = if (i / books) % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let dist = 1 + (i as i64 / (2 * books as i64)) % LEVELS;
            let (account, ticks) = match side {
                Side::Buy => (1 + (i as u64 % 500), MID_TICKS - dist),
                Side::Sell => (501 + (i as u64 % 500), MID_TICKS + dist),
            };
            client[account as usize] += 1;
            Command::submit(
                NOW,
                NewOrder {
                    account: AccountId(account),
                    client_id: ClientOrderId(client[account as usize]),
                    zone: ZoneId(zone),
                    slot,
                    side,
                    kind: OrderType::Limit,
                    price: Price(ticks * TICK),
                    qty: Wh(1 + (i as u64 % 100)),
                },
            )
        })
        .collect()
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env_or("GROWTH_ORDERS", 1_000_000);
    let rounds = env_or("GROWTH_ROUNDS", 3);
    let cmds = orders(n);
    println!("resting_growth: {n} resting orders into one engine over 960 books, {rounds} rounds");
    for round in 1..=rounds {
        let mut e = Engine::new(config()).expect("bench config is valid");
        let mut out = Vec::with_capacity(4);
        let mut ns = Vec::with_capacity(n);
        let start = Instant::now();
        for c in &cmds {
            out.clear();
            let t = Instant::now();
            e.execute_into(c, &NoLimits, &mut out);
            ns.push(t.elapsed().as_nanos() as u64);
            black_box(&out);
        }
        let total = start.elapsed();
        if e.resting_orders() != n {
            eprintln!(
                "resting_growth: only {} of {n} orders rest: the generator is wrong",
                e.resting_orders()
            );
            std::process::exit(1);
        }
        // Where the worst submits happened tells a table doubling from random noise.
        let mut worst: Vec<(u64, usize)> = ns.iter().copied().zip(0..).collect();
        worst.sort_unstable_by(|a, b| b.cmp(a));
        let at: Vec<String> = worst
            .iter()
            .take(3)
            .map(|(t, i)| format!("{:.2} ms at #{i}", *t as f64 / 1e6))
            .collect();
        ns.sort_unstable();
        println!(
            "round {round}: total {:.1} ms, submit p50 {} ns, p99 {} ns, p99.9 {} ns, max {:.2} ms (worst: {})",
            total.as_secs_f64() * 1e3,
            pct(&ns, 0.5),
            pct(&ns, 0.99),
            pct(&ns, 0.999),
            ns[ns.len() - 1] as f64 / 1e6,
            at.join(", ")
        );
        black_box(e);
    }
}
