//! Settles one synthetic day in memory and prints wall times:
//! 10,000 meters (5,000 producers, 5,000 consumers), 96 slots of 15 minutes, ~100,000
//! trades. Measures escrow creation, `settle_slot`, applying the runs to the ledger with an
//! invariant check per slot, and appending every leaf to the Merkle log plus signing a
//! checkpoint. Inputs come from a fixed-seed generator, so every run settles the same day.
//!
//! Run: `cargo bench -p settlement --bench settle_day`

use std::time::{Duration, Instant};

use settlement::allocation::{
    escrow_for_trade, settle_slot, MeterInput, QualityCounts, SettlementConfig, SlotInputs,
    TradeInput,
};
use settlement::carbon::{EmissionFactor, FactorKind};
use settlement::ledger::{
    Account, AccountId, Code, Ledger, LedgerId, Owner, References, Transfer, TransferId,
    TransferKind,
};
use settlement::merkle::{Checkpoint, LogSigner, Tree};

const METERS: u64 = 10_000;
const PRODUCERS: u64 = 5_000;
const SLOTS: i64 = 96;
const TRADES_PER_DAY: u64 = 100_000;
const SLOT_MS: i64 = 900_000;
const DAY_START: i64 = 1_700_006_400_000; // 2023-11-15T00:00:00Z

/// xorshift64*: a fixed-seed generator for synthetic inputs (not part of any core).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn slot_inputs(
    rng: &mut Rng,
    slot: i64,
    factor: &EmissionFactor,
    next_trade: &mut u64,
) -> SlotInputs {
    let per_slot =
        TRADES_PER_DAY / SLOTS as u64 + u64::from(slot < (TRADES_PER_DAY % SLOTS as u64) as i64);
    let trades = (0..per_slot)
        .map(|_| {
            *next_trade += 1;
            let price = if rng.below(50) == 0 {
                -(rng.below(50_000) as i64)
            } else {
                50_000 + rng.below(250_000) as i64
            };
            TradeInput {
                trade_id: *next_trade,
                seller: AccountId(rng.below(PRODUCERS)),
                buyer: AccountId(PRODUCERS + rng.below(METERS - PRODUCERS)),
                qty_wh: 1 + rng.below(400),
                price_micro_per_kwh: price,
            }
        })
        .collect();
    let meters = (0..METERS)
        .map(|a| MeterInput {
            account: AccountId(a),
            verified_export_wh: if a < PRODUCERS { rng.below(1_500) } else { 0 },
            metered_import_wh: if a < PRODUCERS { 0 } else { rng.below(1_200) },
            reading_range: Some((slot as u64 * 3, slot as u64 * 3 + 2)),
            quality: QualityCounts {
                verified: 3,
                ..QualityCounts::default()
            },
        })
        .collect();
    SlotInputs {
        zone: "BENCH".into(),
        slot_start_ms: DAY_START + slot * SLOT_MS,
        slot_len_ms: SLOT_MS,
        trades,
        meters,
        imbalance_price_micro_per_kwh: 250_000,
        emission_factor: factor.clone(),
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    let factor = EmissionFactor {
        zone: "BENCH".into(),
        valid_from_ms: 0,
        valid_to_ms: i64::MAX,
        kind: FactorKind::CombinedMargin,
        source: "synthetic".into(),
        version: "bench".into(),
        g_per_mwh: 683_600,
    };
    let mut rng = Rng(0x005e_ed0f_da7a);
    let mut next_trade = 0;
    let generate = Instant::now();
    let days: Vec<SlotInputs> = (0..SLOTS)
        .map(|s| slot_inputs(&mut rng, s, &factor, &mut next_trade))
        .collect();
    let generate = generate.elapsed();

    let mut ledger = Ledger::new();
    for a in 0..METERS {
        let t = Transfer {
            id: TransferId(u128::from(a) | 1 << 120),
            debit: Account::new(Owner::Issuance, LedgerId::Currency),
            credit: Account::participant(AccountId(a), LedgerId::Currency),
            amount: 1_000_000_000_000,
            kind: TransferKind::Posted,
            code: Code::Deposit,
            refs: References::default(),
        };
        ledger.apply(&t).expect("deposit");
    }

    let escrow_time = Instant::now();
    for inputs in &days {
        let escrows: Vec<Transfer> = inputs
            .trades
            .iter()
            .filter_map(|t| escrow_for_trade(&inputs.zone, inputs.slot_start_ms, t))
            .collect();
        ledger.apply_batch(&escrows).expect("escrows");
    }
    let escrow_time = escrow_time.elapsed();

    let config = SettlementConfig::default();
    let (mut settle, mut apply, mut transfers, mut leaves) = (Duration::ZERO, Duration::ZERO, 0, 0);
    let mut tree = Tree::new();
    let mut log_time = Duration::ZERO;
    for inputs in &days {
        let t0 = Instant::now();
        let run = settle_slot(inputs, &config, 1, None).expect("settle");
        let t1 = Instant::now();
        ledger.apply_batch(&run.transfers).expect("apply");
        ledger.check_invariants().expect("invariants");
        let t2 = Instant::now();
        // The report row already hashed the leaves; the log reuses those hashes.
        for hash in run.report_rows.iter().flat_map(|r| &r.leaf_hashes) {
            tree.append_hash(*hash);
        }
        let t3 = Instant::now();
        settle += t1 - t0;
        apply += t2 - t1;
        log_time += t3 - t2;
        transfers += run.transfers.len();
        leaves += run.log_leaves.len();
    }
    let sign = Instant::now();
    let signer = LogSigner::from_seed("bench.sunmesh/log", &[1u8; 32]).expect("key");
    let size = tree.size();
    let checkpoint = signer.sign(&Checkpoint {
        origin: "bench.sunmesh/log".into(),
        size,
        root: tree.root(size).expect("root"),
    });
    let sign = sign.elapsed();
    let total = escrow_time + settle + apply + log_time + sign;
    println!(
        "settle_day: {METERS} meters, {SLOTS} slots, {next_trade} trades, {transfers} transfers, {leaves} log leaves"
    );
    println!(
        "  generate inputs        {:>8.3} s (not counted)",
        secs(generate)
    );
    println!("  open escrows           {:>8.3} s", secs(escrow_time));
    println!("  settle_slot x{SLOTS}        {:>8.3} s", secs(settle));
    println!("  apply + invariants     {:>8.3} s", secs(apply));
    println!("  merkle append          {:>8.3} s", secs(log_time));
    println!("  checkpoint sign        {:>8.3} s", secs(sign));
    println!("  total (in memory)      {:>8.3} s", secs(total));
    println!(
        "  checkpoint: {}",
        checkpoint.to_text().lines().nth(2).unwrap_or_default()
    );
}
