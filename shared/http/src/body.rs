//! `JsonBody`: the request body of every operation that takes one.
//!
//! - No body (or only whitespace) is `T::default()`: POSTs without a body (cancel, rollback,
//!   retry) come with `Content-Length: 0` and no `Content-Type` (DESIGN §2).
//! - A body that is there is read as JSON unless its `Content-Type` names something else
//!   (415 `unsupported_media_type`): `application/json` and `application/*+json` are JSON,
//!   and so is a body without a `Content-Type`, which callers of the API have always sent.
//! - It must be a JSON object: serde would otherwise read a struct from an array by position.
//! - A value of the wrong type is a 400 whose `fields` names it by its path in the body;
//!   fields the type does not know are ignored, so clients may send newer ones.

use axhub_domain::{Error, ErrorCode};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The largest request body accepted.
pub const MAX_BODY: usize = 256 * 1024;

pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let is_json = !req.headers().contains_key(header::CONTENT_TYPE) || says_json(req.headers());
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                Error::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the body may be at most {MAX_BODY} bytes"),
                )
            })?;
        let text = bytes.trim_ascii();
        if text.is_empty() {
            return Ok(JsonBody(T::default()));
        }
        if !is_json {
            return Err(Error::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON, with `Content-Type: application/json`",
            )
            .into());
        }
        if text.first() != Some(&b'{') {
            return Err(Error::bad_request("the request body must be a JSON object").into());
        }
        parse(text).map(JsonBody).map_err(ApiError)
    }
}

/// Whether `Content-Type` names JSON; parameters such as `charset` are allowed.
fn says_json(headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = v.split(';').next().unwrap_or_default().trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json") || {
            let sub = sub.to_ascii_lowercase();
            sub.len() > 5 && sub.ends_with("+json")
        })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        invalid(&path, e.into_inner())
    })?;
    de.end().map_err(|e| invalid(".", e))?;
    Ok(value)
}

/// The error for what serde refused. A type error names the field by its path (`a.b[0]`);
/// a missing field is named by serde's message, the only place it appears.
fn invalid(path: &str, e: serde_json::Error) -> Error {
    if !e.is_data() {
        return Error::bad_request("the request body is not valid JSON");
    }
    let full = e.to_string();
    // serde_json appends the position; the field's name says more and is stable.
    let message = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => full.as_str(),
    };
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        let name = match path {
            "." => name.to_owned(),
            parent => format!("{parent}.{name}"),
        };
        return Error::field(&name, ErrorCode::Required, "must be given");
    }
    if path == "." {
        return Error::new(
            ErrorCode::InvalidValue,
            format!("invalid request body: {message}"),
        );
    }
    Error::field(path, ErrorCode::InvalidValue, message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    #[derive(serde::Deserialize, Default, Debug)]
    #[allow(dead_code)]
    struct Body {
        name: Option<String>,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Default, Debug)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn type_errors_name_the_field_by_its_path() {
        let e = parse::<Body>(br#"{"name": 5}"#).unwrap_err();
        assert_eq!(e.fields[0].name, "name");
        assert_eq!(e.fields[0].code, ErrorCode::InvalidValue);
        assert!(!e.message.contains("line"), "{}", e.message);
        let e = parse::<Body>(br#"{"inner": {"count": "x"}}"#).unwrap_err();
        assert_eq!(e.fields[0].name, "inner.count");
        let e = parse::<Body>(br#"{"inner": {}}"#).unwrap_err();
        assert_eq!(
            (e.fields[0].name.as_str(), e.code),
            ("inner.count", ErrorCode::Required)
        );
        let e = parse::<Body>(br#"{"name": "a"} trailing"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(parse::<Body>(br#"{"name": "a", "unknown": [1]}"#).is_ok());
    }

    #[test]
    fn json_media_types() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
            says_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("application/+json"));
        assert!(!says_json(&HeaderMap::new()));
    }
}
