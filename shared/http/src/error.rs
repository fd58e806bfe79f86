//! The error envelope of DESIGN §2, mapped from `axhub_domain::Error` in this one place.

use axhub_domain::{Category, Error, ErrorCode};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

/// The HTTP status of an error: by the category its code belongs to, except the few codes
/// the contract gives a status of their own.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::GithubReloginRequired => return StatusCode::PRECONDITION_REQUIRED,
        ErrorCode::GithubAppNotInstalled => return StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::BadGateway => return StatusCode::BAD_GATEWAY,
        ErrorCode::PayloadTooLarge => return StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => return StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::MethodNotAllowed => return StatusCode::METHOD_NOT_ALLOWED,
        _ => {}
    }
    match code.category() {
        Category::Validation => StatusCode::BAD_REQUEST,
        Category::Unauthenticated => StatusCode::UNAUTHORIZED,
        Category::PermissionDenied => StatusCode::FORBIDDEN,
        Category::NotFound => StatusCode::NOT_FOUND,
        Category::Conflict => StatusCode::CONFLICT,
        Category::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        Category::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Category::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Category::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The envelope body; `request_id` is filled by the request-id layer.
pub fn envelope(e: &Error, request_id: &str) -> Value {
    let mut err = json!({
        "category": e.category.as_str(),
        "code": e.code.as_str(),
        "message": e.message,
        "retryable": e.retryable,
        "request_id": request_id,
    });
    if !e.fields.is_empty() {
        err["fields"] = json!(e.fields);
    }
    if let Some(ms) = e.retry_after_ms {
        err["retry"] = json!({"after_ms": ms});
    }
    json!({"error": err})
}

impl IntoResponse for ApiError {
    /// The body is rendered by `request_id::layer`, which knows the request id; the error
    /// rides along as a response extension until then.
    fn into_response(self) -> Response {
        let status = status_of(self.0.code);
        let mut resp = status.into_response();
        if let Some(ms) = self.0.retry_after_ms {
            let secs = ms.div_ceil(1000).to_string();
            if let Ok(v) = secs.parse() {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §15.5.2: a 401 names the scheme that would work; RFC 6750 §3 says
            // which token problem it was.
            let challenge = match self.0.code {
                ErrorCode::TokenInvalid | ErrorCode::TokenExpired => {
                    r#"Bearer error="invalid_token""#
                }
                _ => "Bearer",
            };
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static(challenge),
            );
        }
        resp.extensions_mut().insert(self.0);
        resp
    }
}

/// The error envelope, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// validation, unauthenticated, permission_denied, not_found, conflict,
    /// precondition_failed, rate_limited, unavailable, internal
    pub category: String,
    pub code: String,
    pub message: String,
    pub retryable: bool,
    pub request_id: String,
    #[schema(nullable = false)]
    pub fields: Option<Vec<FieldSchema>>,
    #[schema(nullable = false)]
    pub retry: Option<RetrySchema>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RetrySchema {
    pub after_ms: u64,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct FieldSchema {
    pub name: String,
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_follows_the_code() {
        for (code, status) in [
            (ErrorCode::InvalidValue, 400),
            (ErrorCode::TokenExpired, 401),
            (ErrorCode::InsufficientScope, 403),
            (ErrorCode::InvalidStateTransition, 409),
            (ErrorCode::PromoteInProgress, 412),
            (ErrorCode::PayloadTooLarge, 413),
            (ErrorCode::UnsupportedMediaType, 415),
            (ErrorCode::GithubReloginRequired, 428),
            (ErrorCode::RateLimited, 429),
            (ErrorCode::BadGateway, 502),
            (ErrorCode::BackendUnimplemented, 503),
        ] {
            assert_eq!(status_of(code).as_u16(), status, "{code}");
        }
    }
}
