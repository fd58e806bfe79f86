//! Harness of the scenario tests: a world of tenants, people and apps on a real store (SQLite,
//! or DynamoDB in moto), the full router in process, and a counting store decorator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use async_trait::async_trait;
use axhub_app::{Deps, directory};
use axhub_auth::{AuthConfig, Authenticator, Claims, JwtKeys, mint_hs256};
use axhub_domain::{App, GitConnection, Membership, Principal, Tenant, TenantRole};
use axhub_http::AppState;
use axhub_store::{Cond, Item, Key, Page, Query, Store, StoreError, TxOp, Update};
use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

pub const SECRET: &[u8] = b"test-secret";
pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

pub fn sha(n: u64) -> String {
    format!("{n:040x}")
}

/// Time that a test can move: the system's, shifted by a number of seconds.
#[derive(Default)]
pub struct ShiftClock(AtomicI64);

impl ShiftClock {
    /// From now on, the time is this far from the system's.
    pub fn set_secs(&self, shift: i64) {
        self.0.store(shift, Ordering::SeqCst);
    }
}

impl axhub_ports::Clock for ShiftClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::seconds(self.0.load(Ordering::SeqCst))
    }
}

/// Tenants, people and apps every scenario starts from (fresh ids each time).
#[derive(Clone, Debug)]
pub struct World {
    pub tenant: Uuid,
    pub other_tenant: Uuid,
    /// Subdomain and git connection: deployable.
    pub app: Uuid,
    /// A second deployable app of the same tenant.
    pub app2: Uuid,
    pub no_subdomain_app: Uuid,
    pub unconnected_app: Uuid,
    /// Approved by review, staging off.
    pub approved_app: Uuid,
    pub admin: String,
    pub owner: String,
    pub member: String,
    pub outsider: String,
    pub platform_admin: String,
    pub pat: String,
}

pub struct TestApp {
    pub router: Router,
    pub deps: Arc<Deps>,
    pub world: World,
}

pub fn token(sub: &str, platform_admin: bool) -> String {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    mint_hs256(
        SECRET,
        &Claims {
            sub: sub.into(),
            exp,
            platform_admin,
            ..Claims::default()
        },
    )
    .unwrap()
}

/// A delegated token of `sub` (an agent's): it may do only what `scopes` allow.
pub fn scoped_token(sub: &str, scopes: &[&str]) -> String {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    mint_hs256(
        SECRET,
        &Claims {
            sub: sub.into(),
            exp,
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            ..Claims::default()
        },
    )
    .unwrap()
}

pub async fn sqlite_store() -> Arc<dyn Store> {
    Arc::new(axhub_sqlite::SqliteStore::in_memory().unwrap())
}

/// DynamoDB in moto; the tests never pass silently without it.
pub async fn dynamo_store() -> Arc<dyn Store> {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok()
            || std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "DynamoDB scenarios need moto: run them through infra/test.sh, or `infra/moto.sh start` \
         and export what it prints"
    );
    let s = axhub_aws::DynamoStore::from_env("axhub-scenarios").await;
    s.create_table_if_missing().await.unwrap();
    Arc::new(s)
}

/// The authenticator of every test app: HS256 tokens signed with `SECRET`.
pub fn test_auth(deps: &Arc<Deps>) -> Arc<Authenticator> {
    Arc::new(Authenticator::new(
        AuthConfig {
            keys: JwtKeys::Hs256 {
                secret: SECRET.to_vec(),
            },
            issuer: None,
            audience: None,
        },
        Arc::new(axhub_app::state::credentials::StoredCredentials::new(
            deps.store.clone(),
        )),
    ))
}

pub async fn app_on(store: Arc<dyn Store>) -> TestApp {
    app_with(Deps::new(store, b"cursor-secret")).await
}

/// The routers on these ports, with a fresh world seeded into their store.
pub async fn app_with(deps: Deps) -> TestApp {
    let deps = Arc::new(deps);
    let auth = test_auth(&deps);
    let world = seed(&deps).await;
    let router = deploy_router(AppState {
        deps: deps.clone(),
        auth,
    });
    TestApp {
        router,
        deps,
        world,
    }
}

pub async fn sqlite_app() -> TestApp {
    app_on(sqlite_store().await).await
}

