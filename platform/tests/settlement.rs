//! Settlement end to end on each backend: trades and energy in the store, `run_slot`, the
//! persisted ledger, idempotent re-runs, reconciliation, invariants, reward epochs, and the
//! `sunmesh` binary's report, log export and verify-log.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{on_each_backend, TestDb, T0};
use platform::settle::commands::EXAMPLE_FACTORS;
use platform::settle::keys::load_or_create_log_key;
use platform::settle::{EpochOutcome, RunOutcome, SettleConfig, Settlement};
use platform::Store;
use settlement::allocation::{MeterInput, QualityCounts, TradeInput};
use settlement::carbon::FactorTable;
use settlement::ledger::{Account, AccountId, Balance, Code, LedgerId, Owner, TransferId};
use settlement::rewards::EpochCalendar;

const SLOT_MS: i64 = 900_000;
/// A slot start at T0 (2026-05-28), where the example table has PH-LV's combined margin.
const SLOT: i64 = T0 - T0 % SLOT_MS;
const ZONE: &str = "PH-LV";
const ORIGIN: &str = "test.sunmesh/log";

fn key_path(db: &TestDb) -> std::path::PathBuf {
    db.work_dir().join("log-key.pk8")
}

fn service(db: &TestDb, store: Store) -> Settlement {
    let signer = load_or_create_log_key(&key_path(db), ORIGIN).expect("log key");
    let config = SettleConfig {
        log_origin: ORIGIN.to_owned(),
        epochs: EpochCalendar {
            genesis_ms: SLOT,
            epoch_len_ms: 4 * SLOT_MS,
        },
        ..SettleConfig::default()
    };
    Settlement::new(store, signer, config)
}

fn trade(id: u64, seller: u64, buyer: u64, qty_wh: u64, price: i64) -> TradeInput {
    TradeInput {
        trade_id: id,
        seller: AccountId(seller),
        buyer: AccountId(buyer),
        qty_wh,
        price_micro_per_kwh: price,
    }
}

fn meter(account: u64, export_wh: u64, import_wh: u64) -> MeterInput {
    MeterInput {
        account: AccountId(account),
        verified_export_wh: export_wh,
        metered_import_wh: import_wh,
        reading_range: Some((1, 4)),
        quality: QualityCounts {
            verified: 4,
            flagged: 0,
            rejected: 0,
            missing: 0,
        },
    }
}

/// Accounts 1 and 3 sell, 2 and 4 buy; 1 falls short (exports 600 of 1,000 Wh sold).
fn prepare(db: &TestDb) -> (Store, Settlement) {
    let store = db.store();
    let table = FactorTable::from_csv(EXAMPLE_FACTORS).expect("example factors");
    store.replace_emission_factors(&table, T0).expect("factors");
    let s = service(db, store.clone());
    let deposits = [
        (
            AccountId(2),
            LedgerId::Currency,
            10_000_000,
            TransferId(0xdead_0000),
        ),
        (
            AccountId(4),
            LedgerId::Currency,
            10_000_000,
            TransferId(0xdead_0001),
        ),
    ];
    s.deposit(&deposits, T0).expect("deposit");
    // Repeating a deposit (same ids) changes nothing.
    s.deposit(&deposits, T0).expect("repeated deposit");
    s.record_trades(
        ZONE,
        SLOT,
        &[
            trade(11, 1, 2, 1_000, 200_000),
            trade(12, 3, 4, 500, 150_000),
            trade(13, 3, 2, 250, 180_000),
        ],
        T0,
    )
    .expect("record trades");
    store
        .put_slot_energy(
            ZONE,
            SLOT,
            &[
                meter(1, 600, 0),
                meter(2, 0, 1_400),
                meter(3, 800, 0),
                meter(4, 0, 500),
            ],
        )
        .expect("energy");
    (store, s)
}

