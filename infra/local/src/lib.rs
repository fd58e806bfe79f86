//! axhub-local: every endpoint group of axhub-deploy in one process, on SQLite.

pub mod admin;
pub mod admin_http;
pub mod background;
pub mod demo;
pub mod events;
pub mod files;
pub mod github;
pub mod kube;
pub mod serve;
pub mod setup_page;
pub mod simgithub;
pub mod templates;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axhub_app::Deps;
use axhub_auth::{AuthConfig, Authenticator, JwtKeys};
use axhub_http::{AppState, Routes};
use axhub_sqlite::SqliteStore;
use axum::Router;

/// Every endpoint group of the contract on one table (the Lambdas serve one group each).
pub fn groups() -> Routes {
    deployments_fn::routes()
        .merge(lifecycle_fn::routes())
        .merge(git_fn::routes())
        .merge(github_webhook_fn::routes())
        .merge(bootstraps_fn::routes())
}

/// The contract generated from every group's description: what
/// `axhub_http::openapi::DOCUMENT` must hold.
pub fn openapi() -> utoipa::openapi::OpenApi {
    axhub_http::openapi::contract([
        deployments_fn::openapi(),
        lifecycle_fn::openapi(),
        git_fn::openapi(),
        github_webhook_fn::openapi(),
        bootstraps_fn::openapi(),
    ])
}

/// Every group's routes on one router, and the local-only routes (GitHub user tokens, events,
/// the operator's admin actions, whose tokens `jwt_secret` signs); each request has
/// `serve::LIMITS.request` to be handled.
pub fn router(
    state: AppState,
    jwt_secret: &[u8],
    sim_github: Option<simgithub::SimGitHubSetup>,
) -> Router {
    let mut routes = groups()
        .into_router()
        .merge(github::routes())
        .merge(events::routes())
        .merge(admin_http::routes(jwt_secret.to_vec()))
        .merge(setup_page::routes());
    if let Some(setup) = sim_github {
        routes = routes.merge(simgithub::routes(setup));
    }
    axhub_http::finish(serve::with_deadline(routes, serve::LIMITS.request), state)
}

pub struct Local {
    pub state: AppState,
    pub store: SqliteStore,
    pub jwt_secret: Vec<u8>,
    pub data_dir: PathBuf,
    pub background: background::Background,
    /// The simulated GitHub, when it is the one in use.
    pub sim_github: Option<simgithub::SimGitHubSetup>,
}

/// The apps' databases: PostgreSQL at `url` (`--app-db-url`), or by default one SQLite file
/// per app and environment under `{data_dir}/appdb`.
pub async fn app_db(
    data_dir: &Path,
    url: Option<&str>,
) -> anyhow::Result<Arc<dyn axhub_ports::AppDatabase>> {
    Ok(match url {
        Some(url) => Arc::new(
            axhub_postgres::PostgresAppDatabase::connect(url)
                .await
                .context("connecting to the app database (--app-db-url)")?,
        ),
        None => Arc::new(axhub_sqlite::SqliteAppDatabase::new(data_dir.join("appdb"))),
    })
}

/// The shortest `--jwt-secret` taken: HS256's key is as strong as its bytes are random, and
/// RFC 7518 §3.2 asks for at least the hash's 256 bits.
const MIN_JWT_SECRET: usize = 32;

/// What [`open`] builds the process from: the command line's choices.
pub struct Options<'a> {
    pub jwt_secret: Option<&'a str>,
    pub sim: axhub_simcluster::SimConfig,
    pub github: &'a github::GitHubArgs,
    pub app_db: Arc<dyn axhub_ports::AppDatabase>,
    /// This process's base URL: with it and no GitHub App configured, GitHub is the
    /// simulated one (with the demo template catalog in it).
    pub sim_github_at: Option<&'a str>,
    pub kube: Option<kube::KubeTarget>,
    /// A template catalog file, over the demo's.
    pub template_catalog: Option<&'a Path>,
}

/// Opens the data directory (creating it) and builds the shared state.
pub fn open(data_dir: &Path, o: Options<'_>) -> anyhow::Result<Local> {
    let Options {
        jwt_secret,
        sim,
        github,
        app_db,
        sim_github_at,
        kube,
        template_catalog,
    } = o;
    files::data_dir(data_dir)?;
    let store = SqliteStore::open(&data_dir.join("axhub.db"))
        .map_err(|e| anyhow::anyhow!("opening the store: {e}"))?;
    let jwt_secret = match jwt_secret {
        Some(s) if s.len() < MIN_JWT_SECRET => anyhow::bail!(
            "--jwt-secret (AXHUB_JWT_SECRET) must be at least {MIN_JWT_SECRET} bytes: an HS256 \
             secret shorter than that can be guessed offline from any one token"
        ),
        Some(s) => s.as_bytes().to_vec(),
        None => files::persistent_secret(data_dir, "jwt-secret", "every bearer token")?,
    };
    let cursor_secret =
        files::persistent_secret(data_dir, "cursor-secret", "every page cursor handed out")?;
    let mut deps = Deps::new(Arc::new(store.clone()), &cursor_secret).with_app_db(app_db);
    let mut sim_github = None;
    if let Some(gh) = github.client(data_dir, Arc::new(store.clone()))? {
        deps = deps.with_github(gh.clone()).with_github_repos(gh);
    } else if let Some(base_url) = sim_github_at {
        let (gh, setup) = simgithub::client(data_dir, Arc::new(store.clone()), base_url)?;
        deps = deps
            .with_github(gh.clone())
            .with_github_repos(gh)
            .with_templates(templates::demo(&setup.sim)?);
        sim_github = Some(setup);
    }
    if let Some(path) = template_catalog {
        deps = deps.with_templates(templates::from_file(path)?);
    }
    let (deps, background) = background::wire(deps, store.clone(), data_dir, sim, kube)?;
    let deps = Arc::new(deps);
    let auth = Arc::new(Authenticator::new(
        AuthConfig {
            keys: JwtKeys::Hs256 {
                secret: jwt_secret.clone(),
            },
            issuer: None,
            audience: None,
        },
        Arc::new(axhub_app::state::credentials::StoredCredentials::new(
            deps.store.clone(),
        )),
    ));
    Ok(Local {
        state: AppState { deps, auth },
        store,
        jwt_secret,
        data_dir: data_dir.to_owned(),
        background,
        sim_github,
    })
}
