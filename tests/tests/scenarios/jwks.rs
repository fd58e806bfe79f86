//! The issuer's keys through an outage and a stampede: a JWKS that cannot be fetched again
//! keeps its last good keys for a bounded time, and concurrent misses share one fetch. The
//! issuer is faked at the HTTP level (wiremock).

use std::sync::Arc;
use std::time::Duration;

use axhub_app::state::credentials::StoredCredentials;
use axhub_auth::{AuthConfig, Authenticator, JwksTiming, JwtKeys};
use axhub_tests::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RSA: &str = include_str!("../../fixtures/rsa.pem");
const JWKS: &str = include_str!("../../fixtures/jwks.json");
const JWKS_PATH: &str = "/.well-known/jwks.json";

fn token(kid: &str) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.into());
    let claims = json!({
        "sub": "alice", "iss": "https://id.axhub.test", "aud": "axhub-api",
        "exp": time::OffsetDateTime::now_utc().unix_timestamp() + 600,
    });
    jsonwebtoken::encode(
        &h,
        &claims,
        &EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn jwks_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(JWKS, "application/json")
}

async fn authenticator(server: &MockServer) -> Authenticator {
    Authenticator::new(
        AuthConfig {
            keys: JwtKeys::Jwks {
                url: format!("{}{JWKS_PATH}", server.uri()),
                algorithm: Algorithm::RS256,
            },
            issuer: Some("https://id.axhub.test".into()),
            audience: Some("axhub-api".into()),
        },
        Arc::new(StoredCredentials::new(sqlite_store().await)),
    )
}

async fn verify(auth: &Authenticator, token: &str) -> String {
    match auth
        .authenticate(Some(&format!("Bearer {token}")), None)
        .await
    {
        Ok(p) => format!("ok:{}", p.user_id),
        Err(e) => e.code.to_string(),
    }
}

async fn fetches(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

/// An issuer whose JWKS answers once, then `status` from then on.
async fn issuer_failing_after_one_fetch(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_ok())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_failed_refetch_keeps_serving_the_last_good_keys() {
    let server = issuer_failing_after_one_fetch(500).await;
    // Every verification finds the keys expired and asks the issuer again.
    let auth = authenticator(&server).await.with_jwks_timing(JwksTiming {
        ttl: Duration::ZERO,
        refetch_min: Duration::ZERO,
        ..JwksTiming::default()
    });
    let t = token("rsa-1");
    assert_eq!(verify(&auth, &t).await, "ok:alice");
    for _ in 0..3 {
        assert_eq!(
            verify(&auth, &t).await,
            "ok:alice",
            "the issuer answers 500"
        );
    }
    assert_eq!(
        fetches(&server).await,
        4,
        "each expiry asked the issuer again"
    );
    // A kid the last good keys lack may be one the issuer rotated in: unavailable (retry
    // later), not invalid.
    assert_eq!(
        verify(&auth, &token("rsa-2")).await,
        "temporarily_unavailable"
    );
}

#[tokio::test]
async fn the_last_good_keys_stop_verifying_after_a_bound() {
    let server = issuer_failing_after_one_fetch(500).await;
    // Kept for 1 s here, JWKS_STALE_MAX (an hour) in production.
    let auth = authenticator(&server).await.with_jwks_timing(JwksTiming {
        ttl: Duration::ZERO,
        refetch_min: Duration::ZERO,
        stale_max: Duration::from_secs(1),
    });
    let t = token("rsa-1");
    assert_eq!(verify(&auth, &t).await, "ok:alice");
    assert_eq!(verify(&auth, &t).await, "ok:alice");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(verify(&auth, &t).await, "temporarily_unavailable");
    // The issuer is back: its keys are fetched and used again.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_ok())
        .mount(&server)
        .await;
    assert_eq!(verify(&auth, &t).await, "ok:alice");
}

#[tokio::test]
async fn a_down_issuer_is_asked_again_only_after_the_refetch_interval() {
    let server = issuer_failing_after_one_fetch(503).await;
    let auth = authenticator(&server).await.with_jwks_timing(JwksTiming {
        ttl: Duration::from_millis(200),
        refetch_min: Duration::from_secs(60),
        ..JwksTiming::default()
    });
    let t = token("rsa-1");
    assert_eq!(verify(&auth, &t).await, "ok:alice");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Expired: the first request asks the issuer, which fails, and still verifies with the
    // old keys; the ones after it do not ask (nor wait for) the issuer again.
    for _ in 0..5 {
        assert_eq!(verify(&auth, &t).await, "ok:alice");
    }
    assert_eq!(fetches(&server).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_fetch() {
    for (kid, want) in [("rotated-kid", "token_invalid"), ("rsa-1", "ok:alice")] {
        let server = MockServer::start().await;
        // Slow, so that every verification below misses while the first fetch is in flight.
        Mock::given(method("GET"))
            .and(path(JWKS_PATH))
            .respond_with(jwks_ok().set_delay(Duration::from_millis(300)))
            .mount(&server)
            .await;
        let auth = Arc::new(authenticator(&server).await);
        let mut all = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (auth, t) = (auth.clone(), token(kid));
            all.spawn(async move { verify(&auth, &t).await });
        }
        while let Some(got) = all.join_next().await {
            assert_eq!(got.unwrap(), want, "kid {kid}");
        }
        assert_eq!(
            fetches(&server).await,
            1,
            "kid {kid}: one fetch for 16 misses"
        );
    }
}