#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    transfers: i64,
    runs: i64,
    mints: i64,
    reports: i64,
    leaves: u64,
    balances: Vec<(Account, Balance)>,
}

fn snapshot(store: &Store) -> Snapshot {
    Snapshot {
        transfers: store.ledger_transfer_count().unwrap(),
        runs: store.settlement_run_count().unwrap(),
        mints: store.mint_count().unwrap(),
        reports: store.report_row_count().unwrap(),
        leaves: store.log_size().unwrap(),
        balances: store.ledger_balances().unwrap(),
    }
}

fn net(store: &Store, owner: Owner, ledger: LedgerId) -> i128 {
    store
        .ledger_balances()
        .unwrap()
        .into_iter()
        .find(|(a, _)| *a == Account::new(owner, ledger))
        .map_or(0, |(_, b)| b.net())
}

fn p(id: u64) -> Owner {
    Owner::Participant(AccountId(id))
}

/// Independently of the core: per ledger, stored balances sum to zero and no participant,
/// escrow or rounding account is below zero.
fn assert_stored_invariants(store: &Store) {
    let mut sums: BTreeMap<LedgerId, (i128, i128)> = BTreeMap::new();
    for (account, b) in store.ledger_balances().unwrap() {
        let e = sums.entry(account.ledger).or_default();
        e.0 += b.net();
        e.1 += b.credits_pending as i128 - b.debits_pending as i128;
        if !account.owner.may_go_negative() {
            assert!(
                b.credits_posted >= b.debits_posted + b.debits_pending,
                "{account:?} below zero: {b:?}"
            );
        }
    }
    for (ledger, (posted, pending)) in sums {
        assert_eq!((posted, pending), (0, 0), "{ledger:?} does not sum to zero");
    }
}

fn settles_a_slot_end_to_end(db: &TestDb) {
    let (store, s) = prepare(db);
    let outcome = s.run_slot(ZONE, SLOT, T0 + 3_600_000, 1).expect("run");
    let RunOutcome::Settled {
        transfers, leaves, ..
    } = outcome
    else {
        panic!("expected a settlement, got {outcome:?}");
    };
    assert!(transfers > 0);
    // Mint leaves for the two producers, then the run record.
    assert_eq!(leaves, 3);
    // Seller 1 delivered 600 of 1,000 Wh at 0.2/kWh: paid 120,000; shortfall 400 Wh at the
    // imbalance price 0.3/kWh: charged 120,000.
    assert_eq!(net(&store, p(1), LedgerId::Currency), 0);
    // Buyer 2: paid 120,000 to 1 and 250 × 0.18 = 45,000 to 3; its escrows are resolved.
    let buyer2 = store.participant_balances(AccountId(2)).unwrap();
    assert_eq!(buyer2.len(), 1);
    assert_eq!(buyer2[0].1.net(), 10_000_000 - 120_000 - 45_000);
    assert_eq!(buyer2[0].1.debits_pending, 0);
    // Seller 3: 500 × 0.15 + 250 × 0.18 = 75,000 + 45,000.
    assert_eq!(net(&store, p(3), LedgerId::Currency), 120_000);
    assert_eq!(net(&store, Owner::Imbalance, LedgerId::Currency), 120_000);
    // Carbon: floor(600 × 683,600 / 10^6) = 410 g and floor(800 × 683,600 / 10^6) = 546 g.
    assert_eq!(net(&store, p(1), LedgerId::Carbon), 410);
    assert_eq!(net(&store, p(3), LedgerId::Carbon), 546);
    // Zone total floor(1,400 × 0.6836) = 957: 1 g to the rounding account.
    assert_eq!(net(&store, Owner::Rounding, LedgerId::Carbon), 1);
    s.check_invariants().expect("invariants");
    assert_stored_invariants(&store);

    let rows = store.report_rows(SLOT, SLOT + SLOT_MS, Some(ZONE)).unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0].row;
    assert_eq!(
        (
            row.contracted_wh,
            row.delivered_wh,
            row.imbalance_wh,
            row.carbon_g
        ),
        (1_750, 1_350, 400, 957)
    );
    assert_eq!(rows[0].leaf_indices, vec![0, 1, 2]);
    assert_eq!(row.transfer_ids.len(), transfers);
    let checkpoint = store.latest_checkpoint().unwrap().expect("checkpoint");
    assert_eq!(checkpoint.size, 3);
    assert!(checkpoint.text.starts_with(&format!("{ORIGIN}\n3\n")));
}

