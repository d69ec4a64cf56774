//! The seam between the live installation and settlement, on both backends: money deposited
//! through the API lands in the ledger and in the exchange's buying power; a trade made on the
//! exchange and readings taken by real signed meters are recorded for settlement once the
//! slot is due; rule 7 flags the neighbour who claims far more than everyone else; the slot
//! settles (partial delivery, escrow returned, imbalance charged, carbon minted); and the
//! exchange's buying power equals the ledger's available money afterwards.

#[path = "support/readings.rs"]
mod chains;
mod common;
mod trading_support;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use chains::{Chain, FIVE_MIN};
use common::{on_each_backend, public_key, TestDb};
use platform::api;
use platform::ingest::{Decision, Incoming, IngestConfig, IngestService};
use platform::registry::{Location, NameplateW, NewDevice, Role};
use platform::settle::{Feeder, RunOutcome, ScheduleConfig};
use platform::store::Store;
use platform::trading::funds::sync_funds;
use reading::SignedReading;
use serde_json::json;
use settlement::carbon::FactorTable;
use settlement::ledger::{AccountId, LedgerId};
use settlement::verify::{OperatorDecision, VerifyConfig};
use trading_support::{bearer, call, Exchange};

const QUARTER: i64 = 15 * 60 * 1000;
const PRICE: i64 = 250_000; // micro per kWh
const DEPOSIT: i64 = 10_000_000;
const FACTOR_G_PER_MWH: u64 = 300_000;

/// A longitude where `slot_start_ms` falls at local solar noon, so physics accepts daytime
/// production whatever the wall clock says when the test runs.
fn noon_longitude(slot_start_ms: i64) -> String {
    let hours = (slot_start_ms + QUARTER / 2).rem_euclid(86_400_000) as f64 / 3_600_000.0;
    let mut lon = 15.0 * (12.0 - hours);
    if lon <= -180.0 {
        lon += 360.0;
    }
    if lon > 180.0 {
        lon -= 360.0;
    }
    format!("{lon:.6}")
}

fn register(store: &Store, seed: u8, owner: &str, nameplate_w: u32, lon: &str) {
    let device = NewDevice {
        public_key: public_key(seed),
        owner: owner.parse().unwrap(),
        nameplate: NameplateW::new(nameplate_w).unwrap(),
        location: Location {
            latitude: "0.5".parse().unwrap(),
            longitude: lon.parse().unwrap(),
        },
        zone: "default".parse().unwrap(),
    };
    store.register_device(&device, common::T0).unwrap();
}

/// A reading at the slot's start (counters only), then three five-minute readings inside it
/// exporting `export` Wh each and importing `import` Wh each.
fn slot_readings(seed: u8, slot: i64, export: [u64; 3], import: u64) -> Vec<SignedReading> {
    let mut chain = Chain::new(seed, slot - FIVE_MIN);
    let mut out = vec![chain.next(FIVE_MIN, 0)];
    for e in export {
        let mut r = chain.peek(FIVE_MIN, e).reading;
        r.import_wh = chain.import_wh + import;
        let signed = chain.sign(r);
        chain.advance(&signed);
        out.push(signed);
    }
    out
}

fn currency(store: &Store, account: i64) -> (u128, u128) {
    store
        .participant_balances(AccountId(account as u64))
        .unwrap()
        .into_iter()
        .find(|(a, _)| a.ledger == LedgerId::Currency)
        .map_or((0, 0), |(_, b)| (b.available(), b.debits_pending))
}

/// The newest ledger transfer row.
fn c_through(store: &Store) -> i64 {
    store
        .ledger_transfers()
        .unwrap()
        .last()
        .map_or(0, |t| t.seq)
}

fn carbon_g(store: &Store, account: i64) -> u128 {
    store
        .participant_balances(AccountId(account as u64))
        .unwrap()
        .into_iter()
        .find(|(a, _)| a.ledger == LedgerId::Carbon)
        .map_or(0, |(_, b)| b.available())
}

fn a_traded_and_metered_slot_settles_and_funds_follow_the_ledger(db: &TestDb) {
    actix_web::rt::System::new().block_on(settle_live_slot(db));
}

