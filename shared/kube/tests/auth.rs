//! Bearer tokens refreshed before they expire, and the EKS token they come from.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use axhub_kube::auth::{BearerTokenLayer, TokenSource};
use axhub_kube::eks::presigned_token;
use axhub_kube::{EksTokenSource, KubeCluster, KubeClusterConfig};
use axhub_ports::cluster::{Cluster, ClusterError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use tower::Layer;

/// Hands out `token-1`, `token-2`, … each living `lifetime`.
struct Counting {
    fetched: Arc<AtomicUsize>,
    lifetime: Duration,
}

#[async_trait]
impl TokenSource for Counting {
    async fn token(&self) -> Result<(String, SystemTime), ClusterError> {
        let n = self.fetched.fetch_add(1, Ordering::SeqCst) + 1;
        Ok((format!("token-{n}"), SystemTime::now() + self.lifetime))
    }
}

struct Failing;

#[async_trait]
impl TokenSource for Failing {
    async fn token(&self) -> Result<(String, SystemTime), ClusterError> {
        Err(ClusterError::Unavailable("STS is down".to_owned()))
    }
}

fn client_with(source: impl TokenSource) -> (Client, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    // The mock service is cloneable like the buffered stack of `client_with_token_source`.
    let service = BearerTokenLayer::new(source).layer(service);
    (Client::new(service, "default"), handle)
}

async fn two_builds_seen_with(source: impl TokenSource) -> (Option<String>, Option<String>) {
    let (client, mut handle) = client_with(source);
    let cluster = KubeCluster::new(client, KubeClusterConfig::default());
    let server = tokio::spawn(async move {
        let first = answer(&mut handle, 200, &fixture("job_active.json")).await;
        let second = answer(&mut handle, 200, &fixture("job_active.json")).await;
        (first.authorization, second.authorization)
    });
    cluster.build_state(&build_request()).await.unwrap();
    cluster.build_state(&build_request()).await.unwrap();
    server.await.unwrap()
}

#[tokio::test]
async fn a_token_expiring_now_is_fetched_again_for_the_next_request() {
    let fetched = Arc::new(AtomicUsize::new(0));
    let seen = two_builds_seen_with(Counting {
        fetched: fetched.clone(),
        lifetime: Duration::ZERO,
    })
    .await;
    assert_eq!(
        seen,
        (
            Some("Bearer token-1".to_owned()),
            Some("Bearer token-2".to_owned())
        )
    );
    assert_eq!(fetched.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_token_within_the_refresh_margin_is_not_used_again() {
    let fetched = Arc::new(AtomicUsize::new(0));
    // 30 s left is less than the 60 s margin: refresh.
    let seen = two_builds_seen_with(Counting {
        fetched: fetched.clone(),
        lifetime: Duration::from_secs(30),
    })
    .await;
    assert_eq!(seen.1, Some("Bearer token-2".to_owned()));
    assert_eq!(fetched.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_fresh_token_is_reused() {
    let fetched = Arc::new(AtomicUsize::new(0));
    let seen = two_builds_seen_with(Counting {
        fetched: fetched.clone(),
        lifetime: Duration::from_secs(14 * 60),
    })
    .await;
    assert_eq!(
        seen,
        (
            Some("Bearer token-1".to_owned()),
            Some("Bearer token-1".to_owned())
        )
    );
    assert_eq!(fetched.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_source_failure_keeps_its_kind_and_sends_nothing() {
    let (client, mut handle) = client_with(Failing);
    let cluster = KubeCluster::new(client, KubeClusterConfig::default());
    let result = cluster.build_state(&build_request()).await;
    assert!(
        matches!(&result, Err(ClusterError::Unavailable(m)) if m.contains("STS is down")),
        "{result:?}"
    );
    assert_no_more_requests(&mut handle).await;
}

#[tokio::test]
async fn client_with_token_source_builds_on_a_plain_config() {
    let config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
    let fetched = Arc::new(AtomicUsize::new(0));
    let client = axhub_kube::client_with_token_source(
        config,
        Counting {
            fetched,
            lifetime: Duration::ZERO,
        },
    );
    assert!(client.is_ok());
}

// --- EKS ----------------------------------------------------------------------------------

fn credentials(expiry: Option<SystemTime>) -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("session-token".to_owned()),
        expiry,
        "test",
    )
}

fn decode(token: &str) -> url::Parts {
    let encoded = token
        .strip_prefix("k8s-aws-v1.")
        .expect("the EKS token prefix");
    let url = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap();
    url::parse(&url)
}

/// Just enough URL parsing for the test (no dependency for it).
mod url {
    pub struct Parts {
        pub origin: String,
        pub query: Vec<(String, String)>,
    }

    pub fn parse(url: &str) -> Parts {
        let (origin, query) = url.split_once('?').unwrap();
        Parts {
            origin: origin.to_owned(),
            query: query
                .split('&')
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect(),
        }
    }

    impl Parts {
        pub fn get(&self, key: &str) -> Option<&str> {
            self.query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }
    }
}

#[test]
fn the_eks_token_is_a_presigned_get_caller_identity_naming_the_cluster() {
    // 2025-06-03T09:14:07Z
    let now = UNIX_EPOCH + Duration::from_secs(1_748_942_047);
    let token = presigned_token("axhub-prod", "eu-west-1", &credentials(None), now).unwrap();
    let url = decode(&token);
    assert_eq!(url.origin, "https://sts.eu-west-1.amazonaws.com/");
    assert_eq!(url.get("Action"), Some("GetCallerIdentity"));
    assert_eq!(url.get("Version"), Some("2011-06-15"));
    assert_eq!(url.get("X-Amz-Algorithm"), Some("AWS4-HMAC-SHA256"));
    assert_eq!(
        url.get("X-Amz-Credential"),
        Some("AKIDEXAMPLE%2F20250603%2Feu-west-1%2Fsts%2Faws4_request")
    );
    assert_eq!(url.get("X-Amz-Date"), Some("20250603T091407Z"));
    assert_eq!(url.get("X-Amz-Expires"), Some("60"));
    // The cluster name is signed: a token for one cluster is refused by another.
    assert_eq!(url.get("X-Amz-SignedHeaders"), Some("host%3Bx-k8s-aws-id"));
    assert_eq!(url.get("X-Amz-Security-Token"), Some("session-token"));
    let signature = url.get("X-Amz-Signature").unwrap();
    assert_eq!(signature.len(), 64);
    assert!(signature.chars().all(|c| c.is_ascii_hexdigit()));
    // Deterministic for the same inputs; another cluster signs differently.
    assert_eq!(
        token,
        presigned_token("axhub-prod", "eu-west-1", &credentials(None), now).unwrap()
    );
    let other = presigned_token("axhub-staging", "eu-west-1", &credentials(None), now).unwrap();
    assert_ne!(decode(&other).get("X-Amz-Signature"), Some(signature));
}

#[tokio::test]
async fn the_eks_token_expires_with_the_credentials_if_they_expire_first() {
    let soon = SystemTime::now() + Duration::from_secs(5 * 60);
    let source = EksTokenSource {
        cluster_name: "axhub-prod".to_owned(),
        region: "eu-west-1".to_owned(),
        credentials: SharedCredentialsProvider::new(credentials(Some(soon))),
    };
    let (token, expiry) = source.token().await.unwrap();
    assert!(token.starts_with("k8s-aws-v1."));
    assert_eq!(expiry, soon);

    let source = EksTokenSource {
        credentials: SharedCredentialsProvider::new(credentials(None)),
        ..source
    };
    let before = SystemTime::now();
    let (_, expiry) = source.token().await.unwrap();
    let lifetime = expiry.duration_since(before).unwrap();
    assert!(
        lifetime <= Duration::from_secs(14 * 60 + 1) && lifetime > Duration::from_secs(13 * 60),
        "{lifetime:?}"
    );
}
