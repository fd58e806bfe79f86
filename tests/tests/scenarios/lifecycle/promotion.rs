//! Promotions killed, failed, retried and stuck.

use std::time::Duration;

use axhub_app::jobs::{Job, Next};
use axhub_app::state::{apps, promotions};
use axhub_app::{pipeline, worker};
use axhub_domain::{Environment, PromoteStatus};
use axhub_ports::appdb::{AppDatabase, AppDbError, Ident, Literal, SchemaDescription, SchemaOp};
use axhub_tests::*;
use http::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use super::*;

/// An app database that loses its connection after applying one op of a call: a promote
/// killed between two ops.
struct DyingAppDb {
    inner: std::sync::Arc<dyn AppDatabase>,
    die_after_one: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl AppDatabase for DyingAppDb {
    async fn ensure_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError> {
        self.inner.ensure_schema(app, env).await
    }
    async fn fork_structure(
        &self,
        app: Uuid,
        from: Environment,
        to: Environment,
    ) -> Result<(), AppDbError> {
        self.inner.fork_structure(app, from, to).await
    }
    async fn drop_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError> {
        self.inner.drop_schema(app, env).await
    }
    async fn apply_ops(
        &self,
        app: Uuid,
        env: Environment,
        ops: &[SchemaOp],
    ) -> Result<Vec<u64>, AppDbError> {
        if self
            .die_after_one
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            let pending =
                axhub_ports::appdb::pending(ops, self.inner.applied_through(app, env).await?)?;
            if let Some(first) = pending.first() {
                self.inner.apply_ops(app, env, &[(*first).clone()]).await?;
            }
            return Err(AppDbError::Unavailable("connection lost".into()));
        }
        self.inner.apply_ops(app, env, ops).await
    }
    async fn applied_through(
        &self,
        app: Uuid,
        env: Environment,
    ) -> Result<Option<u64>, AppDbError> {
        self.inner.applied_through(app, env).await
    }
    async fn describe(&self, app: Uuid, env: Environment) -> Result<SchemaDescription, AppDbError> {
        self.inner.describe(app, env).await
    }
    async fn row_count(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
    ) -> Result<u64, AppDbError> {
        self.inner.row_count(app, env, table).await
    }
    async fn insert_for_test(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
        row: &[(Ident, Literal)],
    ) -> Result<(), AppDbError> {
        self.inner.insert_for_test(app, env, table, row).await
    }
}

/// Where a promote is killed: the n-th store transaction of its run, or the app database
/// between two ops.
#[derive(Debug, Clone, Copy)]
enum Kill {
    Transaction(i64),
    BetweenOps,
}

