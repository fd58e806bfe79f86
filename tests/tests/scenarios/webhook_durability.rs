//! No fault loses a push (issue #9): a delivery is recorded and queued before it is answered,
//! so a store that fails while the worker processes it costs a retry, never the push; a push
//! that finds its app busy is kept (the newest per app) and deploys once the app's change
//! ends; a redelivery queues nothing; and the deploy worker Lambda runs the new jobs from SQS
//! events.

use std::sync::Arc;

use axhub_app::state::pending_pushes;
use axhub_queue::Queue;
use axhub_tests::*;
use http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::github::{Gh, setup, setup_on};
use super::lambda_events::sqs_event;
use super::webhooks::push_body;

/// The app's deployments of one commit.
async fn of_commit(g: &Gh, app: Uuid, commit: &str) -> Vec<Value> {
    let list = g.deployments(app).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["commit_sha"] == commit)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_store_failing_mid_processing_retries_the_job_and_the_push_deploys_once() {
    // The worker's transactions: app's deployment, app2's deployment, the delivery's outcome.
    for failing in 1..=3 {
        let faulty = Arc::new(FaultyStore::new(sqlite_store().await));
        let g = setup_on(faulty.clone()).await;
        let w = g.w().clone();
        let delivery = Uuid::new_v4().to_string();
        let after = sha(0x51);
        let r = g
            .webhook("push", &delivery, &push_body("acme/site", "main", &after))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        assert_eq!(r.body["outcome"], "queued");
        faulty.fail_transaction(failing);
        let errors = g.work().await;
        assert!(!faulty.armed(), "transaction {failing} was never reached");
        assert_eq!(errors.len(), 1, "transaction {failing}: {errors:?}");
        let done = g.processed(&delivery).await;
        assert_eq!(done["outcome"], "deployed", "transaction {failing}");
        assert_eq!(done["deployments"].as_array().unwrap().len(), 2);
        for app in [w.app, w.app2] {
            assert_eq!(
                g.deployments(app).await["total"],
                1,
                "transaction {failing}"
            );
            let d = &of_commit(&g, app, &after).await[0];
            assert_eq!(d["trigger_source"], "webhook");
        }
    }
}

#[tokio::test]
async fn pushes_during_a_deployment_deploy_only_the_newest_once_it_ends() {
    let g = setup().await;
    let w = g.w().clone();
    let manual = g.t.deploy(w.app, &w.owner, SHA).await;
    assert_eq!(manual.status, StatusCode::ACCEPTED);
    let (older, newer) = (sha(0x61), sha(0x62));
    let first = g
        .deliver(
            "push",
            &Uuid::new_v4().to_string(),
            &push_body("acme/site", "main", &older),
        )
        .await;
    // app2 was free and deploys; app is busy and keeps the push.
    assert_eq!(first["outcome"], "deployed", "{first}");
    assert_eq!(first["pending"], json!([w.app]));
    let second_id = Uuid::new_v4().to_string();
    let second = g
        .deliver("push", &second_id, &push_body("acme/site", "main", &newer))
        .await;
    assert_eq!(second["outcome"], "pending", "{second}");
    // Its job again (SQS delivers at least once) keeps it, not supersedes it.
    let job = axhub_app::jobs::Job::GithubDelivery {
        delivery_id: second_id.clone(),
    };
    let store = &g.t.deps.store;
    let key = axhub_app::state::deliveries::key(&second_id);
    let update = axhub_store::Update::new().set("state", "queued");
    store.update(&key, update, None).await.unwrap();
    axhub_app::worker::run(&g.t.deps, &job).await.unwrap();
    assert_eq!(g.processed(&second_id).await["outcome"], "pending");
    let kept = pending_pushes::get(&g.t.deps, w.app)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.delivery_id.as_str(), kept.commit_sha.as_str()),
        (second_id.as_str(), newer.as_str())
    );
    assert_eq!(g.deployments(w.app).await["total"], 1);

    // The deployments run to their end; each end deploys its app's newest kept push.
    assert_eq!(g.work_all().await, Vec::<String>::new());
    for app in [w.app, w.app2] {
        assert!(of_commit(&g, app, &older).await.len() <= usize::from(app == w.app2));
        let deployed = of_commit(&g, app, &newer).await;
        assert_eq!(deployed.len(), 1, "{app}");
        assert_eq!(deployed[0]["trigger_source"], "webhook");
        assert_eq!(deployed[0]["triggered_by"], "github:octo");
        assert_eq!(deployed[0]["status"], "succeeded");
        assert_eq!(pending_pushes::get(&g.t.deps, app).await.unwrap(), None);
    }
    assert!(of_commit(&g, w.app, &older).await.is_empty());
    assert_eq!(g.deployments(w.app).await["total"], 2);
    assert_eq!(g.deployments(w.app2).await["total"], 2);
}

