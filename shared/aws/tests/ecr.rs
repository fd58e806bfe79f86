//! The ECR registry adapter against ECR as emulated by moto.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//!
//! Needs an ECR endpoint: run through infra/test.sh, or start `infra/moto.sh start` and
//! export the lines it prints (AWS_ENDPOINT_URL=http://127.0.0.1:5005 and test credentials).
//! Every test creates its own repositories under unique names.
//!
//! Where moto differs from ECR: its image digest is the sha256 of the manifest's layer
//! digests joined, not of the manifest (so the tests take digests from PutImage's answer,
//! never compute them), and it knows no image archive (`imageStatus` is never set). Like ECR,
//! its DescribeImages fails the whole call with ImageNotFoundException when any image asked
//! for is missing, which is what the adapter's bisection is for.

use aws_sdk_ecr::Client;
use axhub_aws::EcrRegistry;
use axhub_ports::Registry;
use axhub_ports::registry::RegistryError;

fn endpoint_configured() -> bool {
    ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

fn require_endpoint() {
    if !endpoint_configured() {
        panic!(
            "ECR tests need moto: run them through infra/test.sh, or start \
             `infra/moto.sh start` and export AWS_ENDPOINT_URL=http://127.0.0.1:5005"
        );
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A repository under a unique name: its URI (`{host}/{name}`).
async fn repository(client: &Client, prefix: &str) -> String {
    let name = unique(prefix);
    client
        .create_repository()
        .repository_name(&name)
        .send()
        .await
        .unwrap()
        .repository
        .unwrap()
        .repository_uri
        .unwrap()
}

/// Pushes a one-layer image manifest (the layer named by `layer`, so images differ) tagged
/// `tag` into the repository at `repo_uri`: its digest.
async fn put_image(client: &Client, repo_uri: &str, tag: &str, layer: u64) -> String {
    let name = repo_uri.split_once('/').unwrap().1;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": format!("sha256:{:064x}", 0xc0ffee_u64),
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 3,
            "digest": format!("sha256:{layer:064x}"),
        }],
    });
    client
        .put_image()
        .repository_name(name)
        .image_manifest(manifest.to_string())
        .image_tag(tag)
        .send()
        .await
        .unwrap()
        .image
        .unwrap()
        .image_id
        .unwrap()
        .image_digest
        .unwrap()
}

