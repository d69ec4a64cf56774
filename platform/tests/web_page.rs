//! The web page as HTTP: content types, caching, the security headers, 304s, and that the
//! page routes stay out of the API's OpenAPI document.

mod common;

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use common::TestDb;
use platform::api::{self, AppState};
use platform::config::ApiLimits;
use platform::web::CONTENT_SECURITY_POLICY;

fn header_of(
    response: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    name: header::HeaderName,
) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[actix_web::test]
async fn page_and_assets_have_types_caching_and_a_strict_policy() {
    let db = TestDb::sqlite();
    let app = test::init_service(api::app(
        AppState::new(db.store(), ApiLimits::default()).expect("state"),
    ))
    .await;
    for (path, content_type, needle) in [
        ("/", "text/html; charset=utf-8", "<main"),
        ("/assets/app.js", "text/javascript; charset=utf-8", "import"),
        ("/assets/charts.js", "text/javascript; charset=utf-8", "svg"),
        (
            "/assets/style.css",
            "text/css; charset=utf-8",
            ":focus-visible",
        ),
        ("/assets/icon.svg", "image/svg+xml", "<svg"),
    ] {
        let response = test::call_service(&app, TestRequest::get().uri(path).to_request()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            content_type,
            "{path}"
        );
        assert_eq!(
            header_of(&response, header::CACHE_CONTROL),
            "no-cache",
            "{path}"
        );
        assert_eq!(
            header_of(&response, header::CONTENT_SECURITY_POLICY),
            CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(
            header_of(&response, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff",
            "{path}"
        );
        let etag = header_of(&response, header::ETAG);
        assert!(
            etag.starts_with('"') && etag.len() > 10,
            "{path}: etag {etag:?}"
        );
        let body = test::read_body(response).await;
        assert!(
            String::from_utf8_lossy(&body).contains(needle),
            "{path} lacks {needle:?}"
        );

        // A revalidation with the current ETag costs no body.
        let again = test::call_service(
            &app,
            TestRequest::get()
                .uri(path)
                .insert_header((header::IF_NONE_MATCH, etag.as_str()))
                .to_request(),
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert!(test::read_body(again).await.is_empty());
    }
}

#[test]
fn the_policy_allows_this_origin_only() {
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            CONTENT_SECURITY_POLICY.contains(directive),
            "missing {directive}"
        );
    }
    assert!(
        !CONTENT_SECURITY_POLICY.contains("unsafe"),
        "no unsafe-inline or unsafe-eval"
    );
    assert!(
        !CONTENT_SECURITY_POLICY.contains("http"),
        "no external origin"
    );
}

#[actix_web::test]
async fn unknown_asset_is_the_json_404() {
    let db = TestDb::sqlite();
    let app = test::init_service(api::app(
        AppState::new(db.store(), ApiLimits::default()).expect("state"),
    ))
    .await;
    let response =
        test::call_service(&app, TestRequest::get().uri("/assets/nope.js").to_request()).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}

#[test]
fn page_routes_are_not_in_the_openapi_document() {
    let doc = serde_json::to_value(platform::api::openapi::document()).expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for path in paths.keys() {
        assert!(
            path != "/" && !path.starts_with("/assets"),
            "{path} is a page route"
        );
    }
}
