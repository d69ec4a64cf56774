//! Every route of the OpenAPI document × every role (and no key): the allowed set is exactly
//! the table below, and nobody reads or changes another account's orders or keys.
//!
//! The table is checked against `openapi::document()`: a new route without a row fails here.

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

const ALL: &[Role] = &[Role::Prosumer, Role::Consumer, Role::Operator, Role::Admin];
const TRADERS: &[Role] = &[Role::Prosumer, Role::Consumer];
const PROSUMER: &[Role] = &[Role::Prosumer];
const OPS: &[Role] = &[Role::Operator, Role::Admin];
const ADMIN: &[Role] = &[Role::Admin];

struct Row {
    method: Method,
    /// The path as the OpenAPI document spells it.
    template: &'static str,
    uri: String,
    body: Option<Value>,
    /// Roles that get past authorization. `None`: the route needs no key at all.
    allowed: Option<&'static [Role]>,
    /// For allowed roles: the status expected (the resource is someone else's → 404, etc.).
    /// For a route without a key, the status expected of a keyless call.
    expect: Option<StatusCode>,
    /// Allowed roles whose answer differs from `expect` (e.g. a device's readings: the owner
    /// and operators see them, other prosumers and consumers get 404).
    per_role: &'static [(Role, StatusCode)],
}

impl Row {
    fn per_role(self, per_role: &'static [(Role, StatusCode)]) -> Row {
        Row { per_role, ..self }
    }
}

/// Someone else's device: other traders are told it does not exist.
const NOT_YOURS: &[(Role, StatusCode)] = &[
    (Role::Prosumer, StatusCode::NOT_FOUND),
    (Role::Consumer, StatusCode::NOT_FOUND),
];

fn row(
    method: Method,
    template: &'static str,
    uri: impl Into<String>,
    body: Option<Value>,
    allowed: Option<&'static [Role]>,
    expect: Option<StatusCode>,
) -> Row {
    Row {
        method,
        template,
        uri: uri.into(),
        body,
        allowed,
        expect,
        per_role: &[],
    }
}

