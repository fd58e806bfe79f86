//! `X-Request-ID`: the caller's (when sane) or a fresh one, echoed on every response and
//! written into every error envelope. Errors raised anywhere (handlers, extractors, unknown
//! routes, wrong methods) leave this layer as the one envelope.

use axhub_domain::{Category, Error, ErrorCode};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::envelope;

pub const HEADER: &str = "x-request-id";

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn sane(v: &str) -> bool {
    !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic())
}

pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut resp = next.run(req).await;
    let error = resp.extensions_mut().remove::<Error>().or_else(|| {
        // Errors axum raised itself, before any handler of ours ran.
        match resp.status() {
            StatusCode::METHOD_NOT_ALLOWED => Some(Error::new(
                ErrorCode::MethodNotAllowed,
                format!("{method} is not allowed on {path}"),
            )),
            StatusCode::PAYLOAD_TOO_LARGE => Some(Error::new(
                ErrorCode::PayloadTooLarge,
                "the request body is too large",
            )),
            _ => None,
        }
    });
    if let Some(e) = error {
        if e.category == Category::Internal {
            tracing::error!(request_id = %id, code = %e.code, message = %e.message, "request failed");
        }
        let status = resp.status();
        let body = envelope(&e, &id).to_string();
        let mut headers = std::mem::take(resp.headers_mut());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.remove(header::CONTENT_LENGTH);
        resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    resp
}
