//! Sign-up, the caller's account, and API key issue, rotation and revocation.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{peer_key, Caller};
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::clock;
use crate::registry::{Account, AccountName, ApiKeySecret, Role};
use crate::store::ApiKeyInfo;

/// Roles anyone may sign up for; operator and admin accounts are made by an admin.
const SELF_SERVICE_ROLES: [Role; 2] = [Role::Prosumer, Role::Consumer];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// Unique account name, 1–64 characters.
    #[schema(example = "alice")]
    pub name: String,
    /// `prosumer` or `consumer` for self-service sign-up; `operator` or `admin` need an admin's key.
    #[schema(example = "prosumer")]
    pub role: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub name: String,
    #[schema(example = "prosumer")]
    pub role: String,
    pub created_at_ms: i64,
}

impl From<&Account> for AccountView {
    fn from(account: &Account) -> Self {
        Self {
            id: account.id.0,
            name: account.name.to_string(),
            role: account.role.as_str().to_owned(),
            created_at_ms: account.created_at_ms,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    pub id: i64,
    pub label: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

impl From<&ApiKeyInfo> for KeyView {
    fn from(key: &ApiKeyInfo) -> Self {
        Self {
            id: key.id,
            label: key.label.clone(),
            created_at_ms: key.created_at_ms,
            revoked_at_ms: key.revoked_at_ms,
        }
    }
}

/// A newly issued key. `api_key` is shown this once and never again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuedKey {
    pub key: KeyView,
    #[schema(example = "smk_3q2-7wEXAMPLEonlyEXAMPLEonlyEXAMPLEonly0A")]
    pub api_key: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedUp {
    pub account: AccountView,
    pub key: KeyView,
    /// The secret API key: store it now, it cannot be shown again.
    pub api_key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// A label to tell keys apart, at most 64 characters.
    #[serde(default)]
    pub label: String,
}

/// Creates an account and its first API key.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = SignUp,
    security((), ("api_key" = [])),
    responses(
        (status = 201, description = "account created; the key is shown once", body = SignedUp),
        (status = 400, description = "invalid name or role", body = ErrorBody),
        (status = 403, description = "operator/admin accounts need an admin's key", body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 429, description = "too many sign-ups from this address", body = ErrorBody)))]
#[post("/v1/accounts")]
pub async fn sign_up(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Option<Caller>,
    body: web::Json<SignUp>,
) -> Result<HttpResponse, ApiError> {
    let now = clock::now_ms();
    state
        .anonymous_limiter
        .check(peer_key(&req), now)
        .map_err(ApiError::rate_limited)?;
    let body = body.into_inner();
    let name: AccountName = body.name.parse()?;
    let role: Role = body.role.parse()?;
    let by_admin = admin.is_some_and(|c| c.role() == Role::Admin);
    if !SELF_SERVICE_ROLES.contains(&role) && !by_admin {
        return Err(ApiError::forbidden(
            "operator and admin accounts are created by an admin (send an admin's key) or with `sunmesh account add`",
        ));
    }
    let secret = ApiKeySecret::generate()?;
    let hash = secret.hash();
    let store = state.store.clone();
    let (account, key) =
        web::block(move || store.create_account_with_key(&name, role, &hash, now)).await??;
    Ok(HttpResponse::Created().json(SignedUp {
        account: AccountView::from(&account),
        key: KeyView::from(&key),
        api_key: secret.expose().to_owned(),
    }))
}

/// The caller's own account.
#[utoipa::path(get, path = "/v1/me", tag = "accounts", security(("api_key" = [])),
    responses(
        (status = 200, body = AccountView),
        (status = 401, description = "missing or invalid key", body = ErrorBody)))]
#[get("/v1/me")]
pub async fn me(caller: Caller) -> web::Json<AccountView> {
    web::Json(AccountView::from(&caller.account))
}

/// The caller's API keys (without secrets).
#[utoipa::path(get, path = "/v1/keys", tag = "accounts", security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<KeyView>),
        (status = 401, description = "missing or invalid key", body = ErrorBody)))]
#[get("/v1/keys")]
pub async fn list_keys(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<Vec<KeyView>>, ApiError> {
    let store = state.store.clone();
    let keys = web::block(move || store.api_keys(caller.id())).await??;
    Ok(web::Json(keys.iter().map(KeyView::from).collect()))
}

/// Issues another key for the caller's account (rotation: issue, switch clients, revoke the old).
#[utoipa::path(post, path = "/v1/keys", tag = "accounts", request_body = NewKey,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "the new key, shown once", body = IssuedKey),
        (status = 400, description = "invalid label", body = ErrorBody),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 409, description = "too many live keys", body = ErrorBody)))]
#[post("/v1/keys")]
pub async fn issue_key(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewKey>,
) -> Result<HttpResponse, ApiError> {
    let secret = ApiKeySecret::generate()?;
    let hash = secret.hash();
    let label = body.into_inner().label;
    let store = state.store.clone();
    let now = clock::now_ms();
    let key = web::block(move || store.issue_api_key(caller.id(), &hash, &label, now)).await??;
    Ok(HttpResponse::Created().json(IssuedKey {
        key: KeyView::from(&key),
        api_key: secret.expose().to_owned(),
    }))
}

/// Revokes one of the caller's keys (it may be the key making this request).
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "accounts", security(("api_key" = [])),
    params(("id" = i64, Path, description = "key id from GET /v1/keys")),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, description = "missing or invalid key", body = ErrorBody),
        (status = 404, description = "no such key on this account", body = ErrorBody),
        (status = 409, description = "already revoked", body = ErrorBody)))]
#[delete("/v1/keys/{id}")]
pub async fn revoke_key(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let key_id = path.into_inner();
    let store = state.store.clone();
    let now = clock::now_ms();
    web::block(move || store.revoke_api_key(caller.id(), key_id, now)).await??;
    state.keys.forget_key(key_id);
    state.stream_tickets.forget_key(key_id);
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(sign_up)
        .service(me)
        .service(list_keys)
        .service(issue_key)
        .service(revoke_key);
}