fn rerunning_a_settled_slot_changes_nothing(db: &TestDb) {
    let (store, s) = prepare(db);
    s.run_slot(ZONE, SLOT, T0, 1).expect("run");
    let before = snapshot(&store);
    let checkpoint = store.latest_checkpoint().unwrap();
    assert_eq!(
        s.run_slot(ZONE, SLOT, T0 + 1, 1).expect("rerun"),
        RunOutcome::AlreadySettled {
            inputs_changed: false
        }
    );
    // A second service (cold cache, as after a restart) agrees.
    let cold = service(db, store.clone());
    assert_eq!(
        cold.run_slot(ZONE, SLOT, T0 + 2, 1).expect("rerun"),
        RunOutcome::AlreadySettled {
            inputs_changed: false
        }
    );
    assert_eq!(snapshot(&store), before);
    assert_eq!(store.latest_checkpoint().unwrap(), checkpoint);
    // Skipping a version is refused.
    let skipped = cold.run_slot(ZONE, SLOT, T0, 3).unwrap_err().to_string();
    assert!(skipped.contains("settle version 2 first"), "{skipped}");
    cold.check_invariants().expect("invariants after replay");
}

fn reconciliation_posts_corrections_only(db: &TestDb) {
    let (store, s) = prepare(db);
    s.run_slot(ZONE, SLOT, T0, 1).expect("run");
    let before = snapshot(&store);
    // Late readings: seller 1 did export 1,000 Wh.
    store
        .put_slot_energy(ZONE, SLOT, &[meter(1, 1_000, 0)])
        .expect("late energy");
    assert_eq!(
        s.run_slot(ZONE, SLOT, T0, 1).expect("rerun"),
        RunOutcome::AlreadySettled {
            inputs_changed: true
        }
    );
    assert_eq!(snapshot(&store), before);
    let outcome = s.run_slot(ZONE, SLOT, T0 + 60_000, 2).expect("reconcile");
    assert!(matches!(outcome, RunOutcome::Settled { .. }), "{outcome:?}");
    let transfers = store.ledger_transfers().unwrap();
    let new: Vec<_> = transfers
        .iter()
        .filter(|t| t.seq > before.transfers)
        .collect();
    assert!(!new.is_empty());
    for t in &new {
        assert_eq!(t.transfer.code, Code::Correction, "{t:?}");
        assert_eq!(t.transfer.refs.run_version, 2);
    }
    // Now seller 1 is paid in full (200,000), owes no imbalance, and holds 683 g.
    assert_eq!(net(&store, p(1), LedgerId::Currency), 200_000);
    assert_eq!(net(&store, Owner::Imbalance, LedgerId::Currency), 0);
    assert_eq!(net(&store, p(1), LedgerId::Carbon), 683);
    s.check_invariants().expect("invariants");
    assert_stored_invariants(&store);
    // The reconciliation is itself idempotent, also from a cold cache.
    let after = snapshot(&store);
    let cold = service(db, store.clone());
    assert_eq!(
        cold.run_slot(ZONE, SLOT, T0, 2).unwrap(),
        RunOutcome::AlreadySettled {
            inputs_changed: false
        }
    );
    assert_eq!(snapshot(&store), after);
    let rows = store.report_rows(SLOT, SLOT + SLOT_MS, None).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.row.run_version).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

