//! The one place where errors become HTTP responses, with one JSON shape everywhere:
//! `{"error": {"code": "snake_case", "message": "what was wrong and what to do"}}`.
//!
//! Internal failures are logged with their detail and answered with a generic message, so no
//! SQL, path or stack trace reaches a client.

use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::PlatformError;

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_json`, `forbidden`, `rate_limited`.
    #[schema(example = "invalid_input")]
    pub code: String,
    /// What was wrong and what to do about it.
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn rate_limited(retry_after_s: u64) -> Self {
        Self {
            retry_after_s: Some(retry_after_s),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests for this key; retry after {retry_after_s} s"),
            )
        }
    }

    /// Logs `detail` and answers with a message that reveals nothing about the internals.
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(error = %detail, "request failed inside the platform");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the platform failed to handle this request; it was logged, please retry later",
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after_s {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
            },
        })
    }
}

impl From<PlatformError> for ApiError {
    fn from(error: PlatformError) -> Self {
        use PlatformError as E;
        let message = error.to_string();
        match error {
            E::InvalidPublicKey { .. }
            | E::InvalidDeviceId { .. }
            | E::InvalidLatitude { .. }
            | E::InvalidLongitude { .. }
            | E::InvalidNameplate { .. }
            | E::InvalidZone { .. }
            | E::InvalidAccountName { .. }
            | E::InvalidRole { .. }
            | E::InvalidKeyLabel { .. } => Self::bad_request("invalid_input", message),
            E::DeviceExists { .. } | E::AccountExists { .. } => {
                Self::conflict("already_exists", message)
            }
            E::DeviceAlreadyRevoked { .. } | E::KeyAlreadyRevoked { .. } => {
                Self::conflict("already_revoked", message)
            }
            E::RunVersion { .. } => Self::bad_request("invalid_run_version", message),
            E::TooManyKeys { .. } => Self::conflict("too_many_keys", message),
            E::DeviceNotFound { .. } | E::AccountNotFound { .. } | E::KeyNotFound { .. } => {
                Self::not_found(message)
            }
            E::Exchange(e) => crate::trading::orders::host_error(e),
            E::Pool(_) => Self::unavailable(
                "the database is busy or unreachable; retry in a moment (see GET /readyz)",
            ),
            other => Self::internal(other),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::internal(error)
    }
}

/// Turns actix's own extractor failures (bad JSON, wrong content type, oversized bodies, bad
/// query strings and paths) into the one error shape.
pub mod extractors {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::web::{JsonConfig, PathConfig, QueryConfig};
    use actix_web::HttpRequest;

    use super::ApiError;

    pub fn json_config(limit_bytes: usize) -> JsonConfig {
        JsonConfig::default()
            .limit(limit_bytes)
            .error_handler(move |error, _req: &HttpRequest| {
                let api = match &error {
                    JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
                        ApiError::new(
                            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                            "payload_too_large",
                            format!("the request body is larger than this endpoint accepts ({limit_bytes} bytes)"),
                        )
                    }
                    JsonPayloadError::ContentType => ApiError::new(
                        actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "unsupported_media_type",
                        "send the body as JSON with `Content-Type: application/json`",
                    ),
                    JsonPayloadError::Deserialize(inner) => ApiError::bad_request(
                        "invalid_json",
                        format!("the JSON body does not match this endpoint's schema: {inner}"),
                    ),
                    other => ApiError::bad_request(
                        "invalid_json",
                        format!("the request body could not be read as JSON: {other}"),
                    ),
                };
                api.into()
            })
    }

    pub fn query_config() -> QueryConfig {
        QueryConfig::default().error_handler(|error: QueryPayloadError, _req| {
            ApiError::bad_request("invalid_query", format!("bad query string: {error}")).into()
        })
    }

    pub fn path_config() -> PathConfig {
        PathConfig::default().error_handler(|error: PathError, _req| {
            ApiError::bad_request("invalid_path", format!("bad path parameter: {error}")).into()
        })
    }
}
