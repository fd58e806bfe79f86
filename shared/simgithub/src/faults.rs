//! Fault injection and call counts, per route: a test makes a route answer an error (or
//! GitHub's rate limit) for its next N calls, and asks how often a route was called. Routes
//! are named as `"{METHOD} {template}"` below the API prefix, e.g. `"POST /orgs/{org}/repos"`.

use std::collections::BTreeMap;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{API_PREFIX, SimGitHub};

/// What a route answers instead of doing its work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This status with GitHub's error body.
    Status(u16),
    /// GitHub's secondary rate limit: 403, `x-ratelimit-remaining: 0`, `retry-after`.
    RateLimited { retry_after_secs: u64 },
}

impl Fault {
    fn answer(&self) -> Response {
        match self {
            Fault::Status(code) => {
                let status =
                    StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = json!({"message": format!("simulated failure ({code})")});
                (status, axum::Json(body)).into_response()
            }
            Fault::RateLimited { retry_after_secs } => {
                let body = json!({"message": "API rate limit exceeded",
                    "documentation_url": "https://docs.github.com/rest/rate-limit"});
                let mut answer = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
                let headers = answer.headers_mut();
                headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    headers.insert("retry-after", v);
                }
                answer
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct Faults {
    armed: BTreeMap<String, (Fault, u32)>,
    calls: BTreeMap<String, u32>,
}

impl Faults {
    pub fn arm(&mut self, route: &str, fault: Fault, times: u32) {
        self.armed.insert(route.to_owned(), (fault, times));
    }

    pub fn calls(&self, route: &str) -> u32 {
        self.calls.get(route).copied().unwrap_or(0)
    }

    /// Counts a call; the fault it meets, if one is armed.
    fn hit(&mut self, route: &str) -> Option<Fault> {
        *self.calls.entry(route.to_owned()).or_default() += 1;
        let (fault, left) = self.armed.get_mut(route)?;
        if *left == 0 {
            return None;
        }
        *left -= 1;
        Some(fault.clone())
    }
}

/// The middleware in front of every API route.
pub(crate) async fn inject(
    State(sim): State<SimGitHub>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let template = matched.as_ref().map(MatchedPath::as_str).unwrap_or("");
    let template = template.strip_prefix(API_PREFIX).unwrap_or(template);
    let route = format!("{} {template}", request.method());
    match sim.faults(|f| f.hit(&route)) {
        Some(fault) => fault.answer(),
        None => next.run(request).await,
    }
}
