//! Each Lambda's wiring: exactly the ports its use cases call, from exactly the variables
//! template.yaml gives that function (and a test checks the two agree). Nothing here
//! connects anywhere: the clients are built on first use (`lazy.rs`), so a cold start is
//! reading and checking settings.
//!
//! | function       | store | events | deploy queue | cluster | GitHub | tokens |
//! |----------------|-------|--------|--------------|---------|--------|--------|
//! | deployments    | ✓     | ✓      | ✓ (trigger, rollback) | ✓ (diagnosis) | ✓ (HEAD) | ✓ |
//! | git            | ✓     | ✓ (git connected/disconnected) | | | ✓ | ✓ |
//! | github-webhook | ✓     | ✓      | ✓ (push → deploy) | | signatures only | |
//! | deploy-worker  | ✓     | ✓      | ✓            | ✓       | ✓ (clone token) | |
//! | maintenance    | ✓     | ✓      | ✓ (sweeper)  | ✓ (reaper) | | |
//! | events-ingest  | ✓     |        |              |         |        | |

use std::sync::Arc;

use axhub_app::Deps;
use axhub_app::credentials::StoredCredentials;
use axhub_app::pipeline::PipelineConfig;
use axhub_auth::{AuthConfig, Authenticator, JwtKeys};
use axhub_http::AppState;
use axhub_ports::queue::Queue;

use crate::Vars;
use crate::clients::{self, Aws};
use crate::github::LazyGitHub;
use crate::settings::{self, Core, Eks};

/// What one function's use cases reach besides the store.
#[derive(Clone, Copy, Default)]
struct Needs {
    events: bool,
    deploy_queue: bool,
    cluster: bool,
    github: GitHubUse,
}

#[derive(Clone, Copy, Default, PartialEq)]
enum GitHubUse {
    #[default]
    None,
    /// Webhook signatures only (`AXHUB_GITHUB_WEBHOOK_SECRET`).
    Signatures,
    /// The App (`settings::github_config_from`).
    App,
}

struct Built {
    deps: Arc<Deps>,
    deploy_queue: Option<Arc<dyn Queue>>,
}

fn build(vars: &Vars, needs: Needs) -> anyhow::Result<Built> {
    let core = Core::from(vars)?;
    let aws = Aws::default();
    let store = clients::store(&aws, core.table);
    let mut deps = Deps::new(store.clone(), core.cursor_secret.as_bytes());
    let deploy_queue = match needs.deploy_queue {
        true => Some(clients::queue(
            &aws,
            vars.require("AXHUB_DEPLOY_QUEUE_URL")?,
        )),
        false => None,
    };
    if needs.events {
        let bus = vars.require("AXHUB_EVENT_BUS")?;
        deps = deps.with_publisher(clients::publisher(&aws, bus, deploy_queue.clone()));
    }
    if needs.cluster {
        let eks = Eks::from(vars)?;
        deps = deps.with_pipeline(PipelineConfig {
            registry: eks.registry.clone(),
            ..Default::default()
        });
        deps = deps.with_cluster(clients::cluster(&aws, eks));
    }
    let github = match needs.github {
        GitHubUse::None => None,
        GitHubUse::Signatures => vars
            .get("AXHUB_GITHUB_WEBHOOK_SECRET")
            .map(LazyGitHub::signatures_only),
        GitHubUse::App => settings::github_config_from(vars)?
            .map(|config| LazyGitHub::new(config, Arc::new(StoredCredentials::new(store.clone())))),
    };
    if let Some(github) = github {
        deps = deps.with_github(Arc::new(github));
    }
    Ok(Built {
        deps: Arc::new(deps),
        deploy_queue,
    })
}

fn http_state(deps: Arc<Deps>, auth: AuthConfig) -> AppState {
    let tokens = Arc::new(StoredCredentials::new(deps.store.clone()));
    AppState {
        auth: Arc::new(Authenticator::new(auth, tokens)),
        deps,
    }
}

/// `deployments`: history, trigger (publishes the build job right after commit), cancel,
/// rollback (enqueues), diagnosis (reads the cluster), tenant feed.
pub fn deployments(vars: &Vars) -> anyhow::Result<AppState> {
    let needs = Needs {
        events: true,
        deploy_queue: true,
        cluster: true,
        github: GitHubUse::App,
    };
    let deps = build(vars, needs)?.deps;
    Ok(http_state(deps, settings::auth_config_from(vars)?))
}

/// `git`: the GitHub connection and install flow; connecting and disconnecting publish
/// `git.connected` / `git.disconnected` events, nothing else leaves the function.
pub fn git(vars: &Vars) -> anyhow::Result<AppState> {
    let needs = Needs {
        events: true,
        github: GitHubUse::App,
        ..Needs::default()
    };
    let deps = build(vars, needs)?.deps;
    Ok(http_state(deps, settings::auth_config_from(vars)?))
}

/// `github-webhook`: a push starts deployments (events and the build job), an uninstall
/// disconnects apps (events). GitHub signs every delivery; no route reads a bearer token, so
/// the authenticator trusts no issuer: an HS256 key nobody holds.
pub fn github_webhook(vars: &Vars) -> anyhow::Result<AppState> {
    let needs = Needs {
        events: true,
        deploy_queue: true,
        github: GitHubUse::Signatures,
        ..Needs::default()
    };
    let deps = build(vars, needs)?.deps;
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

/// `deploy-worker`: the pipeline stages (cluster, GitHub clone tokens, events, follow-ups).
pub fn deploy_worker(vars: &Vars) -> anyhow::Result<Worker> {
    let needs = Needs {
        events: true,
        deploy_queue: true,
        cluster: true,
        github: GitHubUse::App,
    };
    let built = build(vars, needs)?;
    let deploy_queue = built
        .deploy_queue
        .ok_or_else(|| anyhow::anyhow!("the deploy worker needs its queue"))?;
    Ok(Worker {
        deps: built.deps,
        deploy_queue,
    })
}

/// `maintenance`: the outbox sweeper (events and jobs) and the reaper (puts a stuck
/// deployment's workload back on the cluster).
pub fn maintenance(vars: &Vars) -> anyhow::Result<Arc<Deps>> {
    let needs = Needs {
        events: true,
        deploy_queue: true,
        cluster: true,
        ..Needs::default()
    };
    Ok(build(vars, needs)?.deps)
}

/// `events-ingest`: the read model of neighbouring services' events; the store only.
pub fn events_ingest(vars: &Vars) -> anyhow::Result<Arc<Deps>> {
    Ok(build(vars, Needs::default())?.deps)
}
