//! The release lifecycle (issue #8): production changes only through guarded paths. Deploy to
//! production, enable staging (the database forked), a trigger lands on staging, schema ops
//! and environment hashes arrive by event, a review approves a version, the promotion applies
//! the ops once and swaps production, rollbacks are guarded, staging goes away again.

use std::time::Duration;

use axhub_app::pipeline;
use axhub_app::state::apps;
use axhub_domain::Environment;
use axhub_ports::appdb::{AppDatabase, Ident, Literal, SchemaOp};
use axhub_tests::*;
use http::{Method, StatusCode};

mod promotion;
mod staging;
mod whole;
use serde_json::{Value, json};
use uuid::Uuid;

pub(super) const USERS: &str = "users";

pub(super) fn ident(s: &str) -> Ident {
    serde_json::from_value(json!(s)).unwrap()
}

pub(super) fn op(v: Value) -> SchemaOp {
    serde_json::from_value(v).unwrap()
}

/// `users (id pk, name)` in production, with one row.
pub(super) async fn production_schema(db: &dyn AppDatabase, app: Uuid) {
    db.ensure_schema(app, Environment::Production)
        .await
        .unwrap();
    let create = op(
        json!({"seq": 1, "op": "create_table", "table": USERS, "columns": [
            {"name": "id", "type": "integer", "primary_key": true, "nullable": false},
            {"name": "name", "type": "text"}
        ]}),
    );
    db.apply_ops(app, Environment::Production, &[create])
        .await
        .unwrap();
    db.insert_for_test(
        app,
        Environment::Production,
        &ident(USERS),
        &[
            (ident("id"), Literal::Integer(1)),
            (ident("name"), Literal::Text("ada".into())),
        ],
    )
    .await
    .unwrap();
}

/// The ops the no-code DB service records on staging after the fork: one additive, one
/// destructive.
pub(super) fn staging_ops(app: Uuid) -> Vec<Value> {
    vec![
        json!({"app_id": app, "seq": 2, "op": "add_column", "table": USERS,
               "column": {"name": "email", "type": "text"}}),
        json!({"app_id": app, "seq": 3, "op": "drop_column", "table": USERS, "column": "name"}),
    ]
}

pub(super) async fn event(s: &Stack, source: &str, detail_type: &str, detail: Value) {
    axhub_app::ingest::apply_delivered(&s.app.deps, source, detail_type, &detail)
        .await
        .unwrap_or_else(|e| panic!("{detail_type}: {e}"));
}

/// A review's approval, as the review service sends it.
pub(super) async fn approve(
    s: &Stack,
    request: Uuid,
    app: Uuid,
    deployment: &str,
    cursor: u64,
    version: i64,
) {
    let detail = review(request, app, deployment, cursor, version);
    event(s, "axhub.review", "ReviewApproved", detail).await;
}

/// Stops the background worker and waits out the receive it may be in: from here the test
/// runs the jobs itself.
pub(super) async fn take_over_worker(s: &Stack) {
    s.stop_worker();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
}

pub(super) fn review(
    request: Uuid,
    app: Uuid,
    deployment: &str,
    cursor: u64,
    version: i64,
) -> Value {
    json!({"request_id": request, "app_id": app, "deployment_id": deployment,
           "cursor_seq": cursor, "version": version})
}

pub(super) async fn deployed(s: &Stack, app: Uuid, n: u64) -> Value {
    let w = &s.app.world;
    let r = s.app.deploy(app, &w.owner, &sha(n)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let d = s.wait_for(app, &did(&r), terminal).await;
    assert_eq!(d["status"], "succeeded", "{d:?}");
    d
}

pub(super) async fn image_in(s: &Stack, app: Uuid, env: Environment) -> Option<String> {
    let ctx = apps::existing(&s.app.deps, app).await.unwrap();
    let w = pipeline::workload(&s.app.deps, &ctx, env).await.unwrap();
    s.sim.running_image(&w)
}

pub(super) async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never: {what}");
}

/// The lifecycle events of the app, as (detail-type, status or cause).
pub(super) fn lifecycle_events(s: &Stack, app: Uuid) -> Vec<(String, String)> {
    s.bus
        .history()
        .into_iter()
        .filter(|e| e.app_id == app)
        .filter_map(|e| {
            let t = e.kind.detail_type();
            let d = &e.detail;
            let what = match t {
                "PromoteStatusChanged" => d["promote_status"].as_str()?.to_owned(),
                "ProductionPointerMoved" => d["cause"].as_str()?.to_owned(),
                "StagingEnabled" | "StagingDisabled" => String::new(),
                "RollbackFinished" => d["status"].as_str()?.to_owned(),
                _ => return None,
            };
            Some((t.to_owned(), what))
        })
        .collect()
}

pub(super) fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

pub(super) async fn rollback(s: &Stack, app: Uuid, to: &str, confirm: bool) -> Resp {
    let uri = format!("/api/v1/apps/{app}/deployments/{to}/rollback");
    let body = json!({"confirm_schema_skew": confirm});
    s.app
        .call(Method::POST, &uri, Some(&s.app.world.owner), Some(body))
        .await
}

pub(super) async fn production_pointer(s: &Stack, app: Uuid) -> Option<String> {
    apps::existing(&s.app.deps, app)
        .await
        .unwrap()
        .app
        .production_deployment_id
        .map(|d| d.to_string())
}

pub(super) async fn wait_rollback(s: &Stack, app: Uuid, n: usize) {
    eventually("the rollback ended", || async {
        lifecycle_events(s, app)
            .iter()
            .filter(|(t, st)| t == "RollbackFinished" && st == "succeeded")
            .count()
            >= n
    })
    .await;
}