#[actix_web::test]
async fn every_route_admits_exactly_its_roles_and_only_the_owner() {
    let db = TestDb::sqlite();
    let ex = Exchange::start(&db);
    let slot = ex.slot();
    let admin = ex.account("admin", Role::Admin);
    let victim = ex.account("victim", Role::Prosumer);
    ex.device(9, "victim", 4000);
    let app = test::init_service(api::app(ex.state())).await;

    let mut keys = Vec::new();
    for (i, role) in ALL.iter().enumerate() {
        let account = ex.account(&format!("role-{i}"), *role);
        if *role == Role::Prosumer {
            ex.device(i as u8 + 1, &format!("role-{i}"), 4000);
        }
        let (status, _) = call(
            &app,
            TestRequest::post()
                .uri("/v1/admin/deposits")
                .insert_header(bearer(&admin.key))
                .set_json(json!({"account_id": account.id, "amount_micro": 100_000_000})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        keys.push((*role, account));
    }
    // The victim's resting order and key: nobody else may see or touch them.
    let (status, placed) = call(
        &app,
        TestRequest::post()
            .uri("/v1/orders")
            .insert_header(bearer(&victim.key))
            .set_json(
                json!({"client_order_id": 1, "zone": "default", "slot_start_ms": slot,
                "side": "sell", "type": "limit", "price_micro_per_kwh": 900_000, "qty_wh": 10}),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let victim_order = placed["order"]["order_id"].as_i64().unwrap();
    let (_, victim_keys) = call(
        &app,
        TestRequest::get()
            .uri("/v1/keys")
            .insert_header(bearer(&victim.key)),
    )
    .await;
    let victim_key = victim_keys[0]["id"].as_i64().unwrap();

    let order_body = |side: &str| {
        json!({"client_order_id": if side == "buy" { 77 } else { 78 }, "zone": "default", "slot_start_ms": slot, "side": side,
               "type": "post_only", "price_micro_per_kwh": if side == "buy" { 100 } else { 800_000 },
               "qty_wh": 1})
    };
    let book = |what: &str| format!("/v1/slots/default/{slot}/{what}");
    let nf = Some(StatusCode::NOT_FOUND);
    let device = common::public_key(9).device_id().to_hex();
    let dev = |what: &str| format!("/v1/devices/{device}/{what}");
    let bad = Some(StatusCode::BAD_REQUEST);
    let rows = vec![
        // Readings: the signature authenticates, so no key.
        row(
            Method::POST,
            "/v1/readings",
            "/v1/readings",
            Some(json!({"readings": []})),
            None,
            None,
        ),
        row(
            Method::GET,
            "/v1/devices/{device_id}/readings",
            dev("readings"),
            None,
            Some(ALL),
            None,
        )
        .per_role(NOT_YOURS),
        row(
            Method::GET,
            "/v1/devices/{device_id}/energy",
            dev("energy?from_ms=0&to_ms=86400000"),
            None,
            Some(ALL),
            None,
        )
        .per_role(NOT_YOURS),
        row(
            Method::GET,
            "/v1/devices/{device_id}/gaps",
            dev("gaps"),
            None,
            Some(ALL),
            None,
        )
        .per_role(NOT_YOURS),
        // Everyone may list; what each sees (own devices or all) is tested in devices_list.rs.
        row(
            Method::GET,
            "/v1/devices",
            "/v1/devices",
            None,
            Some(ALL),
            None,
        ),
        row(
            Method::GET,
            "/v1/readings/flagged",
            "/v1/readings/flagged",
            None,
            Some(OPS),
            None,
        ),
        row(
            Method::POST,
            "/v1/devices/{device_id}/readings/{sequence}/review",
            dev("readings/1/review"),
            Some(json!({"decision": "release"})),
            Some(OPS),
            nf,
        ),
        row(
            Method::POST,
            "/v1/devices/{device_id}/review/clear",
            dev("review/clear"),
            None,
            Some(OPS),
            Some(StatusCode::CONFLICT),
        ),
        // The transparency log is public: anyone may audit it. Nothing is settled yet here.
        row(
            Method::GET,
            "/v1/log/checkpoint",
            "/v1/log/checkpoint",
            None,
            None,
            nf,
        ),
        row(
            Method::GET,
            "/v1/log/inclusion",
            "/v1/log/inclusion?leaf=0&size=1",
            None,
            None,
            bad,
        ),
        row(
            Method::GET,
            "/v1/log/consistency",
            "/v1/log/consistency?from=1&to=2",
            None,
            None,
            bad,
        ),
        row(
            Method::GET,
            "/v1/log/leaves",
            "/v1/log/leaves?from=0&to=0",
            None,
            None,
            None,
        ),
        row(
            Method::GET,
            "/v1/reports",
            "/v1/reports?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
            None,
            Some(OPS),
            None,
        ),
        row(
            Method::GET,
            "/v1/reports/chart.svg",
            "/v1/reports/chart.svg?day=2026-01-01",
            None,
            Some(OPS),
            None,
        ),
        row(
            Method::GET,
            "/v1/ledger/balances",
            "/v1/ledger/balances",
            None,
            Some(ALL),
            None,
        ),
        row(Method::GET, "/healthz", "/healthz", None, None, None),
        row(Method::GET, "/readyz", "/readyz", None, None, None),
        row(Method::GET, "/metrics", "/metrics", None, None, None),
        row(
            Method::POST,
            "/v1/accounts",
            "/v1/accounts",
            Some(json!({"name": "x", "role": "consumer"})),
            None,
            None,
        ),
        row(Method::GET, "/v1/me", "/v1/me", None, Some(ALL), None),
        row(Method::GET, "/v1/keys", "/v1/keys", None, Some(ALL), None),
        row(
            Method::POST,
            "/v1/keys",
            "/v1/keys",
            Some(json!({"label": "k"})),
            Some(ALL),
            None,
        ),
        row(
            Method::DELETE,
            "/v1/keys/{id}",
            format!("/v1/keys/{victim_key}"),
            None,
            Some(ALL),
            nf,
        ),
        row(Method::GET, "/v1/slots", "/v1/slots", None, Some(ALL), None),
        row(
            Method::GET,
            "/v1/slots/{zone}/{slot_start_ms}/book",
            book("book"),
            None,
            Some(ALL),
            None,
        ),
        row(
            Method::GET,
            "/v1/slots/{zone}/{slot_start_ms}/trades",
            book("trades"),
            None,
            Some(ALL),
            None,
        ),
        row(
            Method::GET,
            "/v1/slots/{zone}/{slot_start_ms}/stats",
            book("stats"),
            None,
            Some(ALL),
            None,
        ),
        row(
            Method::POST,
            "/v1/orders",
            "/v1/orders",
            Some(order_body("buy")),
            Some(TRADERS),
            None,
        ),
        row(
            Method::POST,
            "/v1/orders",
            "/v1/orders",
            Some(order_body("sell")),
            Some(PROSUMER),
            None,
        ),
        row(
            Method::GET,
            "/v1/orders",
            "/v1/orders",
            None,
            Some(TRADERS),
            None,
        ),
        row(
            Method::GET,
            "/v1/orders/{id}",
            format!("/v1/orders/{victim_order}"),
            None,
            Some(TRADERS),
            nf,
        ),
        row(
            Method::DELETE,
            "/v1/orders/{id}",
            format!("/v1/orders/{victim_order}"),
            None,
            Some(TRADERS),
            nf,
        ),
        row(
            Method::PATCH,
            "/v1/orders/{id}",
            format!("/v1/orders/{victim_order}"),
            Some(json!({"qty_wh": 5, "price_micro_per_kwh": 900_000})),
            Some(TRADERS),
            nf,
        ),
        row(
            Method::GET,
            "/v1/trades",
            "/v1/trades",
            None,
            Some(TRADERS),
            None,
        ),
        row(
            Method::GET,
            "/v1/balances",
            "/v1/balances",
            None,
            Some(TRADERS),
            None,
        ),
        row(
            Method::POST,
            "/v1/admin/deposits",
            "/v1/admin/deposits",
            Some(json!({"account_id": victim.id, "amount_micro": 1})),
            Some(ADMIN),
            None,
        ),
        row(
            Method::GET,
            "/v1/admin/engine",
            "/v1/admin/engine",
            None,
            Some(OPS),
            None,
        ),
        // Without an upgrade this is a 400 for allowed roles; authorization comes first.
        row(
            Method::GET,
            "/v1/stream",
            "/v1/stream",
            None,
            Some(ALL),
            Some(StatusCode::BAD_REQUEST),
        ),
        row(
            Method::POST,
            "/v1/stream/tickets",
            "/v1/stream/tickets",
            None,
            Some(ALL),
            None,
        ),
    ];

    // Every documented operation has a row, and every row is a documented operation.
    let spec: Value = serde_json::from_str(&platform::api::openapi::document_json()).unwrap();
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let covered: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.template.to_owned()))
        .collect();
    assert_eq!(
        covered, documented,
        "the matrix must have a row for every documented route"
    );

    let mut checked = 0;
    let mut signups = 0;
    for r in &rows {
        let mut request = |key: Option<&str>| {
            let mut req = TestRequest::default().method(r.method.clone()).uri(&r.uri);
            if let Some(key) = key {
                req = req.insert_header(bearer(key));
            }
            if let Some(body) = &r.body {
                let mut body = body.clone();
                if r.template == "/v1/accounts" {
                    // Account names are unique: one per call.
                    signups += 1;
                    body["name"] = json!(format!("signup-{signups}"));
                }
                req = req.set_json(body);
            }
            req
        };
        // No key.
        let (status, body) = call(&app, request(None)).await;
        match r.allowed {
            None => match r.expect {
                Some(expected) => assert_eq!(
                    status, expected,
                    "{} {} without a key: {body}",
                    r.method, r.uri
                ),
                None => assert!(
                    status.is_success(),
                    "{} {} without a key: {status} {body}",
                    r.method,
                    r.uri
                ),
            },
            Some(_) => {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{} {} without a key",
                    r.method,
                    r.uri
                );
                assert_error_shape(&body);
            }
        }
        for (role, account) in &keys {
            let (status, body) = call(&app, request(Some(&account.key))).await;
            let allowed = r.allowed.is_none_or(|a| a.contains(role));
            let special = r.per_role.iter().find(|(who, _)| who == role);
            if let Some((_, expected)) = special {
                assert_eq!(status, *expected, "{role:?} {} {}: {body}", r.method, r.uri);
            } else if allowed {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{role:?} must be admitted to {} {}: {status} {body}",
                    r.method,
                    r.uri
                );
                match r.expect {
                    Some(expected) => {
                        assert_eq!(status, expected, "{role:?} {} {}: {body}", r.method, r.uri)
                    }
                    None => assert!(
                        status.is_success(),
                        "{role:?} {} {}: {status} {body}",
                        r.method,
                        r.uri
                    ),
                }
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role:?} must be refused {} {}: {body}",
                    r.method,
                    r.uri
                );
                assert_error_shape(&body);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, rows.len() * ALL.len());

    // The victim's order and key are untouched.
    let (status, order) = call(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/orders/{victim_order}"))
            .insert_header(bearer(&victim.key)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["status"], "open");
    assert_eq!(order["remaining_wh"], 10);
    let (_, keys_after) = call(
        &app,
        TestRequest::get()
            .uri("/v1/keys")
            .insert_header(bearer(&victim.key)),
    )
    .await;
    assert!(keys_after[0]["revoked_at_ms"].is_null());
}
