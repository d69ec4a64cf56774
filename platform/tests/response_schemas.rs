//! Every documented response shape is what the server sends: real responses of the account and
//! trading endpoints (successes and errors) are validated against the schema the OpenAPI
//! document gives for that operation and status, with $refs resolved. The validator is strict
//! about object properties: a field the document does not list is a failure.

mod common;
mod trading_support;

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use common::TestDb;
use platform::api;
use platform::registry::Role;
use serde_json::{json, Value};
use trading_support::{bearer, Exchange};

/// Validates `value` against `schema` (the subset utoipa emits); returns the first problem.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: unresolvable $ref {r}"));
        }
        return validate(doc, target, value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let ok = options
                .iter()
                .filter(|s| validate(doc, s, value, at).is_ok())
                .count();
            let good = if key == "oneOf" { ok == 1 } else { ok >= 1 };
            if !good {
                return Err(format!(
                    "{at}: {ok} of the {key} alternatives match {value}"
                ));
            }
            return Ok(());
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        // Merge the parts' properties so strictness applies to the whole object.
        let mut merged = json!({"type": "object", "properties": {}, "required": []});
        for part in all {
            let part = match part.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")]
                }
                None => part,
            };
            if let Some(p) = part.get("properties").and_then(Value::as_object) {
                for (k, v) in p {
                    merged["properties"][k] = v.clone();
                }
            }
            if let Some(r) = part.get("required").and_then(Value::as_array) {
                merged["required"]
                    .as_array_mut()
                    .unwrap()
                    .extend(r.iter().cloned());
            }
        }
        return validate(doc, &merged, value, at);
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            return Err(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() {
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !fits {
            return Err(format!("{at}: {actual} where the schema says {types:?}"));
        }
    }
    if let (Some(items), Value::Array(values)) = (schema.get("items"), value) {
        for (i, v) in values.iter().enumerate() {
            validate(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    if let Value::Object(fields) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(r) {
                    return Err(format!("{at}: required field {r} missing"));
                }
            }
        }
        if let Some(properties) = properties {
            for (k, v) in fields {
                let Some(s) = properties.get(k) else {
                    return Err(format!("{at}: field {k} is not in the documented schema"));
                };
                validate(doc, s, v, &format!("{at}.{k}"))?;
            }
        }
    }
    Ok(())
}