#[tokio::test]
async fn missing_names_absent_tags_digests_and_repositories_in_input_order() {
    require_endpoint();
    let client = EcrRegistry::client_from_env().await;
    let repo = repository(&client, "axhub-reg").await;
    let digest = put_image(&client, &repo, "present", 1).await;
    let host = repo.split_once('/').unwrap().0;
    let registry = EcrRegistry::new(client);

    let present = format!("{repo}:present");
    let absent_tag = format!("{repo}:absent");
    let by_digest = format!("{repo}@{digest}");
    let absent_digest = format!("{repo}@sha256:{}", "e".repeat(64));
    let absent_repo = format!("{host}/{}:present", unique("axhub-none"));
    // The same repository name in an account that has none: the account in the host is the
    // registry asked. (moto answers RepositoryNotFound; ECR, without a registry policy that
    // lets this role read that account, answers AccessDenied, which the port refuses.)
    let other_account = format!("000000000000.{}:present", repo.split_once('.').unwrap().1);
    let asked = vec![
        absent_repo.clone(),
        present.clone(),
        absent_tag.clone(),
        by_digest.clone(),
        absent_digest.clone(),
        absent_tag.clone(),
        other_account.clone(),
        present.clone(),
    ];
    assert_eq!(
        registry.missing(&asked).await.unwrap(),
        vec![
            absent_repo,
            absent_tag.clone(),
            absent_digest,
            absent_tag,
            other_account
        ]
    );
    assert!(
        registry
            .missing(&[present, by_digest])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(registry.missing(&[]).await.unwrap().is_empty());
}

/// More images of one repository than one DescribeImages call takes, a few present among
/// many missing: the batches and their halving find exactly the missing ones.
#[tokio::test]
async fn batches_of_a_hundred_and_their_halves_find_exactly_the_missing() {
    require_endpoint();
    let client = EcrRegistry::client_from_env().await;
    let repo = repository(&client, "axhub-reg").await;
    let present = [7, 99, 100, 130];
    for (layer, n) in (10..).zip(present) {
        put_image(&client, &repo, &format!("t{n}"), layer).await;
    }
    let registry = EcrRegistry::new(client);
    let asked: Vec<String> = (0..140).map(|n| format!("{repo}:t{n}")).collect();
    let expected: Vec<String> = (0..140)
        .filter(|n| !present.contains(n))
        .map(|n| format!("{repo}:t{n}"))
        .collect();
    assert_eq!(registry.missing(&asked).await.unwrap(), expected);
}

#[tokio::test]
async fn uris_that_are_not_images_of_this_registry_are_refused_by_name() {
    require_endpoint();
    let client = EcrRegistry::client_from_env().await;
    let repo = repository(&client, "axhub-reg").await;
    put_image(&client, &repo, "present", 1).await;
    let registry = EcrRegistry::new(client);
    let elsewhere = "123456789012.dkr.ecr.ap-south-2.amazonaws.com/app:t".to_owned();
    for bad in [
        repo.clone(),
        "registry.example.com/app:t".to_owned(),
        elsewhere,
    ] {
        // A good URI before the bad one: nothing is answered for it either.
        let asked = [format!("{repo}:present"), bad.clone()];
        match registry.missing(&asked).await {
            Err(RegistryError::Refused(m)) => assert!(m.contains(&format!("{bad:?}")), "{m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn digest_names_the_image_a_tag_points_at_now() {
    require_endpoint();
    let client = EcrRegistry::client_from_env().await;
    let repo = repository(&client, "axhub-reg").await;
    let first = put_image(&client, &repo, "9fceb02", 1).await;
    let host = repo.split_once('/').unwrap().0.to_owned();
    let registry = EcrRegistry::new(client.clone());
    let tag = format!("{repo}:9fceb02");
    assert_eq!(registry.digest(&tag).await.unwrap(), Some(first.clone()));

    // A push under the same tag moves it: the digest answered is the new image's, which is
    // what a reuse compares with the digest its build recorded.
    let moved = put_image(&client, &repo, "9fceb02", 2).await;
    assert_ne!(moved, first);
    assert_eq!(registry.digest(&tag).await.unwrap(), Some(moved));

    assert_eq!(
        registry.digest(&format!("{repo}:absent")).await.unwrap(),
        None
    );
    let no_repo = format!("{host}/{}:9fceb02", unique("axhub-none"));
    assert_eq!(registry.digest(&no_repo).await.unwrap(), None);
    for bad in [
        format!("{repo}@{first}"),
        "registry.example.com/app:t".into(),
    ] {
        assert!(
            matches!(registry.digest(&bad).await, Err(RegistryError::Refused(_))),
            "{bad}"
        );
    }
}

/// The build-push role assumed with its session policy, and the session's ECR login as a
/// Docker config for the registry host. (moto neither checks the trust policy nor narrows
/// the session by its policy: the policy itself is tested where it is built, in
/// `ecr_push::tests`.)
#[tokio::test]
async fn a_push_credential_is_an_ecr_login_through_an_assumed_role_session() {
    require_endpoint();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let region = config.region().unwrap().to_string();
    let host = format!("123456789012.dkr.ecr.{region}.amazonaws.com");
    let credentials = axhub_aws::EcrPushCredentials::new(
        config,
        "arn:aws:iam::123456789012:role/axhub-build-push",
    );
    let tenant = uuid::Uuid::now_v7();
    let scope = axhub_ports::registry::PushScope {
        deployment_id: uuid::Uuid::now_v7(),
        tenant_id: tenant,
        repository_prefix: format!("{host}/axhub/{}", tenant.simple()),
    };
    let secret = axhub_ports::PushCredentials::mint(&credentials, &scope)
        .await
        .unwrap();
    let config: serde_json::Value = serde_json::from_str(secret.expose()).unwrap();
    let auth = config["auths"][host.as_str()]["auth"].as_str().unwrap();
    use base64::Engine;
    let login = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .unwrap();
    assert!(String::from_utf8(login).unwrap().starts_with("AWS:"));
    assert_eq!(config["auths"].as_object().unwrap().len(), 1);

    // A prefix outside the registry of this region is refused before STS is asked.
    let mut elsewhere = scope.clone();
    elsewhere.repository_prefix = "registry.example.com/t".into();
    assert!(matches!(
        axhub_ports::PushCredentials::mint(&credentials, &elsewhere).await,
        Err(RegistryError::Refused(_))
    ));
}