fn reward_epochs_mint_the_pool_once(db: &TestDb) {
    let (store, s) = prepare(db);
    s.run_slot(ZONE, SLOT, T0, 1).expect("run");
    let too_early = s.settle_epoch(0, SLOT + 1).unwrap_err().to_string();
    assert!(too_early.contains("wait for its end"), "{too_early}");
    let end = SLOT + 4 * SLOT_MS;
    let outcome = s.settle_epoch(0, end).expect("epoch");
    let pool = 1_000_000_000u128;
    assert_eq!(
        outcome,
        EpochOutcome::Distributed {
            minted: pool,
            participants: 2
        }
    );
    assert_eq!(
        s.settle_epoch(0, end + 1).unwrap(),
        EpochOutcome::AlreadyDistributed
    );
    let r1 = net(&store, p(1), LedgerId::Reward);
    let r3 = net(&store, p(3), LedgerId::Reward);
    assert_eq!(r1 + r3, pool as i128);
    // Shares follow grams 410 : 546.
    assert_eq!(r1, (pool * 410 / 956) as i128 + 1);
    let rows = platform::settle::report::load(&store, SLOT, end, None).unwrap();
    assert_eq!(rows[0].row.reward_units, pool);
    s.check_invariants().expect("invariants");
}

fn due_slots_are_settled_once(db: &TestDb) {
    let (store, s) = prepare(db);
    let schedule = platform::settle::ScheduleConfig {
        lookback_ms: 2 * 3_600_000,
        ..Default::default()
    };
    let now = SLOT + SLOT_MS + schedule.late_reading_ms;
    let done = s.settle_due(now, &schedule).expect("due");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!((done[0].0.as_str(), done[0].1), (ZONE, SLOT));
    assert!(s.settle_due(now + 1, &schedule).unwrap().is_empty());
    assert_eq!(store.settlement_run_count().unwrap(), 1);
}

/// With scheduled reconciliation on (the default), an epoch's pool is shared only once its
/// last slot's reconciliation time has come, so reconciled carbon takes part; with it off, as
/// soon as the last slot is due.
fn a_reward_epoch_waits_for_its_slots_reconciliation(db: &TestDb) {
    let (store, s) = prepare(db);
    let schedule = platform::settle::ScheduleConfig {
        lookback_ms: 2 * 3_600_000,
        ..Default::default()
    };
    let epoch_end = SLOT + 4 * SLOT_MS;
    s.settle_due(epoch_end + schedule.late_reading_ms, &schedule)
        .expect("due");
    assert_eq!(store.settlement_run_count().unwrap(), 1);
    assert!(store.reward_epochs().unwrap().is_empty());
    s.settle_due(epoch_end + schedule.reconcile_after_ms - 1, &schedule)
        .expect("due");
    assert!(store.reward_epochs().unwrap().is_empty());
    s.settle_due(epoch_end + schedule.reconcile_after_ms, &schedule)
        .expect("due");
    assert_eq!(store.reward_epochs().unwrap()[0].epoch, 0);
}

fn without_reconciliation_an_epoch_is_shared_when_its_slots_are_due(db: &TestDb) {
    let (store, s) = prepare(db);
    let schedule = platform::settle::ScheduleConfig {
        lookback_ms: 2 * 3_600_000,
        reconcile_after_ms: 0,
        ..Default::default()
    };
    let epoch_end = SLOT + 4 * SLOT_MS;
    s.settle_due(epoch_end + schedule.late_reading_ms - 1, &schedule)
        .expect("due");
    assert!(store.reward_epochs().unwrap().is_empty());
    s.settle_due(epoch_end + schedule.late_reading_ms, &schedule)
        .expect("due");
    assert_eq!(store.reward_epochs().unwrap()[0].epoch, 0);
}

