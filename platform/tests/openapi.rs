//! `openapi/openapi.json` is generated from the code; this fails when it is stale.

#[test]
fn committed_openapi_document_is_current() {
    let committed = include_str!("../../openapi/openapi.json");
    let generated = platform::api::openapi::document_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale; regenerate it with:\n    cargo run -p platform -- openapi > openapi/openapi.json"
    );
}

#[test]
fn every_operation_documents_its_responses_and_errors_use_the_one_shape() {
    let spec: serde_json::Value =
        serde_json::from_str(&platform::api::openapi::document_json()).unwrap();
    let paths = spec["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                !responses.is_empty(),
                "{method} {path} documents no response"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{method} {path} {status} must use the error shape"
                    );
                }
            }
        }
    }
}

#[test]
fn no_two_areas_define_a_schema_or_route_under_the_same_name() {
    use utoipa::OpenApi;
    let areas = [
        ("core", platform::api::openapi::CoreApi::openapi()),
        ("ingest", platform::ingest::routes::IngestApi::openapi()),
        ("settlement", platform::settle::routes::SettleApi::openapi()),
        ("trading", platform::trading::TradingApi::openapi()),
    ];
    let mut schemas = std::collections::BTreeMap::new();
    let mut paths = std::collections::BTreeMap::new();
    for (area, doc) in &areas {
        for name in doc.components.iter().flat_map(|c| c.schemas.keys()) {
            let json =
                serde_json::to_string(&doc.components.as_ref().unwrap().schemas[name]).unwrap();
            if let Some((other, other_json)) = schemas.insert(name.clone(), (*area, json.clone())) {
                // Shared types (the error body) are the same schema; anything else would be
                // silently overwritten when the documents are merged.
                assert_eq!(
                    other_json, json,
                    "schema {name} is defined differently by {other} and {area}"
                );
            }
        }
        for path in doc.paths.paths.keys() {
            if let Some(other) = paths.insert(path.clone(), *area) {
                panic!("{path} is served by both {other} and {area}");
            }
        }
    }
}
