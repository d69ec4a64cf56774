//! A running exchange for API tests: a store, an engine host, accounts of every role with keys,
//! a prosumer with a device, and helpers to call the app.

#![allow(dead_code)]

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use platform::api::AppState;
use platform::config::ApiLimits;
use platform::registry::{AccountName, ApiKeySecret, Role};
use platform::store::Store;
use platform::trading::{EngineHost, MarketSettings};
use serde_json::Value;

use crate::common::{new_device, TestDb};

pub struct Exchange {
    pub store: Store,
    pub host: Arc<EngineHost>,
}

pub struct Account {
    pub id: i64,
    pub key: String,
}

impl Exchange {
    pub fn start(db: &TestDb) -> Exchange {
        Self::start_with(db, MarketSettings::default())
    }

    pub fn start_with(db: &TestDb, settings: MarketSettings) -> Exchange {
        let store = db.store();
        let host = EngineHost::start(store.clone(), settings).expect("engine");
        Exchange { store, host }
    }

    pub fn state(&self) -> AppState {
        let limits = ApiLimits {
            requests_per_second_per_key: 100_000,
            burst_per_key: 100_000,
            anonymous_requests_per_second: 100_000,
            anonymous_burst: 100_000,
            ..ApiLimits::default()
        };
        AppState::new(self.store.clone(), limits)
            .expect("state")
            .with_trading(self.host.clone())
    }

    pub fn account(&self, name: &str, role: Role) -> Account {
        let secret = ApiKeySecret::generate().unwrap();
        let name: AccountName = name.parse().unwrap();
        let (account, _) = self
            .store
            .create_account_with_key(&name, role, &secret.hash(), crate::common::T0)
            .unwrap();
        Account {
            id: account.id.0,
            key: secret.expose().to_owned(),
        }
    }

    /// A device of `nameplate_w` in the market's zone for `owner`.
    pub fn device(&self, seed: u8, owner: &str, nameplate_w: u32) {
        let mut device = new_device(seed, owner);
        device.zone = "default".parse().unwrap();
        device.nameplate = platform::registry::NameplateW::new(nameplate_w).unwrap();
        self.store
            .register_device(&device, crate::common::T0)
            .unwrap();
    }

    /// A slot open for the next several hours.
    pub fn slot(&self) -> i64 {
        let now = platform::clock::now_ms();
        let shared = self.host.read().unwrap();
        shared.ledger.engine.config().calendar.open_slots(now)[40].0
    }
}

pub fn bearer(key: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {key}"))
}

pub async fn call<B: actix_web::body::MessageBody>(
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

pub fn assert_error_shape(body: &Value) {
    let code = body["error"]["code"].as_str().unwrap_or_default();
    assert!(!code.is_empty(), "error code in {body}");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "error message in {body}"
    );
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "only `error`: {body}"
    );
}
