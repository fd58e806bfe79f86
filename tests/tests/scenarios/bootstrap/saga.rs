//! The saga's happy path, a user's own account, GitHub's rate limit and passing failures,
//! a crash between every pair of steps, and every step delivered twice.

use std::time::Duration;

use axhub_app::state::apps;
use axhub_simgithub::Fault;
use http::Method;

use super::*;

/// What a finished saga must have made, exactly once each: one app, one repository holding
/// the template as one commit after GitHub's first, one connection, one succeeded deployment.
async fn assert_done_once(b: &Boot, id: Uuid, repo: &str) {
    let v = b.view(id).await;
    assert_eq!(
        (v["status"].as_str(), v["stage"].as_str()),
        (Some("done"), Some("done")),
        "{v}"
    );
    assert_eq!(v["error_code"], "");
    assert_eq!(v["repo_full_name"], repo);
    let app = Uuid::parse_str(v["app_id"].as_str().unwrap()).unwrap();
    let ctx = apps::load(b.deps(), app)
        .await
        .unwrap()
        .expect("the app exists");
    assert_eq!(ctx.app.slug, "shop");
    assert_eq!(ctx.app.owner_id, b.w().owner);
    let git = ctx.git.expect("the app is connected");
    assert_eq!(
        (git.repo_full_name.as_str(), git.branch.as_str()),
        (repo, "main")
    );

    let history = b.sim.commits(repo, "main");
    assert_eq!(
        history.len(),
        2,
        "GitHub's first commit and the template's: {history:?}"
    );
    assert_eq!(v["commit_sha"], history[1].as_str());
    let files = b.sim.files(repo, "main").unwrap();
    let mut names: Vec<&str> = files.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["Dockerfile", "package.json", "server.js"]);
    assert!(
        String::from_utf8_lossy(&files["server.js"]).contains("Hello from axhub"),
        "the template's own content"
    );

    let list = b.deployments(app).await;
    assert_eq!(list["total"], 1, "{list}");
    let d = &list["items"][0];
    assert_eq!(v["deployment_id"], d["id"]);
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["trigger_source"], "manual");
    assert_eq!(d["commit_sha"], history[1].as_str());

    for (kind, n) in [
        ("AppRegistered", 1),
        ("GitConnected", 1),
        ("DeploymentStarted", 1),
        ("BootstrapFinished", 1),
        ("AppWithdrawn", 0),
    ] {
        assert_eq!(b.count(app, kind), n, "{kind}: {:?}", b.events(app));
    }
}

#[tokio::test]
async fn a_template_becomes_a_connected_repository_and_a_running_first_deployment() {
    let b = setup().await;
    let r = b.post(&b.w().owner.clone(), b.request()).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = Uuid::parse_str(r.body["bootstrap_id"].as_str().unwrap()).unwrap();
    assert_eq!(
        r.body["status_url"],
        format!("/api/v1/tenants/{}/app-bootstraps/{id}", b.w().tenant)
    );
    let v = b.view(id).await;
    assert_eq!(
        (v["stage"].as_str(), v["status"].as_str()),
        (Some("app"), Some("running"))
    );
    for empty in [
        "app_id",
        "repo_full_name",
        "deployment_id",
        "error_code",
        "error_message",
    ] {
        assert_eq!(v[empty], "", "{empty} before any stage produced it");
    }
    // Progress can be followed: each step shows before the next runs.
    let mut seen = vec![];
    for stage in ["repo", "push", "connect", "deploy"] {
        b.run_until(id, |s| s.stage.as_str() == stage).await;
        let v = b.view(id).await;
        seen.push(v["stage"].as_str().unwrap().to_owned());
        if stage == "push" {
            assert_eq!(v["repo_full_name"], "acme/shop");
            assert_ne!(v["app_id"], "");
        }
    }
    assert_eq!(seen, ["repo", "push", "connect", "deploy"]);
    let drained = b.drain().await;
    assert!(drained.errors.is_empty(), "{drained:?}");
    assert_done_once(&b, id, "acme/shop").await;
    let (repo, _) = b.sim.repository("acme/shop").unwrap();
    assert!(repo.private, "repo_private defaults to true");
    // The finished event says how it ended.
    let finished = b
        .bus
        .history()
        .into_iter()
        .find(|e| e.kind.detail_type() == "BootstrapFinished")
        .unwrap();
    assert_eq!(finished.detail["status"], "done");
    assert_eq!(finished.detail["bootstrap_id"], id.to_string());
    // The names went back to the app: a second saga for the slug is refused by the app's own.
    let again = b.post(&b.w().owner.clone(), b.request()).await;
    assert_eq!(again.status, 400, "{:?}", again.body);
    assert_eq!(again.body["error"]["fields"][0]["name"], "slug");
}

/// The same saga on DynamoDB (moto), whose transactions refuse to touch one item twice, then
/// a second saga failing and cleaning up there.
#[tokio::test]
async fn the_saga_and_its_clean_up_run_on_dynamodb_too() {
    let b = setup_on(dynamo_store().await).await;
    let id = b.start(b.request()).await;
    let drained = b.drain().await;
    assert!(drained.errors.is_empty(), "{drained:?}");
    assert_done_once(&b, id, "acme/shop").await;

    let mut body = b.request();
    for field in ["slug", "subdomain", "repo_name"] {
        body[field] = json!("second");
    }
    b.sim.fail(
        "POST /repos/{owner}/{repo}/git/commits",
        Fault::Status(500),
        1000,
    );
    let second = b.start(body).await;
    b.drain().await;
    let v = b.view(second).await;
    assert_eq!(
        (v["status"].as_str(), v["error_code"].as_str()),
        (Some("failed"), Some("push_failed")),
        "{v}"
    );
    assert!(b.sim.repository("acme/second").is_none());
}

