//! The API skeleton over real HTTP semantics (actix test service, real store): sign-up, keys,
//! rotation and revocation, the error shape on bad input, health and metrics.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use common::TestDb;
use platform::api::{self, AppState};
use platform::config::ApiLimits;
use serde_json::{json, Value};

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
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, value)
}

fn assert_error_shape(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "body: {body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("message is a string");
    assert!(!message.is_empty());
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "only `error`: {body}"
    );
}

fn state(db: &TestDb, limits: ApiLimits) -> AppState {
    AppState::new(db.store(), limits).expect("state")
}

fn bearer(key: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {key}"))
}

#[actix_web::test]
async fn sign_up_issues_a_working_key_shown_once() {
    let db = TestDb::sqlite();
    let app = test::init_service(api::app(state(&db, ApiLimits::default()))).await;
    let (status, body) = call(
        &app,
        TestRequest::post()
            .uri("/v1/accounts")
            .set_json(json!({"name": "alice", "role": "prosumer"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = body["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("smk_"));

    let (status, me) = call(
        &app,
        TestRequest::get().uri("/v1/me").insert_header(bearer(&key)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "alice");
    assert_eq!(me["role"], "prosumer");

    // Listing keys never shows a secret.
    let (_, keys) = call(
        &app,
        TestRequest::get()
            .uri("/v1/keys")
            .insert_header(bearer(&key)),
    )
    .await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert!(!keys.to_string().contains(&key[4..]));

    // The stored form is a hash: the secret is nowhere in the database.
    let store = db.store();
    let (account, _) = store
        .account_by_key(&platform::registry::KeyHash::of(&key))
        .unwrap()
        .unwrap();
    assert_eq!(account.name.as_str(), "alice");
}

#[actix_web::test]
async fn rotation_and_revocation() {
    let db = TestDb::sqlite();
    let app = test::init_service(api::app(state(&db, ApiLimits::default()))).await;
    let (_, body) = call(
        &app,
        TestRequest::post()
            .uri("/v1/accounts")
            .set_json(json!({"name": "bob", "role": "consumer"})),
    )
    .await;
    let old = body["api_key"].as_str().unwrap().to_owned();
    let old_id = body["key"]["id"].as_i64().unwrap();

    let (status, issued) = call(
        &app,
        TestRequest::post()
            .uri("/v1/keys")
            .insert_header(bearer(&old))
            .set_json(json!({"label": "laptop"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let new = issued["api_key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);

    let (status, _) = call(
        &app,
        TestRequest::delete()
            .uri(&format!("/v1/keys/{old_id}"))
            .insert_header(bearer(&new)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(
        &app,
        TestRequest::get().uri("/v1/me").insert_header(bearer(&old)),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "invalid_api_key");
    let (status, _) = call(
        &app,
        TestRequest::get().uri("/v1/me").insert_header(bearer(&new)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Revoking again, or another account's key, changes nothing.
    let (status, body) = call(
        &app,
        TestRequest::delete()
            .uri(&format!("/v1/keys/{old_id}"))
            .insert_header(bearer(&new)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error_shape(&body, "already_revoked");
    let (_, carol) = call(
        &app,
        TestRequest::post()
            .uri("/v1/accounts")
            .set_json(json!({"name": "carol", "role": "consumer"})),
    )
    .await;
    let carol_key = carol["api_key"].as_str().unwrap();
    let new_id = issued["key"]["id"].as_i64().unwrap();
    let (status, body) = call(
        &app,
        TestRequest::delete()
            .uri(&format!("/v1/keys/{new_id}"))
            .insert_header(bearer(carol_key)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body, "not_found");
    let (status, _) = call(
        &app,
        TestRequest::get().uri("/v1/me").insert_header(bearer(&new)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "carol could not revoke bob's key");
}

#[actix_web::test]
async fn privileged_roles_need_an_admin() {
    let db = TestDb::sqlite();
    let store = db.store();
    let secret = platform::registry::ApiKeySecret::generate().unwrap();
    store
        .create_account_with_key(
            &"root".parse().unwrap(),
            platform::registry::Role::Admin,
            &secret.hash(),
            common::T0,
        )
        .unwrap();
    let app = test::init_service(api::app(state(&db, ApiLimits::default()))).await;
    let (status, body) = call(
        &app,
        TestRequest::post()
            .uri("/v1/accounts")
            .set_json(json!({"name": "grid", "role": "operator"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error_shape(&body, "forbidden");
    let (status, body) = call(
        &app,
        TestRequest::post()
            .uri("/v1/accounts")
            .insert_header(bearer(secret.expose()))
            .set_json(json!({"name": "grid", "role": "operator"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["account"]["role"], "operator");
}

#[actix_web::test]
async fn bad_input_gets_the_error_shape_and_changes_nothing() {
    let db = TestDb::sqlite();
    let app = test::init_service(api::app(state(&db, ApiLimits::default()))).await;
    let huge = json!({"name": "x".repeat(100_000), "role": "prosumer"});
    let cases: Vec<(TestRequest, StatusCode, &str)> = vec![
        (
            TestRequest::post()
                .uri("/v1/accounts")
                .insert_header(("content-type", "application/json"))
                .set_payload("{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            TestRequest::post()
                .uri("/v1/accounts")
                .set_json(json!({"name": "a"})),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            TestRequest::post()
                .uri("/v1/accounts")
                .set_json(json!({"name": 7, "role": "prosumer"})),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            TestRequest::post()
                .uri("/v1/accounts")
                .set_json(json!({"name": "a", "role": "prosumer", "admin": true})),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            TestRequest::post()
                .uri("/v1/accounts")
                .set_json(json!({"name": "", "role": "prosumer"})),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            TestRequest::post()
                .uri("/v1/accounts")
                .set_json(json!({"name": "a", "role": "king"})),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            TestRequest::post().uri("/v1/accounts").set_json(huge),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            TestRequest::post()
                .uri("/v1/accounts")
                .set_payload("name=a"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            TestRequest::get().uri("/v1/me"),
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
        ),
        (
            TestRequest::get()
                .uri("/v1/me")
                .insert_header(("Authorization", "Basic abc")),
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
        ),
        (
            TestRequest::get()
                .uri("/v1/me")
                .insert_header(bearer("smk_forged")),
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
        ),
        (
            TestRequest::get().uri("/v1/nothing-here"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (req, status, code) in cases {
        let (got, body) = call(&app, req).await;
        assert_eq!(got, status, "{body}");
        assert_error_shape(&body, code);
    }
    assert_eq!(
        db.store().account_count().unwrap(),
        0,
        "nothing was created"
    );
}

#[actix_web::test]
async fn keys_are_rate_limited_with_retry_after() {
    let db = TestDb::sqlite();
    let limits = ApiLimits {
        requests_per_second_per_key: 1,
        burst_per_key: 3,
        ..ApiLimits::default()
    };
    let app = test::init_service(api::app(state(&db, limits))).await;
    let (_, body) = call(
        &app,
        TestRequest::post()
            .uri("/v1/accounts")
            .set_json(json!({"name": "dave", "role": "consumer"})),
    )
    .await;
    let key = body["api_key"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = test::call_service(
            &app,
            TestRequest::get()
                .uri("/v1/me")
                .insert_header(bearer(&key))
                .to_request(),
        )
        .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
}

#[actix_web::test]
async fn health_readiness_metrics_and_docs() {
    let db = TestDb::sqlite();
    let app = test::init_service(api::app(state(&db, ApiLimits::default()))).await;
    let (status, body) = call(&app, TestRequest::get().uri("/healthz")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, _) = call(&app, TestRequest::get().uri("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    let response = test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    let text = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(
        text.contains(
            "sunmesh_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    let (status, spec) = call(&app, TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let response = test::call_service(&app, TestRequest::get().uri("/docs/").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
}
