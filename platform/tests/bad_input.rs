//! Bad input on every route: malformed JSON, wrong types, missing fields, huge bodies, unknown
//! slots, negative or absurd numbers, invalid keys. Each gets a 4xx with the one error shape,
//! never a 5xx, and nothing changes (orders, balances, books, accounts, keys).

mod common;
mod trading_support;

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use common::TestDb;
use platform::api;
use platform::registry::Role;
use serde_json::{json, Value};
use trading_support::{assert_error_shape, bearer, call, Exchange};

struct Bad {
    method: Method,
    template: &'static str,
    uri: String,
    /// Raw body (sent as JSON unless `content_type` says otherwise).
    body: Option<String>,
    content_type: &'static str,
    /// Which key: "trader", "admin", "invalid", "none".
    who: &'static str,
}

fn bad(
    method: Method,
    template: &'static str,
    uri: impl Into<String>,
    body: Option<String>,
    who: &'static str,
) -> Bad {
    Bad {
        method,
        template,
        uri: uri.into(),
        body,
        content_type: "application/json",
        who,
    }
}

#[actix_web::test]
async fn bad_input_is_a_documented_4xx_and_changes_nothing() {
    let db = TestDb::sqlite();
    let ex = Exchange::start(&db);
    let slot = ex.slot();
    let admin = ex.account("admin", Role::Admin);
    let trader = ex.account("trader", Role::Prosumer);
    ex.device(1, "trader", 4000);
    let app = test::init_service(api::app(ex.state())).await;
    let (status, _) = call(
        &app,
        TestRequest::post()
            .uri("/v1/admin/deposits")
            .insert_header(bearer(&admin.key))
            .set_json(json!({"account_id": trader.id, "amount_micro": 1_000_000})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let good_order = json!({"client_order_id": 1, "zone": "default", "slot_start_ms": slot,
        "side": "buy", "type": "limit", "price_micro_per_kwh": 100_000, "qty_wh": 100});
    let (status, placed) = call(
        &app,
        TestRequest::post()
            .uri("/v1/orders")
            .insert_header(bearer(&trader.key))
            .set_json(&good_order),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let order_id = placed["order"]["order_id"].as_i64().unwrap();

    // Order bodies: every field wrong in its own way.
    let mut order_bodies: Vec<String> = vec![
        "{".into(),
        "[]".into(),
        "null".into(),
        "\"text\"".into(),
        "{}".into(),
        format!("{{\"pad\": \"{}\"}}", "x".repeat(200_000)),
    ];
    let fields = [
        "client_order_id",
        "zone",
        "slot_start_ms",
        "side",
        "type",
        "price_micro_per_kwh",
        "qty_wh",
    ];
    for field in fields {
        let mut missing = good_order.clone();
        missing.as_object_mut().unwrap().remove(field);
        order_bodies.push(missing.to_string());
        let mut wrong = good_order.clone();
        wrong[field] = json!({"nested": true});
        order_bodies.push(wrong.to_string());
    }
    let variants: Vec<(&str, Value)> = vec![
        ("client_order_id", json!(-1)),
        ("client_order_id", json!(u64::MAX)),
        ("client_order_id", json!(1.5)),
        ("zone", json!("nowhere")),
        ("zone", json!("")),
        ("slot_start_ms", json!(slot + 1)),
        ("slot_start_ms", json!(-900_000)),
        ("slot_start_ms", json!(i64::MAX)),
        ("slot_start_ms", json!(4_102_444_800_000_i64)),
        ("slot_start_ms", json!(900_000)),
        ("side", json!("hold")),
        ("type", json!("stop")),
        ("price_micro_per_kwh", json!(101)),
        ("price_micro_per_kwh", json!(i64::MAX)),
        ("price_micro_per_kwh", json!(-10_000_000)),
        ("price_micro_per_kwh", json!("100")),
        ("qty_wh", json!(0)),
        ("qty_wh", json!(-5)),
        ("qty_wh", json!(1e30)),
        ("qty_wh", json!(u64::MAX)),
        ("extra", json!(1)),
    ];
    for (field, value) in variants {
        let mut body = good_order.clone();
        body["client_order_id"] = json!(1000);
        body[field] = value;
        order_bodies.push(body.to_string());
    }
    // The same client id with another body.
    let mut reused = good_order.clone();
    reused["qty_wh"] = json!(99);
    order_bodies.push(reused.to_string());

    let modify_bodies: Vec<String> = vec![
        "{".into(),
        "{}".into(),
        json!({"qty_wh": 0, "price_micro_per_kwh": 100_000}).to_string(),
        json!({"qty_wh": -1, "price_micro_per_kwh": 100_000}).to_string(),
        json!({"qty_wh": 50, "price_micro_per_kwh": 123}).to_string(),
        json!({"qty_wh": 50, "price_micro_per_kwh": i64::MAX}).to_string(),
        json!({"qty_wh": 2_000_000, "price_micro_per_kwh": 100_000}).to_string(),
        json!({"qty_wh": 100, "price_micro_per_kwh": 100_000}).to_string(),
        json!({"qty_wh": 50, "price_micro_per_kwh": 100_000, "x": 1}).to_string(),
        json!({"qty_wh": "50", "price_micro_per_kwh": 100_000}).to_string(),
    ];
    let deposit_bodies: Vec<String> = vec![
        "{".into(),
        "{}".into(),
        json!({"account_id": trader.id, "amount_micro": 0}).to_string(),
        json!({"account_id": trader.id, "amount_micro": -5}).to_string(),
        json!({"account_id": trader.id, "amount_micro": i64::MAX}).to_string(),
        json!({"account_id": trader.id, "amount_micro": 1e40}).to_string(),
        json!({"account_id": 999_999, "amount_micro": 5}).to_string(),
        json!({"account_id": "me", "amount_micro": 5}).to_string(),
    ];

    let mut cases = Vec::new();
    for body in order_bodies {
        cases.push(bad(
            Method::POST,
            "/v1/orders",
            "/v1/orders",
            Some(body),
            "trader",
        ));
    }
    let order_uri = format!("/v1/orders/{order_id}");
    for body in modify_bodies {
        cases.push(bad(
            Method::PATCH,
            "/v1/orders/{id}",
            order_uri.clone(),
            Some(body),
            "trader",
        ));
    }
    for body in deposit_bodies {
        cases.push(bad(
            Method::POST,
            "/v1/admin/deposits",
            "/v1/admin/deposits",
            Some(body),
            "admin",
        ));
    }
    let mut wrong_type = bad(
        Method::POST,
        "/v1/orders",
        "/v1/orders",
        Some(good_order.to_string()),
        "trader",
    );
    wrong_type.content_type = "text/plain";
    cases.push(wrong_type);
    for id in ["abc", "-1", "0", "99999999999999999999", "999999"] {
        for (m, t) in [
            (Method::GET, "/v1/orders/{id}"),
            (Method::DELETE, "/v1/orders/{id}"),
        ] {
            cases.push(bad(m, t, format!("/v1/orders/{id}"), None, "trader"));
        }
        cases.push(bad(
            Method::PATCH,
            "/v1/orders/{id}",
            format!("/v1/orders/{id}"),
            Some(json!({"qty_wh": 5, "price_micro_per_kwh": 100_000}).to_string()),
            "trader",
        ));
    }
    let slot_paths: Vec<String> = vec![
        format!("nowhere/{slot}"),
        format!("default/{}", slot + 1),
        "default/abc".into(),
        "default/-900000".into(),
        format!("default/{}", i64::MAX),
        "default/99999999999999999999999".into(),
    ];
    for what in ["book", "trades", "stats"] {
        let template = match what {
            "book" => "/v1/slots/{zone}/{slot_start_ms}/book",
            "trades" => "/v1/slots/{zone}/{slot_start_ms}/trades",
            _ => "/v1/slots/{zone}/{slot_start_ms}/stats",
        };
        for p in &slot_paths {
            cases.push(bad(
                Method::GET,
                template,
                format!("/v1/slots/{p}/{what}"),
                None,
                "trader",
            ));
        }
    }
    for q in ["depth=0", "depth=100000", "depth=-1", "depth=x", "x=1"] {
        cases.push(bad(
            Method::GET,
            "/v1/slots/{zone}/{slot_start_ms}/book",
            format!("/v1/slots/default/{slot}/book?{q}"),
            None,
            "trader",
        ));
    }
    for q in ["limit=0", "limit=5000", "limit=x"] {
        cases.push(bad(
            Method::GET,
            "/v1/slots/{zone}/{slot_start_ms}/trades",
            format!("/v1/slots/default/{slot}/trades?{q}"),
            None,
            "trader",
        ));
        cases.push(bad(
            Method::GET,
            "/v1/trades",
            format!("/v1/trades?{q}"),
            None,
            "trader",
        ));
        cases.push(bad(
            Method::GET,
            "/v1/orders",
            format!("/v1/orders?{q}"),
            None,
            "trader",
        ));
    }
    for q in ["status=weird", "slot_start_ms=abc", "before=x", "y=1"] {
        cases.push(bad(
            Method::GET,
            "/v1/orders",
            format!("/v1/orders?{q}"),
            None,
            "trader",
        ));
    }
    for q in ["zone=nowhere", "zone=", "x=1"] {
        cases.push(bad(
            Method::GET,
            "/v1/slots",
            format!("/v1/slots?{q}"),
            None,
            "trader",
        ));
    }
    cases.push(bad(Method::GET, "/v1/stream", "/v1/stream", None, "trader"));
    // A ticket that was never issued, an empty one, one in the shape of an API key: refused
    // whoever sends them (the ticket alone decides).
    for (q, who) in [
        ("ticket=smt_00", "none"),
        ("ticket=", "trader"),
        ("ticket=smk_not-a-real-key", "none"),
    ] {
        cases.push(bad(
            Method::GET,
            "/v1/stream",
            format!("/v1/stream?{q}"),
            None,
            who,
        ));
    }
    cases.push(bad(
        Method::GET,
        "/v1/stream",
        "/v1/stream?slot_start_ms=x",
        None,
        "trader",
    ));
    cases.push(bad(
        Method::POST,
        "/v1/accounts",
        "/v1/accounts",
        Some("{".into()),
        "none",
    ));
    cases.push(bad(
        Method::POST,
        "/v1/accounts",
        "/v1/accounts",
        Some(json!({"name": "", "role": "prosumer"}).to_string()),
        "none",
    ));
    cases.push(bad(
        Method::POST,
        "/v1/accounts",
        "/v1/accounts",
        Some(json!({"name": "z", "role": "king"}).to_string()),
        "none",
    ));
    cases.push(bad(
        Method::POST,
        "/v1/keys",
        "/v1/keys",
        Some(json!({"label": 5}).to_string()),
        "trader",
    ));
    cases.push(bad(
        Method::POST,
        "/v1/keys",
        "/v1/keys",
        Some(format!("{{\"label\": \"{}\"}}", "x".repeat(100))),
        "trader",
    ));
    for id in ["abc", "-1", "999999"] {
        cases.push(bad(
            Method::DELETE,
            "/v1/keys/{id}",
            format!("/v1/keys/{id}"),
            None,
            "trader",
        ));
    }
    // An invalid key on every authenticated route.
    // Readings, verification review and the transparency log. (A malformed reading inside a
    // well-formed batch is answered per reading, 200 with `rejected`: see ingest_http.rs.)
    let device = common::public_key(1).device_id().to_hex();
    let huge_batch = format!("{{\"readings\": [{}]}}", vec!["{}"; 300_000].join(","));
    for body in [
        "{",
        "[]",
        "{\"readings\": 5}",
        "{\"readings\": [], \"x\": 1}",
    ] {
        cases.push(bad(
            Method::POST,
            "/v1/readings",
            "/v1/readings",
            Some(body.into()),
            "none",
        ));
    }
    cases.push(bad(
        Method::POST,
        "/v1/readings",
        "/v1/readings",
        Some(huge_batch),
        "none",
    ));
    for (template, uri) in [
        (
            "/v1/devices/{device_id}/readings",
            "/v1/devices/not-hex/readings".to_owned(),
        ),
        (
            "/v1/devices/{device_id}/readings",
            format!("/v1/devices/{device}/readings?limit=-1"),
        ),
        (
            "/v1/devices/{device_id}/energy",
            "/v1/devices/zz/energy".to_owned(),
        ),
        (
            "/v1/devices/{device_id}/gaps",
            "/v1/devices/00/gaps".to_owned(),
        ),
        (
            "/v1/readings/flagged",
            "/v1/readings/flagged?limit=abc".to_owned(),
        ),
        ("/v1/devices", "/v1/devices?limit=0".to_owned()),
        ("/v1/devices", "/v1/devices?limit=abc".to_owned()),
        ("/v1/devices", "/v1/devices?owner=bob".to_owned()),
        (
            "/v1/log/inclusion",
            "/v1/log/inclusion?leaf=abc&size=1".to_owned(),
        ),
        (
            "/v1/log/inclusion",
            "/v1/log/inclusion?leaf=0&size=1".to_owned(),
        ),
        (
            "/v1/log/consistency",
            "/v1/log/consistency?from=-1&to=2".to_owned(),
        ),
        ("/v1/log/leaves", "/v1/log/leaves?from=x&to=1".to_owned()),
        (
            "/v1/reports",
            "/v1/reports?from=yesterday&to=today".to_owned(),
        ),
        (
            "/v1/reports",
            "/v1/reports?from=2026-01-01T00:00:00Z".to_owned(),
        ),
        (
            "/v1/reports/chart.svg",
            "/v1/reports/chart.svg?day=31-12-2026".to_owned(),
        ),
    ] {
        cases.push(bad(Method::GET, template, uri, None, "admin"));
    }
    for body in ["{", "{\"decision\": \"maybe\"}", "{}"] {
        cases.push(bad(
            Method::POST,
            "/v1/devices/{device_id}/readings/{sequence}/review",
            format!("/v1/devices/{device}/readings/1/review"),
            Some(body.into()),
            "admin",
        ));
    }
    cases.push(bad(
        Method::POST,
        "/v1/devices/{device_id}/readings/{sequence}/review",
        format!("/v1/devices/{device}/readings/-3/review"),
        Some("{\"decision\": \"release\"}".into()),
        "admin",
    ));
    cases.push(bad(
        Method::POST,
        "/v1/devices/{device_id}/review/clear",
        "/v1/devices/nothex/review/clear",
        None,
        "admin",
    ));

    let spec: Value = serde_json::from_str(&platform::api::openapi::document_json()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            if op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            }) {
                let uri = path
                    .replace("{id}", &order_id.to_string())
                    .replace("{zone}", "default")
                    .replace("{slot_start_ms}", &slot.to_string());
                let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let template: &'static str = Box::leak(path.clone().into_boxed_str());
                cases.push(bad(
                    m.clone(),
                    template,
                    uri.clone(),
                    Some("{}".into()),
                    "invalid",
                ));
                cases.push(bad(m, template, uri, Some("{}".into()), "none"));
            }
        }
    }

    let before = observe_state(&app, &trader.key, &admin.key, slot).await;
    for case in &cases {
        let mut req = TestRequest::default()
            .method(case.method.clone())
            .uri(&case.uri);
        match case.who {
            "trader" => req = req.insert_header(bearer(&trader.key)),
            "admin" => req = req.insert_header(bearer(&admin.key)),
            "invalid" => req = req.insert_header(bearer("smk_not-a-real-key")),
            _ => {}
        }
        if let Some(body) = &case.body {
            req = req
                .insert_header(("Content-Type", case.content_type))
                .set_payload(body.clone());
        }
        let (status, body) = call(&app, req).await;
        assert!(
            status.is_client_error(),
            "{} {} with {:?}: expected a 4xx, got {status} {body}",
            case.method,
            case.uri,
            case.body.as_deref().map(|b| &b[..b.len().min(120)])
        );
        assert_error_shape(&body);
    }
    let after = observe_state(&app, &trader.key, &admin.key, slot).await;
    assert_eq!(before, after, "bad input changed something");

    // Only the routes that take no input are exempt from the bad-input cases.
    let exercised: BTreeSet<(String, String)> = cases
        .iter()
        .map(|c| (c.method.to_string(), c.template.to_owned()))
        .collect();
    let exempt: BTreeSet<(String, String)> = [
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/v1/log/checkpoint"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    let missing: Vec<_> = documented
        .difference(&exercised)
        .filter(|r| !exempt.contains(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without bad-input cases: {missing:?}"
    );
    println!(
        "bad input: {} cases over {} routes, all 4xx with the error shape",
        cases.len(),
        exercised.len()
    );
}

async fn observe_state<B: actix_web::body::MessageBody>(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    trader: &str,
    admin: &str,
    slot: i64,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (key, uri) in [
        (trader, "/v1/orders".to_owned()),
        (trader, "/v1/balances".to_owned()),
        (trader, "/v1/trades".to_owned()),
        (trader, "/v1/keys".to_owned()),
        (admin, "/v1/keys".to_owned()),
        (trader, format!("/v1/slots/default/{slot}/book")),
    ] {
        let (status, body) =
            call(app, TestRequest::get().uri(&uri).insert_header(bearer(key))).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        let mut body = body;
        if let Some(o) = body.as_object_mut() {
            o.remove("seq");
        }
        out.push(body);
    }
    let (_, engine) = call(
        app,
        TestRequest::get()
            .uri("/v1/admin/engine")
            .insert_header(bearer(admin)),
    )
    .await;
    out.push(json!({"resting": engine["resting_orders"], "books": engine["open_books"]}));
    out
}