pub async fn seed(deps: &Deps) -> World {
    let id = Uuid::now_v7;
    let u = |n: &str| format!("{n}-{}", Uuid::new_v4().simple());
    let w = World {
        tenant: id(),
        other_tenant: id(),
        app: id(),
        app2: id(),
        no_subdomain_app: id(),
        unconnected_app: id(),
        approved_app: id(),
        admin: u("admin"),
        owner: u("owner"),
        member: u("member"),
        outsider: u("outsider"),
        platform_admin: u("root"),
        pat: format!("axhub_pat_{}", Uuid::new_v4().simple()),
    };
    directory::put_tenant(
        deps,
        &Tenant {
            id: w.tenant,
            slug: "acme".into(),
        },
    )
    .await
    .unwrap();
    directory::put_tenant(
        deps,
        &Tenant {
            id: w.other_tenant,
            slug: "other".into(),
        },
    )
    .await
    .unwrap();
    for (user, tenant, role) in [
        (&w.admin, w.tenant, TenantRole::TenantAdmin),
        (&w.owner, w.tenant, TenantRole::TenantMember),
        (&w.member, w.tenant, TenantRole::TenantMember),
        (&w.outsider, w.other_tenant, TenantRole::TenantAdmin),
    ] {
        directory::put_membership(
            deps,
            &Membership {
                tenant_id: tenant,
                user_id: user.clone(),
                role,
            },
        )
        .await
        .unwrap();
    }
    for (app, subdomain, git, approved) in [
        (w.app, true, true, false),
        (w.app2, true, true, false),
        (w.no_subdomain_app, false, true, false),
        (w.unconnected_app, true, false, false),
        (w.approved_app, true, true, true),
    ] {
        directory::put_app(
            deps,
            &App {
                id: app,
                tenant_id: w.tenant,
                owner_id: w.owner.clone(),
                slug: format!("app-{}", app.simple()),
                subdomain: subdomain.then(|| format!("s{}", &app.simple().to_string()[..8])),
                approved,
                staging_enabled: false,
                production_deployment_id: None,
                staging_deployment_id: None,
            },
        )
        .await
        .unwrap();
        if git {
            directory::put_git_connection(
                deps,
                &GitConnection {
                    app_id: app,
                    provider: "github".into(),
                    repo_full_name: "acme/site".into(),
                    branch: "main".into(),
                    installation_id: 7,
                },
            )
            .await
            .unwrap();
        }
    }
    axhub_app::state::credentials::StoredCredentials::new(deps.store.clone())
        .put_personal_access_token(
            &w.pat,
            &Principal {
                user_id: w.owner.clone(),
                platform_admin: false,
                scopes: None,
            },
        )
        .await
        .unwrap();
    w
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn category(&self) -> &str {
        self.body["error"]["category"].as_str().unwrap_or("")
    }
}

pub async fn send(router: &Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Resp {
        status,
        headers,
        body,
    }
}

impl TestApp {
    pub fn token(&self, who: &str) -> String {
        token(who, who == self.world.platform_admin)
    }

    /// A request as `who` (a user id; `None` sends no credentials).
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        who: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let token = who.map(|who| self.token(who));
        self.call_with(method, uri, token.as_deref(), body).await
    }

    /// A request with this bearer token (`None` sends no credentials).
    pub async fn call_with(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            b = b.header("authorization", format!("Bearer {token}"));
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        };
        send(&self.router, req.unwrap()).await
    }

    pub async fn deploy(&self, app: Uuid, who: &str, sha: &str) -> Resp {
        self.call(
            Method::POST,
            &format!("/api/v1/apps/{app}/deployments"),
            Some(who),
            Some(serde_json::json!({"commit_sha": sha})),
        )
        .await
    }

    pub async fn cancel(&self, app: Uuid, did: &str, who: &str) -> Resp {
        self.call(
            Method::POST,
            &format!("/api/v1/apps/{app}/deployments/{did}/cancel"),
            Some(who),
            None,
        )
        .await
    }

    /// Marks a deployment finished as the pipeline would (status and slot in one transaction).
    pub async fn finish(&self, app: Uuid, did: &str, status: &str) {
        let did = Uuid::parse_str(did).unwrap();
        self.deps
            .store
            .transact(vec![
                TxOp::Update {
                    key: axhub_app::state::deployments::key(did),
                    update: Update::new()
                        .set("status", status)
                        .set("current_stage", Value::Null)
                        .set("completed_at", "2026-01-01T00:00:00Z"),
                    cond: Some(Cond::Exists),
                },
                TxOp::Update {
                    key: axhub_app::state::apps::state_key(app),
                    update: Update::new()
                        .remove("active_change_id")
                        .remove("active_change_kind"),
                    cond: None,
                },
            ])
            .await
            .unwrap();
    }
}

