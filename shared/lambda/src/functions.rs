//! Each Lambda's wiring: exactly the ports its use cases call, from exactly the variables
//! template.yaml gives that function (and a test checks the two agree), each added by its
//! own step so that a function's binary links only its own clients. Nothing here
//! connects anywhere: the clients are built on first use (`lazy.rs`), so a cold start is
//! reading and checking settings.
//!
//! | function       | store | events | deploy queue | cluster | GitHub | tokens | app db | registry |
//! |----------------|-------|--------|--------------|---------|--------|--------|--------|----------|
//! | deployments    | ✓     | ✓      | ✓ (trigger, rollback) | ✓ (diagnosis) | ✓ (HEAD) | ✓ | | |
//!
//! deployments also reads the apps' runtime logs (CloudWatch Logs), and no other function does.
//!
//! | lifecycle      | ✓     | ✓ (staging) | ✓ (seed, teardown, promotion retry) | | | ✓ | ✓ (fork, drop) | ✓ (preflight) |
//! | git            | ✓     | ✓ (git connected/disconnected) | | | ✓ | ✓ | | |
//! | github-webhook | ✓     | ✓      | ✓ (deliveries → worker) | | signatures only | | | |
//! | deploy-worker  | ✓     | ✓      | ✓            | ✓       | ✓ (clone token) | | ✓ (promotion, teardown) | |
//! | maintenance    | ✓     | ✓      | ✓ (sweeper; and the bootstrap queue) | ✓ (reaper) | | | | |
//! | events-ingest  | ✓     | ✓ (promote status) | ✓ (promotion on approval) | | | | | |
//! | bootstraps     | ✓     |        | bootstrap queue (the saga's first step) | | ✓ (installation) | ✓ | | |
//! | bootstrap-worker | ✓   | ✓ (app, git, bootstrap events) | ✓ (first build) and the bootstrap queue | | ✓ (repositories) | | | |
//!
//! bootstraps and bootstrap-worker also read the template catalog (`AXHUB_TEMPLATE_CATALOG`).

use std::sync::Arc;

use axhub_app::Deps;
use axhub_app::jobs::{BOOTSTRAP_QUEUE, DEPLOY_QUEUE};
use axhub_app::pipeline::PipelineConfig;
use axhub_app::state::credentials::StoredCredentials;
use axhub_app::templates::Catalog;
use axhub_auth::{AuthConfig, Authenticator, JwtKeys};
use axhub_http::AppState;
use axhub_ports::queue::Queue;
use axhub_ports::store::Store;

use crate::Vars;
use crate::clients::{self, Aws};
use crate::github::LazyGitHub;
use crate::settings::{self, Core, Eks};

/// The start of every function: the settings all read, the lazy AWS configuration, the
/// store. The steps below add one port each; a function calls only the ones it needs, so
/// its binary links no other client (the linker drops what no function of it calls).
struct Wiring {
    aws: Aws,
    store: Arc<dyn Store>,
    deps: Deps,
}

impl Wiring {
    fn new(vars: &Vars) -> anyhow::Result<Self> {
        let core = Core::from(vars)?;
        let aws = Aws::default();
        let store = clients::store(&aws, core.table);
        let deps = Deps::new(store.clone(), core.cursor_secret.as_bytes());
        Ok(Self { aws, store, deps })
    }

    /// The deploy queue (`AXHUB_DEPLOY_QUEUE_URL`).
    fn deploy_queue(&self, vars: &Vars) -> anyhow::Result<Arc<dyn Queue>> {
        Ok(clients::queue(
            &self.aws,
            vars.require("AXHUB_DEPLOY_QUEUE_URL")?,
        ))
    }

    /// The bootstrap queue (`AXHUB_BOOTSTRAP_QUEUE_URL`).
    fn bootstrap_queue(&self, vars: &Vars) -> anyhow::Result<Arc<dyn Queue>> {
        Ok(clients::queue(
            &self.aws,
            vars.require("AXHUB_BOOTSTRAP_QUEUE_URL")?,
        ))
    }

    /// The outbox publisher: events to `AXHUB_EVENT_BUS`, jobs to the deploy queue if given.
    fn publisher(self, vars: &Vars, deploy_queue: Option<Arc<dyn Queue>>) -> anyhow::Result<Self> {
        let queues = deploy_queue
            .map(|q| (DEPLOY_QUEUE, q))
            .into_iter()
            .collect();
        self.publisher_to(vars, queues)
    }

