//! The caller, the query string and the idempotency key; bad input becomes the error
//! envelope instead of axum's plain text.

use std::collections::HashMap;

use axhub_domain::{Error, Principal};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

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