/// Counts what a store is asked to do, to show that a list costs its page, not the history.
pub struct CountingStore {
    pub inner: Arc<dyn Store>,
    pub calls: AtomicU64,
    pub items_read: AtomicU64,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            calls: AtomicU64::new(0),
            items_read: AtomicU64::new(0),
        }
    }
    pub fn reset(&self) {
        self.calls.store(0, Ordering::SeqCst);
        self.items_read.store(0, Ordering::SeqCst);
    }
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.calls.load(Ordering::SeqCst),
            self.items_read.load(Ordering::SeqCst),
        )
    }
    fn count(&self, items: usize) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.items_read.fetch_add(items as u64, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let r = self.inner.get(key).await?;
        self.count(usize::from(r.is_some()));
        Ok(r)
    }
    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), StoreError> {
        self.count(0);
        self.inner.put(item, cond).await
    }
    async fn update(&self, key: &Key, u: Update, cond: Option<Cond>) -> Result<Item, StoreError> {
        self.count(0);
        self.inner.update(key, u, cond).await
    }
    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, StoreError> {
        self.count(0);
        self.inner.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        self.count(0);
        self.inner.transact(ops).await
    }
    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        let p = self.inner.query(q).await?;
        self.count(p.items.len());
        Ok(p)
    }
}

/// A store that fails on request: `fail_transaction(n)` lets `n - 1` transactions through and
/// fails the `n`th as unavailable (once), the way a store that goes away mid-operation does.
pub struct FaultyStore {
    pub inner: Arc<dyn Store>,
    countdown: std::sync::atomic::AtomicI64,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            countdown: std::sync::atomic::AtomicI64::new(0),
        }
    }

    pub fn fail_transaction(&self, n: i64) {
        self.countdown.store(n, Ordering::SeqCst);
    }

    /// Whether the armed failure is still to come.
    pub fn armed(&self) -> bool {
        self.countdown.load(Ordering::SeqCst) > 0
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), StoreError> {
        self.inner.put(item, cond).await
    }
    async fn update(&self, key: &Key, u: Update, cond: Option<Cond>) -> Result<Item, StoreError> {
        self.inner.update(key, u, cond).await
    }
    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        if self.countdown.fetch_sub(1, Ordering::SeqCst) == 1 {
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        self.inner.transact(ops).await
    }
    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.inner.query(q).await
    }
}

/// The routers of the deployments and lifecycle groups on one router, as axhub-local serves
/// them.
pub fn deploy_router(state: AppState) -> Router {
    let routes = deployments_fn::routes().merge(lifecycle_fn::routes());
    axhub_http::finish(routes.into_router(), state)
}

/// A fresh directory of SQLite app databases.
pub fn sqlite_app_db() -> Arc<dyn axhub_ports::AppDatabase> {
    let dir = std::env::temp_dir().join(format!("axhub-appdb-{}", Uuid::now_v7().simple()));
    Arc::new(axhub_sqlite::SqliteAppDatabase::new(dir))
}

/// A full local stack: store, deploy queue, simulated cluster, event bus, and (unless
/// `with_worker` is false) the worker and maintenance loops in the background.
pub struct Stack {
    pub app: TestApp,
    pub queue: Arc<dyn axhub_queue::Queue>,
    pub bus: Arc<axhub_runtime::LocalBus>,
    pub sim: Arc<axhub_simcluster::SimCluster>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub struct StackOptions {
    pub build: std::time::Duration,
    pub rollout: std::time::Duration,
    pub with_worker: bool,
    pub with_publisher: bool,
    pub max_receives: u32,
    pub pipeline: axhub_app::pipeline::PipelineConfig,
    /// The app databases (default: SQLite files in a fresh temporary directory).
    pub app_db: Option<Arc<dyn axhub_ports::AppDatabase>>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            build: std::time::Duration::from_millis(300),
            rollout: std::time::Duration::from_millis(200),
            with_worker: true,
            with_publisher: true,
            max_receives: 5,
            pipeline: axhub_app::pipeline::PipelineConfig {
                poll: std::time::Duration::from_millis(100),
                ..Default::default()
            },
            app_db: None,
        }
    }
}

