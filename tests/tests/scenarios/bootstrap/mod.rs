//! The app bootstrap saga end to end: the `bootstraps` router in process, the real GitHub
//! adapter against the simulated GitHub served over HTTP (with its fault injection), the
//! simulated cluster, and the deploy and bootstrap queues on SQLite, drained by the test one
//! job at a time so that crashes and duplicates land exactly where a test puts them.

mod api;
mod failures;
mod saga;
mod watchdog;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axhub_app::jobs::{BOOTSTRAP_QUEUE, DEPLOY_QUEUE, Job, Next};
use axhub_app::state::bootstraps;
use axhub_app::{Deps, worker};
use axhub_domain::Bootstrap;
use axhub_github::{GitHubClient, GitHubConfig};
use axhub_http::AppState;
use axhub_ports::github::{GitHub, UserTokenGrant};
use axhub_queue::Queue;
use axhub_runtime::{LocalBus, RoutingPublisher};
use axhub_simcluster::{SimCluster, SimConfig};
use axhub_simgithub::SimGitHub;
use axhub_tests::*;
use http::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// The GitHub login of the world's owner, and of the organisation the App is installed on.
pub(super) const OWNER_LOGIN: &str = "owner-gh";
pub(super) const ORG: &str = "acme";

pub(super) struct Boot {
    pub t: TestApp,
    pub sim: SimGitHub,
    pub cluster: Arc<SimCluster>,
    pub faulty: Arc<FaultyStore>,
    pub bus: Arc<LocalBus>,
    pub clock: Arc<ShiftClock>,
    deploy_q: Arc<dyn Queue>,
    pub boot_q: Arc<dyn Queue>,
    /// The App's installation on the organisation `acme`.
    pub installation: i64,
    /// The demo catalog's first template.
    pub template: Uuid,
}

/// When to stop running a saga's jobs: a test on its stored state.
type StopWhen<'a> = dyn Fn(&Bootstrap) -> bool + Sync + 'a;

/// What draining the queues saw.
#[derive(Default, Debug)]
pub(super) struct Drained {
    /// The delays bootstrap steps asked to be run again after.
    pub waits: Vec<Duration>,
    /// Errors jobs failed with (each put back on its queue).
    pub errors: Vec<String>,
}

pub(super) async fn setup() -> Boot {
    setup_on(sqlite_store().await).await
}

/// The harness over this store (wrapped to fail a chosen transaction).
pub(super) async fn setup_on(store: Arc<dyn axhub_store::Store>) -> Boot {
    let faulty = Arc::new(FaultyStore::new(store));
    let store: Arc<dyn axhub_store::Store> = faulty.clone();
    let sim = SimGitHub::new();
    let catalog = axhub_local::templates::demo(&sim).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = axhub_simgithub::router::<()>(sim.clone());
    tokio::spawn(async move { axum::serve(listener, served).await });
    let mut c = GitHubConfig::new(
        axhub_simgithub::APP_ID,
        axhub_simgithub::APP_SLUG,
        axhub_simgithub::APP_PRIVATE_KEY_PEM,
    );
    c.api_url = format!("{base}{}", axhub_simgithub::API_PREFIX);
    c.web_url = format!("{base}{}", axhub_simgithub::WEB_PREFIX);
    c.client_id = "sim-client".into();
    c.client_secret = "sim-client-secret".into();
    c.webhook_secret = "sim-webhook-secret".into();
    c.token_key = vec![5; 32];
    c.timeout = Duration::from_secs(5);
    c.attempts = 2;
    c.backoff = Duration::from_millis(5);
    let client = Arc::new(
        GitHubClient::new(
            c,
            Arc::new(axhub_app::state::credentials::StoredCredentials::new(
                store.clone(),
            )),
        )
        .unwrap(),
    );
    let cluster = Arc::new(SimCluster::new(SimConfig {
        build_time: Duration::ZERO,
        rollout_time: Duration::ZERO,
    }));
    let deploy_q: Arc<dyn Queue> =
        Arc::new(axhub_sqlite::SqliteQueue::in_memory(DEPLOY_QUEUE, 5).unwrap());
    let boot_q: Arc<dyn Queue> =
        Arc::new(axhub_sqlite::SqliteQueue::in_memory(BOOTSTRAP_QUEUE, 5).unwrap());
    let bus = Arc::new(LocalBus::default());
    let template = catalog.items[0].id;
    let clock = Arc::new(ShiftClock::default());
    let deps = Arc::new(
        Deps::new(store, b"cursor-secret")
            .with_github(client.clone())
            .with_github_repos(client.clone())
            .with_clock(clock.clone())
            .with_templates(catalog)
            .with_cluster(cluster.clone())
            .with_registry(cluster.clone())
            .with_push_credentials(cluster.clone())
            .with_publisher(Arc::new(
                RoutingPublisher::new(bus.clone())
                    .queue(DEPLOY_QUEUE, deploy_q.clone())
                    .queue(BOOTSTRAP_QUEUE, boot_q.clone()),
            ))
            .with_pipeline(axhub_app::pipeline::PipelineConfig {
                poll: Duration::ZERO,
                ..Default::default()
            }),
    );
    let world = seed(&deps).await;
    let auth = test_auth(&deps);
    let routes = bootstraps_fn::routes()
        .merge(deployments_fn::routes())
        .merge(git_fn::routes());
    let router = axhub_http::finish(
        routes.into_router(),
        AppState {
            deps: deps.clone(),
            auth,
        },
    );
    // The owner signs in to GitHub; the App is installed on their organisation.
    let token = sim.add_user(OWNER_LOGIN);
    client
        .store_user_token(
            &world.owner,
            UserTokenGrant {
                access_token: token,
                refresh_token: None,
                expires_in: None,
                refresh_token_expires_in: None,
            },
        )
        .await
        .unwrap();
    sim.add_org(ORG, &[OWNER_LOGIN]);
    let installation = sim.install(ORG);
    Boot {
        t: TestApp {
            router,
            deps,
            world,
        },
        sim,
        cluster,
        faulty,
        bus,
        clock,
        deploy_q,
        boot_q,
        installation,
        template,
    }
}

