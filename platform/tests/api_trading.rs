//! The trading API end to end on a real store and engine host: orders of every type, matching,
//! cancel/reduce/replace, idempotent retries, balances with escrow, trades, book, stats, roles,
//! and restart recovery from snapshot + journal.

mod common;
mod trading_support;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use common::{on_each_backend, TestDb};
use platform::api;
use platform::registry::Role;
use serde_json::{json, Value};
use trading_support::{assert_error_shape, bearer, call, Exchange};

fn order(cid: u64, slot: i64, side: &str, kind: &str, price: i64, qty: u64) -> Value {
    json!({"client_order_id": cid, "zone": "default", "slot_start_ms": slot, "side": side,
           "type": kind, "price_micro_per_kwh": price, "qty_wh": qty})
}

fn post(key: &str, body: &Value) -> TestRequest {
    TestRequest::post()
        .uri("/v1/orders")
        .insert_header(bearer(key))
        .set_json(body)
}

fn get(key: &str, uri: &str) -> TestRequest {
    TestRequest::get().uri(uri).insert_header(bearer(key))
}

fn trading_round_trip(db: &TestDb) {
    actix_web::rt::System::new().block_on(round_trip(db));
}

async fn round_trip(db: &TestDb) {
    let settings = platform::trading::MarketSettings {
        snapshot_every: 5,
        ..Default::default()
    };
    let ex = Exchange::start_with(db, settings);
    let admin = ex.account("root", Role::Admin);
    let seller = ex.account("sol", Role::Prosumer);
    let buyer = ex.account("bea", Role::Consumer);
    ex.device(1, "sol", 4000); // 4 kW × 15 min = 1000 Wh per slot
    let slot = ex.slot();
    let app = test::init_service(api::app(ex.state())).await;

    // Funds: a consumer without money cannot buy.
    let (status, body) = call(
        &app,
        post(&buyer.key, &order(1, slot, "buy", "limit", 200_000, 100)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "insufficient_funds");
    let (status, body) = call(
        &app,
        TestRequest::post()
            .uri("/v1/admin/deposits")
            .insert_header(bearer(&admin.key))
            .set_json(json!({"account_id": buyer.id, "amount_micro": 1_000_000})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["available_micro"], 1_000_000);

    // A consumer may not sell; a prosumer sells within capacity.
    let (status, _) = call(
        &app,
        post(&buyer.key, &order(2, slot, "sell", "limit", 200_000, 100)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(
        &app,
        post(&seller.key, &order(1, slot, "sell", "limit", 300_000, 1001)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "capacity_exceeded");
    let ask = order(1, slot, "sell", "limit", 300_000, 600);
    let (status, placed) = call(&app, post(&seller.key, &ask)).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let ask_id = placed["order"]["order_id"].as_i64().unwrap();
    assert_eq!(placed["order"]["status"], "open");

    // Retrying is safe: same body → the original answer with 200; other body → 409.
    let (status, again) = call(&app, post(&seller.key, &ask)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, placed);
    let (status, body) = call(
        &app,
        post(&seller.key, &order(1, slot, "sell", "limit", 300_000, 601)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "client_order_id_reused");

    // Post-only that would cross is refused; a buy crossing the ask trades at the ask's price.
    let (status, body) = call(
        &app,
        post(
            &buyer.key,
            &order(3, slot, "buy", "post_only", 300_000, 100),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "would_cross");
    let (status, bought) = call(
        &app,
        post(&buyer.key, &order(4, slot, "buy", "limit", 400_000, 200)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{bought}");
    assert_eq!(bought["order"]["status"], "filled");
    assert_eq!(bought["trades"][0]["price_micro_per_kwh"], 300_000);
    assert_eq!(bought["trades"][0]["qty_wh"], 200);
    assert_eq!(bought["trades"][0]["value_micro"], 60_000);

    // FOK larger than the book is refused; IOC takes what there is and cancels the rest.
    let (status, body) = call(
        &app,
        post(&buyer.key, &order(5, slot, "buy", "fok", 300_000, 500)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, ioc) = call(
        &app,
        post(&buyer.key, &order(6, slot, "buy", "ioc", 300_000, 300)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(ioc["order"]["filled_wh"], 300);
    assert_eq!(ioc["order"]["status"], "filled");
    let (status, mkt) = call(
        &app,
        post(&buyer.key, &order(7, slot, "buy", "market", 500_000, 200)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(mkt["order"]["filled_wh"], 100);
    assert_eq!(mkt["order"]["status"], "cancelled");

    // The ask is filled now; its owner sees it, the buyer does not.
    let uri = format!("/v1/orders/{ask_id}");
    let (_, seen) = call(&app, get(&seller.key, &uri)).await;
    assert_eq!(seen["status"], "filled");
    assert_eq!(seen["filled_wh"], 600);
    let (status, _) = call(&app, get(&buyer.key, &uri)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(
        &app,
        TestRequest::delete()
            .uri(&uri)
            .insert_header(bearer(&buyer.key)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = call(
        &app,
        TestRequest::delete()
            .uri(&uri)
            .insert_header(bearer(&seller.key)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "order_not_open");

    // A resting bid: reduce keeps it, replace moves it, cancel ends it; escrow follows.
    let (_, bid) = call(
        &app,
        post(&buyer.key, &order(8, slot, "buy", "limit", 100_000, 1000)),
    )
    .await;
    let bid_id = bid["order"]["order_id"].as_i64().unwrap();
    let (_, bal) = call(&app, get(&buyer.key, "/v1/balances")).await;
    // Spent 600 Wh at 0.3/kWh = 180_000; escrow 1000 Wh at 0.1/kWh = 100_000.
    assert_eq!(bal["available_micro"], 820_000, "{bal}");
    assert_eq!(bal["escrow_micro"], 100_000);
    assert_eq!(bal["free_micro"], 720_000);
    let bid_uri = format!("/v1/orders/{bid_id}");
    let patch = |qty: u64, price: i64| {
        TestRequest::patch()
            .uri(&bid_uri)
            .insert_header(bearer(&buyer.key))
            .set_json(json!({"qty_wh": qty, "price_micro_per_kwh": price}))
    };
    let (status, reduced) = call(&app, patch(400, 100_000)).await;
    assert_eq!(status, StatusCode::OK, "{reduced}");
    assert_eq!(reduced["remaining_wh"], 400);
    let (status, body) = call(&app, patch(400, 100_000)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "no_change");
    let (status, replaced) = call(&app, patch(500, 120_000)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replaced["price_micro_per_kwh"], 120_000);
    let (_, book) = call(
        &app,
        get(&seller.key, &format!("/v1/slots/default/{slot}/book")),
    )
    .await;
    assert_eq!(
        book["bids"],
        json!([{"price_micro_per_kwh": 120_000, "qty_wh": 500, "orders": 1}])
    );
    assert_eq!(book["asks"], json!([]));
    let (status, cancelled) = call(
        &app,
        TestRequest::delete()
            .uri(&bid_uri)
            .insert_header(bearer(&buyer.key)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], "cancelled");
    let (_, bal) = call(&app, get(&buyer.key, "/v1/balances")).await;
    assert_eq!(bal["escrow_micro"], 0);

    // Lists, trades and statistics.
    let (_, mine) = call(&app, get(&buyer.key, "/v1/orders?status=filled")).await;
    assert_eq!(mine.as_array().unwrap().len(), 2, "{mine}");
    let (_, trades) = call(&app, get(&seller.key, "/v1/trades")).await;
    assert_eq!(trades.as_array().unwrap().len(), 3);
    assert!(trades
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["my_side"] == "sell" && t["maker"] == true));
    let (_, seller_bal) = call(&app, get(&seller.key, "/v1/balances")).await;
    // Sale proceeds reach the seller's buying power when settlement pays for what was
    // delivered (tests/settlement_feed.rs), not at the trade.
    assert_eq!(seller_bal["available_micro"], 0);
    let (_, stats) = call(
        &app,
        get(&admin.key, &format!("/v1/slots/default/{slot}/stats")),
    )
    .await;
    assert_eq!(stats["trades"], 3);
    assert_eq!(stats["volume_wh"], 600);
    assert_eq!(stats["vwap_micro_per_kwh"], 300_000);
    assert_eq!(stats["open_micro_per_kwh"], 300_000);
    let (_, recent) = call(
        &app,
        get(
            &admin.key,
            &format!("/v1/slots/default/{slot}/trades?limit=2"),
        ),
    )
    .await;
    assert_eq!(recent.as_array().unwrap().len(), 2);
    let (_, slots) = call(&app, get(&buyer.key, "/v1/slots")).await;
    assert!(slots
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["slot_start_ms"] == slot));

    // Operators read the engine's state; a restart from snapshot + journal reproduces it.
    let (status, engine) = call(&app, get(&admin.key, "/v1/admin/engine")).await;
    assert_eq!(status, StatusCode::OK);
    let before = engine["state_hash"].as_str().unwrap().to_owned();
    let settings = platform::trading::MarketSettings::default();
    let (ledger, snapshot_seq) =
        platform::trading::recovery::recover(&ex.store, &settings).unwrap();
    assert!(snapshot_seq > 0, "snapshots were taken");
    let replayed = platform::trading::recovery::replay(&ex.store, None, ledger.seq as i64)
        .unwrap()
        .unwrap();
    assert_eq!(replayed.state_hash_hex(), ledger.state_hash_hex());
    let (_, engine_now) = call(&app, get(&admin.key, "/v1/admin/engine")).await;
    if engine_now["journal_len"] == engine["journal_len"] {
        assert_eq!(ledger.state_hash_hex(), before);
    }
    let (status, body) = call(&app, get(&buyer.key, "/v1/admin/engine")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error_shape(&body);
}

on_each_backend!(trading_round_trip);