#[tokio::test]
async fn a_users_own_account_gets_the_repository_through_the_users_token() {
    let b = setup().await;
    let personal = b.sim.install(OWNER_LOGIN);
    let mut body = b.request();
    body["github_owner"] = json!(OWNER_LOGIN);
    body["github_installation_id"] = json!(personal);
    body["repo_private"] = json!(false);
    let id = b.start(body).await;
    let drained = b.drain().await;
    assert!(drained.errors.is_empty(), "{drained:?}");
    let repo = format!("{OWNER_LOGIN}/shop");
    assert_done_once(&b, id, &repo).await;
    assert!(!b.sim.repository(&repo).unwrap().0.private);
    assert_eq!(b.sim.calls("POST /user/repos"), 1);
    assert_eq!(b.sim.calls("POST /orgs/{org}/repos"), 0);
}

#[tokio::test]
async fn githubs_rate_limit_makes_a_step_wait_for_its_retry_after_not_fail() {
    let b = setup().await;
    b.sim.fail(
        "POST /orgs/{org}/repos",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        1,
    );
    let id = b.start(b.request()).await;
    let drained = b.drain().await;
    assert!(
        drained.waits.contains(&Duration::from_secs(7)),
        "{drained:?}"
    );
    assert_done_once(&b, id, "acme/shop").await;
    assert_eq!(b.record(id).await.attempts, 0);
}

#[tokio::test]
async fn a_passing_github_failure_is_retried_within_the_step() {
    let b = setup().await;
    // Two answers of 502 use up one call's own retries: the step is tried again.
    b.sim.fail(
        "POST /repos/{owner}/{repo}/git/commits",
        Fault::Status(502),
        2,
    );
    let id = b.start(b.request()).await;
    let drained = b.drain().await;
    assert!(
        drained.waits.iter().any(|w| *w >= Duration::from_secs(2)),
        "backed off: {drained:?}"
    );
    assert_done_once(&b, id, "acme/shop").await;
}

/// Every store transaction after the request is made to fail once, one run per position:
/// whatever a step did outside the store (a repository, a commit, a deployment) is found
/// again on the next run, and the saga ends done with everything made once.
#[tokio::test]
async fn a_crash_between_any_two_steps_resumes_and_makes_everything_once() {
    let mut positions = 0;
    for k in 1.. {
        let b = setup().await;
        let id = b.start(b.request()).await;
        b.faulty.fail_transaction(k);
        let drained = b.drain().await;
        if b.faulty.armed() {
            // The saga made fewer than `k` transactions: every position was covered.
            break;
        }
        positions += 1;
        assert!(
            !drained.errors.is_empty() || !drained.waits.is_empty(),
            "k={k}: the failure was seen"
        );
        assert_done_once(&b, id, "acme/shop").await;
        assert_eq!(
            b.sim.calls("POST /orgs/{org}/repos"),
            1,
            "k={k}: one repository"
        );
        assert!(k < 200, "the saga does not end");
    }
    assert!(
        positions >= 8,
        "the happy path commits at least once per step: {positions}"
    );
}

#[tokio::test]
async fn every_step_delivered_twice_does_no_harm() {
    let b = setup().await;
    let id = b.start(b.request()).await;
    let drained = b.drain_duplicated().await;
    assert!(drained.errors.is_empty(), "{drained:?}");
    assert_done_once(&b, id, "acme/shop").await;
    assert_eq!(b.sim.calls("POST /orgs/{org}/repos"), 1);
    assert_eq!(
        b.sim
            .calls("PATCH /repos/{owner}/{repo}/git/refs/heads/{*branch}"),
        1,
        "the branch moved once"
    );
    // A job for a saga that ended is dropped.
    let again =
        b.t.call(
            Method::GET,
            &format!("{}/{id}", b.url()),
            Some(&b.w().owner),
            None,
        )
        .await;
    assert_eq!(again.body["status"], "done");
    assert_eq!(
        axhub_app::worker::run(b.deps(), &Job::Bootstrap { bootstrap_id: id })
            .await
            .unwrap(),
        Next::Done
    );
}

/// The `bootstrap-worker` Lambda handler, fed the saga's job as SQS hands it over next to a
/// poison record: the step runs, and only the poison record is reported failed.
#[tokio::test]
async fn the_bootstrap_worker_lambda_runs_a_step_from_an_sqs_event() {
    let b = setup().await;
    let id = b.start(b.request()).await;
    let job = b.take_step().await;
    let event = crate::lambda_events::sqs_event(&[("m-step", &job), ("m-bad", "not json")]);
    let resp = bootstrap_worker_fn::handle(
        b.deps(),
        b.boot_q.as_ref(),
        event,
        axhub_lambda::sqs::DEFAULT_BUDGET,
    )
    .await;
    assert_eq!(crate::lambda_events::failed_records(&resp), ["m-bad"]);
    let rec = b.record(id).await;
    assert_eq!(rec.stage.as_str(), "repo", "the app step ran");
    assert_eq!(b.take_step().await, job, "and queued the next step");
}