#[actix_web::test]
async fn responses_match_the_documented_schemas() {
    let doc: Value = serde_json::from_str(&platform::api::openapi::document_json()).unwrap();
    let db = TestDb::sqlite();
    let ex = Exchange::start(&db);
    let slot = ex.slot();
    let admin = ex.account("admin", Role::Admin);
    let seller = ex.account("seller", Role::Prosumer);
    let buyer = ex.account("buyer", Role::Consumer);
    let operator = ex.account("ops", Role::Operator);
    ex.device(1, "seller", 4000);
    let app = test::init_service(api::app(ex.state())).await;

    let order = |cid: u64, side: &str, price: i64, qty: u64| {
        json!({"client_order_id": cid, "zone": "default", "slot_start_ms": slot, "side": side,
               "type": "limit", "price_micro_per_kwh": price, "qty_wh": qty})
    };
    let steps: Vec<(Method, &str, String, Option<Value>, &str)> = vec![
        (
            Method::POST,
            "/v1/accounts",
            "/v1/accounts".into(),
            Some(json!({"name": "new", "role": "consumer"})),
            "",
        ),
        (
            Method::POST,
            "/v1/accounts",
            "/v1/accounts".into(),
            Some(json!({"name": "new", "role": "consumer"})),
            "",
        ),
        (Method::GET, "/v1/me", "/v1/me".into(), None, &buyer.key),
        (Method::GET, "/v1/keys", "/v1/keys".into(), None, &buyer.key),
        (
            Method::POST,
            "/v1/keys",
            "/v1/keys".into(),
            Some(json!({"label": "x"})),
            &buyer.key,
        ),
        (
            Method::DELETE,
            "/v1/keys/{id}",
            "/v1/keys/999999".into(),
            None,
            &buyer.key,
        ),
        (
            Method::POST,
            "/v1/admin/deposits",
            "/v1/admin/deposits".into(),
            Some(json!({"account_id": buyer.id, "amount_micro": 10_000_000})),
            &admin.key,
        ),
        (
            Method::POST,
            "/v1/admin/deposits",
            "/v1/admin/deposits".into(),
            Some(json!({"account_id": buyer.id, "amount_micro": 0})),
            &admin.key,
        ),
        (
            Method::POST,
            "/v1/orders",
            "/v1/orders".into(),
            Some(order(1, "sell", 300_000, 500)),
            &seller.key,
        ),
        (
            Method::POST,
            "/v1/orders",
            "/v1/orders".into(),
            Some(order(1, "sell", 300_000, 500)),
            &seller.key,
        ),
        (
            Method::POST,
            "/v1/orders",
            "/v1/orders".into(),
            Some(order(2, "buy", 300_000, 200)),
            &buyer.key,
        ),
        (
            Method::POST,
            "/v1/orders",
            "/v1/orders".into(),
            Some(order(3, "buy", 100_000, 200)),
            &buyer.key,
        ),
        (
            Method::POST,
            "/v1/orders",
            "/v1/orders".into(),
            Some(order(4, "sell", 300_000, 200)),
            &buyer.key,
        ),
        (
            Method::POST,
            "/v1/orders",
            "/v1/orders".into(),
            Some(order(5, "buy", 1_000_000, 1_000_000)),
            &buyer.key,
        ),
        (
            Method::POST,
            "/v1/orders",
            "/v1/orders".into(),
            Some(json!({"oops": 1})),
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/orders",
            "/v1/orders".into(),
            None,
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/orders/{id}",
            "/v1/orders/1".into(),
            None,
            &seller.key,
        ),
        (
            Method::GET,
            "/v1/orders/{id}",
            "/v1/orders/1".into(),
            None,
            &buyer.key,
        ),
        (
            Method::PATCH,
            "/v1/orders/{id}",
            "/v1/orders/3".into(),
            Some(json!({"qty_wh": 100, "price_micro_per_kwh": 100_000})),
            &buyer.key,
        ),
        (
            Method::PATCH,
            "/v1/orders/{id}",
            "/v1/orders/3".into(),
            Some(json!({"qty_wh": 100, "price_micro_per_kwh": 100_000})),
            &buyer.key,
        ),
        (
            Method::DELETE,
            "/v1/orders/{id}",
            "/v1/orders/3".into(),
            None,
            &buyer.key,
        ),
        (
            Method::DELETE,
            "/v1/orders/{id}",
            "/v1/orders/3".into(),
            None,
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/trades",
            "/v1/trades".into(),
            None,
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/trades",
            "/v1/trades".into(),
            None,
            &operator.key,
        ),
        (
            Method::GET,
            "/v1/balances",
            "/v1/balances".into(),
            None,
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/slots",
            "/v1/slots".into(),
            None,
            &operator.key,
        ),
        (
            Method::GET,
            "/v1/slots",
            "/v1/slots?zone=nowhere".into(),
            None,
            &operator.key,
        ),
        (
            Method::GET,
            "/v1/slots/{zone}/{slot_start_ms}/book",
            format!("/v1/slots/default/{slot}/book"),
            None,
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/slots/{zone}/{slot_start_ms}/trades",
            format!("/v1/slots/default/{slot}/trades"),
            None,
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/slots/{zone}/{slot_start_ms}/stats",
            format!("/v1/slots/default/{slot}/stats"),
            None,
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/slots/{zone}/{slot_start_ms}/stats",
            format!("/v1/slots/default/{}/stats", slot + 1),
            None,
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/admin/engine",
            "/v1/admin/engine".into(),
            None,
            &operator.key,
        ),
        (
            Method::GET,
            "/v1/admin/engine",
            "/v1/admin/engine".into(),
            None,
            "",
        ),
        (
            Method::GET,
            "/v1/stream",
            "/v1/stream".into(),
            None,
            &buyer.key,
        ),
        (
            Method::POST,
            "/v1/stream/tickets",
            "/v1/stream/tickets".into(),
            None,
            &buyer.key,
        ),
        (
            Method::GET,
            "/v1/stream",
            "/v1/stream?ticket=smt_unknown".into(),
            None,
            "",
        ),
        (Method::GET, "/healthz", "/healthz".into(), None, ""),
    ];
    let mut seen = BTreeSet::new();
    for (method, template, uri, body, key) in steps {
        let mut req = TestRequest::default().method(method.clone()).uri(&uri);
        if !key.is_empty() {
            req = req.insert_header(bearer(key));
        }
        if let Some(body) = body {
            req = req.set_json(body);
        }
        let response = test::call_service(&app, req.to_request()).await;
        let status = response.status();
        let bytes = test::read_body(response).await;
        let value: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {uri}: {status} body is not JSON ({e})"));
        let operation = &doc["paths"][template][method.as_str().to_lowercase()];
        let documented = &operation["responses"][status.as_str()];
        assert!(
            !documented.is_null(),
            "{method} {uri}: status {status} is not documented (body {value})"
        );
        let schema = &documented["content"]["application/json"]["schema"];
        assert!(
            !schema.is_null(),
            "{method} {uri} {status}: no JSON schema documented"
        );
        if let Err(problem) = validate(&doc, schema, &value, "body") {
            panic!("{method} {uri} {status}: {problem}\nbody: {value}");
        }
        seen.insert((method.to_string(), template, status.as_u16()));
    }
    // Successes and errors of every trading operation were among them.
    assert!(seen.len() >= 30, "{seen:?}");
    assert!(seen.contains(&("POST".into(), "/v1/orders", StatusCode::OK.as_u16())));
    assert!(seen.contains(&("POST".into(), "/v1/orders", StatusCode::CREATED.as_u16())));

    // The validator itself refuses what it should.
    let order_view = json!({"$ref": "#/components/schemas/OrderView"});
    assert!(validate(&doc, &order_view, &json!({"order_id": 1}), "x").is_err());
    let error = json!({"$ref": "#/components/schemas/ErrorBody"});
    assert!(validate(
        &doc,
        &error,
        &json!({"error": {"code": "a", "message": "b", "extra": 1}}),
        "x"
    )
    .is_err());
    assert!(validate(
        &doc,
        &error,
        &json!({"error": {"code": 5, "message": "b"}}),
        "x"
    )
    .is_err());
}
