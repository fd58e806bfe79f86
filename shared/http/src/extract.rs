//! Extractors that turn bad input into the error envelope instead of axum's plain text.

use std::collections::HashMap;

use axhub_domain::{Error, ErrorCode, Principal};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// The authenticated caller. No credentials → 401 `token_missing`.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
        let principal = state
            .auth
            .authenticate(header("authorization"), header("x-api-key"))
            .await?;
        Ok(Caller(principal))
    }
}

/// A JSON body that may be absent: POSTs without a body (`Content-Length: 0`, no
/// `Content-Type`) get `T::default()`. A body that is there must be valid JSON of `T`,
/// whatever its content type says.
pub struct JsonBody<T>(pub T);

/// The largest request body accepted.
pub const MAX_BODY: usize = 256 * 1024;

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                ApiError(Error::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the body may be at most {MAX_BODY} bytes"),
                ))
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(T::default()));
        }
        match serde_json::from_slice::<T>(&bytes) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) if e.is_data() => Err(ApiError(Error::new(
                ErrorCode::InvalidValue,
                format!("invalid request body: {e}"),
            ))),
            Err(_) => Err(ApiError(Error::bad_request(
                "the request body is not valid JSON",
            ))),
        }
    }
}

/// Query parameters as strings, validated by the handler so errors name the field.
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(map) =
            axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError(Error::bad_request("the query string is malformed")))?;
        Ok(QueryMap(map))
    }
}

impl QueryMap {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The `Idempotency-Key` header, if sent.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
