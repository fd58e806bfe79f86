//! Sending one request to GitHub (`Api` for the REST API): bounded retries with backoff for 5xx,
//! timeouts and broken connections (then 502 `bad_gateway`), GitHub's rate-limit answers as 429
//! `rate_limited`.

use std::time::Duration;

use axhub_domain::{Error, ErrorCode};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

/// A non-failed answer (any status below 500 that is not a rate limit).
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            tracing::warn!(what, error = %e, "unexpected GitHub answer");
            bad_gateway(format!("GitHub answered {what} with an unexpected body"))
        })
    }

    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// GitHub's `message` of an error answer, if it has one (for logs and 502 messages).
    pub fn message(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Fails with 502 unless the answer is a success.
    pub fn expect_ok(self, what: &str) -> Result<Self, Error> {
        if self.ok() {
            Ok(self)
        } else {
            tracing::warn!(what, status = %self.status, "GitHub refused a request");
            Err(bad_gateway(format!(
                "GitHub answered {what} with {}",
                self.status
            )))
        }
    }
}

pub(crate) fn bad_gateway(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadGateway, message)
}

pub(crate) fn relogin(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::GithubReloginRequired, message)
}

/// How long to wait before asking again, when GitHub says its rate limit is reached: a 403 or
/// 429 with `x-ratelimit-remaining: 0` or `retry-after`; a bare 429 counts too.
pub(crate) fn rate_limit(status: StatusCode, headers: &HeaderMap, now_epoch: i64) -> Option<Error> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok());
    let exhausted = header("x-ratelimit-remaining") == Some("0");
    if retry_after.is_none() && !exhausted && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let after_ms = match retry_after {
        Some(secs) => secs.saturating_mul(1000),
        None => header("x-ratelimit-reset")
            .and_then(|v| v.parse::<i64>().ok())
            .map(|reset| (reset - now_epoch).max(1) as u64 * 1000)
            .unwrap_or(60_000),
    };
    let mut e = Error::new(
        ErrorCode::RateLimited,
        "GitHub's rate limit is reached; retry later",
    );
    e.retry_after_ms = Some(after_ms);
    Some(e)
}

/// Now, in epoch seconds (GitHub's expiries and rate-limit resets are given in them).
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Retry policy of every request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
}

/// Sends `build()` until it gets an answer that is not a 5xx, a timeout or a connection
/// failure, at most `retry.attempts` times, doubling the pause between tries.
pub(crate) async fn send(
    retry: Retry,
    what: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Answer, Error> {
    let mut pause = retry.backoff;
    let attempts = retry.attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        match build().send().await {
            Ok(resp) => {
                let status = resp.status();
                if let Some(e) = rate_limit(status, resp.headers(), now()) {
                    tracing::warn!(what, %status, "GitHub rate limit reached");
                    return Err(e);
                }
                if status.is_server_error() {
                    last = format!("answered {status}");
                } else {
                    match resp.bytes().await {
                        Ok(body) => {
                            return Ok(Answer {
                                status,
                                body: body.to_vec(),
                            });
                        }
                        Err(e) if e.is_timeout() => last = "timed out".into(),
                        Err(_) => last = "broke off its answer".into(),
                    }
                }
            }
            Err(e) if e.is_timeout() => last = "timed out".into(),
            Err(e) => {
                tracing::debug!(what, error = %e, "GitHub unreachable");
                last = "could not be reached".into();
            }
        }
        tracing::warn!(what, attempt, attempts, failure = %last, "GitHub request failed");
        if attempt < attempts {
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
    }
    Err(bad_gateway(format!(
        "GitHub {last} ({what}, {attempts} attempts)"
    )))
}

/// GitHub's REST API: the HTTP client, the API base URL and the retry policy.
pub(crate) struct Api {
    pub http: reqwest::Client,
    /// Without a trailing `/`.
    pub url: String,
    pub retry: Retry,
}

impl Api {
    pub fn request(&self, method: Method, path: &str, bearer: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .bearer_auth(bearer)
    }

    pub async fn get(
        &self,
        path: &str,
        bearer: &str,
        query: &[(&str, String)],
    ) -> Result<Answer, Error> {
        send(self.retry, path, || {
            self.request(Method::GET, path, bearer).query(query)
        })
        .await
    }

    /// A request with a method and an optional JSON body (POST, PATCH, DELETE), retried as
    /// [`send`] retries.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, Error> {
        let what = format!("{method} {path}");
        send(self.retry, &what, || {
            let request = self.request(method.clone(), path, bearer);
            match body {
                Some(b) => request.json(b),
                None => request,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axhub_domain::Category;
    use reqwest::header::HeaderValue;

    #[test]
    fn rate_limit_answers() {
        let mut h = HeaderMap::new();
        assert!(
            rate_limit(StatusCode::FORBIDDEN, &h, 0).is_none(),
            "a plain 403"
        );
        assert!(rate_limit(StatusCode::NOT_FOUND, &h, 0).is_none());
        assert_eq!(
            rate_limit(StatusCode::TOO_MANY_REQUESTS, &h, 0)
                .unwrap()
                .retry_after_ms,
            Some(60_000)
        );
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1030"));
        let e = rate_limit(StatusCode::FORBIDDEN, &h, 1000).unwrap();
        assert_eq!(
            (e.code.as_str(), e.retry_after_ms),
            ("rate_limited", Some(30_000))
        );
        assert_eq!(e.category, Category::RateLimited);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            rate_limit(StatusCode::FORBIDDEN, &h, 1000)
                .unwrap()
                .retry_after_ms,
            Some(7_000)
        );
    }
}
