//! The OpenAPI 3.1 document, assembled from every area's `#[derive(OpenApi)]` struct.
//! `openapi/openapi.json` is this document committed; `tests/openapi.rs` fails when it is stale.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{accounts, error, health};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sunmesh",
        description = "Neighbourhood solar: verified readings, a per-slot energy exchange, settlement.\n\n\
Every error has the shape `{\"error\": {\"code\": \"…\", \"message\": \"…\"}}`. Authenticated \
endpoints take `Authorization: Bearer <api key>`; `POST /v1/accounts` issues a key."
    ),
    paths(
        health::healthz, health::readyz, health::metrics,
        accounts::sign_up, accounts::me, accounts::list_keys, accounts::issue_key, accounts::revoke_key,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorDetail, health::Health,
        accounts::SignUp, accounts::AccountView, accounts::KeyView, accounts::IssuedKey,
        accounts::SignedUp, accounts::NewKey,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "health, readiness, metrics"),
        (name = "accounts", description = "sign-up and API keys"),
    )
)]
pub struct CoreApi;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The whole document: the core plus every feature area.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = CoreApi::openapi();
    doc.merge(crate::ingest::routes::IngestApi::openapi());
    doc.merge(crate::settle::routes::SettleApi::openapi());
    doc.merge(crate::trading::TradingApi::openapi());
    doc
}

/// The committed form: pretty JSON with a trailing newline.
pub fn document_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