impl Boot {
    pub fn w(&self) -> &World {
        &self.t.world
    }

    pub fn deps(&self) -> &Deps {
        &self.t.deps
    }

    /// A valid request for `acme/shop` from the first template.
    pub fn request(&self) -> Value {
        json!({
            "name": "Shop",
            "slug": "shop",
            "subdomain": "shop",
            "repo_name": "shop",
            "github_owner": ORG,
            "template_id": self.template,
            "github_installation_id": self.installation,
        })
    }

    pub fn url(&self) -> String {
        format!("/api/v1/tenants/{}/app-bootstraps", self.w().tenant)
    }

    pub async fn post(&self, who: &str, body: Value) -> Resp {
        self.t
            .call(Method::POST, &self.url(), Some(who), Some(body))
            .await
    }

    /// Starts a saga as the owner; its id.
    pub async fn start(&self, body: Value) -> Uuid {
        let r = self.post(&self.w().owner.clone(), body).await;
        assert_eq!(r.status, 202, "{:?}", r.body);
        Uuid::parse_str(r.body["bootstrap_id"].as_str().unwrap()).unwrap()
    }

    /// The saga as the API shows it to the owner.
    pub async fn view(&self, id: Uuid) -> Value {
        let r = self
            .t
            .call(
                Method::GET,
                &format!("{}/{id}", self.url()),
                Some(&self.w().owner),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }

    /// The saga as stored.
    pub async fn record(&self, id: Uuid) -> Bootstrap {
        bootstraps::get(self.deps(), id).await.unwrap().unwrap()
    }

    /// Takes the next bootstrap job off its queue without running it (as SQS hands it to
    /// the Lambda, or as a job that is lost).
    pub async fn take_step(&self) -> String {
        let mut got = self
            .boot_q
            .receive(1, Duration::from_secs(60), Duration::ZERO)
            .await
            .unwrap();
        let m = got.pop().expect("a queued bootstrap job");
        self.boot_q.ack(&m.receipt).await.unwrap();
        m.body
    }

    /// Runs every queued job to its end.
    pub async fn drain(&self) -> Drained {
        self.run(None, false).await.0
    }

    /// Runs queued jobs until the saga `id` satisfies `stop` (checked after each job),
    /// leaving the rest queued.
    pub async fn run_until(&self, id: Uuid, stop: impl Fn(&Bootstrap) -> bool + Sync) {
        let (report, hit) = self.run(Some((id, &stop)), false).await;
        assert!(hit, "the saga never got there: {report:?}");
    }

    /// Runs every job, each bootstrap job delivered twice (once per state of its saga).
    pub async fn drain_duplicated(&self) -> Drained {
        self.run(None, true).await.0
    }

    async fn run(&self, until: Option<(Uuid, &StopWhen<'_>)>, duplicate: bool) -> (Drained, bool) {
        let mut report = Drained::default();
        let mut duplicated = HashSet::new();
        for _ in 0..3000 {
            let mut ran = false;
            for q in [&self.boot_q, &self.deploy_q] {
                for m in q
                    .receive(1, Duration::from_secs(60), Duration::ZERO)
                    .await
                    .unwrap()
                {
                    ran = true;
                    let job: Job = serde_json::from_str(&m.body).unwrap();
                    let is_step = matches!(job, Job::Bootstrap { .. });
                    if let (true, Job::Bootstrap { bootstrap_id }) = (duplicate, &job) {
                        let version = self.record(*bootstrap_id).await.version;
                        if duplicated.insert((*bootstrap_id, version)) {
                            q.send(&m.body, Duration::ZERO).await.unwrap();
                        }
                    }
                    match worker::run(self.deps(), &job).await {
                        Ok(Next::Done) => q.ack(&m.receipt).await.unwrap(),
                        Ok(Next::Again(after)) => {
                            if is_step {
                                report.waits.push(after);
                            }
                            q.ack(&m.receipt).await.unwrap();
                            q.send(&m.body, Duration::ZERO).await.unwrap();
                        }
                        Err(e) => {
                            report.errors.push(e.message);
                            q.release(&m.receipt, Duration::ZERO).await.unwrap();
                        }
                    }
                    if let Some((id, stop)) = until
                        && stop(&self.record(id).await)
                    {
                        return (report, true);
                    }
                }
            }
            if !ran {
                return (report, false);
            }
        }
        panic!("the jobs never ran out: {report:?}");
    }

    /// The detail-types published so far about the app, in order.
    pub fn events(&self, app: Uuid) -> Vec<String> {
        self.bus
            .history()
            .into_iter()
            .filter(|e| e.app_id == app)
            .map(|e| e.kind.detail_type().to_owned())
            .collect()
    }

    pub fn count(&self, app: Uuid, kind: &str) -> usize {
        self.events(app).iter().filter(|k| *k == kind).count()
    }

    /// The app's deployments as the API lists them to the owner.
    pub async fn deployments(&self, app: Uuid) -> Value {
        let r = self
            .t
            .call(
                Method::GET,
                &format!("/api/v1/apps/{app}/deployments"),
                Some(&self.w().owner),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }
}
