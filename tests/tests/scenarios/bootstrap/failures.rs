//! A failure at each stage: its `error_code`, and the clean-up that is safe (a repository
//! deleted only if the saga made it and nobody pushed to it; the app withdrawn unless the
//! first deployment is what failed).

use axhub_app::state::apps;
use axhub_domain::App;
use axhub_simcluster::Behaviour;
use axhub_simgithub::Fault;

use super::*;

/// Runs the saga to its end and checks it failed with `code`; the saga as shown.
async fn failed_with(b: &Boot, id: Uuid, code: &str) -> Value {
    b.drain().await;
    let v = b.view(id).await;
    assert_eq!(
        (v["status"].as_str(), v["error_code"].as_str()),
        (Some("failed"), Some(code)),
        "{v}"
    );
    assert_ne!(v["error_message"], "", "a failure says why");
    let finished: Vec<_> = b
        .bus
        .history()
        .into_iter()
        .filter(|e| e.kind.detail_type() == "BootstrapFinished")
        .collect();
    assert_eq!(finished.len(), 1, "published once");
    assert_eq!(finished[0].detail["status"], "failed");
    assert_eq!(finished[0].detail["error_code"], code);
    v
}

/// The app the saga wrote is gone again (withdrawn), announced, and its names are free.
async fn app_withdrawn(b: &Boot, id: Uuid) {
    let rec = b.record(id).await;
    assert!(apps::load(b.deps(), rec.app_id).await.unwrap().is_none());
    assert_eq!(b.view(id).await["app_id"], "");
    assert_eq!(b.count(rec.app_id, "AppRegistered"), 1);
    assert_eq!(b.count(rec.app_id, "AppWithdrawn"), 1);
    let mut body = b.request();
    body["repo_name"] = json!("shop-2");
    assert_eq!(
        b.post(&b.w().owner.clone(), body).await.status,
        202,
        "the slug is free again"
    );
}

#[tokio::test]
async fn an_app_that_took_the_slug_meanwhile_fails_the_app_step_and_nothing_is_made() {
    let b = setup().await;
    let id = b.start(b.request()).await;
    // The apps service creates an app with the slug before the saga's app step runs.
    let other = App {
        id: Uuid::now_v7(),
        tenant_id: b.w().tenant,
        owner_id: b.w().admin.clone(),
        slug: "shop".into(),
        subdomain: Some("elsewhere".into()),
        approved: false,
        staging_enabled: false,
        production_deployment_id: None,
        staging_deployment_id: None,
    };
    axhub_app::directory::put_app(b.deps(), &other)
        .await
        .unwrap();
    failed_with(&b, id, "app_failed").await;
    let rec = b.record(id).await;
    assert!(apps::load(b.deps(), rec.app_id).await.unwrap().is_none());
    assert!(
        b.sim.repository("acme/shop").is_none(),
        "no repository made"
    );
    assert_eq!(b.count(rec.app_id, "AppRegistered"), 0);
}

#[tokio::test]
async fn a_repository_that_exists_is_repo_exists_and_is_never_touched() {
    let b = setup().await;
    let head = b.sim.add_repo("acme/shop", "main", true);
    let id = b.start(b.request()).await;
    let v = failed_with(&b, id, "repo_exists").await;
    assert!(
        v["error_message"].as_str().unwrap().contains("acme/shop"),
        "{v}"
    );
    assert_eq!(
        b.sim.commits("acme/shop", "main"),
        vec![head],
        "left as it was"
    );
    assert_eq!(b.sim.calls("DELETE /repos/{owner}/{repo}"), 0);
    app_withdrawn(&b, id).await;
}

#[tokio::test]
async fn github_failing_to_create_the_repository_is_repo_failed() {
    let b = setup().await;
    b.sim
        .fail("POST /orgs/{org}/repos", Fault::Status(500), 1000);
    let id = b.start(b.request()).await;
    failed_with(&b, id, "repo_failed").await;
    assert!(b.sim.repository("acme/shop").is_none());
    app_withdrawn(&b, id).await;
}

#[tokio::test]
async fn a_push_github_refuses_is_push_failed_and_the_new_repository_is_deleted() {
    let b = setup().await;
    b.sim.fail(
        "POST /repos/{owner}/{repo}/git/commits",
        Fault::Status(500),
        1000,
    );
    let id = b.start(b.request()).await;
    let v = failed_with(&b, id, "push_failed").await;
    assert!(
        b.sim.repository("acme/shop").is_none(),
        "the saga's own, untouched: deleted"
    );
    assert!(
        v["error_message"].as_str().unwrap().contains("deleted"),
        "{v}"
    );
    app_withdrawn(&b, id).await;
}

#[tokio::test]
async fn someone_pushing_first_fails_the_push_and_keeps_their_repository() {
    let b = setup().await;
    let id = b.start(b.request()).await;
    b.run_until(id, |s| s.stage.as_str() == "push").await;
    let theirs = b
        .sim
        .commit("acme/shop", "main", "someone else's work")
        .unwrap();
    let v = failed_with(&b, id, "push_failed").await;
    let history = b.sim.commits("acme/shop", "main");
    assert_eq!(history.last(), Some(&theirs), "nothing was overwritten");
    assert!(v["error_message"].as_str().unwrap().contains("kept"), "{v}");
    assert_eq!(b.sim.calls("DELETE /repos/{owner}/{repo}"), 0);
    app_withdrawn(&b, id).await;
}

#[tokio::test]
async fn a_repository_the_app_cannot_read_is_connect_failed() {
    let b = setup().await;
    let id = b.start(b.request()).await;
    b.run_until(id, |s| s.stage.as_str() == "connect").await;
    b.sim
        .fail("GET /repos/{owner}/{repo}", Fault::Status(404), 1000);
    failed_with(&b, id, "connect_failed").await;
    assert!(
        b.sim.repository("acme/shop").is_none(),
        "deleted: nothing but the saga's"
    );
    let rec = b.record(id).await;
    assert_eq!(b.count(rec.app_id, "GitConnected"), 0);
    app_withdrawn(&b, id).await;
}

#[tokio::test]
async fn a_failed_first_deployment_is_deploy_failed_and_keeps_everything() {
    let b = setup().await;
    let id = b.start(b.request()).await;
    b.run_until(id, |s| s.stage.as_str() == "deploy").await;
    let commit = b.record(id).await.commit_sha.unwrap();
    b.cluster.script(&commit, Behaviour::FailBuild);
    let v = failed_with(&b, id, "deploy_failed").await;
    assert_eq!(v["repo_full_name"], "acme/shop");
    assert_ne!(v["deployment_id"], "");
    let rec = b.record(id).await;
    let ctx = apps::load(b.deps(), rec.app_id)
        .await
        .unwrap()
        .expect("kept");
    assert!(
        ctx.git.is_some(),
        "the connection is kept: a push deploys a fix"
    );
    assert!(b.sim.repository("acme/shop").is_some());
    assert_eq!(b.count(rec.app_id, "AppWithdrawn"), 0);
    let list = b.deployments(rec.app_id).await;
    assert_eq!(list["items"][0]["status"], "failed");
}
