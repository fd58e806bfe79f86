//! The read model fed by neighbouring services' events, as the events-ingest Lambda receives
//! them (EventBridge envelopes in SQS records): access follows memberships and apps as they
//! change, in any order, replays included.

use axhub_tests::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};

fn envelope(detail_type: &str, source: &str, detail: Value) -> String {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-29T09:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail
    })
    .to_string()
}

/// The ingest Lambda's handler on one batch, with the budget of a local run.
async fn ingest_batch(
    deps: &axhub_app::Deps,
    event: aws_lambda_events::sqs::SqsEvent,
) -> aws_lambda_events::sqs::SqsBatchResponse {
    events_ingest_fn::handle(deps, event, axhub_lambda::sqs::DEFAULT_BUDGET).await
}

fn sqs(bodies: &[(&str, String)]) -> aws_lambda_events::sqs::SqsEvent {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| json!({"messageId": id, "receiptHandle": "r", "body": body, "eventSource": "aws:sqs", "awsRegion": "us-east-1"}))
        .collect();
    serde_json::from_value(json!({"Records": records})).unwrap()
}

#[tokio::test]
async fn memberships_and_apps_follow_their_events_in_any_order() {
    let t = sqlite_app().await;
    let w = &t.world;
    let newcomer = format!("new-{}", uuid::Uuid::new_v4().simple());
    let list = format!("/api/v1/apps/{}/deployments", w.app);
    assert_eq!(
        t.call(Method::GET, &list, Some(&newcomer), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let join = envelope(
        "MembershipUpserted",
        "axhub.tenants",
        json!({"tenant_id": w.tenant, "user_id": newcomer, "role": "tenant_member", "version": 10}),
    );
    let leave = envelope(
        "MembershipRemoved",
        "axhub.tenants",
        json!({"tenant_id": w.tenant, "user_id": newcomer, "version": 20}),
    );
    let resp = ingest_batch(
        &t.deps,
        sqs(&[
            ("1", join.clone()),
            ("2", "garbage".into()),
            ("3", envelope("SomethingElse", "x", json!({}))),
        ]),
    )
    .await;
    let failed = super::lambda_events::failed_records(&resp);
    assert_eq!(
        failed,
        vec!["2".to_string()],
        "only the undecodable record fails"
    );
    assert_eq!(
        t.call(Method::GET, &list, Some(&newcomer), None)
            .await
            .status,
        StatusCode::OK
    );

    // Removal, then a late replay of the older join: the member stays out.
    ingest_batch(&t.deps, sqs(&[("4", leave), ("5", join)])).await;
    assert_eq!(
        t.call(Method::GET, &list, Some(&newcomer), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The app's subdomain removed: triggers answer 412; review approval then needs staging.
    let app = |v: i64, sub: Value| {
        envelope(
            "AppUpserted",
            "axhub.apps",
            json!({"id": w.app, "tenant_id": w.tenant, "owner_id": w.owner, "slug": "site", "subdomain": sub, "approved": false, "version": v}),
        )
    };
    ingest_batch(&t.deps, sqs(&[("6", app(5, Value::Null))])).await;
    assert_eq!(
        t.deploy(w.app, &w.owner, SHA).await.code(),
        "subdomain_not_configured"
    );
    ingest_batch(
        &t.deps,
        sqs(&[("7", app(6, json!("site"))), ("8", app(4, Value::Null))]),
    )
    .await;
    ingest_batch(
        &t.deps,
        sqs(&[(
            "9",
            envelope(
                "ReviewApproved",
                "axhub.review",
                json!({"request_id": uuid::Uuid::now_v7(), "app_id": w.app, "deployment_id": uuid::Uuid::now_v7(), "cursor_seq": 3, "version": 7}),
            ),
        )]),
    )
    .await;
    assert_eq!(
        t.deploy(w.app, &w.owner, SHA).await.code(),
        "staging_required"
    );

    // A deleted app no longer exists, and a late upsert does not bring it back.
    ingest_batch(
        &t.deps,
        sqs(&[
            (
                "10",
                envelope(
                    "AppDeleted",
                    "axhub.apps",
                    json!({"id": w.app, "version": 9}),
                ),
            ),
            ("11", app(8, json!("site"))),
        ]),
    )
    .await;
    assert_eq!(
        t.call(Method::GET, &list, Some(&w.owner), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn reviews_follow_their_events_in_any_order_and_an_early_approval_is_kept() {
    use axhub_app::ingest::{Applied, apply_delivered, source_of};
    use axhub_app::state::reviews::{self, ReviewStatus};
    // Each event from the service that owns it.
    async fn apply(
        deps: &axhub_app::Deps,
        detail_type: &str,
        detail: &Value,
    ) -> Result<Applied, axhub_domain::Error> {
        let source = source_of(detail_type).unwrap();
        apply_delivered(deps, source, detail_type, detail).await
    }
    let t = sqlite_app().await;
    let w = &t.world;
    let request = uuid::Uuid::now_v7();
    let deployment = uuid::Uuid::now_v7();
    let event = |v: i64| json!({"request_id": request, "app_id": w.app, "deployment_id": deployment, "cursor_seq": 4, "version": v});
    // The request is pending, until the review decides; an older event changes nothing.
    assert_eq!(
        apply(&t.deps, "ReviewRequested", &event(1)).await.unwrap(),
        Applied::Applied
    );
    assert!(reviews::has_pending(&t.deps, w.app).await.unwrap());
    assert_eq!(
        apply(&t.deps, "ReviewCancelled", &event(3)).await.unwrap(),
        Applied::Applied
    );
    assert_eq!(
        apply(&t.deps, "ReviewRequested", &event(2)).await.unwrap(),
        Applied::Stale
    );
    assert!(!reviews::has_pending(&t.deps, w.app).await.unwrap());
    let r = reviews::get(&t.deps, request).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.cursor_seq, r.deployment_id),
        (ReviewStatus::Cancelled, 4, deployment)
    );
    // A detail without the review's ids is refused (and reaches the dead-letter queue).
    assert!(
        apply(
            &t.deps,
            "ReviewApproved",
            &json!({"app_id": w.app, "version": 9})
        )
        .await
        .is_err()
    );

    // An approval that arrives before the app's own event is kept: the app is approved once
    // it is known (an approved app deploys only through staging).
    let later = uuid::Uuid::now_v7();
    let early = json!({"request_id": uuid::Uuid::now_v7(), "app_id": later, "deployment_id": deployment, "version": 1});
    assert_eq!(
        apply(&t.deps, "ReviewApproved", &early).await.unwrap(),
        Applied::Applied
    );
    let app = json!({"id": later, "tenant_id": w.tenant, "owner_id": w.owner, "slug": "later", "subdomain": "later", "approved": false, "version": 1});
    assert_eq!(
        apply(&t.deps, "AppUpserted", &app).await.unwrap(),
        Applied::Applied
    );
    let ctx = axhub_app::state::apps::load(&t.deps, later)
        .await
        .unwrap()
        .unwrap();
    assert!(ctx.app.approved);
}

#[tokio::test]
async fn an_event_is_believed_only_from_the_service_that_owns_it() {
    use axhub_app::ingest::apply_delivered;
    let t = sqlite_app().await;
    let w = &t.world;
    let grab = json!({"id": w.app, "tenant_id": w.tenant, "owner_id": "mallory", "slug": "site", "subdomain": "site", "approved": false, "version": 99});
    let e = apply_delivered(&t.deps, "axhub.review", "AppUpserted", &grab)
        .await
        .unwrap_err();
    assert_eq!(e.code.as_str(), "forbidden");
    let ctx = axhub_app::state::apps::load(&t.deps, w.app)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ctx.app.owner_id, w.owner, "nothing was written");
    // Types this service does not follow are ignored whatever their source.
    assert_eq!(
        apply_delivered(&t.deps, "anyone", "SomethingElse", &json!({}))
            .await
            .unwrap(),
        axhub_app::ingest::Applied::Ignored
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_through_the_lambda_queues_its_promotion_and_sources_are_checked() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["status"], "succeeded");
    s.stop_worker();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let request = uuid::Uuid::now_v7();
    let approval = json!({"request_id": request, "app_id": w.app, "deployment_id": d["id"],
                          "cursor_seq": 0, "version": 1});
    let op = json!({"app_id": w.app, "seq": 1, "op": "drop_table", "table": "t"});
    let resp = ingest_batch(
        &s.app.deps,
        sqs(&[
            ("ok", envelope("ReviewApproved", "axhub.review", approval.clone())),
            ("spoofed", envelope("ReviewApproved", "axhub.apps", approval)),
            ("op", envelope("SchemaOpRecorded", "axhub.nocode-db", op.clone())),
            ("op-spoofed", envelope("SchemaOpRecorded", "axhub.review", op)),
            (
                "bad-op",
                envelope(
                    "SchemaOpRecorded",
                    "axhub.nocode-db",
                    json!({"app_id": w.app, "seq": 2, "op": "create_table", "table": "t", "columns": []}),
                ),
            ),
        ]),
    )
    .await;
    let failed = super::lambda_events::failed_records(&resp);
    assert_eq!(failed, ["spoofed", "op-spoofed", "bad-op"]);
    let jobs = s
        .queue
        .receive(
            10,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
        )
        .await
        .unwrap();
    let promote = json!({"kind": "promote", "request_id": request}).to_string();
    assert!(
        jobs.iter().any(|m| m.body == promote),
        "{:?}",
        jobs.iter().map(|m| &m.body).collect::<Vec<_>>()
    );
    let p = axhub_app::state::promotions::get(&s.app.deps, request)
        .await
        .unwrap()
        .expect("the promotion started");
    assert_eq!(p.status, axhub_domain::PromoteStatus::Promoting);
}
