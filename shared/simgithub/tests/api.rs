//! The simulated GitHub over HTTP: what bootstrapping an app needs (creating a repository,
//! writing its files, reading its head) answered as GitHub answers it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axhub_simgithub::{API_PREFIX, SimGitHub, router};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(
    sim: &SimGitHub,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(format!("{API_PREFIX}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let answer = router::<()>(sim.clone()).oneshot(req).await.unwrap();
    let status = answer.status();
    let bytes = answer.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_repository_is_created_filled_and_read_back() {
    let sim = SimGitHub::new();
    let alice = sim.add_user("alice");
    sim.add_org("acme", &["alice"]);
    let installation = sim.install("acme");
    // An installation token, as the adapter gets one (the App JWT is the adapter's to sign;
    // here the token is taken from the world directly).
    let token = sim.installation_token(installation);

    let (status, repo) = call(
        &sim,
        "POST",
        "/orgs/acme/repos",
        &token,
        json!({"name": "site"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{repo}");
    assert_eq!(
        (repo["full_name"].as_str(), repo["private"].as_bool()),
        (Some("acme/site"), Some(true))
    );
    let (status, taken) = call(
        &sim,
        "POST",
        "/orgs/acme/repos",
        &token,
        json!({"name": "site"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        taken["errors"][0]["message"],
        "name already exists on this account"
    );

    let file = json!({"message": "From the template", "content": "aGVsbG8K"});
    let (status, first) = call(
        &sim,
        "PUT",
        "/repos/acme/site/contents/src/index.js",
        &token,
        file.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (_, second) = call(
        &sim,
        "PUT",
        "/repos/acme/site/contents/Dockerfile",
        &token,
        file,
    )
    .await;
    let (status, branch) = call(
        &sim,
        "GET",
        "/repos/acme/site/branches/main",
        &token,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(branch["commit"]["sha"], second["commit"]["sha"]);
    assert_ne!(first["commit"]["sha"], second["commit"]["sha"]);

    // A user creates under their own account only; bad Base64 is refused.
    let (status, _) = call(
        &sim,
        "POST",
        "/user/repos",
        &alice,
        json!({"name": "mine", "private": false}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let bad = json!({"message": "x", "content": "not base64!"});
    let (status, _) = call(&sim, "PUT", "/repos/acme/site/contents/x", &token, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = call(
        &sim,
        "POST",
        "/orgs/acme/repos",
        "forged",
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