async fn promote_killed(kill: Kill) {
    let faulty = std::sync::Arc::new(FaultyStore::new(sqlite_store().await));
    let dying = std::sync::Arc::new(DyingAppDb {
        inner: sqlite_app_db(),
        die_after_one: std::sync::atomic::AtomicBool::new(false),
    });
    let s = stack_on(
        faulty.clone(),
        StackOptions {
            app_db: Some(dying.clone()),
            ..Default::default()
        },
    )
    .await;
    let w = s.app.world.clone();
    production_schema(dying.as_ref(), w.app).await;
    deployed(&s, w.app, 1).await;
    let uri = format!("/api/v1/apps/{}/staging", w.app);
    let r = s.app.call(Method::PUT, &uri, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let v2 = deployed(&s, w.app, 2).await;
    let v2_id = v2["id"].as_str().unwrap().to_owned();
    for detail in staging_ops(w.app) {
        event(&s, "axhub.nocode-db", "SchemaOpRecorded", detail).await;
    }
    // From here the test is the worker: each run may be killed, then runs again.
    take_over_worker(&s).await;
    let request = Uuid::now_v7();
    approve(&s, request, w.app, &v2_id, 3, 1).await;
    match kill {
        Kill::Transaction(n) => faulty.fail_transaction(n),
        Kill::BetweenOps => dying
            .die_after_one
            .store(true, std::sync::atomic::Ordering::SeqCst),
    }
    let job = Job::Promote {
        request_id: request,
    };
    let mut killed = 0;
    for _ in 0..200 {
        match worker::run(&s.app.deps, &job).await {
            Ok(Next::Done) => break,
            Ok(Next::Again(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => {
                killed += 1;
                assert!(e.retryable, "{kill:?}: {e}");
            }
        }
    }
    assert_eq!(killed, 1, "{kill:?}: the run was killed once");
    let p = promotions::get(&s.app.deps, request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.status, PromoteStatus::Promoted, "{kill:?}: {p:?}");
    // A redelivery after the end does nothing.
    assert_eq!(worker::run(&s.app.deps, &job).await.unwrap(), Next::Done);
    let db = s.app.deps.app_db().unwrap();
    assert_eq!(
        db.applied_through(w.app, Environment::Production)
            .await
            .unwrap(),
        Some(3),
        "{kill:?}"
    );
    let columns: Vec<String> = db
        .describe(w.app, Environment::Production)
        .await
        .unwrap()
        .tables[USERS]
        .columns
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(columns, vec!["id", "email"], "{kill:?}");
    assert_eq!(
        production_pointer(&s, w.app).await.as_deref(),
        Some(&*v2_id)
    );
    assert_eq!(
        image_in(&s, w.app, Environment::Production)
            .await
            .as_deref(),
        v2["image_uri"].as_str()
    );
    let ctx = apps::existing(&s.app.deps, w.app).await.unwrap();
    assert_eq!(ctx.state.active, None, "{kill:?}: the slot is free");
    assert_eq!(ctx.state.production_schema_seq, 3);
    let promoted = lifecycle_events(&s, w.app)
        .into_iter()
        .filter(|(t, st)| {
            (t == "PromoteStatusChanged" && st == "promoted")
                || (t == "ProductionPointerMoved" && st == "promotion")
        })
        .count();
    assert_eq!(promoted, 2, "{kill:?}: promoted and moved, once each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promote_killed_at_each_step_and_run_again_ends_promoted_exactly_once() {
    // Transactions of a run: 1 takes the slot, 2 records the applied ops, 3 ends it.
    for kill in [
        Kill::Transaction(1),
        Kill::BetweenOps,
        Kill::Transaction(2),
        Kill::Transaction(3),
    ] {
        promote_killed(kill).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn promotion_retry_refuses_what_it_must_and_reruns_a_failed_one() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let db = s.app.deps.app_db().unwrap().clone();
    production_schema(db.as_ref(), w.app).await;
    deployed(&s, w.app, 1).await;
    let uri = format!("/api/v1/apps/{}/staging", w.app);
    assert_eq!(
        s.app
            .call(Method::PUT, &uri, Some(&w.owner), None)
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let v2 = deployed(&s, w.app, 2).await;
    let v2_id = v2["id"].as_str().unwrap().to_owned();
    // An op production cannot take (no such table): the promote fails.
    let bad =
        json!({"app_id": w.app, "seq": 2, "op": "drop_column", "table": "ghosts", "column": "x"});
    event(&s, "axhub.nocode-db", "SchemaOpRecorded", bad).await;
    let retry = |app: Uuid, request: Uuid, who: String| {
        let s = &s;
        async move {
            let uri = format!("/api/v1/apps/{app}/promotions/{request}/retry");
            s.app.call(Method::POST, &uri, Some(&who), None).await
        }
    };
    let r = retry(w.app, Uuid::now_v7(), w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    take_over_worker(&s).await;
    let request = Uuid::now_v7();
    approve(&s, request, w.app, &v2_id, 2, 1).await;
    // Fresh and promoting: not yet.
    let r = retry(w.app, request, w.owner.clone()).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "promote_in_progress"));
    assert_eq!(r.body["error"]["retryable"], true);
    let r = retry(w.app, request, w.member.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let job = Job::Promote {
        request_id: request,
    };
    for _ in 0..100 {
        if worker::run(&s.app.deps, &job).await.unwrap() == Next::Done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let p = promotions::get(&s.app.deps, request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.status, PromoteStatus::Failed);
    let reason = p.failure_reason.unwrap();
    assert_eq!(reason.code, "schema.op_refused", "{reason:?}");
    let ctx = apps::existing(&s.app.deps, w.app).await.unwrap();
    assert_eq!(ctx.state.active, None, "the slot is free");
    assert_ne!(
        ctx.app.production_deployment_id.map(|d| d.to_string()),
        Some(v2_id.clone()),
        "production stays on its release"
    );

    // A failed one runs again (a new attempt); the same op fails the same way.
    let r = retry(w.app, request, w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let p = promotions::get(&s.app.deps, request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.status, p.attempt), (PromoteStatus::Promoting, 2));
    for _ in 0..100 {
        if worker::run(&s.app.deps, &job).await.unwrap() == Next::Done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let p = promotions::get(&s.app.deps, request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.status, p.attempt), (PromoteStatus::Failed, 2));
    let statuses: Vec<String> = lifecycle_events(&s, w.app)
        .into_iter()
        .filter(|(t, _)| t == "PromoteStatusChanged")
        .map(|(_, st)| st)
        .collect();
    assert_eq!(statuses, ["promoting", "failed", "promoting", "failed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_promotion_blocks_staging_off_until_retried_or_reaped_past_its_deadline() {
    let s = stack(StackOptions {
        pipeline: axhub_app::pipeline::PipelineConfig {
            poll: Duration::from_millis(100),
            promote_deadline: Duration::from_secs(1),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let w = s.app.world.clone();
    deployed(&s, w.app, 1).await;
    let staging = format!("/api/v1/apps/{}/staging", w.app);
    assert_eq!(
        s.app
            .call(Method::PUT, &staging, Some(&w.owner), None)
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let v2 = deployed(&s, w.app, 2).await;
    take_over_worker(&s).await;
    let request = Uuid::now_v7();
    let v2_id = v2["id"].as_str().unwrap();
    approve(&s, request, w.app, v2_id, 0, 1).await;

    // Promoting (its job never runs): staging cannot go, a retry is too early.
    let off = json!({"confirm_discard_ops": true});
    let r = s
        .app
        .call(Method::DELETE, &staging, Some(&w.owner), Some(off.clone()))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "promote_in_progress"));
    let retry = format!("/api/v1/apps/{}/promotions/{request}/retry", w.app);
    let r = s.app.call(Method::POST, &retry, Some(&w.admin), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "promote_in_progress"));

    // Past its deadline: a retry starts attempt 2.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = s.app.call(Method::POST, &retry, Some(&w.admin), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let p = promotions::get(&s.app.deps, request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.status, p.attempt), (PromoteStatus::Promoting, 2));

    // Stuck again past its deadline: the reaper fails it, and staging can go.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(pipeline::reap(&s.app.deps, 10).await.unwrap(), 1);
    let p = promotions::get(&s.app.deps, request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.status, PromoteStatus::Failed);
    assert_eq!(p.failure_reason.unwrap().code, "timeout");
    let job = Job::Promote {
        request_id: request,
    };
    assert_eq!(worker::run(&s.app.deps, &job).await.unwrap(), Next::Done);
    let r = s
        .app
        .call(Method::DELETE, &staging, Some(&w.owner), Some(off))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let statuses: Vec<String> = lifecycle_events(&s, w.app)
        .into_iter()
        .filter(|(t, _)| t == "PromoteStatusChanged")
        .map(|(_, st)| st)
        .collect();
    assert_eq!(statuses, ["promoting", "promoting", "failed"]);
}
