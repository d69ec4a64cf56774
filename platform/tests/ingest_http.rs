//! Ingest over HTTP on both backends (actix test service, real store, the service's clock
//! pinned): `POST /v1/readings` with the corpus of bad readings, whole-request errors, and the
//! readings / energy / gaps / review endpoints with their access rules.

#[path = "support/readings.rs"]
mod chains;
mod common;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::App;
use chains::{Chain, DAWN, FIVE_MIN, MIDNIGHT, NOON};
use common::{new_device, on_each_backend, TestDb};
use platform::api::{self, AppState};
use platform::config::ApiLimits;
use platform::ingest::routes::IngestApi;
use platform::ingest::{IngestConfig, IngestService};
use platform::registry::{KeyHash, Role};
use reading::{ChainHash, SignedReading, SigningKey};
use serde_json::{json, Value};
use utoipa::OpenApi;

/// What the pinned clock says: an hour after midday, so NOON-based chains are recent.
const NOW: i64 = NOON + 3_600_000;

fn pinned_now() -> i64 {
    NOW
}

const OWNER_KEY: &str = "smk_owner";
const OTHER_KEY: &str = "smk_other";
const OPERATOR_KEY: &str = "smk_operator";

/// Accounts with known keys, and devices 1..=5 owned by `alice`.
fn setup(db: &TestDb) -> (AppState, IngestService) {
    let store = db.store();
    for (name, role, key) in [
        ("alice", Role::Prosumer, OWNER_KEY),
        ("bob", Role::Prosumer, OTHER_KEY),
        ("grid", Role::Operator, OPERATOR_KEY),
    ] {
        store
            .create_account_with_key(&name.parse().unwrap(), role, &KeyHash::of(key), NOON)
            .unwrap();
    }
    for seed in 1..=5 {
        store
            .register_device(&new_device(seed, "alice"), NOON)
            .unwrap();
    }
    let state = AppState::new(store.clone(), ApiLimits::default()).unwrap();
    let svc = IngestService::new(store, IngestConfig::default())
        .unwrap()
        .with_clock(pinned_now);
    (state, svc)
}

macro_rules! app {
    ($state:expr, $svc:expr) => {
        test::init_service(
            App::new()
                .configure(|cfg| api::configure(cfg, $state.clone().with_ingest($svc.clone()))),
        )
        .await
    };
}

async fn call<B: actix_web::body::MessageBody>(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    req: TestRequest,
) -> (StatusCode, Value) {
    let response = test::call_service(app, req.to_request()).await;
    let status = response.status();
    let body = test::read_body(response).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn batch(readings: &[SignedReading]) -> Value {
    json!({ "readings": readings.iter().map(|r| serde_json::to_value(r).unwrap()).collect::<Vec<_>>() })
}

fn post(readings: &[SignedReading]) -> TestRequest {
    TestRequest::post()
        .uri("/v1/readings")
        .set_json(batch(readings))
}

fn bearer(key: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {key}"))
}

fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

/// (status, verdict, reasons) of each result.
fn outcomes(body: &Value) -> Vec<(String, String, Vec<String>)> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {body}"))
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["verdict"].as_str().unwrap().to_owned(),
                r["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn one(status: &str, verdict: &str, reasons: &[&str]) -> (String, String, Vec<String>) {
    (
        status.to_owned(),
        verdict.to_owned(),
        reasons.iter().map(|s| (*s).to_owned()).collect(),
    )
}

fn verified_total(body: &Value) -> i64 {
    body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["export_wh"].as_i64().unwrap())
        .sum()
}

