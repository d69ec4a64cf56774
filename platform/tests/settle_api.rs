//! The settlement API over the actix test service, on each backend: the log endpoints (with
//! the proofs checked by the core's verifiers), reports and charts for operators only, and the
//! caller's balances.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::App;
use base64::Engine as _;
use common::{on_each_backend, TestDb, T0};
use platform::api::{self, AppState};
use platform::config::ApiLimits;
use platform::registry::{ApiKeySecret, Role};
use platform::settle::commands::EXAMPLE_FACTORS;
use platform::settle::{SettleConfig, Settlement};
use serde_json::Value;
use settlement::allocation::{MeterInput, QualityCounts, TradeInput};
use settlement::carbon::FactorTable;
use settlement::ledger::{AccountId, LedgerId, TransferId};
use settlement::merkle::{verify_consistency, verify_inclusion, LogSigner};

const SLOT: i64 = T0 - T0 % 900_000;
const ZONE: &str = "PH-LV";
const ORIGIN: &str = "api.sunmesh/log";

struct Keys {
    buyer: String,
    operator: String,
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
        reading_range: None,
        quality: QualityCounts::default(),
    }
}

/// Accounts 1 (seller) and 2 (buyer) trade; account 3 is an operator. One slot is settled.
fn prepare(db: &TestDb) -> (Settlement, Keys) {
    let store = db.store();
    let mut secrets = Vec::new();
    for (name, role) in [
        ("seller", Role::Prosumer),
        ("buyer", Role::Consumer),
        ("grid-op", Role::Operator),
    ] {
        let secret = ApiKeySecret::generate().expect("key");
        let (account, _) = store
            .create_account_with_key(&name.parse().unwrap(), role, &secret.hash(), T0)
            .expect("account");
        secrets.push((account.id.0, secret.expose().to_owned()));
    }
    assert_eq!(
        secrets.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![1, 2, 3],
        "ledger participants are platform account ids"
    );
    store
        .replace_emission_factors(&FactorTable::from_csv(EXAMPLE_FACTORS).unwrap(), T0)
        .unwrap();
    let signer = LogSigner::from_seed(ORIGIN, &[5; 32]).unwrap();
    let s = Settlement::new(
        store.clone(),
        signer,
        SettleConfig {
            log_origin: ORIGIN.to_owned(),
            ..SettleConfig::default()
        },
    );
    s.deposit(
        &[(AccountId(2), LedgerId::Currency, 1_000_000, TransferId(77))],
        T0,
    )
    .unwrap();
    s.record_trades(ZONE, SLOT, &[trade(1, 1, 2, 1_000, 200_000)], T0)
        .unwrap();
    store
        .put_slot_energy(ZONE, SLOT, &[meter(1, 1_000, 0), meter(2, 0, 1_000)])
        .unwrap();
    s.run_slot(ZONE, SLOT, T0, 1).unwrap();
    let keys = Keys {
        buyer: secrets[1].1.clone(),
        operator: secrets[2].1.clone(),
    };
    (s, keys)
}

fn bearer(key: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {key}"))
}

fn hash(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).expect("hex hash");
    out
}

