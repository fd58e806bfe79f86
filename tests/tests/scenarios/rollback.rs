//! Rollbacks are changes like deployments: one at a time through the app's slot, to a
//! release only, with a deadline, an idempotency key, and an end that says how it ended;
//! what production runs afterwards is always the pointer's release.

use std::time::Duration;

use axhub_simcluster::Behaviour;
use axhub_tests::*;
use http::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

async fn rollback(s: &Stack, app: Uuid, to: &str, key: Option<&str>) -> Resp {
    let uri = format!("/api/v1/apps/{app}/deployments/{to}/rollback");
    match key {
        None => {
            s.app
                .call(Method::POST, &uri, Some(&s.app.world.owner), None)
                .await
        }
        Some(k) => {
            let req = http::Request::post(&uri)
                .header(
                    "authorization",
                    format!("Bearer {}", s.app.token(&s.app.world.owner)),
                )
                .header("idempotency-key", k)
                .body(axum::body::Body::empty())
                .unwrap();
            send(&s.app.router, req).await
        }
    }
}

/// Two releases, v1 then v2; production runs v2.
async fn two_releases(s: &Stack) -> (Value, Value) {
    let w = s.app.world.clone();
    let v1 = s.app.deploy(w.app, &w.owner, &sha(1)).await;
    let v1 = s.wait_for(w.app, &did(&v1), terminal).await;
    let v2 = s.app.deploy(w.app, &w.owner, &sha(2)).await;
    let v2 = s.wait_for(w.app, &did(&v2), terminal).await;
    assert_eq!(
        (v1["status"].as_str(), v2["status"].as_str()),
        (Some("succeeded"), Some("succeeded"))
    );
    (v1, v2)
}

/// The rollback events published so far, as (detail-type, status or cause).
fn rollback_events(s: &Stack) -> Vec<Value> {
    s.bus
        .history()
        .into_iter()
        .filter(|e| e.kind.detail_type().starts_with("Rollback"))
        .map(|e| {
            let mut d = e.detail.clone();
            d["kind"] = Value::from(e.kind.detail_type());
            d
        })
        .collect()
}