/// A slot that cannot settle (its zone has no emission factor) holds its reward epoch back,
/// also after the look-back window has passed it; once settled by hand, the next tick shares
/// the pool over both slots' carbon.
fn a_reward_epoch_waits_for_its_unsettled_slots(db: &TestDb) {
    let (store, s) = prepare(db);
    const NO_FACTOR: &str = "XX-NOFACTOR";
    store
        .put_slot_energy(NO_FACTOR, SLOT, &[meter(5, 400, 0)])
        .expect("energy");
    let schedule = platform::settle::ScheduleConfig {
        lookback_ms: 2 * 3_600_000,
        ..Default::default()
    };
    // Epoch 0 is [SLOT, SLOT + 4 slots); it has ended and all its slots are due.
    let epoch_end = SLOT + 4 * SLOT_MS;
    let now = epoch_end + schedule.late_reading_ms;
    let done = s.settle_due(now, &schedule).expect("due");
    assert_eq!(done.len(), 1, "only PH-LV settles: {done:?}");
    assert!(store.reward_epochs().unwrap().is_empty());
    assert_eq!(
        s.settle_epoch(0, now).unwrap(),
        EpochOutcome::Held {
            unsettled_slots: 1,
            first: (NO_FACTOR.to_owned(), SLOT)
        }
    );
    // Past its scheduled reconciliation (49 h), when the epoch would be shared, the slot is
    // long out of the look-back window (2 h): still held.
    let later = now + schedule.reconcile_after_ms;
    assert!(s.settle_due(later, &schedule).unwrap().is_empty());
    assert!(store.reward_epochs().unwrap().iter().all(|e| e.epoch != 0));
    // The operator imports a factor and settles the slot by hand.
    let csv = format!(
        "{}XX-NOFACTOR,2018-01-01,2028-01-01,annual_average,test,v1,500000\n",
        EXAMPLE_FACTORS
    );
    let table = FactorTable::from_csv(&csv).expect("factors");
    store
        .replace_emission_factors(&table, later)
        .expect("factors");
    assert!(matches!(
        s.run_slot(NO_FACTOR, SLOT, later, 1).expect("run"),
        RunOutcome::Settled { .. }
    ));
    s.settle_due(later + 1, &schedule).expect("due");
    let epochs = store.reward_epochs().unwrap();
    let zero = epochs
        .iter()
        .find(|e| e.epoch == 0)
        .expect("epoch 0 distributed");
    assert_eq!(
        zero.participants, 3,
        "sellers 1 and 3, and 5 of the held slot"
    );
    // 400 Wh at 500,000 g/MWh = 200 g; the other two as in reward_epochs_mint_the_pool_once.
    let pool = 1_000_000_000i128;
    let r5 = net(&store, p(5), LedgerId::Reward);
    // floor(pool × 200 / 1,156) = 173,010,380, plus the one unit left over: its fraction
    // (0.62) is the largest of the three.
    assert_eq!(r5, pool * 200 / (410 + 546 + 200) + 1);
    assert_eq!(
        net(&store, p(1), LedgerId::Reward) + net(&store, p(3), LedgerId::Reward) + r5,
        pool
    );
    s.check_invariants().expect("invariants");
}

on_each_backend!(
    settles_a_slot_end_to_end,
    rerunning_a_settled_slot_changes_nothing,
    reconciliation_posts_corrections_only,
    reward_epochs_mint_the_pool_once,
    due_slots_are_settled_once,
    a_reward_epoch_waits_for_its_unsettled_slots,
    a_reward_epoch_waits_for_its_slots_reconciliation,
    without_reconciliation_an_epoch_is_shared_when_its_slots_are_due,
);