fn http_corpus_end_to_end(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let (state, svc) = setup(db);
        let app = app!(state, svc);
        let mut chain = Chain::new(1, NOON);
        let honest = chain.honest(4);
        let (status, body) = call(&app, post(&honest)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(outcomes(&body), vec![one("accepted", "accepted", &[]); 4]);
        assert_eq!(body["results"][0]["sequence"], 1);
        assert_eq!(
            body["results"][0]["device_id"],
            chain.key.device_id().to_hex()
        );
        // Redelivery: idempotent.
        let (_, body) = call(&app, post(&honest)).await;
        assert_eq!(outcomes(&body), vec![one("duplicate", "accepted", &[]); 4]);

        // The corpus, one batch: each reading answered with its reason.
        let mut forged = chain.peek(FIVE_MIN, 100);
        forged.signature[0] ^= 0x80;
        let wrong_key = SignedReading::sign(
            chain.peek(FIVE_MIN, 100).reading,
            &SigningKey::from_seed(&[2; 32]).unwrap(),
        );
        // Far-future timestamp (device 5): 15 minutes ahead of the clock, beyond the 2-minute skew.
        let future = Chain::new(5, NOW + 10 * 60_000).next(FIVE_MIN, 0);
        let replayed = honest[1].clone();
        let five = chain.peek(FIVE_MIN, 100);
        chain.advance(&five);
        let six = chain.next(FIVE_MIN, 100);
        let mut rollback = chain.peek(FIVE_MIN, 0).reading;
        rollback.export_wh -= 1_000;
        let rollback = chain.sign(rollback);
        chain.advance(&rollback);
        let mut broken = chain.peek(FIVE_MIN, 100).reading;
        broken.prev_hash = ChainHash::from_bytes([9; 32]);
        let broken = chain.sign(broken);
        // Reordered across requests: 6 arrives first (a gap is recorded), 5 later. (Within
        // one request readings are taken in sequence order, so a reordered batch is healed.)
        let (_, body) = call(&app, post(&[six])).await;
        assert_eq!(outcomes(&body), vec![one("accepted", "accepted", &[])]);
        let (status, body) = call(
            &app,
            post(&[forged, wrong_key, future, replayed, five, rollback, broken]),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            outcomes(&body),
            vec![
                one("rejected", "rejected", &["bad_signature"]),
                one("rejected", "rejected", &["bad_signature"]),
                one("rejected", "rejected", &["future_timestamp"]),
                one("duplicate", "accepted", &[]),
                one("rejected", "rejected", &["out_of_order"]),
                one("accepted", "flagged", &["counter_rollback"]),
                one("rejected", "rejected", &["broken_chain"]),
            ]
        );
        assert_eq!(body["results"][0]["reason"], "bad_signature");
        assert!(body["results"][3].get("reason").is_none());

        // Revoked device, production at night, above clear sky: devices 2, 3, 4.
        db.store()
            .revoke_device(&SigningKey::from_seed(&[2; 32]).unwrap().device_id(), NOON)
            .unwrap();
        let mut revoked = Chain::new(2, NOON);
        let (_, body) = call(&app, post(&[revoked.next(FIVE_MIN, 0)])).await;
        assert_eq!(
            outcomes(&body),
            vec![one("rejected", "rejected", &["revoked_device"])]
        );
        let mut night = Chain::new(3, MIDNIGHT);
        let n = [night.next(FIVE_MIN, 0), night.next(15 * 60_000, 400)];
        let (_, body) = call(&app, post(&n)).await;
        assert_eq!(
            outcomes(&body)[1],
            one("rejected", "rejected", &["production_at_night"])
        );
        let mut dawn = Chain::new(4, DAWN);
        let d = [dawn.next(FIVE_MIN, 0), dawn.next(15 * 60_000, 1_000)];
        let (_, body) = call(&app, post(&d)).await;
        assert_eq!(
            outcomes(&body)[1],
            one("accepted", "flagged", &["above_clear_sky"])
        );

        // Nothing bad counts: device 1's verified energy is the honest readings' only
        // (3 × 100 Wh after the first, then 200 Wh for reading 5).
        let energy = |id: String| {
            TestRequest::get()
                .uri(&format!(
                    "/v1/devices/{id}/energy?from_ms={}&to_ms={}",
                    NOON - 86_400_000,
                    NOW + 86_400_000
                ))
                .insert_header(bearer(OWNER_KEY))
        };
        let (status, body) = call(&app, energy(chain.key.device_id().to_hex())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(verified_total(&body), 500);
        for (seed, chain) in [(3u8, &night), (4, &dawn)] {
            let (_, body) = call(&app, energy(chain.key.device_id().to_hex())).await;
            assert_eq!(verified_total(&body), 0, "device {seed}");
        }
        let (_, readings) = call(
            &app,
            TestRequest::get()
                .uri(&format!("/v1/devices/{}/readings", chain.key.device_id()))
                .insert_header(bearer(OWNER_KEY)),
        )
        .await;
        let listed: Vec<(i64, String, Vec<Value>)> = readings["readings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["sequence"].as_i64().unwrap(),
                    r["verdict"].as_str().unwrap().to_owned(),
                    r["reasons"].as_array().unwrap().clone(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            vec![
                (1, "accepted".into(), vec![]),
                (2, "accepted".into(), vec![]),
                (3, "accepted".into(), vec![]),
                (4, "accepted".into(), vec![]),
                (6, "accepted".into(), vec![]),
                (7, "flagged".into(), vec![json!("counter_rollback")]),
            ]
        );
        let (_, gaps) = call(
            &app,
            TestRequest::get()
                .uri(&format!("/v1/devices/{}/gaps", chain.key.device_id()))
                .insert_header(bearer(OWNER_KEY)),
        )
        .await;
        assert_eq!(gaps[0]["from_seq"], 5);
        assert_eq!(gaps[0]["to_seq"], 5);
    });
}

fn whole_request_errors(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let (state, svc) = setup(db);
        let app = app!(state, svc);
        let mut chain = Chain::new(1, NOON);
        let r = chain.next(FIVE_MIN, 0);

        // Malformed JSON (truncated), wrong shape, wrong media type.
        let text = batch(std::slice::from_ref(&r)).to_string();
        for body in [&text[..text.len() - 5], "[]", ""] {
            let (status, json) = call(
                &app,
                TestRequest::post()
                    .uri("/v1/readings")
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload(body.to_owned()),
            )
            .await;
            assert_error(status, &json, StatusCode::BAD_REQUEST, "invalid_json");
        }
        let (status, json) = call(
            &app,
            TestRequest::post()
                .uri("/v1/readings")
                .insert_header(("Content-Type", "text/plain"))
                .set_payload(text.clone()),
        )
        .await;
        assert_error(
            status,
            &json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
        // Truncated wire bytes.
        let wire = r.to_wire();
        let (status, json) = call(
            &app,
            TestRequest::post()
                .uri("/v1/readings")
                .insert_header(("Content-Type", "application/octet-stream"))
                .set_payload(wire[..150].to_vec()),
        )
        .await;
        assert_error(status, &json, StatusCode::BAD_REQUEST, "truncated");
        // A huge batch, and a body over 1 MiB.
        let many = vec![r.clone(); 1_001];
        let (status, json) = call(&app, post(&many)).await;
        assert_error(
            status,
            &json,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_readings",
        );
        let (status, json) = call(
            &app,
            TestRequest::post()
                .uri("/v1/readings")
                .insert_header(("Content-Type", "application/json"))
                .set_payload(vec![b' '; 2 << 20]),
        )
        .await;
        assert_error(
            status,
            &json,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        );
        // None of it stored anything.
        assert!(db.store().reading_counts().unwrap().is_empty());

        // The wire form works, and a malformed item is rejected alone.
        let (status, body) = call(
            &app,
            TestRequest::post()
                .uri("/v1/readings")
                .insert_header(("Content-Type", "application/octet-stream"))
                .set_payload(wire.to_vec()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(outcomes(&body), vec![one("accepted", "accepted", &[])]);
        let next = chain.next(FIVE_MIN, 0);
        let mut mixed = batch(&[next]);
        mixed["readings"]
            .as_array_mut()
            .unwrap()
            .push(json!({"device_id": "zz", "sequence": 3}));
        let (_, body) = call(
            &app,
            TestRequest::post().uri("/v1/readings").set_json(mixed),
        )
        .await;
        assert_eq!(
            outcomes(&body),
            vec![
                one("accepted", "accepted", &[]),
                one("rejected", "rejected", &["malformed"])
            ]
        );
    });
}

fn access_rules_and_operator_review(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let (state, svc) = setup(db);
        let app = app!(state, svc);
        let mut dawn = Chain::new(4, DAWN);
        let d = [
            dawn.next(FIVE_MIN, 0),
            dawn.next(15 * 60_000, 1_000),
            dawn.next(15 * 60_000, 1_000),
        ];
        let (_, body) = call(&app, post(&d)).await;
        assert_eq!(outcomes(&body)[1].1, "flagged");
        let id = dawn.key.device_id().to_hex();
        let get = |uri: String, key: Option<&str>| {
            let req = TestRequest::get().uri(&uri);
            match key {
                Some(k) => req.insert_header(bearer(k)),
                None => req,
            }
        };
        let readings = format!("/v1/devices/{id}/readings");
        // No key: 401. Someone else's device: 404. Owner and operator: 200.
        let (status, body) = call(&app, get(readings.clone(), None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let (status, body) = call(&app, get(readings.clone(), Some(OTHER_KEY))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        for key in [OWNER_KEY, OPERATOR_KEY] {
            let (status, body) = call(&app, get(readings.clone(), Some(key))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["readings"].as_array().unwrap().len(), 3);
        }
        // Paging.
        let (_, page) = call(&app, get(format!("{readings}?limit=2"), Some(OWNER_KEY))).await;
        assert_eq!(page["next_after"], 2);
        let (_, page) = call(
            &app,
            get(format!("{readings}?after=2&limit=2"), Some(OWNER_KEY)),
        )
        .await;
        assert_eq!(page["readings"][0]["sequence"], 3);
        assert!(page["next_after"].is_null());
        // Bad input.
        let (status, body) = call(
            &app,
            get("/v1/devices/xyz/readings".into(), Some(OWNER_KEY)),
        )
        .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_input");
        let (status, body) = call(
            &app,
            get(
                format!("/v1/devices/{id}/energy?from_ms=10&to_ms=5"),
                Some(OWNER_KEY),
            ),
        )
        .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_input");

        // The flagged list and decisions: operators only.
        let (status, body) = call(&app, get("/v1/readings/flagged".into(), Some(OWNER_KEY))).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        let (status, flagged) =
            call(&app, get("/v1/readings/flagged".into(), Some(OPERATOR_KEY))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(flagged.as_array().unwrap().len(), 2);
        assert_eq!(flagged[0]["reasons"], json!(["above_clear_sky"]));
        let review = |seq: u64, decision: &str, key: &str| {
            TestRequest::post()
                .uri(&format!("/v1/devices/{id}/readings/{seq}/review"))
                .insert_header(bearer(key))
                .set_json(json!({ "decision": decision }))
        };
        let (status, body) = call(&app, review(2, "release", OWNER_KEY)).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        let (status, body) = call(&app, review(2, "release", OPERATOR_KEY)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["verdict"], "accepted");
        assert_eq!(body["decided_by"], "grid");
        let (_, body) = call(&app, review(3, "reject", OPERATOR_KEY)).await;
        assert_eq!(body["verdict"], "rejected");
        assert_eq!(
            body["reasons"],
            json!(["operator_rejected", "above_clear_sky"])
        );
        let (status, body) = call(&app, review(3, "release", OPERATOR_KEY)).await;
        assert_error(status, &body, StatusCode::CONFLICT, "not_flagged");
        let (status, body) = call(&app, review(42, "release", OPERATOR_KEY)).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = call(&app, review(2, "maybe", OPERATOR_KEY)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        // Released energy counts; rejected does not.
        let (_, energy) = call(
            &app,
            get(
                format!(
                    "/v1/devices/{id}/energy?from_ms={}&to_ms={}",
                    DAWN - 86_400_000,
                    DAWN + 86_400_000
                ),
                Some(OWNER_KEY),
            ),
        )
        .await;
        assert_eq!(verified_total(&energy), 1_000);
        assert_eq!(energy["slot_ms"], 900_000);
        // Clearing a review that is not there.
        let (status, body) = call(
            &app,
            TestRequest::post()
                .uri(&format!("/v1/devices/{id}/review/clear"))
                .insert_header(bearer(OPERATOR_KEY)),
        )
        .await;
        assert_error(status, &body, StatusCode::CONFLICT, "not_under_review");
    });
}

on_each_backend!(
    http_corpus_end_to_end,
    whole_request_errors,
    access_rules_and_operator_review,
);

#[test]
fn openapi_lists_the_ingest_endpoints() {
    let doc = IngestApi::openapi();
    let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
    for p in [
        "/v1/readings",
        "/v1/readings/flagged",
        "/v1/devices/{device_id}/readings",
        "/v1/devices/{device_id}/energy",
        "/v1/devices/{device_id}/gaps",
        "/v1/devices/{device_id}/readings/{sequence}/review",
        "/v1/devices/{device_id}/review/clear",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    let json = doc.to_json().unwrap();
    assert!(json.contains("ReadingResult"));
}
