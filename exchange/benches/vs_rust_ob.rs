//! Throughput and latency of the engine on a seeded, realistic message stream, side by side with
//! the `rust_ob` crate on the limit/cancel subset (after checking both produce the same fills).
//!
//! Run: `cargo bench -p exchange --bench vs_rust_ob`. The last line is `ratio_vs_rust_ob: X.XX`:
//! our messages per second over rust_ob's on the one-book limit/cancel stream, the median over 7
//! back-to-back rounds of runs (ours, then rust_ob's).
//!
//! rust_ob is one book with no notion of (zone, slot), so it is timed twice per round: handed its
//! book's index (no lookup at all, the stricter comparison; the `ratio_vs_rust_ob*` lines) and
//! with each limit order finding its book by key through a hash map with the same fixed hasher
//! our engine uses (the `*_same_lookup` lines). Our engine always looks books up by key.
//! `BENCH_PART=full|multi|lc|thin` runs one part; `thin-ours` and `thin-ob` time one engine alone
//! on the thin 960-book stream (for profiling).
//!
//! Streams are generated before timing by driving a separate engine, so cancels and
//! modifications target orders that are really resting (as exchange-core's generator does).
//! There are 1,000 accounts, split evenly over the zones: each is either a buyer or a seller in
//! its own zone (an installation sits in one place), so self-trade prevention never fires and
//! the fills of both engines are comparable.

use std::hint::black_box;
use std::time::Instant;

use exchange::{
    AccountId, BookKey, Calendar, ClientOrderId, Command, Engine, Event, MarketConfig, NewOrder,
    NoLimits, OrderId, OrderType, Price, Side, SlotId, Wh, ZoneId, QUARTER_HOUR_MS,
};
use rust_ob::{Decimal, OrderBook};

const SEED: u64 = 0x5eed_2026;
const TICK: i64 = 100;
const MID_TICKS: i64 = 2_500; // 250 000 micro/kWh = 25 ct/kWh
const NOW: i64 = 1_000_000 * QUARTER_HOUR_MS;
const RUNS: usize = 7;

/// SplitMix64: small, seeded, good enough for workloads.
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

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