// ---- the binary -----------------------------------------------------------------------------

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut command: Command, args: &[&str]) -> Outcome {
    let output = command.args(args).output().expect("run sunmesh");
    Outcome {
        code: output.status.code().expect("exited normally"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn key_args(db: &TestDb) -> Vec<String> {
    vec![
        "--log-key".into(),
        key_path(db).display().to_string(),
        "--log-origin".into(),
        ORIGIN.into(),
    ]
}

fn verify(db: &TestDb, dir: &Path, leaves: &str, checkpoint: &str, extra: &[&str]) -> Outcome {
    let leaves = dir.join(leaves).display().to_string();
    let checkpoint = dir.join(checkpoint).display().to_string();
    let key = dir.join("log-key.pub").display().to_string();
    let mut args = vec![
        "verify-log",
        "--leaves",
        &leaves,
        "--checkpoint",
        &checkpoint,
        "--public-key",
        &key,
    ];
    args.extend_from_slice(extra);
    run(db.sunmesh(), &args)
}

fn verify_log_accepts_honest_exports_and_rejects_tampering(db: &TestDb) {
    let (store, s) = prepare(db);
    s.run_slot(ZONE, SLOT, T0, 1).expect("run");
    let first = store.latest_checkpoint().unwrap().expect("checkpoint");
    store
        .put_slot_energy(ZONE, SLOT, &[meter(1, 1_000, 0)])
        .unwrap();
    s.run_slot(ZONE, SLOT, T0, 2).expect("reconcile");
    let dir = db.work_dir().join("export");
    let mut export = vec!["log", "export", "--out", dir.to_str().unwrap()];
    let keys = key_args(db);
    export.extend(keys.iter().map(String::as_str));
    let out = run(db.sunmesh(), &export);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("exported 5 leaves"),
        "{}",
        out.stdout
    );

    let ok = verify(db, &dir, "leaves.jsonl", "checkpoint.txt", &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.starts_with("log verified"), "{}", ok.stdout);
    // With the earlier checkpoint: the log only grew.
    fs::write(dir.join("earlier.txt"), &first.text).unwrap();
    let earlier = dir.join("earlier.txt").display().to_string();
    let grew = verify(
        db,
        &dir,
        "leaves.jsonl",
        "checkpoint.txt",
        &["--earlier-checkpoint", &earlier],
    );
    assert_eq!(grew.code, 0, "{}", grew.stderr);
    assert!(grew
        .stdout
        .contains("consistent with the earlier checkpoint of size 3"));
    // The public key as bare hex works too.
    let hex_key = hex::encode(s.public_key());
    let leaves = dir.join("leaves.jsonl").display().to_string();
    let cp = dir.join("checkpoint.txt").display().to_string();
    let bare = run(
        db.sunmesh(),
        &[
            "verify-log",
            "--leaves",
            &leaves,
            "--checkpoint",
            &cp,
            "--public-key",
            &hex_key,
        ],
    );
    assert_eq!(bare.code, 0, "{}", bare.stderr);

    let text = fs::read_to_string(dir.join("leaves.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    let write = |name: &str, lines: &[&str]| {
        fs::write(dir.join(name), format!("{}\n", lines.join("\n"))).unwrap();
    };
    // A changed leaf: seller 1's grams 410 → 411 (still a valid-looking record).
    let changed = lines[0].replacen("\"exported_wh\":600", "\"exported_wh\":601", 1);
    assert_ne!(changed, lines[0]);
    write(
        "changed.jsonl",
        &[&changed, lines[1], lines[2], lines[3], lines[4]],
    );
    write("removed.jsonl", &[lines[0], lines[1], lines[3], lines[4]]);
    write(
        "reordered.jsonl",
        &[lines[1], lines[0], lines[2], lines[3], lines[4]],
    );
    for (file, expect) in [
        ("changed.jsonl", ""),
        ("removed.jsonl", "leaves"),
        ("reordered.jsonl", "root"),
    ] {
        let bad = verify(db, &dir, file, "checkpoint.txt", &[]);
        assert_ne!(bad.code, 0, "{file} was accepted: {}", bad.stdout);
        assert!(
            bad.stderr.contains("does not verify") && bad.stderr.contains(expect),
            "{file}: {}",
            bad.stderr
        );
    }
    // A bad signature: flip one base64 character of the signature line.
    let checkpoint = fs::read_to_string(dir.join("checkpoint.txt")).unwrap();
    let sig_at = checkpoint.rfind(' ').unwrap() + 10;
    let mut forged = checkpoint.clone().into_bytes();
    forged[sig_at] = if forged[sig_at] == b'A' { b'B' } else { b'A' };
    fs::write(dir.join("forged.txt"), forged).unwrap();
    let bad = verify(db, &dir, "leaves.jsonl", "forged.txt", &[]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("signature"), "{}", bad.stderr);
}

fn report_has_the_documented_columns(db: &TestDb) {
    let (_store, s) = prepare(db);
    s.run_slot(ZONE, SLOT, T0, 1).expect("run");
    let from = chrono::DateTime::from_timestamp_millis(SLOT)
        .unwrap()
        .to_rfc3339();
    let to = chrono::DateTime::from_timestamp_millis(SLOT + SLOT_MS)
        .unwrap()
        .to_rfc3339();
    let csv = run(
        db.sunmesh(),
        &["report", "--from", &from, "--to", &to, "--format", "csv"],
    );
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let mut lines = csv.stdout.split("\r\n");
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let expected = [
        "zone",
        "slot_start_ms",
        "slot_len_ms",
        "run_version",
        "methodology_version",
        "trades",
        "contracted_wh",
        "metered_export_wh",
        "metered_import_wh",
        "delivered_wh",
        "imbalance_wh",
        "imbalance_price_micro_per_kwh",
        "imbalance_amount_micro",
        "traded_amount_micro",
        "carbon_g",
        "ef_kind",
        "ef_source",
        "ef_version",
        "ef_g_per_mwh",
        "reward_units",
        "readings_verified",
        "readings_flagged",
        "readings_rejected",
        "readings_missing",
        "transfer_ids",
        "leaf_hashes",
        "leaf_indices",
    ];
    assert_eq!(header, expected);
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!(
            "PH-LV,{SLOT},900000,1,sunmesh-settlement/1,3,1750,1400,1900,1350,400,"
        )),
        "{row}"
    );
    assert!(row.ends_with(",0 1 2"), "{row}");

    let chart = db.work_dir().join("day.svg");
    let json = run(
        db.sunmesh(),
        &[
            "report",
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "json",
            "--zone",
            ZONE,
            "--chart",
            chart.to_str().unwrap(),
        ],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let object = value[0].as_object().expect("a row object");
    for key in expected.iter().filter(|k| !k.starts_with("readings_")) {
        assert!(object.contains_key(*key), "missing {key}");
    }
    assert_eq!(object["quality"]["verified"], 16);
    assert_eq!(object["leaf_indices"], serde_json::json!([0, 1, 2]));
    assert_eq!(object["carbon_g"], 957);
    let svg = fs::read_to_string(chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("delivered"));

    let empty = run(
        db.sunmesh(),
        &["report", "--from", &to, "--to", &from, "--format", "json"],
    );
    assert_ne!(empty.code, 0);
    assert!(empty.stderr.contains("--to must be after --from"));
}

fn factors_import_reads_the_example_and_rejects_bad_files(db: &TestDb) {
    let out = run(db.sunmesh(), &["factors", "import"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("imported 7 emission factors"),
        "{}",
        out.stdout
    );
    let bad = db.work_dir().join("bad.csv");
    fs::write(&bad, "zone,valid_from\nX,2020-01-01\n").unwrap();
    let refused = run(db.sunmesh(), &["factors", "import", bad.to_str().unwrap()]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("header"), "{}", refused.stderr);
    assert_eq!(db.store().emission_factors().unwrap().len(), 7);
}

on_each_backend!(
    verify_log_accepts_honest_exports_and_rejects_tampering,
    report_has_the_documented_columns,
    factors_import_reads_the_example_and_rejects_bad_files,
);
