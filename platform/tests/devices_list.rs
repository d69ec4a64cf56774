//! `GET /v1/devices`: owners see their own devices, operators and admins see all of them, with
//! their status and review state.

mod common;
mod trading_support;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use common::{on_each_backend, public_key, TestDb};
use platform::api;
use platform::registry::Role;
use serde_json::Value;
use trading_support::{bearer, call, Exchange};

fn ids(body: &Value) -> Vec<String> {
    body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_id"].as_str().unwrap().to_owned())
        .collect()
}

fn owners_see_their_devices_and_operators_see_all(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let ex = Exchange::start(db);
        let sol = ex.account("sol", Role::Prosumer);
        let bea = ex.account("bea", Role::Consumer);
        let ops = ex.account("ops", Role::Operator);
        ex.device(1, "sol", 4_000);
        ex.device(2, "sol", 3_000);
        ex.device(3, "bea", 1_000);
        ex.store
            .revoke_device(&public_key(2).device_id(), common::T0 + 1)
            .unwrap();
        let app = test::init_service(api::app(ex.state())).await;
        let list = |key: &str, uri: &str| TestRequest::get().uri(uri).insert_header(bearer(key));
        let hex = |seed: u8| public_key(seed).device_id().to_hex();

        let (status, body) = call(&app, list(&sol.key, "/v1/devices")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(ids(&body), vec![hex(1), hex(2)]);
        let devices = body["devices"].as_array().unwrap();
        assert_eq!(devices[0]["status"], "active");
        assert_eq!(devices[0]["nameplate_w"], 4_000);
        assert_eq!(devices[0]["owner"], "sol");
        assert_eq!(devices[0]["zone"], "default");
        assert!(devices[0]["review_reason"].is_null());
        assert_eq!(devices[1]["status"], "revoked");
        assert_eq!(devices[1]["revoked_at_ms"], common::T0 + 1);

        let (_, body) = call(&app, list(&bea.key, "/v1/devices")).await;
        assert_eq!(ids(&body), vec![hex(3)]);
        let (_, body) = call(&app, list(&ops.key, "/v1/devices")).await;
        assert_eq!(ids(&body), vec![hex(1), hex(2), hex(3)]);
        let (_, body) = call(&app, list(&ops.key, "/v1/devices?limit=2")).await;
        assert_eq!(ids(&body), vec![hex(1), hex(2)]);
        let (status, _) = call(&app, TestRequest::get().uri("/v1/devices")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    });
}

on_each_backend!(owners_see_their_devices_and_operators_see_all);