async fn settle_live_slot(db: &TestDb) {
    let ex = Exchange::start(db);
    let store = ex.store.clone();
    let csv = format!(
        "zone,valid_from,valid_to,kind,source,version,g_co2e_per_mwh\n\
         default,2020-01-01,2100-01-01,annual_average,test factor,t1,{FACTOR_G_PER_MWH}\n"
    );
    store
        .replace_emission_factors(&FactorTable::from_csv(&csv).unwrap(), common::T0)
        .unwrap();
    let admin = ex.account("root", Role::Admin);
    let seller = ex.account("sol", Role::Prosumer);
    let buyer = ex.account("bea", Role::Consumer);
    let peers: Vec<_> = ["p1", "p2", "p3", "p4"]
        .iter()
        .map(|n| ex.account(n, Role::Prosumer))
        .collect();
    let cheat = ex.account("max", Role::Prosumer);
    let slot = ex.slot();
    let lon = noon_longitude(slot);
    register(&store, 11, "sol", 10_000, &lon);
    register(&store, 12, "bea", 3_000, &lon);
    for (i, name) in ["p1", "p2", "p3", "p4"].iter().enumerate() {
        register(&store, 21 + i as u8, name, 10_000, &lon);
    }
    register(&store, 30, "max", 10_000, &lon);

    let state = ex.state();
    let settlement = state.settlement.clone();
    let app = test::init_service(api::app(state)).await;

    // A deposit is a ledger transfer, and the exchange can spend it at once.
    let (status, body) = call(
        &app,
        TestRequest::post()
            .uri("/v1/admin/deposits")
            .insert_header(bearer(&admin.key))
            .set_json(json!({"account_id": buyer.id, "amount_micro": DEPOSIT})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["available_micro"], DEPOSIT);
    assert_eq!(currency(&store, buyer.id), (DEPOSIT as u128, 0));

    // 1,000 Wh trade at 0.25 per kWh: the buyer's buying power drops by its escrow at once.
    let order = |cid: u64, side: &str| {
        json!({"client_order_id": cid, "zone": "default", "slot_start_ms": slot, "side": side,
               "type": "limit", "price_micro_per_kwh": PRICE, "qty_wh": 1_000})
    };
    for (key, side) in [(&seller.key, "sell"), (&buyer.key, "buy")] {
        let (status, body) = call(
            &app,
            TestRequest::post()
                .uri("/v1/orders")
                .insert_header(bearer(key))
                .set_json(order(1, side)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let trade_value = 1_000 * PRICE / 1_000;
    let (_, body) = call(
        &app,
        TestRequest::get()
            .uri("/v1/balances")
            .insert_header(bearer(&buyer.key)),
    )
    .await;
    assert_eq!(body["available_micro"], DEPOSIT - trade_value, "{body}");

    // Meters: the seller delivers 600 of its 1,000 Wh, the buyer imports 1,500 Wh, four
    // honest neighbours produce 500–700 Wh, and one claims 1,500 Wh (plausible alone, far
    // above the neighbourhood).
    let svc = IngestService::new(store.clone(), IngestConfig::default()).unwrap();
    let ingest_now = slot + QUARTER + 60_000;
    let mut batch = slot_readings(11, slot, [200, 200, 200], 0);
    batch.extend(slot_readings(12, slot, [0, 0, 0], 500));
    for (i, e) in [
        [167, 167, 166],
        [183, 183, 184],
        [217, 217, 216],
        [233, 233, 234],
    ]
    .into_iter()
    .enumerate()
    {
        batch.extend(slot_readings(21 + i as u8, slot, e, 0));
    }
    batch.extend(slot_readings(30, slot, [500, 500, 500], 0));
    let incoming: Vec<Incoming> = batch.into_iter().map(Incoming::now).collect();
    let decisions = svc.ingest(&incoming, ingest_now).unwrap();
    assert!(
        decisions.iter().all(|d| *d == Decision::Accepted),
        "{decisions:?}"
    );

    // Before the slot is due nothing is recorded or settled.
    let feeder = Feeder::new(
        settlement.clone(),
        VerifyConfig::default(),
        vec!["default".into()],
    );
    let schedule = ScheduleConfig::default();
    let early = feeder.tick(slot + QUARTER, &schedule).unwrap();
    assert!(
        early.runs.is_empty() && early.trades_recorded.is_empty(),
        "{early:?}"
    );

    // Due: delivery over and the 30-minute late window closed.
    let due = slot + QUARTER + schedule.late_reading_ms + 1;
    let report = feeder.tick(due, &schedule).unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(
        report.trades_recorded,
        vec![("default".to_owned(), slot, 1)]
    );
    assert_eq!(
        report.outliers,
        vec![("default".to_owned(), slot, 1)],
        "rule 7 found the cheat"
    );
    assert!(
        matches!(report.runs.as_slice(), [(z, s, RunOutcome::Settled { .. })] if z == "default" && *s == slot),
        "{report:?}"
    );

    // The cheat's readings are flagged and its energy did not count.
    let cheat_readings = store
        .device_readings(
            &public_key(30).device_id(),
            platform::store::readings::ReadingPage {
                after_sequence: 0,
                limit: 10,
            },
        )
        .unwrap();
    assert!(
        cheat_readings
            .iter()
            .skip(1)
            .all(|r| r.reading.verdict == "flagged"
                && r.reading.reasons.contains("neighbourhood_outlier")),
        "{cheat_readings:?}"
    );
    assert_eq!(carbon_g(&store, cheat.id), 0);

    // The report row: 1,000 Wh contracted, 600 delivered.
    let rows = store.report_rows(slot, slot + 1, Some("default")).unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0].row;
    assert_eq!((row.contracted_wh, row.delivered_wh), (1_000, 600));
    assert!(row.quality.flagged >= 2, "{:?}", row.quality);

    // Money: the buyer paid for 600 Wh only; the seller was paid 150,000 and charged its
    // 400 Wh shortfall at the imbalance price; no escrow is left pending.
    let paid = 600 * PRICE / 1_000;
    assert_eq!(currency(&store, buyer.id), ((DEPOSIT - paid) as u128, 0));
    let imbalance = 400 * settlement.config().imbalance_price_micro_per_kwh / 1_000;
    assert_eq!(
        currency(&store, seller.id),
        ((paid - imbalance.min(paid)) as u128, 0)
    );
    // Carbon: verified export × factor, to each honest producer.
    assert_eq!(
        carbon_g(&store, seller.id),
        600 * u128::from(FACTOR_G_PER_MWH) / 1_000_000
    );
    assert_eq!(
        carbon_g(&store, peers[3].id),
        700 * u128::from(FACTOR_G_PER_MWH) / 1_000_000
    );
    settlement.check_invariants().unwrap();

    // The exchange's buying power follows the ledger for everyone.
    let host = ex.host.clone();
    sync_funds(&store, &host).await.unwrap();
    for account in [&buyer, &seller, &cheat, &peers[0]] {
        let (_, body) = call(
            &app,
            TestRequest::get()
                .uri("/v1/balances")
                .insert_header(bearer(&account.key)),
        )
        .await;
        assert_eq!(
            body["available_micro"].as_i64().unwrap() as u128,
            currency(&store, account.id).0,
            "account {}: {body}",
            account.id
        );
    }

    // Ticking again records nothing twice and settles nothing twice.
    let transfers = store.ledger_transfer_count().unwrap();
    let again = feeder.tick(due + 60_000, &schedule).unwrap();
    assert!(
        again.runs.is_empty() && again.trades_recorded.is_empty() && again.outliers.is_empty(),
        "{again:?}"
    );
    let fresh = Feeder::new(
        settlement.clone(),
        VerifyConfig::default(),
        vec!["default".into()],
    );
    let restarted = fresh.tick(due + 120_000, &schedule).unwrap();
    assert!(
        restarted.runs.is_empty() && restarted.trades_recorded.is_empty(),
        "{restarted:?}"
    );
    assert_eq!(store.ledger_transfer_count().unwrap(), transfers);
    // A second sync with nothing new changes nothing either.
    let through = sync_funds(&store, &host).await.unwrap();
    assert_eq!(sync_funds(&store, &host).await.unwrap(), through);
    // Syncs that race (a deposit's and the scheduler's) count each ledger row once.
    for n in 0..3u128 {
        settlement
            .deposit(
                &[(
                    AccountId(buyer.id as u64),
                    LedgerId::Currency,
                    1_000,
                    settlement::ledger::TransferId(0xdead_0000 + n),
                )],
                due,
            )
            .unwrap();
    }
    let (a, b, c) = tokio::join!(
        sync_funds(&store, &host),
        sync_funds(&store, &host),
        sync_funds(&store, &host)
    );
    assert_eq!((a.unwrap(), b.unwrap()), (c.unwrap(), c_through(&store)));
    let engine_funds = host.read().unwrap().ledger.funds(buyer.id as u64);
    assert_eq!(engine_funds as u128, currency(&store, buyer.id).0);
    assert_eq!(engine_funds as i64, DEPOSIT - paid + 3_000);

    // After a restart the engine rebuilds the same buying power from its journal.
    let (_, before) = call(
        &app,
        TestRequest::get()
            .uri("/v1/balances")
            .insert_header(bearer(&seller.key)),
    )
    .await;
    let (recovered, _) = platform::trading::recovery::recover(&store, &Default::default()).unwrap();
    let funds = recovered.funds(seller.id as u64);
    assert_eq!(funds as i64, before["available_micro"].as_i64().unwrap());

    // Scheduled reconciliation. Before its time nothing happens; then an operator decides the
    // flagged readings were honest after all, and the reconciliation tick settles run 2, which
    // mints the carbon of the released energy and leaves run 1 as it was.
    let reconcile_at = slot + QUARTER + schedule.reconcile_after_ms;
    let quiet = feeder.tick(reconcile_at - 1, &schedule).unwrap();
    assert!(quiet.reconciled.is_empty(), "{quiet:?}");
    let unchanged = feeder.tick(reconcile_at, &schedule).unwrap();
    assert!(
        unchanged.reconciled.is_empty() && unchanged.failures.is_empty(),
        "nothing changed since run 1: {unchanged:?}"
    );
    let transfers_before = store.ledger_transfer_count().unwrap();
    for record in &cheat_readings {
        if record.reading.verdict == "flagged" {
            store
                .decide_flagged(
                    &public_key(30).device_id(),
                    record.reading.sequence as u64,
                    OperatorDecision::Release,
                    "root",
                    QUARTER,
                    reconcile_at,
                )
                .unwrap();
        }
    }
    // A slot reaches its reconciliation once per process: the tick after the operator's
    // decision has nothing new to look at, a restarted feeder looks at the window again.
    let later = feeder.tick(reconcile_at + 60_000, &schedule).unwrap();
    assert!(later.reconciled.is_empty(), "{later:?}");
    let restarted = Feeder::new(
        settlement.clone(),
        VerifyConfig::default(),
        vec!["default".into()],
    );
    let report = restarted.tick(reconcile_at + 120_000, &schedule).unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.reconciled, vec![("default".to_owned(), slot, 2)]);
    assert_eq!(
        carbon_g(&store, cheat.id),
        1_500 * u128::from(FACTOR_G_PER_MWH) / 1_000_000
    );
    let runs = store.settlement_runs("default", slot).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.run_version).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(store.ledger_transfer_count().unwrap() > transfers_before);
    // Nobody's money moved: the cheat traded nothing, and run 1's transfers stand.
    assert_eq!(
        currency(&store, buyer.id).0,
        (DEPOSIT - paid + 3_000) as u128
    );
    settlement.check_invariants().unwrap();
    // Repeating the reconciliation (another restart) changes nothing.
    let transfers = store.ledger_transfer_count().unwrap();
    let again = Feeder::new(settlement, VerifyConfig::default(), vec!["default".into()])
        .tick(reconcile_at + 180_000, &schedule)
        .unwrap();
    assert!(again.reconciled.is_empty(), "{again:?}");
    assert_eq!(store.ledger_transfer_count().unwrap(), transfers);
}

on_each_backend!(a_traded_and_metered_slot_settles_and_funds_follow_the_ledger);
