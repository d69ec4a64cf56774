//! Who is calling: `Authorization: Bearer <api key>` becomes a [`Caller`], or a 401.
//!
//! Keys are looked up by their SHA-256. Live lookups are cached for [`KEY_CACHE_TTL_MS`] so the
//! order path does not hit the database for every request; a revocation on this instance takes
//! effect at once, on other instances within the TTL. Every authenticated request also spends a
//! token from the key's rate-limit bucket.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::error::ApiError;
use super::AppState;
use crate::clock;
use crate::registry::{Account, AccountId, KeyHash, Role};

/// How long a key lookup is trusted before the database is asked again.
pub const KEY_CACHE_TTL_MS: i64 = 10_000;
/// Bound on cached keys and rate-limit buckets; past it the stale half is dropped.
pub const MAX_TRACKED_KEYS: usize = 100_000;

/// The authenticated account behind a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub account: Account,
    pub key_id: i64,
}

impl Caller {
    /// Spends a token of this caller's key for one request, or refuses it (429).
    pub fn charge(&self, state: &AppState, now_ms: i64) -> Result<(), ApiError> {
        state
            .key_limiter
            .check(self.key_id, now_ms)
            .map_err(ApiError::rate_limited)
    }

    pub fn id(&self) -> AccountId {
        self.account.id
    }

    pub fn role(&self) -> Role {
        self.account.role
    }

    /// Refuses the request unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.account.role) {
            Ok(())
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "this endpoint is for {} accounts; yours is {}",
                allowed.join(" or "),
                self.account.role
            )))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let presented = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState missing from the app"))?;
            let token = presented?;
            let hash = KeyHash::of(&token);
            let now = clock::now_ms();
            let caller = match state.keys.get(&hash, now) {
                Some(caller) => caller,
                None => {
                    let store = state.store.clone();
                    let found = web::block(move || store.account_by_key(&hash)).await??;
                    let (account, key_id) = found.ok_or_else(|| {
                        ApiError::unauthorized(
                            "invalid_api_key",
                            "this API key is unknown or revoked; sign up or issue a new key",
                        )
                    })?;
                    let caller = Caller { account, key_id };
                    state.keys.put(hash, caller.clone(), now);
                    caller
                }
            };
            caller.charge(&state, now)?;
            Ok(caller)
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "missing_api_key",
            "send your API key as `Authorization: Bearer <key>`; POST /v1/accounts issues one",
        )
    })?;
    let text = value.to_str().unwrap_or("");
    match text.strip_prefix("Bearer ") {
        Some(token) if !token.trim().is_empty() => Ok(token.trim().to_owned()),
        _ => Err(ApiError::unauthorized(
            "missing_api_key",
            "the Authorization header must be `Bearer <key>`",
        )),
    }
}

/// Recently seen live keys.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<KeyHash, (Caller, i64)>>,
}

impl KeyCache {
    fn get(&self, hash: &KeyHash, now_ms: i64) -> Option<Caller> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(hash)
            .filter(|(_, at)| now_ms - at < KEY_CACHE_TTL_MS)
            .map(|(caller, _)| caller.clone())
    }

    fn put(&self, hash: KeyHash, caller: Caller, now_ms: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_TRACKED_KEYS {
                entries.retain(|_, (_, at)| now_ms - *at < KEY_CACHE_TTL_MS);
            }
            entries.insert(hash, (caller, now_ms));
        }
    }

    /// Drops a revoked key at once on this instance.
    pub fn forget_key(&self, key_id: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (caller, _)| caller.key_id != key_id);
        }
    }
}

/// A token bucket per key (or per client address for unauthenticated routes).
pub struct RateLimiter {
    per_second: u32,
    burst: u32,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    /// Tokens in thousandths, so refill stays integral at any rate.
    milli_tokens: u64,
    updated_ms: i64,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second,
            burst: burst.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one token of `key`; on refusal returns the seconds to wait.
    pub fn check(&self, key: i64, now_ms: i64) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let capacity = u64::from(self.burst) * 1000;
        if buckets.len() >= MAX_TRACKED_KEYS {
            // Buckets idle for a full refill period are full again: forgetting them is exact.
            let full_after_ms = if self.per_second == 0 {
                i64::MAX
            } else {
                i64::from(self.burst) * 1000 / i64::from(self.per_second) + 1
            };
            buckets.retain(|_, b| now_ms - b.updated_ms < full_after_ms);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            milli_tokens: capacity,
            updated_ms: now_ms,
        });
        let elapsed = u64::try_from(now_ms - bucket.updated_ms).unwrap_or(0);
        bucket.milli_tokens =
            (bucket.milli_tokens + elapsed * u64::from(self.per_second)).min(capacity);
        bucket.updated_ms = now_ms;
        if bucket.milli_tokens >= 1000 {
            bucket.milli_tokens -= 1000;
            Ok(())
        } else if self.per_second == 0 {
            Err(60)
        } else {
            let missing = 1000 - bucket.milli_tokens;
            Err(missing.div_ceil(u64::from(self.per_second) * 1000).max(1))
        }
    }
}

/// A stable bucket key for a client address (for routes without an API key).
pub fn peer_key(req: &HttpRequest) -> i64 {
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let hash = KeyHash::of(&peer).to_hex();
    i64::from_str_radix(&hash[..15], 16).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let limiter = RateLimiter::new(10, 3);
        for _ in 0..3 {
            assert_eq!(limiter.check(1, 0), Ok(()));
        }
        assert!(limiter.check(1, 0).is_err());
        // Another key has its own bucket.
        assert_eq!(limiter.check(2, 0), Ok(()));
        // 100 ms at 10/s gives one token back.
        assert_eq!(limiter.check(1, 100), Ok(()));
        assert!(limiter.check(1, 100).is_err());
    }
}
