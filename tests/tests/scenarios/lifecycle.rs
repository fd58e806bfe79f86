//! The release lifecycle (issue #8): production changes only through guarded paths. Deploy to
//! production, enable staging (the database forked), a trigger lands on staging, schema ops
//! and environment hashes arrive by event, a review approves a version, the promotion applies
//! the ops once and swaps production, rollbacks are guarded, staging goes away again.

use std::time::Duration;

use axhub_app::pipeline::{self, Job, Next};
use axhub_app::state::{apps, promotions};
use axhub_domain::{Environment, PromoteStatus};
use axhub_ports::appdb::{AppDatabase, AppDbError, Ident, Literal, SchemaDescription, SchemaOp};
use axhub_tests::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const USERS: &str = "users";

fn ident(s: &str) -> Ident {
    serde_json::from_value(json!(s)).unwrap()
}

fn op(v: Value) -> SchemaOp {
    serde_json::from_value(v).unwrap()
}

/// `users (id pk, name)` in production, with one row.
async fn production_schema(db: &dyn AppDatabase, app: Uuid) {
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
fn staging_ops(app: Uuid) -> Vec<Value> {
    vec![
        json!({"app_id": app, "seq": 2, "op": "add_column", "table": USERS,
               "column": {"name": "email", "type": "text"}}),
        json!({"app_id": app, "seq": 3, "op": "drop_column", "table": USERS, "column": "name"}),
    ]
}

async fn event(s: &Stack, source: &str, detail_type: &str, detail: Value) {
    axhub_app::ingest::apply_delivered(&s.app.deps, source, detail_type, &detail)
        .await
        .unwrap_or_else(|e| panic!("{detail_type}: {e}"));
}

fn review(request: Uuid, app: Uuid, deployment: &str, cursor: u64, version: i64) -> Value {
    json!({"request_id": request, "app_id": app, "deployment_id": deployment,
           "cursor_seq": cursor, "version": version})
}

async fn deployed(s: &Stack, app: Uuid, n: u64) -> Value {
    let w = &s.app.world;
    let r = s.app.deploy(app, &w.owner, &sha(n)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let d = s.wait_for(app, &did(&r), terminal).await;
    assert_eq!(d["status"], "succeeded", "{d:?}");
    d
}

async fn image_in(s: &Stack, app: Uuid, env: Environment) -> Option<String> {
    let ctx = apps::existing(&s.app.deps, app).await.unwrap();
    let w = pipeline::workload(&s.app.deps, &ctx, env).await.unwrap();
    s.sim.running_image(&w)
}

async fn eventually<F, Fut>(what: &str, mut f: F)
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
fn lifecycle_events(s: &Stack, app: Uuid) -> Vec<(String, String)> {
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

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

async fn rollback(s: &Stack, app: Uuid, to: &str, confirm: bool) -> Resp {
    let uri = format!("/api/v1/apps/{app}/deployments/{to}/rollback");
    let body = json!({"confirm_schema_skew": confirm});
    s.app
        .call(Method::POST, &uri, Some(&s.app.world.owner), Some(body))
        .await
}

async fn production_pointer(s: &Stack, app: Uuid) -> Option<String> {
    apps::existing(&s.app.deps, app)
        .await
        .unwrap()
        .app
        .production_deployment_id
        .map(|d| d.to_string())
}

async fn wait_rollback(s: &Stack, app: Uuid, n: usize) {
    eventually("the rollback ended", || async {
        lifecycle_events(s, app)
            .iter()
            .filter(|(t, st)| t == "RollbackFinished" && st == "succeeded")
            .count()
            >= n
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_lifecycle_from_production_through_staging_promotion_and_rollback() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let app = w.app;
    let db = s.app.deps.app_db().unwrap().clone();
    production_schema(db.as_ref(), app).await;

    // Production first.
    let v1 = deployed(&s, app, 1).await;
    let v1_id = v1["id"].as_str().unwrap().to_owned();
    let staging_uri = format!("/api/v1/apps/{app}/staging");

    // Enable staging: the schema forked (structure, no rows), the seed rolled out.
    let r = s
        .app
        .call(Method::PUT, &staging_uri, Some(&w.owner), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let prod: SchemaDescription = db.describe(app, Environment::Production).await.unwrap();
    assert_eq!(db.describe(app, Environment::Staging).await.unwrap(), prod);
    assert_eq!(
        db.row_count(app, Environment::Staging, &ident(USERS))
            .await
            .unwrap(),
        0
    );
    let r = s
        .app
        .call(Method::PUT, &staging_uri, Some(&w.owner), None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "staging_already_enabled")
    );
    let v1_image = v1["image_uri"].as_str().map(str::to_owned);
    eventually("staging seeded with production's release", || async {
        image_in(&s, app, Environment::Staging).await == v1_image
    })
    .await;

    // A trigger lands on staging; production keeps v1.
    let v2 = deployed(&s, app, 2).await;
    let v2_id = v2["id"].as_str().unwrap().to_owned();
    assert_eq!(v2["environment"], "staging");
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v1_id));
    assert_eq!(image_in(&s, app, Environment::Production).await, v1_image);
    assert_eq!(
        image_in(&s, app, Environment::Staging).await.as_deref(),
        v2["image_uri"].as_str()
    );
    let releases = s
        .app
        .call(
            Method::GET,
            &format!("/api/v1/apps/{app}/releases"),
            Some(&w.member),
            None,
        )
        .await;
    let items = releases.body["items"].as_array().unwrap();
    assert_eq!(
        (
            items[0]["active_staging"].as_bool(),
            items[1]["active_prod"].as_bool()
        ),
        (Some(true), Some(true)),
        "{items:?}"
    );

    // Schema ops and environment hashes by event; preflight shows them.
    for detail in staging_ops(app) {
        event(&s, "axhub.nocode-db", "SchemaOpRecorded", detail).await;
    }
    for (env, hashes) in [
        ("production", json!({"A": "h1", "B": "h2"})),
        ("staging", json!({"A": "h1", "B": "h3", "C": "h4"})),
    ] {
        let detail = json!({"app_id": app, "environment": env, "hashes": hashes, "version": 1});
        event(&s, "axhub.apps", "AppEnvChanged", detail).await;
    }
    let preflight_uri =
        format!("/api/v1/apps/{app}/releases/promote-preflight?deployment_id={v2_id}");
    let p = s
        .app
        .call(Method::GET, &preflight_uri, Some(&w.owner), None)
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["cursor_seq"], 3);
    assert_eq!(p.body["diff_keys"], json!(["B", "C"]));
    assert_eq!(p.body["missing_images"], json!([]));
    assert_eq!(p.body["promotable"], true);
    let ops: Vec<(u64, bool)> = p.body["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["seq"].as_u64().unwrap(),
                o["destructive"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(ops, vec![(2, false), (3, true)]);

    // A review is requested: staging cannot go while it is pending.
    let request = Uuid::now_v7();
    event(
        &s,
        "axhub.review",
        "ReviewRequested",
        review(request, app, &v2_id, 3, 1),
    )
    .await;
    let off = json!({"confirm_discard_ops": true});
    let r = s
        .app
        .call(
            Method::DELETE,
            &staging_uri,
            Some(&w.owner),
            Some(off.clone()),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (412, "pending_review_exists")
    );

    // Approved: promoted, ops applied once, workload swapped, pointer moved, events in order.
    event(
        &s,
        "axhub.review",
        "ReviewApproved",
        review(request, app, &v2_id, 3, 2),
    )
    .await;
    eventually("promoted", || async {
        promotions::get(&s.app.deps, request)
            .await
            .unwrap()
            .is_some_and(|p| p.status == PromoteStatus::Promoted)
    })
    .await;
    eventually("the promoted event published", || async {
        lifecycle_events(&s, app).contains(&("PromoteStatusChanged".into(), "promoted".into()))
    })
    .await;
    // A repeated approval changes nothing.
    event(
        &s,
        "axhub.review",
        "ReviewApproved",
        review(request, app, &v2_id, 3, 2),
    )
    .await;
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v2_id));
    assert_eq!(
        image_in(&s, app, Environment::Production).await.as_deref(),
        v2["image_uri"].as_str()
    );
    assert_eq!(
        db.applied_through(app, Environment::Production)
            .await
            .unwrap(),
        Some(3)
    );
    let users = db.describe(app, Environment::Production).await.unwrap();
    let columns: Vec<String> = users.tables[USERS]
        .columns
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(columns, vec!["id", "email"]);
    let promotion = promotions::get(&s.app.deps, request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(promotion.applied_ops, vec![2, 3]);
    assert_eq!(
        lifecycle_events(&s, app),
        pairs(&[
            ("ProductionPointerMoved", "deployment"),
            ("StagingEnabled", ""),
            // v2 on staging: the staging pointer.
            ("ProductionPointerMoved", "deployment"),
            ("PromoteStatusChanged", "promoting"),
            ("ProductionPointerMoved", "promotion"),
            ("PromoteStatusChanged", "promoted"),
        ])
    );
    let retry = format!("/api/v1/apps/{app}/promotions/{request}/retry");
    let r = s.app.call(Method::POST, &retry, Some(&w.owner), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "already_promoted"));

    // Rollbacks: to an unapproved version refused; to an approved one accepted, with and
    // without schema skew.
    let v3 = deployed(&s, app, 3).await;
    let v3_id = v3["id"].as_str().unwrap();
    let r = rollback(&s, app, v3_id, false).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "version_not_approved"));
    let r = rollback(&s, app, &v1_id, false).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "version_not_approved"));
    // v1 approved against the schema before the ops (cursor 1): the drop at 3 came after.
    let request_v1 = Uuid::now_v7();
    event(
        &s,
        "axhub.review",
        "ReviewApproved",
        review(request_v1, app, &v1_id, 1, 1),
    )
    .await;
    eventually("v1 promoted", || async {
        promotions::get(&s.app.deps, request_v1)
            .await
            .unwrap()
            .is_some_and(|p| p.status == PromoteStatus::Promoted)
    })
    .await;
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v1_id));
    let r = rollback(&s, app, &v2_id, false).await;
    assert_eq!(
        r.status,
        StatusCode::ACCEPTED,
        "no skew for v2: {:?}",
        r.body
    );
    wait_rollback(&s, app, 1).await;
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v2_id));
    let r = rollback(&s, app, &v1_id, false).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "confirm_required"));
    assert!(r.body["error"]["message"].as_str().unwrap().contains("[3]"));
    let r = rollback(&s, app, &v1_id, true).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    wait_rollback(&s, app, 2).await;
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v1_id));

    // Staging off: workload and database gone, ops discarded; the app (approved) needs it.
    let r = s
        .app
        .call(Method::DELETE, &staging_uri, Some(&w.owner), None)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "confirm_required"));
    let r = s
        .app
        .call(
            Method::DELETE,
            &staging_uri,
            Some(&w.owner),
            Some(off.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert!(matches!(
        db.describe(app, Environment::Staging).await,
        Err(AppDbError::NoSchema { .. })
    ));
    eventually("the staging workload removed", || async {
        image_in(&s, app, Environment::Staging).await.is_none()
    })
    .await;
    assert_eq!(image_in(&s, app, Environment::Production).await, v1_image);
    let r = s
        .app
        .call(Method::DELETE, &staging_uri, Some(&w.owner), Some(off))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "staging_not_enabled"));
    let r = s.app.deploy(app, &w.owner, &sha(9)).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "staging_required"));
    assert_eq!(
        lifecycle_events(&s, app).last(),
        Some(&("StagingDisabled".to_owned(), String::new()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staging_on_and_off_refuse_what_they_must() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let put = |app: Uuid, who: String| {
        let s = &s;
        async move {
            let uri = format!("/api/v1/apps/{app}/staging");
            s.app.call(Method::PUT, &uri, Some(&who), None).await
        }
    };
    let r = put(w.app, w.owner.clone()).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "prod_deploy_required"));
    deployed(&s, w.app, 1).await;
    let r = put(w.app, w.member.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = put(w.app, w.outsider.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = put(Uuid::now_v7(), w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Staging off: preflight and disable say so.
    let some = Uuid::now_v7();
    let p = s
        .app
        .call(
            Method::GET,
            &format!(
                "/api/v1/apps/{}/releases/promote-preflight?deployment_id={some}",
                w.app
            ),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!((p.status.as_u16(), p.code()), (412, "staging_not_enabled"));
    let r = s
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/apps/{}/staging", w.app),
            Some(&w.admin),
            Some(json!({"confirm_discard_ops": true})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "staging_not_enabled"));

    // Staging on (by a tenant admin); preflight's own refusals.
    assert_eq!(
        put(w.app, w.admin.clone()).await.status,
        StatusCode::ACCEPTED
    );
    let preflight = |q: String, who: String| {
        let s = &s;
        async move {
            let uri = format!("/api/v1/apps/{}/releases/promote-preflight{q}", w.app);
            s.app.call(Method::GET, &uri, Some(&who), None).await
        }
    };
    let r = preflight(String::new(), w.owner.clone()).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "required"));
    let r = preflight("?deployment_id=nope".into(), w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = preflight(format!("?deployment_id={some}"), w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let v2 = deployed(&s, w.app, 2).await;
    let q = format!("?deployment_id={}", v2["id"].as_str().unwrap());
    let r = preflight(q.clone(), w.member.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "env keys and ops are not for every member"
    );
    // The image gone from the registry: not promotable.
    s.sim.delete_image(v2["image_uri"].as_str().unwrap());
    let r = preflight(q, w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["missing_images"], json!([v2["image_uri"]]));
    assert_eq!(r.body["promotable"], false);

    // A deployment on staging holds the slot: disabling waits for it.
    let running = s.app.deploy(w.app, &w.owner, &sha(3)).await;
    let r = s
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/apps/{}/staging", w.app),
            Some(&w.owner),
            Some(json!({"confirm_discard_ops": true})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "conflict"));
    s.wait_for(w.app, &did(&running), terminal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staging_enable_failing_at_its_last_step_leaves_nothing_behind() {
    let faulty = std::sync::Arc::new(FaultyStore::new(sqlite_store().await));
    let s = stack_on(faulty.clone(), StackOptions::default()).await;
    let w = s.app.world.clone();
    let db = s.app.deps.app_db().unwrap().clone();
    production_schema(db.as_ref(), w.app).await;
    deployed(&s, w.app, 1).await;
    let uri = format!("/api/v1/apps/{}/staging", w.app);

    // The claim commits, the fork is made, the opt-in fails.
    faulty.fail_transaction(2);
    let r = s.app.call(Method::PUT, &uri, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert!(!faulty.armed(), "the failure hit the opt-in");
    assert!(
        matches!(
            db.describe(w.app, Environment::Staging).await,
            Err(AppDbError::NoSchema { .. })
        ),
        "the fork was dropped"
    );
    let ctx = apps::existing(&s.app.deps, w.app).await.unwrap();
    assert!(!ctx.app.staging_enabled);
    assert_eq!(ctx.app.staging_deployment_id, None);
    assert!(
        ctx.state.staging_claim.is_none(),
        "the claim was given back"
    );
    assert!(
        !lifecycle_events(&s, w.app)
            .iter()
            .any(|(t, _)| t == "StagingEnabled")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(image_in(&s, w.app, Environment::Staging).await, None);

    // Nothing blocks the next attempt.
    let r = s.app.call(Method::PUT, &uri, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert!(db.describe(w.app, Environment::Staging).await.is_ok());
}

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
    s.stop_worker();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let request = Uuid::now_v7();
    event(
        &s,
        "axhub.review",
        "ReviewApproved",
        review(request, w.app, &v2_id, 3, 1),
    )
    .await;
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
        match pipeline::run(&s.app.deps, &job).await {
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
    assert_eq!(pipeline::run(&s.app.deps, &job).await.unwrap(), Next::Done);
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

    s.stop_worker();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let request = Uuid::now_v7();
    event(
        &s,
        "axhub.review",
        "ReviewApproved",
        review(request, w.app, &v2_id, 2, 1),
    )
    .await;
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
        if pipeline::run(&s.app.deps, &job).await.unwrap() == Next::Done {
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
        if pipeline::run(&s.app.deps, &job).await.unwrap() == Next::Done {
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