/// The id of the deployment a trigger answered with.
pub fn did(r: &Resp) -> String {
    r.body["id"].as_str().unwrap().to_owned()
}

/// Whether a deployment (as the API shows it) has ended.
pub fn terminal(b: &Value) -> bool {
    matches!(
        b["status"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

/// A stack with no worker: jobs wait in the queue until the test runs them.
pub async fn idle_stack() -> Stack {
    stack(StackOptions {
        with_worker: false,
        ..Default::default()
    })
    .await
}

pub async fn stack(opts: StackOptions) -> Stack {
    stack_on(sqlite_store().await, opts).await
}

pub async fn stack_on(store: Arc<dyn Store>, opts: StackOptions) -> Stack {
    use axhub_app::jobs::DEPLOY_QUEUE;
    let queue: Arc<dyn axhub_queue::Queue> =
        Arc::new(axhub_sqlite::SqliteQueue::in_memory(DEPLOY_QUEUE, opts.max_receives).unwrap());
    let bus = Arc::new(axhub_runtime::LocalBus::default());
    let sim = Arc::new(axhub_simcluster::SimCluster::new(
        axhub_simcluster::SimConfig {
            build_time: opts.build,
            rollout_time: opts.rollout,
        },
    ));
    let mut deps = Deps::new(store, b"cursor-secret")
        .with_cluster(sim.clone())
        .with_registry(sim.clone())
        .with_push_credentials(sim.clone())
        .with_logs(sim.runtime_logs())
        .with_app_db(opts.app_db.unwrap_or_else(sqlite_app_db))
        .with_pipeline(opts.pipeline);
    if opts.with_publisher {
        deps = deps.with_publisher(Arc::new(
            axhub_runtime::RoutingPublisher::new(bus.clone()).queue(DEPLOY_QUEUE, queue.clone()),
        ));
    }
    let deps = Arc::new(deps);
    let auth = test_auth(&deps);
    let world = seed(&deps).await;
    let router = deploy_router(AppState {
        deps: deps.clone(),
        auth,
    });
    let (stop, rx) = tokio::sync::watch::channel(false);
    if opts.with_worker {
        tokio::spawn(axhub_runtime::run_worker(
            deps.clone(),
            queue.clone(),
            rx.clone(),
        ));
    }
    Stack {
        app: TestApp {
            router,
            deps,
            world,
        },
        queue,
        bus,
        sim,
        stop,
    }
}

impl Stack {
    /// Stops the background worker: jobs wait in the queue until the test runs them.
    pub fn stop_worker(&self) {
        let _ = self.stop.send(true);
    }

    /// Polls the deployment until `done` holds for it (bounded: a test never hangs).
    pub async fn wait_for(&self, app: Uuid, did: &str, done: impl Fn(&Value) -> bool) -> Value {
        let uri = format!("/api/v1/apps/{app}/deployments/{did}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let r = self
                .app
                .call(Method::GET, &uri, Some(&self.app.world.owner), None)
                .await;
            if done(&r.body) {
                return r.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting; last: {:?}",
                r.body
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The events about one deployment once at least `n` were published: a worker publishes
    /// right after its commit, so a reader can see the new state a moment before its events.
    pub async fn wait_events(&self, did: &str, n: usize) -> Vec<(String, String)> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let events = self.events_of(did);
            if events.len() >= n || std::time::Instant::now() > deadline {
                return events;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The events published about one deployment, in order, as (detail-type, status).
    pub fn events_of(&self, did: &str) -> Vec<(String, String)> {
        self.bus
            .history()
            .into_iter()
            .filter(|e| e.detail["deployment_id"] == did)
            .map(|e| {
                (
                    e.kind.detail_type().to_owned(),
                    e.detail["status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}