    /// The outbox publisher: events to `AXHUB_EVENT_BUS`, jobs to these queues.
    fn publisher_to(
        mut self,
        vars: &Vars,
        queues: Vec<(&'static str, Arc<dyn Queue>)>,
    ) -> anyhow::Result<Self> {
        let bus = vars.require("AXHUB_EVENT_BUS")?;
        self.deps = self
            .deps
            .with_publisher(clients::publisher(&self.aws, bus, queues));
        Ok(self)
    }

    /// The template catalog (`AXHUB_TEMPLATE_CATALOG`, a JSON document; empty when unset).
    fn templates(mut self, vars: &Vars) -> anyhow::Result<Self> {
        if let Some(json) = vars
            .get("AXHUB_TEMPLATE_CATALOG")
            .filter(|s| !s.trim().is_empty())
        {
            let catalog = Catalog::parse(&json).map_err(anyhow::Error::msg)?;
            self.deps = self.deps.with_templates(catalog);
        }
        Ok(self)
    }

    /// The EKS cluster, and the registry the pipeline names images in.
    fn cluster(mut self, vars: &Vars) -> anyhow::Result<Self> {
        let eks = Eks::from(vars)?;
        self.deps = self
            .deps
            .with_pipeline(PipelineConfig {
                registry: eks.registry.clone(),
                ..Default::default()
            })
            .with_cluster(clients::cluster(&self.aws, eks));
        Ok(self)
    }

    /// The apps' databases on PostgreSQL (`AXHUB_APP_DB_URL`).
    fn app_db(mut self, vars: &Vars) -> anyhow::Result<Self> {
        let url = vars.require("AXHUB_APP_DB_URL")?;
        self.deps = self.deps.with_app_db(crate::appdb::app_db(url));
        Ok(self)
    }

    /// ECR: which digest a build pushed, whether an image can be reused, whether releases'
    /// images still exist.
    /// The apps' runtime logs on CloudWatch Logs (no variable: the log groups are named by
    /// the apps' ids).
    fn runtime_logs(mut self) -> Self {
        self.deps = self.deps.with_logs(clients::logs(&self.aws));
        self
    }

    fn registry(mut self) -> Self {
        self.deps = self.deps.with_registry(clients::registry(&self.aws));
        self
    }

    /// Each build's push credential, through the build-push role (`AXHUB_BUILD_PUSH_ROLE_ARN`).
    fn push_credentials(mut self, vars: &Vars) -> anyhow::Result<Self> {
        let role = vars.require("AXHUB_BUILD_PUSH_ROLE_ARN")?;
        self.deps = self
            .deps
            .with_push_credentials(clients::push_credentials(&self.aws, role));
        Ok(self)
    }

    /// The GitHub App, when configured.
    fn github_app(mut self, vars: &Vars) -> anyhow::Result<Self> {
        if let Some(config) = settings::github_config_from(vars)? {
            let tokens = Arc::new(StoredCredentials::new(self.store.clone()));
            let github = Arc::new(LazyGitHub::new(config, tokens));
            self.deps = self
                .deps
                .with_github(github.clone())
                .with_github_repos(github);
        }
        Ok(self)
    }

    /// GitHub's webhook signatures only, when `AXHUB_GITHUB_WEBHOOK_SECRET` is set.
    fn github_signatures(mut self, vars: &Vars) -> Self {
        if let Some(secret) = vars.get("AXHUB_GITHUB_WEBHOOK_SECRET") {
            self.deps = self
                .deps
                .with_github(Arc::new(LazyGitHub::signatures_only(secret)));
        }
        self
    }

    fn done(self) -> Arc<Deps> {
        Arc::new(self.deps)
    }
}

fn http_state(deps: Arc<Deps>, auth: AuthConfig) -> AppState {
    let tokens = Arc::new(StoredCredentials::new(deps.store.clone()));
    AppState {
        auth: Arc::new(Authenticator::new(auth, tokens)),
        deps,
    }
}

/// `deployments`: history, trigger (publishes the build job right after commit), cancel,
/// rollback (enqueues), diagnosis (reads the cluster), runtime logs (CloudWatch Logs), tenant
/// feed.
pub fn deployments(vars: &Vars) -> anyhow::Result<AppState> {
    let w = Wiring::new(vars)?;
    let queue = w.deploy_queue(vars)?;
    let deps = w
        .publisher(vars, Some(queue))?
        .cluster(vars)?
        .github_app(vars)?
        .runtime_logs()
        .done();
    Ok(http_state(deps, settings::auth_config_from(vars)?))
}

/// `lifecycle`: releases, staging on and off (forks and drops the staging database, queues
/// the seed and the teardown), promote-preflight, promotion retry (queues the promotion).
pub fn lifecycle(vars: &Vars) -> anyhow::Result<AppState> {
    let w = Wiring::new(vars)?;
    let queue = w.deploy_queue(vars)?;
    let deps = w
        .publisher(vars, Some(queue))?
        .app_db(vars)?
        .registry()
        .done();
    Ok(http_state(deps, settings::auth_config_from(vars)?))
}

/// `git`: the GitHub connection and install flow; connecting and disconnecting publish
/// `git.connected` / `git.disconnected` events, nothing else leaves the function.
pub fn git(vars: &Vars) -> anyhow::Result<AppState> {
    let deps = Wiring::new(vars)?
        .publisher(vars, None)?
        .github_app(vars)?
        .done();
    Ok(http_state(deps, settings::auth_config_from(vars)?))
}

/// `github-webhook`: a delivery that asks for work is recorded and its job queued for the
/// deploy worker (which deploys or disconnects, and writes the events): the function reaches
/// the queue and no event bus. GitHub signs every delivery; no route reads a bearer token, so
/// the authenticator trusts no issuer: an HS256 key nobody holds.
pub fn github_webhook(vars: &Vars) -> anyhow::Result<AppState> {
    let mut w = Wiring::new(vars)?;
    let queue = w.deploy_queue(vars)?;
    w.deps = w
        .deps
        .with_publisher(clients::jobs_only_publisher(DEPLOY_QUEUE, queue));
    let deps = w.github_signatures(vars).done();
    let auth = AuthConfig {
        keys: JwtKeys::Hs256 {
            secret: rand::random::<[u8; 32]>().to_vec(),
        },
        issuer: None,
        audience: None,
    };
    Ok(http_state(deps, auth))
}

/// What the deploy worker is built from: every port, and the deploy queue itself (running
/// builds and rollouts are looked at again through a follow-up job).
pub struct Worker {
    pub deps: Arc<Deps>,
    pub deploy_queue: Arc<dyn Queue>,
}

/// `deploy-worker`: the pipeline stages (cluster, registry digests, per-build push credentials,
/// GitHub clone tokens, events, follow-ups), promotions, staging's seed and teardown (the app
/// databases), and the webhook deliveries' work (deployments of pushes, disconnections).
pub fn deploy_worker(vars: &Vars) -> anyhow::Result<Worker> {
    let w = Wiring::new(vars)?;
    let deploy_queue = w.deploy_queue(vars)?;
    let deps = w
        .publisher(vars, Some(deploy_queue.clone()))?
        .cluster(vars)?
        .registry()
        .push_credentials(vars)?
        .github_app(vars)?
        .app_db(vars)?
        .done();
    Ok(Worker { deps, deploy_queue })
}

/// `maintenance`: the outbox sweeper (events and jobs of both queues) and the reaper (puts a
/// stuck deployment's workload back on the cluster).
pub fn maintenance(vars: &Vars) -> anyhow::Result<Arc<Deps>> {
    let w = Wiring::new(vars)?;
    let queues = vec![
        (DEPLOY_QUEUE, w.deploy_queue(vars)?),
        (BOOTSTRAP_QUEUE, w.bootstrap_queue(vars)?),
    ];
    Ok(w.publisher_to(vars, queues)?.cluster(vars)?.done())
}

/// `bootstraps`: starts a saga (its first job on the bootstrap queue) after checking the
/// installation on GitHub; reads sagas; lists the template catalog.
pub fn bootstraps(vars: &Vars) -> anyhow::Result<AppState> {
    let mut w = Wiring::new(vars)?;
    let queue = w.bootstrap_queue(vars)?;
    w.deps = w
        .deps
        .with_publisher(clients::jobs_only_publisher(BOOTSTRAP_QUEUE, queue));
    let deps = w.github_app(vars)?.templates(vars)?.done();
    Ok(http_state(deps, settings::auth_config_from(vars)?))
}

/// What the bootstrap worker is built from.
pub struct BootstrapWorker {
    pub deps: Arc<Deps>,
    pub bootstrap_queue: Arc<dyn Queue>,
}

/// `bootstrap-worker`: the saga's steps: GitHub (repositories, the template's files, the
/// connection check), the app and connection writes with their events, the next step on the
/// bootstrap queue, the first deployment's build job on the deploy queue.
pub fn bootstrap_worker(vars: &Vars) -> anyhow::Result<BootstrapWorker> {
    let w = Wiring::new(vars)?;
    let bootstrap_queue = w.bootstrap_queue(vars)?;
    let queues = vec![
        (BOOTSTRAP_QUEUE, bootstrap_queue.clone()),
        (DEPLOY_QUEUE, w.deploy_queue(vars)?),
    ];
    let deps = w
        .publisher_to(vars, queues)?
        .github_app(vars)?
        .templates(vars)?
        .done();
    Ok(BootstrapWorker {
        deps,
        bootstrap_queue,
    })
}

/// `events-ingest`: the read model of neighbouring services' events; an approval starts a
/// promotion (its job and its `PromoteStatusChanged` event).
pub fn events_ingest(vars: &Vars) -> anyhow::Result<Arc<Deps>> {
    let w = Wiring::new(vars)?;
    let queue = w.deploy_queue(vars)?;
    Ok(w.publisher(vars, Some(queue))?.done())
}
