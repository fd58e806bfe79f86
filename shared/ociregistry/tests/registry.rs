//! `OciRegistry` against a fake registry (wiremock): the requests it sends and what it makes
//! of the answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axhub_ociregistry::OciRegistry;
use axhub_ports::Registry;
use axhub_ports::registry::RegistryError;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A fake registry on 127.0.0.1 (spoken to over HTTP) and its host.
async fn registry() -> (MockServer, String) {
    let server = MockServer::start().await;
    let host = server.uri().trim_start_matches("http://").to_owned();
    (server, host)
}

#[tokio::test]
async fn a_tag_answers_the_digest_of_its_manifest_and_an_absent_one_none() {
    let (server, host) = registry().await;
    Mock::given(method("HEAD"))
        .and(path("/v2/t1/web/manifests/abc123"))
        .and(header("authorization", "Basic dXNlcjpwdw=="))
        .respond_with(ResponseTemplate::new(200).insert_header("docker-content-digest", DIGEST))
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let config = format!(r#"{{"auths":{{"{host}":{{"auth":"dXNlcjpwdw=="}}}}}}"#);
    let registry = OciRegistry::new(Some(&config)).unwrap();
    assert_eq!(
        registry
            .digest(&format!("{host}/t1/web:abc123"))
            .await
            .unwrap()
            .as_deref(),
        Some(DIGEST)
    );
    assert_eq!(
        registry
            .digest(&format!("{host}/t1/web:gone"))
            .await
            .unwrap(),
        None
    );
    let asked = vec![
        format!("{host}/t1/web:abc123"),
        format!("{host}/t1/web@{DIGEST}"),
        format!("{host}/t1/web:gone"),
    ];
    // The digest URI has no mock of its own: 404, missing.
    assert_eq!(
        registry.missing(&asked).await.unwrap(),
        vec![asked[1].clone(), asked[2].clone()]
    );
    assert!(matches!(
        registry.digest(&format!("{host}/t1/web@{DIGEST}")).await,
        Err(RegistryError::Refused(_))
    ));
}

#[tokio::test]
async fn refusals_and_outages_map_to_the_port() {
    let (server, host) = registry().await;
    for (tag, status) in [("denied", 401), ("busy", 503), ("slow", 429)] {
        Mock::given(method("HEAD"))
            .and(path(format!("/v2/t1/web/manifests/{tag}")))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
    }
    let registry = OciRegistry::new(None).unwrap();
    let uri = |tag: &str| format!("{host}/t1/web:{tag}");
    assert!(matches!(
        registry.digest(&uri("denied")).await,
        Err(RegistryError::Refused(_))
    ));
    for tag in ["busy", "slow"] {
        assert!(matches!(
            registry.digest(&uri(tag)).await,
            Err(RegistryError::Unavailable(_))
        ));
    }
    // Nothing listens on the discard port: unreachable is unavailable.
    assert!(matches!(
        registry.digest("127.0.0.1:9/t1/web:any").await,
        Err(RegistryError::Unavailable(_))
    ));
    assert!(matches!(
        OciRegistry::new(Some("not json")),
        Err(RegistryError::Refused(_))
    ));
}