async fn wait_rollback_finished(s: &Stack) -> Value {
    for _ in 0..400 {
        if let Some(done) = rollback_events(s)
            .into_iter()
            .find(|e| e["kind"] == "RollbackFinished")
        {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no RollbackFinished: {:?}", rollback_events(s));
}

async fn production(s: &Stack, app: Uuid) -> (Option<String>, Option<String>) {
    let ctx = axhub_app::state::apps::load(&s.app.deps, app)
        .await
        .unwrap()
        .unwrap();
    let w = axhub_app::pipeline::workload(&s.app.deps, &ctx, axhub_domain::Environment::Production)
        .await
        .unwrap();
    (
        ctx.app.production_deployment_id.map(|p| p.to_string()),
        s.sim.running_image(&w),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollback_while_a_deployment_runs_is_409_and_the_deployment_finishes() {
    let s = stack(StackOptions {
        build: Duration::from_millis(1500),
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let (v1, _) = two_releases(&s).await;
    let v3 = s.app.deploy(w.app, &w.owner, &sha(3)).await;
    s.wait_for(w.app, &did(&v3), |b| b["status"] == "building")
        .await;
    let r = rollback(&s, w.app, v1["id"].as_str().unwrap(), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "conflict"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deployment")
    );
    let v3 = s.wait_for(w.app, &did(&v3), terminal).await;
    assert_eq!(
        v3["status"], "succeeded",
        "the deployment was not disturbed"
    );
    assert!(rollback_events(&s).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_rollback_at_a_time_and_it_ends_with_an_event() {
    let s = stack(StackOptions {
        rollout: Duration::from_millis(800),
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let (v1, v2) = two_releases(&s).await;
    let r = rollback(&s, w.app, v1["id"].as_str().unwrap(), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    // While it rolls out, another rollback and a deployment are refused.
    let again = rollback(&s, w.app, v2["id"].as_str().unwrap(), None).await;
    assert_eq!((again.status.as_u16(), again.code()), (409, "conflict"));
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rollback")
    );
    assert_eq!(
        s.app.deploy(w.app, &w.owner, &sha(4)).await.status,
        StatusCode::CONFLICT
    );
    let done = wait_rollback_finished(&s).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["deployment_id"], v1["id"]);
    assert!(done["failure_reason"].is_null());
    let (pointer, image) = production(&s, w.app).await;
    assert_eq!(pointer.as_deref(), v1["id"].as_str());
    assert_eq!(image.as_deref(), v1["image_uri"].as_str());
    let kinds: Vec<_> = rollback_events(&s)
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(kinds, vec!["RollbackStarted", "RollbackFinished"]);
    // The slot is free again.
    let next = s.app.deploy(w.app, &w.owner, &sha(5)).await;
    assert_eq!(next.status, StatusCode::ACCEPTED);
    s.wait_for(w.app, &did(&next), terminal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_release_can_be_rolled_back_to() {
    let s = stack(StackOptions {
        rollout: Duration::from_millis(600),
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let (_, v2) = two_releases(&s).await;
    // Failed during its rollout: it has an image but is not a release.
    let crash = s
        .app
        .deploy(w.app, &w.owner, &format!("c4a5c0{}", &sha(6)[6..]))
        .await;
    let crash = s.wait_for(w.app, &did(&crash), terminal).await;
    assert_eq!(crash["status"], "failed");
    assert!(crash["image_uri"].is_string());
    let r = rollback(&s, w.app, crash["id"].as_str().unwrap(), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "not_a_release"));
    // Cancelled during its rollout.
    let c = s.app.deploy(w.app, &w.owner, &sha(7)).await;
    s.wait_for(w.app, &did(&c), |b| b["status"] == "deploying")
        .await;
    assert_eq!(
        s.app.cancel(w.app, &did(&c), &w.owner).await.status,
        StatusCode::NO_CONTENT
    );
    let r = rollback(&s, w.app, &did(&c), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "not_a_release"));
    // The release production already runs: accepted, nothing to do.
    let r = rollback(&s, w.app, v2["id"].as_str().unwrap(), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(rollback_events(&s).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_accepts_one_rollback() {
    let s = stack(StackOptions {
        rollout: Duration::from_millis(600),
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let (v1, _) = two_releases(&s).await;
    let to = v1["id"].as_str().unwrap();
    let first = rollback(&s, w.app, to, Some("rb-1")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let second = rollback(&s, w.app, to, Some("rb-1")).await;
    assert_eq!(second.status, StatusCode::ACCEPTED, "{:?}", second.body);
    assert_eq!(
        second
            .headers
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    wait_rollback_finished(&s).await;
    let started = rollback_events(&s)
        .iter()
        .filter(|e| e["kind"] == "RollbackStarted")
        .count();
    assert_eq!(started, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_rollback_rollout_puts_production_back_to_the_pointers_release() {
    let s = stack(StackOptions {
        rollout: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let (v1, v2) = two_releases(&s).await;
    // v1's image no longer starts (say a secret it needs is gone).
    s.sim.script(&sha(1), Behaviour::CrashLoop);
    let r = rollback(&s, w.app, v1["id"].as_str().unwrap(), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let done = wait_rollback_finished(&s).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["failure_reason"]["stage"], "deploying");
    assert_eq!(done["failure_reason"]["code"], "runtime.crash_loop");
    let v2_image = v2["image_uri"].as_str().unwrap();
    let mut now = production(&s, w.app).await;
    for _ in 0..200 {
        if now.1.as_deref() == Some(v2_image) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        now = production(&s, w.app).await;
    }
    assert_eq!(
        now,
        (
            v2["id"].as_str().map(str::to_owned),
            Some(v2_image.to_owned())
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reaper_ends_a_stuck_rollback_and_frees_the_slot() {
    let s = stack(StackOptions {
        pipeline: axhub_app::pipeline::PipelineConfig {
            poll: Duration::from_millis(100),
            rollback_deadline: Duration::from_secs(1),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let (v1, v2) = two_releases(&s).await;
    // The rollout of v1 will not finish in time.
    s.sim.script(&sha(1), Behaviour::RolloutDeadline);
    let r = rollback(&s, w.app, v1["id"].as_str().unwrap(), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reaped = axhub_app::pipeline::reap(&s.app.deps, 100).await.unwrap();
    // The rollout may have failed on its own first (the simulated deadline is the rollout
    // time); either way the rollback ends once, failed, and the slot is free.
    assert!(reaped <= 1);
    let done = wait_rollback_finished(&s).await;
    assert_eq!(done["status"], "failed");
    let finished = rollback_events(&s)
        .iter()
        .filter(|e| e["kind"] == "RollbackFinished")
        .count();
    assert_eq!(finished, 1);
    let (pointer, _) = production(&s, w.app).await;
    assert_eq!(pointer.as_deref(), v2["id"].as_str());
    assert_eq!(
        s.app.deploy(w.app, &w.owner, &sha(8)).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_staging_on_only_an_approved_version_is_rolled_back_to() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let (v1, _) = two_releases(&s).await;
    axhub_app::directory::set_staging_enabled(&s.app.deps, w.app, true)
        .await
        .unwrap();
    let to = v1["id"].as_str().unwrap();
    let r = rollback(&s, w.app, to, None).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "version_not_approved"));
    assert!(rollback_events(&s).is_empty());
    let approval = serde_json::json!({"request_id": Uuid::now_v7(), "app_id": w.app, "deployment_id": to, "cursor_seq": 0, "version": 1});
    axhub_app::ingest::apply_delivered(&s.app.deps, "axhub.review", "ReviewApproved", &approval)
        .await
        .unwrap();
    // The approval starts its promotion, which holds the app's slot until it ends: the
    // rollback is refused (409, "wait for it to finish") until then.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let r = loop {
        let r = rollback(&s, w.app, to, None).await;
        if r.status != StatusCode::CONFLICT || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(wait_rollback_finished(&s).await["status"], "succeeded");
}