#[tokio::test]
async fn a_kept_push_deploys_after_a_cancel_and_is_dropped_when_the_branch_changed() {
    let g = setup().await;
    let w = g.w().clone();
    let manual = g.t.deploy(w.app, &w.owner, SHA).await;
    let kept = g
        .deliver(
            "push",
            &Uuid::new_v4().to_string(),
            &push_body("acme/site", "main", &sha(0x71)),
        )
        .await;
    assert!(kept["pending"].to_string().contains(&w.app.to_string()));
    let r = g.t.cancel(w.app, &did(&manual), &w.owner).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(g.work().await.is_empty());
    let deployed = of_commit(&g, w.app, &sha(0x71)).await;
    assert_eq!(deployed.len(), 1);
    assert_eq!(deployed[0]["trigger_source"], "webhook");

    // Kept while that one runs, then the app follows another branch: dropped.
    let again = g
        .deliver(
            "push",
            &Uuid::new_v4().to_string(),
            &push_body("acme/site", "main", &sha(0x72)),
        )
        .await;
    assert!(again["pending"].to_string().contains(&w.app.to_string()));
    let uri = format!("/api/v1/apps/{}/git-connection", w.app);
    let r = g.patch(&uri, &w.owner, json!({"branch": "develop"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let running = deployed[0]["id"].as_str().unwrap().to_owned();
    let r = g.t.cancel(w.app, &running, &w.owner).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(g.work().await.is_empty());
    assert!(of_commit(&g, w.app, &sha(0x72)).await.is_empty());
    assert_eq!(pending_pushes::get(&g.t.deps, w.app).await.unwrap(), None);
    assert_eq!(g.deployments(w.app).await["total"], 2);
}

#[tokio::test]
async fn a_redelivered_id_is_a_duplicate_and_queues_nothing() {
    let g = setup().await;
    let w = g.w().clone();
    let delivery = Uuid::new_v4().to_string();
    let body = push_body("acme/site", "main", &sha(0x81));
    assert_eq!(
        g.webhook("push", &delivery, &body).await.body["outcome"],
        "queued"
    );
    // Before the worker ran it, and after.
    let r = g.webhook("push", &delivery, &body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        (r.body["outcome"].as_str(), r.body["reason"].as_str()),
        (Some("duplicate"), Some("delivery is queued"))
    );
    assert_eq!(g.queued("github_delivery").await.len(), 1);
    assert!(g.work().await.is_empty());
    let r = g.webhook("push", &delivery, &body).await;
    assert_eq!(r.body["outcome"], "duplicate");
    assert_eq!(r.body["reason"], "delivery already processed: deployed");
    assert!(g.queued("github_delivery").await.is_empty());
    assert!(g.work().await.is_empty());
    assert_eq!(g.deployments(w.app).await["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_deploy_worker_lambda_runs_webhook_jobs_from_sqs_events() {
    let g = setup().await;
    let w = g.w().clone();
    let delivery = Uuid::new_v4().to_string();
    let after = sha(0x91);
    let r = g
        .webhook("push", &delivery, &push_body("acme/site", "main", &after))
        .await;
    assert_eq!(r.body["outcome"], "queued");
    // The job body as the outbox hands it to SQS.
    let bodies = g.queued("github_delivery").await;
    assert_eq!(
        bodies,
        vec![json!({"kind": "github_delivery", "delivery_id": delivery})]
    );
    let webhook_job = bodies[0].to_string();
    let pending_job = json!({"kind": "pending_push", "app_id": w.app}).to_string();
    let queue: Arc<dyn Queue> =
        Arc::new(axhub_sqlite::SqliteQueue::in_memory(axhub_app::jobs::DEPLOY_QUEUE, 5).unwrap());
    let event = sqs_event(&[
        ("m-webhook", &webhook_job),
        ("m-pending", &pending_job),
        ("m-bad", r#"{"kind":"github_delivery"}"#),
    ]);
    let resp = deploy_worker_fn::handle(
        &g.t.deps,
        queue.as_ref(),
        event,
        axhub_lambda::sqs::DEFAULT_BUDGET,
    )
    .await;
    let failed = super::lambda_events::failed_records(&resp);
    assert_eq!(failed, vec!["m-bad".to_string()]);
    assert_eq!(g.processed(&delivery).await["outcome"], "deployed");
    let d = &of_commit(&g, w.app, &after).await[0];
    assert_eq!(d["trigger_source"], "webhook");
    // The same record again (SQS delivers at least once): nothing twice.
    let event = sqs_event(&[("m-webhook", &webhook_job)]);
    let resp = deploy_worker_fn::handle(
        &g.t.deps,
        queue.as_ref(),
        event,
        axhub_lambda::sqs::DEFAULT_BUDGET,
    )
    .await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(g.deployments(w.app).await["total"], 1);
}

#[tokio::test]
async fn a_push_whose_job_runs_late_never_deploys_over_a_newer_one() {
    let g = setup().await;
    let w = g.w().clone();
    let (older_id, newer_id) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    let (older, newer) = (sha(0xa1), sha(0xa2));
    for (id, commit) in [(&older_id, &older), (&newer_id, &newer)] {
        let r = g
            .webhook("push", id, &push_body("acme/site", "main", commit))
            .await;
        assert_eq!(r.body["outcome"], "queued");
    }
    // The newer delivery's job runs first (the older one's failed and waits for its retry).
    let job = axhub_app::jobs::Job::GithubDelivery {
        delivery_id: newer_id.clone(),
    };
    axhub_app::worker::run(&g.t.deps, &job).await.unwrap();
    assert_eq!(g.processed(&newer_id).await["outcome"], "deployed");
    assert!(g.work_all().await.is_empty());
    let late = g.processed(&older_id).await;
    assert_eq!(late["outcome"], "skipped", "{late}");
    assert!(late["skipped"].to_string().contains("superseded"));
    for app in [w.app, w.app2] {
        assert!(of_commit(&g, app, &older).await.is_empty());
        assert_eq!(of_commit(&g, app, &newer).await.len(), 1);
        assert_eq!(pending_pushes::get(&g.t.deps, app).await.unwrap(), None);
    }
}
