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
