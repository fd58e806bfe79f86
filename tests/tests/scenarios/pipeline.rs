//! The pipeline end to end on the local stack (SQLite store and queue, simulated cluster,
//! in-process bus), and its faults: a killed worker, duplicate delivery, a crash between
//! commit and publish, a poison job, a stuck deployment.

use std::time::Duration;

use axhub_app::jobs::{self, Job, Next};
use axhub_app::worker;
use axhub_tests::*;
use http::{Method, StatusCode};
use uuid::Uuid;

/// The owner-or-admin gate: a plain member is refused, an outsider sees nothing.
async fn members_get_403_outsiders_404(s: &Stack, method: Method, uri: &str) {
    let w = &s.app.world;
    let member = s.app.call(method.clone(), uri, Some(&w.member), None).await;
    assert_eq!(member.status, StatusCode::FORBIDDEN);
    let outsider = s.app.call(method, uri, Some(&w.outsider), None).await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deployment_reaches_succeeded_on_its_own_with_its_events_in_order() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["release_version"], "v1");
    // Pinned by digest: the digest the build reported, which the tag names.
    let image = d["image_uri"].as_str().unwrap();
    let (repository, digest) = image.split_once('@').unwrap();
    let tag = format!("{repository}:{SHA}");
    use axhub_ports::Registry;
    assert_eq!(s.sim.digest(&tag).await.unwrap().as_deref(), Some(digest));
    // Built with a push credential of its own tenant.
    let credential = s
        .sim
        .push_credential_of(Uuid::parse_str(&did(&r)).unwrap())
        .unwrap();
    assert!(
        credential.contains(&w.tenant.simple().to_string()),
        "{credential}"
    );
    assert!(
        d["current_stage"].is_null()
            && d["completed_at"].is_string()
            && d["failure_reason"].is_null()
    );
    let events = s.wait_events(&did(&r), 6).await;
    let expected: Vec<(String, String)> = [
        ("DeploymentStarted", "pending"),
        ("DeploymentStageChanged", "building"),
        ("DeploymentStageChanged", "pushing"),
        ("DeploymentStageChanged", "deploying"),
        ("DeploymentFinished", "succeeded"),
        ("ProductionPointerMoved", ""),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(events, expected);
    // The slot is free again, and the next success is v2 and reuses no image of another commit.
    let r2 = s.app.deploy(w.app, &w.owner, &sha(2)).await;
    assert_eq!(r2.status, StatusCode::ACCEPTED);
    let d2 = s.wait_for(w.app, &did(&r2), terminal).await;
    assert_eq!(d2["release_version"], "v2");
    let ctx = axhub_app::state::apps::load(&s.app.deps, w.app)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ctx.app.production_deployment_id.unwrap().to_string(),
        did(&r2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_during_building_stops_the_worker_at_the_next_boundary() {
    let s = stack(StackOptions {
        build: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    s.wait_for(w.app, &did(&r), |b| b["status"] == "building")
        .await;
    assert_eq!(
        s.app.cancel(w.app, &did(&r), &w.owner).await.status,
        StatusCode::NO_CONTENT
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["status"], "cancelled");
    assert!(d["image_uri"].is_null());
    let id = Uuid::parse_str(&did(&r)).unwrap();
    assert!(
        s.sim.builds_cancelled().contains(&id),
        "the build was cleaned up"
    );
    let events = s.events_of(&did(&r));
    assert_eq!(
        events.last().unwrap(),
        &("DeploymentFinished".to_string(), "cancelled".to_string())
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.0 == "DeploymentFinished")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_build_ends_failed_with_a_reason_naming_the_stage() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let commit = format!("fa11b0{}", &SHA[6..]);
    let r = s.app.deploy(w.app, &w.owner, &commit).await;
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["status"], "failed");
    assert_eq!(d["failure_reason"]["stage"], "building");
    assert_eq!(d["failure_reason"]["code"], "build.failed");
    assert!(
        d["failure_reason"]["message"]
            .as_str()
            .unwrap()
            .contains("exited")
    );
    assert!(d["release_version"].is_null());
    // A failed deployment frees the slot.
    assert_eq!(
        s.app.deploy(w.app, &w.owner, SHA).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_rollout_names_the_deploy_stage() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let r = s
        .app
        .deploy(w.app, &w.owner, &format!("c4a5c0{}", &SHA[6..]))
        .await;
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["status"], "failed");
    assert_eq!(d["failure_reason"]["stage"], "deploying");
    // The cause has the code diagnosis gives it.
    assert_eq!(d["failure_reason"]["code"], "runtime.crash_loop");
    assert!(
        d["image_uri"].is_string(),
        "the image was built before the rollout failed"
    );
}

/// Works the queue by hand (no background worker) until the deployment is terminal.
async fn drain(s: &Stack, id: Uuid) {
    // Delays are whole seconds on every queue, so each round waits up to a second.
    for _ in 0..30 {
        let msgs = s
            .queue
            .receive(10, Duration::from_secs(30), Duration::from_secs(1))
            .await
            .unwrap();
        for m in msgs {
            axhub_runtime::handle_job(&s.app.deps, s.queue.as_ref(), &m.body)
                .await
                .unwrap();
            s.queue.ack(&m.receipt).await.unwrap();
        }
        let d = axhub_app::state::deployments::get(&s.app.deps, id)
            .await
            .unwrap()
            .unwrap();
        if d.status.is_terminal() {
            return;
        }
    }
    panic!("the deployment never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_stage_and_a_redelivered_job_build_once_and_finish_once() {
    let s = idle_stack().await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    let id = Uuid::parse_str(&did(&r)).unwrap();
    // A worker takes the job, starts the build, and dies before acking or re-enqueueing.
    let first = s
        .queue
        .receive(1, Duration::from_secs(1), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let job: Job = serde_json::from_str(&first[0].body).unwrap();
    assert!(matches!(
        worker::run(&s.app.deps, &job).await.unwrap(),
        Next::Again(_)
    ));
    assert_eq!(s.sim.builds_started(), vec![id]);
    // The same job also arrives twice more (a duplicate send): run both, concurrently.
    let deps = s.app.deps.clone();
    let (a, b) = tokio::join!(worker::run(&deps, &job), worker::run(&deps, &job));
    a.unwrap();
    b.unwrap();
    // After the visibility timeout the message comes back; a new worker finishes the job.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    drain(&s, id).await;
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["release_version"], "v1");
    assert_eq!(s.sim.builds_started(), vec![id], "never built twice");
    let finished = s
        .events_of(&did(&r))
        .into_iter()
        .filter(|e| e.0 == "DeploymentFinished")
        .count();
    assert_eq!(finished, 1, "done exactly once");
    // Late copies of the job change nothing.
    assert_eq!(worker::run(&s.app.deps, &job).await.unwrap(), Next::Done);
    let again = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(again, d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_between_commit_and_publish_loses_no_event() {
    // The API process commits but never publishes (no publisher: as if it died right after).
    let s = stack(StackOptions {
        with_worker: false,
        with_publisher: false,
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(
        s.queue
            .receive(1, Duration::ZERO, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    // A healthy process's sweeper finds the pending entries and publishes them.
    let healthy =
        axhub_app::Deps::new(s.app.deps.store.clone(), b"x").with_publisher(std::sync::Arc::new(
            axhub_runtime::RoutingPublisher::new(s.bus.clone())
                .queue(jobs::DEPLOY_QUEUE, s.queue.clone()),
        ));
    let swept = axhub_app::outbox::sweep(&healthy, Duration::ZERO, 100)
        .await
        .unwrap();
    assert_eq!(swept, 2, "the started event and the build job");
    assert_eq!(
        s.events_of(&did(&r)),
        vec![("DeploymentStarted".to_string(), "pending".to_string())]
    );
    let jobs = s
        .queue
        .receive(10, Duration::from_secs(5), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].body.contains(&did(&r)));
    // Published entries are not published again.
    assert_eq!(
        axhub_app::outbox::sweep(&healthy, Duration::ZERO, 100)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_job_lands_in_the_dead_letter_queue_after_n_tries() {
    let s = stack(StackOptions {
        with_worker: false,
        max_receives: 3,
        ..Default::default()
    })
    .await;
    s.queue
        .send("{\"kind\":\"nonsense\"}", Duration::ZERO)
        .await
        .unwrap();
    let mut tries = 0;
    for _ in 0..6 {
        let msgs = s
            .queue
            .receive(1, Duration::from_secs(30), Duration::from_millis(200))
            .await
            .unwrap();
        for m in msgs {
            tries += 1;
            assert!(
                axhub_runtime::handle_job(&s.app.deps, s.queue.as_ref(), &m.body)
                    .await
                    .is_err()
            );
            s.queue.release(&m.receipt, Duration::ZERO).await.unwrap();
        }
    }
    assert_eq!(
        tries, 3,
        "delivered exactly max_receives times, never in a hot loop"
    );
    let dead = s.queue.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].body.contains("nonsense"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reaper_fails_a_stuck_deployment_and_frees_its_slot() {
    let pipeline = axhub_app::pipeline::PipelineConfig {
        pending_deadline: Duration::ZERO,
        ..Default::default()
    };
    let s = stack(StackOptions {
        with_worker: false,
        pipeline,
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reaped = axhub_app::pipeline::reap(&s.app.deps, 100).await.unwrap();
    assert_eq!(reaped, 1);
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["status"], "failed");
    assert_eq!(d["failure_reason"]["code"], "timeout");
    assert_eq!(d["failure_reason"]["stage"], "pending");
    assert_eq!(
        axhub_app::pipeline::reap(&s.app.deps, 100).await.unwrap(),
        0
    );
    assert_eq!(
        s.app.deploy(w.app, &w.owner, &sha(3)).await.status,
        StatusCode::ACCEPTED
    );
    // The worker that finally gets the stuck job does nothing to the failed deployment.
    let job = Job::Advance {
        deployment_id: Uuid::parse_str(&did(&r)).unwrap(),
    };
    assert_eq!(worker::run(&s.app.deps, &job).await.unwrap(), Next::Done);
    assert_eq!(
        s.wait_for(w.app, &did(&r), terminal).await["status"],
        "failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_swaps_the_production_image_and_moves_the_pointer() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let v1 = s.app.deploy(w.app, &w.owner, &sha(1)).await;
    let d1 = s.wait_for(w.app, &did(&v1), terminal).await;
    let v2 = s.app.deploy(w.app, &w.owner, &sha(2)).await;
    s.wait_for(w.app, &did(&v2), terminal).await;
    let before = s
        .app
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments", w.app),
            Some(&w.owner),
            None,
        )
        .await;
    let r = s
        .app
        .call(
            Method::POST,
            &format!("/api/v1/apps/{}/deployments/{}/rollback", w.app, did(&v1)),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ctx = axhub_app::state::apps::load(&s.app.deps, w.app)
            .await
            .unwrap()
            .unwrap();
        if ctx.app.production_deployment_id.map(|p| p.to_string()) == Some(did(&v1)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "pointer never moved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The event is published right after the pointer's commit: give it a moment.
    let rollback_events = || {
        s.bus
            .history()
            .into_iter()
            .filter(|e| {
                e.kind.detail_type() == "ProductionPointerMoved" && e.detail["cause"] == "rollback"
            })
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while rollback_events() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rollback_events(), 1);
    let after = s
        .app
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments", w.app),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(
        after.body["total"], before.body["total"],
        "no new deployment row"
    );
    let workload = axhub_app::pipeline::workload(
        &s.app.deps,
        &axhub_app::state::apps::load(&s.app.deps, w.app)
            .await
            .unwrap()
            .unwrap(),
        axhub_domain::Environment::Production,
    )
    .await
    .unwrap();
    assert_eq!(
        s.sim.running_image(&workload).as_deref(),
        d1["image_uri"].as_str()
    );

    // Without an image there is nothing to roll back to; members may not; outsiders see nothing.
    let never = s.app.deploy(w.app, &w.owner, &sha(3)).await;
    s.app.cancel(w.app, &did(&never), &w.owner).await;
    let uri = format!(
        "/api/v1/apps/{}/deployments/{}/rollback",
        w.app,
        did(&never)
    );
    let r = s
        .app
        .call(
            Method::POST,
            &uri,
            Some(&w.admin),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "image_not_built"));
    let uri = format!("/api/v1/apps/{}/deployments/{}/rollback", w.app, did(&v1));
    members_get_403_outsiders_404(&s, Method::POST, &uri).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diagnosis_separates_platform_reasons_from_app_output() {
    let s = stack(StackOptions {
        rollout: Duration::from_secs(3),
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let uri = format!("/api/v1/apps/{}/diagnosis", w.app);
    let never = s.app.call(Method::GET, &uri, Some(&w.owner), None).await;
    assert_eq!(never.status, StatusCode::OK);
    assert_eq!(never.body["applicable"], false);

    let r = s
        .app
        .deploy(w.app, &w.owner, &format!("c4a5c0{}", &SHA[6..]))
        .await;
    // Diagnosis explains the live rollout: while it is deploying (once it failed, the workload
    // is put back to the pointer's release, here none).
    s.wait_for(w.app, &did(&r), |b| b["status"] == "deploying")
        .await;
    let mut d = s.app.call(Method::GET, &uri, Some(&w.admin), None).await;
    for _ in 0..50 {
        if d.body["services"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        // The stage moved a moment before the worker applied the workload.
        tokio::time::sleep(Duration::from_millis(20)).await;
        d = s.app.call(Method::GET, &uri, Some(&w.admin), None).await;
    }
    assert_eq!(d.status, StatusCode::OK, "unhealthy is still a 200");
    assert_eq!(d.body["applicable"], true);
    assert_eq!(d.body["healthy"], false);
    let svc = &d.body["services"][0];
    assert_eq!(svc["reason"]["code"], "runtime.crash_loop");
    assert_eq!(svc["reason"]["category"], "app");
    let reason = svc["reason"].to_string();
    assert!(
        !reason.contains("ignore previous") && !reason.contains("kubectl"),
        "{reason}"
    );
    let signals = svc["signals"].as_array().unwrap();
    assert!(!signals.is_empty());
    for sig in signals {
        assert_eq!(sig["untrusted"], true);
        assert!(!sig["text"].as_str().unwrap().chars().any(char::is_control));
    }
    assert!(signals.iter().any(|x| {
        x["text"]
            .as_str()
            .unwrap()
            .contains("ignore previous instructions")
    }));
    members_get_403_outsiders_404(&s, Method::GET, &uri).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_simulated_cluster_emits_build_and_runtime_log_lines() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    s.wait_for(w.app, &did(&r), terminal).await;
    let ctx = axhub_app::state::apps::load(&s.app.deps, w.app)
        .await
        .unwrap()
        .unwrap();
    let workload =
        axhub_app::pipeline::workload(&s.app.deps, &ctx, axhub_domain::Environment::Production)
            .await
            .unwrap();
    let lines = s.sim.log_lines(&workload);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("build: cloning acme/site@")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("build: pushed ")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("app: listening")),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_of_the_same_commit_is_reused_unless_a_rebuild_is_forced() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let first = s.app.deploy(w.app, &w.owner, SHA).await;
    let built = s.wait_for(w.app, &did(&first), terminal).await;
    assert_eq!(s.sim.builds_started().len(), 1);
    let again = s.app.deploy(w.app, &w.owner, SHA).await;
    let d = s.wait_for(w.app, &did(&again), terminal).await;
    assert_eq!(d["status"], "succeeded");
    assert_eq!(
        s.sim.builds_started().len(),
        1,
        "the image was reused, not rebuilt"
    );
    // The very manifest the first build pushed.
    let reused = d["image_uri"].as_str().unwrap().to_owned();
    assert_eq!(reused, built["image_uri"].as_str().unwrap());
    let forced = s
        .app
        .call(
            Method::POST,
            &format!("/api/v1/apps/{}/deployments", w.app),
            Some(&w.owner),
            Some(serde_json::json!({"commit_sha": SHA, "force_rebuild": true})),
        )
        .await;
    let d = s.wait_for(w.app, &did(&forced), terminal).await;
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["force_rebuild"], true);
    assert_eq!(
        s.sim.builds_started().len(),
        2,
        "force_rebuild builds again"
    );
    let rebuilt = d["image_uri"].as_str().unwrap().to_owned();
    assert_ne!(rebuilt, reused, "a rebuild pushes a new manifest");

    // The tag is moved outside the platform: it no longer names the digest a build recorded,
    // so the next deployment rebuilds instead of running whatever the tag names now.
    let tag = format!("{}:{SHA}", rebuilt.split_once('@').unwrap().0);
    let foreign = s.sim.move_tag(&tag).unwrap();
    let after = s.app.deploy(w.app, &w.owner, SHA).await;
    let d = s.wait_for(w.app, &did(&after), terminal).await;
    assert_eq!(d["status"], "succeeded");
    assert_eq!(s.sim.builds_started().len(), 3, "a moved tag is not reused");
    assert!(!d["image_uri"].as_str().unwrap().ends_with(&foreign));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deployment_of_an_app_deleted_meanwhile_ends_failed_instead_of_retrying() {
    let s = idle_stack().await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    let id = Uuid::parse_str(&did(&r)).unwrap();
    let deleted = serde_json::json!({"id": w.app, "version": 1});
    axhub_app::ingest::apply_delivered(&s.app.deps, "axhub.apps", "AppDeleted", &deleted)
        .await
        .unwrap();
    let job = Job::Advance { deployment_id: id };
    assert_eq!(worker::run(&s.app.deps, &job).await.unwrap(), Next::Done);
    let d = axhub_app::state::deployments::get(&s.app.deps, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, axhub_domain::DeploymentStatus::Failed);
    assert_eq!(d.failure_reason.unwrap().code, "app_deleted");
    assert!(s.sim.builds_started().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_outage_keeps_the_deployment_and_retries_the_job() {
    let s = idle_stack().await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    let id = Uuid::parse_str(&did(&r)).unwrap();
    let job = Job::Advance { deployment_id: id };
    s.sim.set_unavailable(true);
    // pending → building needs no cluster; building does: the job fails retryably.
    let e = worker::run(&s.app.deps, &job).await.unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.retryable),
        ("temporarily_unavailable", true)
    );
    let d = s
        .wait_for(w.app, &did(&r), |b| b["status"] == "building")
        .await;
    assert!(
        d["failure_reason"].is_null(),
        "an outage is not the app's failure"
    );
    assert!(s.sim.builds_started().is_empty());
    // The cluster is back: the redelivered job carries the deployment on.
    s.sim.set_unavailable(false);
    drain(&s, id).await;
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["status"], "succeeded");
}

/// The image the app's production workload runs in the simulated cluster, once `settled`
/// holds for it (waiting, bounded, for the worker's clean-up).
async fn production_image(
    s: &Stack,
    app: Uuid,
    settled: impl Fn(Option<&str>) -> bool,
) -> Option<String> {
    let ctx = axhub_app::state::apps::load(&s.app.deps, app)
        .await
        .unwrap()
        .unwrap();
    let workload =
        axhub_app::pipeline::workload(&s.app.deps, &ctx, axhub_domain::Environment::Production)
            .await
            .unwrap();
    for _ in 0..200 {
        if settled(s.sim.running_image(&workload).as_deref()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    s.sim.running_image(&workload)
}

async fn production_image_becomes(s: &Stack, app: Uuid, expected: Option<&str>) -> Option<String> {
    production_image(s, app, |i| i == expected).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_workload_runs_the_pointers_release_after_a_failed_cancelled_or_reaped_rollout() {
    let s = stack(StackOptions {
        rollout: Duration::from_millis(600),
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    // No release yet: a rollout that fails leaves nothing running.
    let crash = format!("c4a5c0{}", &SHA[6..]);
    let r = s.app.deploy(w.app, &w.owner, &crash).await;
    assert_eq!(
        s.wait_for(w.app, &did(&r), terminal).await["status"],
        "failed"
    );
    assert_eq!(production_image_becomes(&s, w.app, None).await, None);

    let v1 = s.app.deploy(w.app, &w.owner, SHA).await;
    let v1 = s.wait_for(w.app, &did(&v1), terminal).await;
    assert_eq!(v1["status"], "succeeded");
    let v1_image = v1["image_uri"].as_str().unwrap().to_owned();

    // A rollout that fails: back to v1.
    let r = s
        .app
        .deploy(w.app, &w.owner, &format!("c4a5c0{}", &sha(7)[6..]))
        .await;
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["failure_reason"]["stage"], "deploying");
    assert_eq!(
        production_image_becomes(&s, w.app, Some(&v1_image))
            .await
            .as_deref(),
        Some(v1_image.as_str())
    );

    // A rollout cancelled while it runs: back to v1.
    let r = s.app.deploy(w.app, &w.owner, &sha(5)).await;
    s.wait_for(w.app, &did(&r), |b| b["status"] == "deploying")
        .await;
    assert_eq!(
        s.app.cancel(w.app, &did(&r), &w.owner).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        production_image_becomes(&s, w.app, Some(&v1_image))
            .await
            .as_deref(),
        Some(v1_image.as_str())
    );
    let ctx = axhub_app::state::apps::load(&s.app.deps, w.app)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ctx.app.production_deployment_id.unwrap().to_string(),
        v1["id"].as_str().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollout_the_reaper_stops_puts_the_workload_back() {
    let s = stack(StackOptions {
        rollout: Duration::from_secs(30),
        pipeline: axhub_app::pipeline::PipelineConfig {
            poll: Duration::from_millis(100),
            deploying_deadline: Duration::from_secs(1),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    s.wait_for(w.app, &did(&r), |b| b["status"] == "deploying")
        .await;
    let rolling = production_image(&s, w.app, |i| i.is_some()).await;
    assert!(
        rolling.is_some_and(|i| i.contains("@sha256:")),
        "rolling out by digest"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        axhub_app::pipeline::reap(&s.app.deps, 100).await.unwrap(),
        1
    );
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["failure_reason"]["code"], "timeout");
    assert_eq!(d["failure_reason"]["stage"], "deploying");
    // No release before it: the worker removes what the stopped rollout had applied.
    assert_eq!(production_image_becomes(&s, w.app, None).await, None);
}