fn config(zones: u32) -> MarketConfig {
    MarketConfig {
        calendar: Calendar::quarter_hours_48h(),
        zones: (1..=zones).map(ZoneId).collect(),
        tick: TICK,
        min_price: Price(-1_000_000),
        max_price: Price(1_000_000),
        max_order_qty: Wh(1_000_000),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mix {
    /// 40 % limit, 30 % cancel, 20 % reduce/replace, 10 % IOC or market.
    Full,
    /// Only what rust_ob can do: limit orders and cancels, in the same 40 : 30 proportion.
    LimitCancel,
}

struct Stream {
    engine_start: Engine,
    prefill: Vec<Command>,
    msgs: Vec<Command>,
}

/// Tracks which orders rest, so generated cancels and modifications hit live orders.
struct Live {
    ids: Vec<OrderId>,
    pos: std::collections::HashMap<OrderId, usize>,
}

impl Live {
    fn new() -> Self {
        Live {
            ids: Vec::new(),
            pos: std::collections::HashMap::new(),
        }
    }

    fn set(&mut self, id: OrderId, live: bool) {
        match (live, self.pos.get(&id).copied()) {
            (true, None) => {
                self.pos.insert(id, self.ids.len());
                self.ids.push(id);
            }
            (false, Some(i)) => {
                self.ids.swap_remove(i);
                self.pos.remove(&id);
                if i < self.ids.len() {
                    self.pos.insert(self.ids[i], i);
                }
            }
            _ => {}
        }
    }
}

fn generate(mix: Mix, books: &[BookKey], prefill_per_book: usize, n: usize, seed: u64) -> Stream {
    let target_resting = prefill_per_book * books.len();
    let cfg = config(books.iter().map(|b| b.zone.0).max().unwrap_or(1));
    let mut rng = Rng(seed);
    let mut gen = Engine::new(cfg.clone()).expect("bench config is valid");
    let engine_start = gen.clone();
    let mut live = Live::new();
    let mut mids = vec![MID_TICKS; books.len()];
    // Each account numbers its own orders 1, 2, 3, … as a real client would.
    let mut client = vec![0u64; 1_001];
    let zones = books.iter().map(|b| b.zone.0).max().unwrap_or(1) as u64;
    let per_zone = 500 / zones;
    let mut new_order = |rng: &mut Rng, bk: usize, side: Side, kind: OrderType, ticks: i64| {
        let qty = 1 + rng.below(100);
        let base = (books[bk].zone.0 as u64 - 1) * per_zone;
        let account = match side {
            Side::Buy => 1 + base + rng.below(per_zone),
            Side::Sell => 501 + base + rng.below(per_zone),
        };
        client[account as usize] += 1;
        NewOrder {
            account: AccountId(account),
            client_id: ClientOrderId(client[account as usize]),
            zone: books[bk].zone,
            slot: books[bk].slot,
            side,
            kind,
            price: Price(ticks * TICK),
            qty: Wh(qty),
        }
    };
    let apply = |gen: &mut Engine, live: &mut Live, cmd: &Command| {
        for ev in gen.execute(cmd, &NoLimits) {
            let touched = match ev {
                Event::Accepted { order_id, .. } => Some(order_id),
                Event::Trade(t) => {
                    live.set(t.taker_order, gen.order(t.taker_order).is_some());
                    Some(t.maker_order)
                }
                Event::Cancelled { order_id, .. }
                | Event::Reduced { order_id, .. }
                | Event::Replaced { order_id, .. } => Some(order_id),
                _ => None,
            };
            if let Some(id) = touched {
                live.set(id, gen.order(id).is_some());
            }
        }
    };

    // Prefill: a non-crossing ladder of passive orders on both sides of each book.
    let mut prefill = Vec::new();
    for (bk, &mid) in mids.iter().enumerate() {
        for i in 0..prefill_per_book {
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            let dist = 1 + rng.below(20) as i64;
            let ticks = match side {
                Side::Buy => mid - dist,
                Side::Sell => mid + dist,
            };
            let o = new_order(&mut rng, bk, side, OrderType::Limit, ticks);
            let cmd = Command::submit(NOW, o);
            apply(&mut gen, &mut live, &cmd);
            prefill.push(cmd);
        }
    }

    let mut msgs = Vec::with_capacity(n);
    while msgs.len() < n {
        let bk = rng.below(books.len() as u64) as usize;
        if rng.below(1_000) == 0 {
            mids[bk] += rng.range(-1, 1);
        }
        let mid = mids[bk];
        let roll = rng.below(100);
        let roll = if mix == Mix::LimitCancel {
            roll * 70 / 100
        } else {
            roll
        };
        let side = if rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let cmd = if roll < 40 {
            // Limit: in the crossing band around mid or passive up to 20 ticks away. The crossing
            // share steers the book towards ~1,000 resting orders per book (depth target).
            let crossing_pct = if live.ids.len() < target_resting {
                10
            } else {
                60
            };
            let ticks = if rng.below(100) < crossing_pct {
                mid + rng.range(-4, 4)
            } else {
                let d = rng.range(1, 20);
                if side == Side::Buy {
                    mid - d
                } else {
                    mid + d
                }
            };
            Command::submit(NOW, new_order(&mut rng, bk, side, OrderType::Limit, ticks))
        } else if roll < 70 || live.ids.is_empty() {
            if live.ids.is_empty() {
                continue;
            }
            let id = live.ids[rng.below(live.ids.len() as u64) as usize];
            let o = gen.order(id).expect("live orders rest");
            Command::cancel(NOW, o.account, id)
        } else if roll < 90 {
            let id = live.ids[rng.below(live.ids.len() as u64) as usize];
            let o = gen.order(id).expect("live orders rest");
            if rng.below(2) == 0 && o.remaining.0 > 1 {
                // Reduce: keeps priority.
                let q = 1 + rng.below(o.remaining.0 - 1);
                Command::modify(NOW, o.account, id, o.price, Wh(q))
            } else {
                // Replace: moves the price by up to two ticks, may trade.
                let ticks = o.price.0 / TICK + rng.range(-2, 2);
                let q = 1 + rng.below(100);
                if ticks * TICK == o.price.0 && q == o.remaining.0 {
                    continue;
                }
                Command::modify(NOW, o.account, id, Price(ticks * TICK), Wh(q))
            }
        } else {
            // IOC or market (protection 10 ticks through mid).
            let (kind, ticks) = if rng.below(2) == 0 {
                (
                    OrderType::Ioc,
                    mid + if side == Side::Buy {
                        rng.range(-2, 3)
                    } else {
                        rng.range(-3, 2)
                    },
                )
            } else {
                (
                    OrderType::Market,
                    if side == Side::Buy {
                        mid + 10
                    } else {
                        mid - 10
                    },
                )
            };
            Command::submit(NOW, new_order(&mut rng, bk, side, kind, ticks))
        };
        apply(&mut gen, &mut live, &cmd);
        msgs.push(cmd);
    }
    Stream {
        engine_start,
        prefill,
        msgs,
    }
}

fn prefilled(s: &Stream) -> Engine {
    let mut e = s.engine_start.clone();
    for c in &s.prefill {
        e.execute(c, &NoLimits);
    }
    e
}

/// One fill as both engines can report it: taker, maker, quantity, price (micro/kWh).
type Fill = (u64, u64, u64, i64);

fn ours_fills(s: &Stream) -> (Vec<Fill>, usize) {
    let mut e = prefilled(s);
    let mut fills = Vec::new();
    let mut resting_sum = 0usize;
    for c in &s.msgs {
        for ev in e.execute(c, &NoLimits) {
            if let Event::Trade(t) = ev {
                fills.push((t.taker_order.0, t.maker_order.0, t.qty.0, t.price.0));
            }
        }
        resting_sum += e.resting_orders();
    }
    (fills, resting_sum / s.msgs.len().max(1))
}

/// rust_ob's view of the limit/cancel stream: one rust_ob book per (zone, slot). It is timed two
/// ways: with the book index resolved ahead of time (rust_ob pays no book lookup at all), and
/// with limit orders finding their book by key through a hash map with the same fixed hasher as
/// our engine's, as a multi-book service built on rust_ob would. Cancels carry their book in
/// both, since rust_ob, like our engine, looks the order id up anyway.
enum ObMsg {
    Limit {
        book: u32,
        key: BookKey,
        id: u64,
        side: rust_ob::Side,
        price: Decimal,
        qty: Decimal,
    },
    Cancel {
        book: u32,
        id: u64,
    },
}

struct ObMapper {
    books: std::collections::BTreeMap<BookKey, u32>,
    order_book: std::collections::HashMap<u64, u32>,
    next_id: u64,
}

impl ObMapper {
    fn new() -> Self {
        ObMapper {
            books: Default::default(),
            order_book: Default::default(),
            next_id: 1,
        }
    }

    /// Our engine numbers accepted orders 1, 2, 3, …; every limit order in these streams is
    /// accepted, so rust_ob gets the same ids.
    fn map(&mut self, cmds: &[Command]) -> Vec<ObMsg> {
        cmds.iter()
            .map(|c| match c.action {
                exchange::Action::Submit(o) => {
                    let id = self.next_id;
                    self.next_id += 1;
                    let n = self.books.len() as u32;
                    let book = *self
                        .books
                        .entry(BookKey {
                            slot: o.slot,
                            zone: o.zone,
                        })
                        .or_insert(n);
                    self.order_book.insert(id, book);
                    let side = if o.side == Side::Buy {
                        rust_ob::Side::Buy
                    } else {
                        rust_ob::Side::Sell
                    };
                    ObMsg::Limit {
                        book,
                        key: BookKey {
                            slot: o.slot,
                            zone: o.zone,
                        },
                        id,
                        side,
                        price: Decimal::from(o.price.0),
                        qty: Decimal::from(o.qty.0),
                    }
                }
                exchange::Action::Cancel { order_id, .. } => ObMsg::Cancel {
                    book: self.order_book[&order_id.0],
                    id: order_id.0,
                },
                _ => panic!("only limit and cancel go to rust_ob"),
            })
            .collect()
    }
}

struct ObStream {
    prefill: Vec<ObMsg>,
    msgs: Vec<ObMsg>,
    books: usize,
    keys: Vec<(BookKey, u32)>,
}

fn to_ob(s: &Stream) -> ObStream {
    let mut m = ObMapper::new();
    let prefill = m.map(&s.prefill);
    let msgs = m.map(&s.msgs);
    ObStream {
        prefill,
        msgs,
        books: m.books.len(),
        keys: m.books.iter().map(|(k, v)| (*k, *v)).collect(),
    }
}

fn ob_prefilled(s: &ObStream) -> Vec<OrderBook<u64>> {
    let mut obs: Vec<OrderBook<u64>> = (0..s.books).map(|_| OrderBook::new()).collect();
    for m in &s.prefill {
        ob_apply(&mut obs, m);
    }
    obs
}

#[inline]
fn ob_apply(obs: &mut [OrderBook<u64>], m: &ObMsg) -> usize {
    match m {
        ObMsg::Limit {
            book,
            id,
            side,
            price,
            qty,
            ..
        } => match obs[*book as usize].process_limit_order(*id, *side, *price, *qty) {
            Ok(v) => v.len(),
            Err(_) => 0,
        },
        ObMsg::Cancel { book, id } => obs[*book as usize].cancel_order(*id).is_ok() as usize,
    }
}

fn ob_fills(s: &ObStream) -> Vec<Fill> {
    let mut obs = ob_prefilled(s);
    let mut fills = Vec::new();
    for m in &s.msgs {
        if let ObMsg::Limit {
            book,
            id,
            key: _,
            side,
            price,
            qty,
        } = m
        {
            let v = obs[*book as usize]
                .process_limit_order(*id, *side, *price, *qty)
                .unwrap_or_default();
            // Makers first, the taker's own summary last.
            for om in v.iter().take(v.len().saturating_sub(1)) {
                // A maker's cost is what it pays: negative for a seller hit by a buyer.
                let unit = om.cost / om.quantity;
                let p = if matches!(side, rust_ob::Side::Buy) {
                    -unit
                } else {
                    unit
                };
                let p: i64 = p.normalize().to_string().parse().expect("integral price");
                let q: u64 = om
                    .quantity
                    .normalize()
                    .to_string()
                    .parse()
                    .expect("integral quantity");
                fills.push((*id, om.order, q, p));
            }
        } else {
            ob_apply(&mut obs, m);
        }
    }
    fills
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Messages per second for one pass of our engine over the stream.
fn run_ours(s: &Stream) -> f64 {
    let mut e = prefilled(s);
    let mut out = Vec::with_capacity(64);
    let mut n = 0usize;
    let t = Instant::now();
    for c in &s.msgs {
        out.clear();
        e.execute_into(c, &NoLimits, &mut out);
        n += out.len();
    }
    let dt = t.elapsed().as_secs_f64();
    black_box(n);
    s.msgs.len() as f64 / dt
}

fn run_ob(s: &ObStream) -> f64 {
    let mut obs = ob_prefilled(s);
    let mut n = 0usize;
    let t = Instant::now();
    for m in &s.msgs {
        n += ob_apply(&mut obs, m);
    }
    let dt = t.elapsed().as_secs_f64();
    black_box(n);
    s.msgs.len() as f64 / dt
}

/// The rustc "Fx" multiply-rotate hasher, as in the engine's `fixed_hash` module, so rust_ob's
/// book lookup costs what ours does.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }

    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FxMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

/// Like [`run_ob`], but each limit order finds its book by (slot, zone) key.
fn run_ob_lookup(s: &ObStream) -> f64 {
    let mut obs = ob_prefilled(s);
    let books: FxMap<BookKey, u32> = s.keys.iter().copied().collect();
    let mut n = 0usize;
    let t = Instant::now();
    for m in &s.msgs {
        n += match m {
            ObMsg::Limit {
                key,
                id,
                side,
                price,
                qty,
                ..
            } => match books.get(key) {
                Some(&b) => match obs[b as usize].process_limit_order(*id, *side, *price, *qty) {
                    Ok(v) => v.len(),
                    Err(_) => 0,
                },
                None => 0,
            },
            ObMsg::Cancel { book, id } => obs[*book as usize].cancel_order(*id).is_ok() as usize,
        };
    }
    let dt = t.elapsed().as_secs_f64();
    black_box(n);
    s.msgs.len() as f64 / dt
}

/// Median and best rate over the runs.
fn time_ours(s: &Stream) -> (f64, f64) {
    let rates: Vec<f64> = (0..RUNS).map(|_| run_ours(s)).collect();
    let best = rates.iter().copied().fold(0.0, f64::max);
    (median(rates), best)
}

/// Rates of the two engines, run alternately so background load hits both alike.
struct Pair {
    ours_median: f64,
    theirs_median: f64,
    ours_best: f64,
    theirs_best: f64,
    ratio_median: f64,
    /// rust_ob finding each limit order's book by key, as ours does.
    lookup_median: f64,
    lookup_best: f64,
    lookup_ratio_median: f64,
}

fn time_pair(s: &Stream, o: &ObStream) -> Pair {
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut ratios = Vec::new();
    let mut lookup = Vec::new();
    let mut lookup_ratios = Vec::new();
    for _ in 0..RUNS {
        let a = run_ours(s);
        let b = run_ob(o);
        let c = run_ob_lookup(o);
        ours.push(a);
        theirs.push(b);
        ratios.push(a / b);
        lookup.push(c);
        lookup_ratios.push(a / c);
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    Pair {
        ours_best: best(&ours),
        theirs_best: best(&theirs),
        ours_median: median(ours),
        theirs_median: median(theirs),
        ratio_median: median(ratios),
        lookup_best: best(&lookup),
        lookup_median: median(lookup),
        lookup_ratio_median: median(lookup_ratios),
    }
}

fn latency_ours(s: &Stream) -> Vec<u64> {
    let mut e = prefilled(s);
    let mut out = Vec::with_capacity(64);
    let mut ns = Vec::with_capacity(s.msgs.len());
    for c in &s.msgs {
        out.clear();
        let t = Instant::now();
        e.execute_into(c, &NoLimits, &mut out);
        ns.push(t.elapsed().as_nanos() as u64);
        black_box(&out);
    }
    ns.sort_unstable();
    ns
}

fn latency_ob(s: &ObStream) -> Vec<u64> {
    let mut obs = ob_prefilled(s);
    let mut ns = Vec::with_capacity(s.msgs.len());
    for m in &s.msgs {
        let t = Instant::now();
        black_box(ob_apply(&mut obs, m));
        ns.push(t.elapsed().as_nanos() as u64);
    }
    ns.sort_unstable();
    ns
}

fn lat_line(name: &str, ns: &[u64]) -> String {
    format!(
        "{name}: latency per message p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
        pct(ns, 0.5),
        pct(ns, 0.99),
        pct(ns, 0.999),
        ns[ns.len() - 1]
    )
}

fn full_mix(label: &str, s: &Stream) {
    let (fills, avg_resting) = ours_fills(s);
    let (rate, best) = time_ours(s);
    println!(
        "{label}: ours {:.2} M msg/s median, {:.2} best, {} trades, avg resting orders {avg_resting}",
        rate / 1e6,
        best / 1e6,
        fills.len()
    );
    println!("{}", lat_line(&format!("{label}, ours"), &latency_ours(s)));
}

/// Checks both engines give identical fills, then times them. Returns the median pair ratios
/// against rust_ob handed its book index, and against rust_ob looking its book up by key.
fn limit_cancel(label: &str, s: &Stream) -> (f64, f64) {
    let o = to_ob(s);
    let (ours, avg_resting) = ours_fills(s);
    let theirs = ob_fills(&o);
    if ours != theirs {
        let at = ours.iter().zip(&theirs).position(|(a, b)| a != b);
        eprintln!(
            "{label}: FILLS DIFFER: ours {} fills, rust_ob {}, first difference at {at:?}",
            ours.len(),
            theirs.len()
        );
        std::process::exit(1);
    }
    let qty: u64 = ours.iter().map(|f| f.2).sum();
    let notional: i128 = ours.iter().map(|f| f.2 as i128 * f.3 as i128).sum();
    println!(
        "{label}: fills identical ({} fills, {qty} Wh, sum qty*price {notional}), avg resting orders {avg_resting}",
        ours.len()
    );
    let p = time_pair(s, &o);
    println!(
        "{label}, ours:    {:.2} M msg/s median, {:.2} best",
        p.ours_median / 1e6,
        p.ours_best / 1e6
    );
    println!(
        "{label}, rust_ob: {:.2} M msg/s median, {:.2} best (book index handed over: no book lookup)",
        p.theirs_median / 1e6,
        p.theirs_best / 1e6
    );
    println!(
        "{label}, rust_ob: {:.2} M msg/s median, {:.2} best (limit orders look their book up by key, as ours do)",
        p.lookup_median / 1e6,
        p.lookup_best / 1e6
    );
    println!(
        "{label}: ratio best over best {:.2} (book index handed over), {:.2} (same lookup)",
        p.ours_best / p.theirs_best,
        p.ours_best / p.lookup_best
    );
    println!("{}", lat_line(&format!("{label}, ours"), &latency_ours(s)));
    println!(
        "{}",
        lat_line(&format!("{label}, rust_ob"), &latency_ob(&o))
    );
    // The headline: the median of the per-pair ratios. Each pair ran back to back, so both
    // engines saw about the same background load.
    (p.ratio_median, p.lookup_ratio_median)
}

fn main() {
    let n: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let cal = Calendar::quarter_hours_48h();
    let first_slot = SlotId(cal.slot_of(NOW).0 + 2 * QUARTER_HOUR_MS);
    let one = [BookKey {
        slot: first_slot,
        zone: ZoneId(1),
    }];
    let many: Vec<BookKey> = (0..96)
        .flat_map(|s| {
            (1..=10).map(move |z| BookKey {
                slot: SlotId(first_slot.0 + s * QUARTER_HOUR_MS),
                zone: ZoneId(z),
            })
        })
        .collect();
    println!("vs_rust_ob: {n} messages per stream, seed {SEED:#x}, {RUNS} runs each (ours and rust_ob alternating)");

    // BENCH_PART=full|multi|lc|thin runs one part only; thin-ours / thin-ob are for profiling.
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    let run = |p: &str| part.is_empty() || part == p;

    if run("full") {
        full_mix(
            "full mix (40% limit, 30% cancel, 20% reduce/replace, 10% IOC/market), 1 book",
            &generate(Mix::Full, &one, 1_000, n, SEED),
        );
    }
    // 960 books open at once. First thin books, steered towards the same ~1,000 resting orders
    // in all as the one-book runs (the cost of the per-slot design alone), then ~20 resting per
    // book (~19,000 in all: a deep market, where cache misses dominate for both engines).
    if run("multi") {
        full_mix(
            "full mix, 960 books (96 slots x 10 zones), thin books",
            &generate(Mix::Full, &many, 1, n, SEED + 1),
        );
        full_mix(
            "full mix, 960 books (96 slots x 10 zones), ~20 resting per book",
            &generate(Mix::Full, &many, 20, n, SEED + 4),
        );
        let (r, same) = limit_cancel(
            "limit/cancel, 960 books, thin books",
            &generate(Mix::LimitCancel, &many, 1, n, SEED + 3),
        );
        println!("ratio_vs_rust_ob_960_thin_books: {r:.2} (rust_ob handed its book index, ours looks books up by key)");
        println!("ratio_vs_rust_ob_960_thin_books_same_lookup: {same:.2}");
        let (r, same) = limit_cancel(
            "limit/cancel, 960 books, ~20 resting per book",
            &generate(Mix::LimitCancel, &many, 20, n, SEED + 5),
        );
        println!("ratio_vs_rust_ob_960_deep_books: {r:.2} (rust_ob handed its book index, ours looks books up by key)");
        println!("ratio_vs_rust_ob_960_deep_books_same_lookup: {same:.2}");
    }
    // Profiling aid: our engine alone on the thin 960-book limit/cancel stream.
    if part == "thin-ours" {
        let s = generate(Mix::LimitCancel, &many, 1, n, SEED + 3);
        let rates: Vec<f64> = (0..RUNS).map(|_| run_ours(&s)).collect();
        println!("thin-ours: {:.2} M msg/s median", median(rates) / 1e6);
    }
    if part == "thin" {
        let (r, same) = limit_cancel(
            "limit/cancel, 960 books, thin books",
            &generate(Mix::LimitCancel, &many, 1, n, SEED + 3),
        );
        println!("ratio_vs_rust_ob_960_thin_books: {r:.2} (rust_ob handed its book index, ours looks books up by key)");
        println!("ratio_vs_rust_ob_960_thin_books_same_lookup: {same:.2}");
    }
    if part == "thin-ob" {
        let o = to_ob(&generate(Mix::LimitCancel, &many, 1, n, SEED + 3));
        let rates: Vec<f64> = (0..RUNS).map(|_| run_ob(&o)).collect();
        println!("thin-ob: {:.2} M msg/s median", median(rates) / 1e6);
    }
    if run("lc") {
        let (r, same) = limit_cancel(
            "limit/cancel, 1 book",
            &generate(Mix::LimitCancel, &one, 1_000, n, SEED + 2),
        );
        println!("ratio_vs_rust_ob_same_lookup: {same:.2}");
        println!("ratio_vs_rust_ob: {r:.2}");
    }
}