fn settle_api_end_to_end(db: &TestDb) {
    let (s, keys) = prepare(db);
    let state = AppState::new(db.store(), ApiLimits::default()).expect("state");
    actix_web::rt::System::new().block_on(async move {
        let app = test::init_service(
            App::new().configure(|cfg| api::configure(cfg, state.with_settlement(s.clone()))),
        )
        .await;
        let get = |uri: &str, key: Option<&str>| {
            let mut req = TestRequest::get().uri(uri);
            if let Some(key) = key {
                req = req.insert_header(bearer(key));
            }
            req.to_request()
        };
        let call = |req| async {
            let response = test::call_service(&app, req).await;
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = test::read_body(response).await;
            (
                status,
                content_type,
                String::from_utf8_lossy(&body).into_owned(),
            )
        };

        // The checkpoint: public, text, signed for the whole log (mint + run record).
        let (status, _, checkpoint) = call(get("/v1/log/checkpoint", None)).await;
        assert_eq!(status, StatusCode::OK);
        let lines: Vec<&str> = checkpoint.lines().collect();
        assert_eq!(&lines[..2], &[ORIGIN, "2"]);
        let root: [u8; 32] = base64::engine::general_purpose::STANDARD
            .decode(lines[2])
            .unwrap()
            .try_into()
            .unwrap();

        let (status, _, body) = call(get("/v1/log/leaves?from=0&to=2", None)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let leaves: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(leaves["leaves"].as_array().unwrap().len(), 2);
        assert_eq!(leaves["next"], Value::Null);
        let leaf_hash = leaves["leaves"][0]["leaf_hash"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            hex::encode(settlement::merkle::leaf_hash(
                leaves["leaves"][0]["leaf"].as_str().unwrap().as_bytes()
            )),
            leaf_hash
        );

        let (status, _, body) = call(get("/v1/log/inclusion?leaf=0&size=2", None)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let proof: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(proof["leaf_hash"], leaf_hash.as_str());
        let path: Vec<[u8; 32]> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash(h.as_str().unwrap()))
            .collect();
        assert_eq!(
            verify_inclusion(0, 2, &hash(&leaf_hash), &path, &root),
            Ok(())
        );

        let (status, _, body) = call(get("/v1/log/consistency?from=1&to=2", None)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let proof: Value = serde_json::from_str(&body).unwrap();
        let path: Vec<[u8; 32]> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash(h.as_str().unwrap()))
            .collect();
        assert_eq!(
            verify_consistency(1, 2, &hash(&leaf_hash), &root, &path),
            Ok(())
        );

        let (status, _, body) = call(get("/v1/log/inclusion?leaf=5&size=2", None)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "invalid_proof_request", "{body}");

        // Reports: operators only.
        let from = "2026-05-28T00:00:00Z";
        let to = "2026-05-29T00:00:00Z";
        let uri = format!("/v1/reports?from={from}&to={to}&format=csv");
        let (status, content_type, csv) = call(get(&uri, Some(&keys.operator))).await;
        assert_eq!(status, StatusCode::OK, "{csv}");
        assert!(content_type.starts_with("text/csv"));
        assert!(csv.starts_with("zone,slot_start_ms,"));
        assert!(csv.lines().next().unwrap().ends_with(",leaf_indices"));
        assert_eq!(csv.lines().count(), 2);
        let uri = format!("/v1/reports?from={from}&to={to}&zone={ZONE}");
        let (status, _, json) = call(get(&uri, Some(&keys.operator))).await;
        assert_eq!(status, StatusCode::OK);
        let rows: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(rows[0]["delivered_wh"], 1_000);
        assert_eq!(rows[0]["leaf_indices"], serde_json::json!([0, 1]));
        let (status, _, body) = call(get(&uri, Some(&keys.buyer))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _, _) = call(get(&uri, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let bad = format!("/v1/reports?from={to}&to={from}");
        let (status, _, _) = call(get(&bad, Some(&keys.operator))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, content_type, svg) = call(get(
            "/v1/reports/chart.svg?day=2026-05-28",
            Some(&keys.operator),
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "image/svg+xml");
        assert!(svg.starts_with("<svg") && svg.contains("production"));
        let (status, _, _) = call(get(
            "/v1/reports/chart.svg?day=28.05.2026",
            Some(&keys.operator),
        ))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // Balances: the buyer paid 1,000 Wh × 0.2/kWh = 200,000 of its 1,000,000.
        let (status, _, body) = call(get("/v1/balances", Some(&keys.buyer))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let balances: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(balances["account_id"], 2);
        let currency = &balances["balances"][0];
        assert_eq!(currency["ledger"], "currency");
        assert_eq!(currency["balance"], 800_000);
        assert_eq!(currency["pending_debits"], 0);
        assert_eq!(currency["available"], 800_000);
        let (status, _, _) = call(get("/v1/balances", None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    });
}

fn open_escrow_shows_as_pending_in_balances(db: &TestDb) {
    let (s, keys) = prepare(db);
    // A trade of the next slot: its escrow is reserved until that slot settles.
    s.record_trades(ZONE, SLOT + 900_000, &[trade(2, 1, 2, 500, 100_000)], T0)
        .unwrap();
    let state = AppState::new(db.store(), ApiLimits::default()).expect("state");
    actix_web::rt::System::new().block_on(async move {
        let app = test::init_service(
            App::new().configure(|cfg| api::configure(cfg, state.with_settlement(s.clone()))),
        )
        .await;
        let req = TestRequest::get()
            .uri("/v1/balances")
            .insert_header(bearer(&keys.buyer))
            .to_request();
        let balances: Value = test::call_and_read_body_json(&app, req).await;
        let currency = &balances["balances"][0];
        assert_eq!(currency["balance"], 800_000);
        assert_eq!(currency["pending_debits"], 50_000);
        assert_eq!(currency["available"], 750_000);
    });
}

on_each_backend!(
    settle_api_end_to_end,
    open_escrow_shows_as_pending_in_balances
);
