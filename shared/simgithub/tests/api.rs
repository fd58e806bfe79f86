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

/// One commit by the Git Data API: blobs, a tree, a commit on GitHub's first, then the branch
/// moved forward (and only forward); the files read back through a tree and its blobs.
#[tokio::test]
async fn a_commit_is_written_by_the_git_data_api_and_read_back() {
    let sim = SimGitHub::new();
    sim.add_org("acme", &[]);
    let token = sim.installation_token(sim.install("acme"));
    let (status, _) = call(
        &sim,
        "POST",
        "/orgs/acme/repos",
        &token,
        json!({"name": "site", "description": "a site", "auto_init": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, repo) = call(&sim, "GET", "/repos/acme/site", &token, json!({})).await;
    assert_eq!(repo["description"], "a site");
    let (_, branches) = call(&sim, "GET", "/repos/acme/site/branches", &token, json!({})).await;
    let first = branches[0]["commit"]["sha"].as_str().unwrap().to_owned();
    assert_eq!(branches[0]["name"], "main");

    let (status, blob) = call(
        &sim,
        "POST",
        "/repos/acme/site/git/blobs",
        &token,
        json!({"content": "aGVsbG8K", "encoding": "base64"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let tree_body = json!({"tree": [{"path": "src/index.js", "mode": "100644", "type": "blob",
        "sha": blob["sha"]}]});
    let (status, tree) = call(
        &sim,
        "POST",
        "/repos/acme/site/git/trees",
        &token,
        tree_body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{tree}");
    let commit_body = json!({"message": "From the template", "tree": tree["sha"],
        "parents": [first], "author": {"name": "a", "email": "a@x", "date": "2026-12-02T00:00:00Z"}});
    let (status, commit) = call(
        &sim,
        "POST",
        "/repos/acme/site/git/commits",
        &token,
        commit_body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, again) = call(
        &sim,
        "POST",
        "/repos/acme/site/git/commits",
        &token,
        commit_body,
    )
    .await;
    assert_eq!(again["sha"], commit["sha"], "the same commit written twice");
    assert_eq!(
        sim.commits("acme/site", "main"),
        vec![first.clone()],
        "not moved yet"
    );

    let sha = commit["sha"].as_str().unwrap();
    let (status, moved) = call(
        &sim,
        "PATCH",
        "/repos/acme/site/git/refs/heads/main",
        &token,
        json!({"sha": sha}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(
        sim.commits("acme/site", "main"),
        vec![first.clone(), sha.to_owned()]
    );
    let (status, back) = call(
        &sim,
        "PATCH",
        "/repos/acme/site/git/refs/heads/main",
        &token,
        json!({"sha": first}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(back["message"], "Update is not a fast forward");

    let (_, listing) = call(
        &sim,
        "GET",
        "/repos/acme/site/git/trees/main?recursive=1",
        &token,
        json!({}),
    )
    .await;
    assert_eq!(
        listing["tree"][0]["path"], "src/index.js",
        "the template replaced the README"
    );
    let blob_sha = listing["tree"][0]["sha"].as_str().unwrap();
    let (_, read) = call(
        &sim,
        "GET",
        &format!("/repos/acme/site/git/blobs/{blob_sha}"),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(
        (read["encoding"].as_str(), read["content"].as_str()),
        (Some("base64"), Some("aGVsbG8K\n"))
    );
    assert_eq!(
        sim.files("acme/site", "main").unwrap()["src/index.js"],
        b"hello\n"
    );

    // A foreign installation sees nothing; deleting takes the account's installation.
    sim.add_org("other", &[]);
    let other = sim.installation_token(sim.install("other"));
    let (status, _) = call(
        &sim,
        "POST",
        "/repos/acme/site/git/blobs",
        &other,
        json!({"content": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&sim, "DELETE", "/repos/acme/site", &other, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&sim, "DELETE", "/repos/acme/site", &token, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(sim.repository("acme/site").is_none());
}

/// A route made to fail answers the fault for as many calls as asked, and every call counts.
#[tokio::test]
async fn a_route_fails_as_often_as_asked_and_counts_its_calls() {
    use axhub_simgithub::Fault;
    let sim = SimGitHub::new();
    sim.add_org("acme", &[]);
    let token = sim.installation_token(sim.install("acme"));
    sim.fail(
        "POST /orgs/{org}/repos",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        1,
    );
    sim.fail("GET /repos/{owner}/{repo}", Fault::Status(502), 2);
    let req = |name: &str| json!({"name": name});
    let (status, limited) = call(&sim, "POST", "/orgs/acme/repos", &token, req("a")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(limited["message"], "API rate limit exceeded");
    let (status, _) = call(&sim, "POST", "/orgs/acme/repos", &token, req("a")).await;
    assert_eq!(status, StatusCode::CREATED);
    for expected in [502, 502, 200] {
        let (status, _) = call(&sim, "GET", "/repos/acme/a", &token, json!({})).await;
        assert_eq!(status.as_u16(), expected);
    }
    assert_eq!(sim.calls("POST /orgs/{org}/repos"), 2);
    assert_eq!(sim.calls("GET /repos/{owner}/{repo}"), 3);
    assert_eq!(sim.calls("POST /user/repos"), 0);
}
