//! Use cases of the deploy control plane. Nothing here sees AWS, Kubernetes or HTTP types:
//! they speak to the ports of `axhub-ports`, and to the state through `state`, one module
//! per aggregate, whose verbs are collected into one transaction by `state::UnitOfWork`.

pub mod access;
pub mod bootstrap;
pub mod cursor;
pub mod deployments;
pub mod diagnosis;
pub mod directory;
pub mod events;
pub mod git;
pub mod idempotency;
pub mod ingest;
pub mod jobs;
pub mod logs;
pub mod outbox;
pub mod paging;
pub mod pipeline;
pub mod preflight;
pub mod promotion;
pub mod releases;
pub mod rollback;
pub mod staging;
pub mod state;
pub mod templates;
pub mod trigger;
pub mod worker;

use std::sync::Arc;

use axhub_domain::Error;
use axhub_store::{Store, StoreError};
use time::OffsetDateTime;

use axhub_ports::{
    AppDatabase, Clock, Cluster, GitHub, GitHubRepos, LogSource, Publisher, PushCredentials,
    Registry, SystemClock,
};

pub use cursor::CursorCodec;

/// What every use case is handed: built once per process (per Lambda cold start).
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub cursors: CursorCodec,
    /// GitHub, when configured (App id, key, webhook secret); without it the operations that
    /// need GitHub answer 503 `backend_unimplemented`.
    pub github: Option<Arc<dyn GitHub>>,
    /// Where outbox entries go right after commit; without one they wait for the sweeper.
    pub publisher: Option<Arc<dyn Publisher>>,
    /// The cluster that builds and runs apps; without one diagnosis and rollout answer 503.
    pub cluster: Option<Arc<dyn Cluster>>,
    /// The apps' databases (production, and staging once opted in); without one staging and
    /// promotion answer 503.
    pub app_db: Option<Arc<dyn AppDatabase>>,
    /// The image registry: which digest a build pushed, whether an image can be reused,
    /// whether releases' images still exist. Without one promote-preflight answers 503 and the
    /// pipeline cannot confirm a push.
    pub registry: Option<Arc<dyn Registry>>,
    /// Mints each build's push credential, scoped to its tenant; without one builds get none
    /// (the simulated cluster needs none; the Kubernetes adapter refuses such a build).
    pub push_credentials: Option<Arc<dyn PushCredentials>>,
    /// Where the apps' runtime logs are read (CloudWatch Logs, the simulated cluster's);
    /// without one the logs route answers 503 `backend_unimplemented`.
    pub logs: Option<Arc<dyn LogSource>>,
    /// Creating, writing and deleting repositories for the bootstrap saga (the same GitHub
    /// App); without it a bootstrap answers 503 `backend_unimplemented`.
    pub github_repos: Option<Arc<dyn GitHubRepos>>,
    /// The template catalog (configuration); empty unless one is given.
    pub templates: Arc<templates::Catalog>,
    pub pipeline: pipeline::PipelineConfig,
}

impl Deps {
    pub fn new(store: Arc<dyn Store>, cursor_secret: &[u8]) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            cursors: CursorCodec::new(cursor_secret),
            github: None,
            publisher: None,
            cluster: None,
            app_db: None,
            registry: None,
            push_credentials: None,
            logs: None,
            github_repos: None,
            templates: Arc::default(),
            pipeline: pipeline::PipelineConfig::default(),
        }
    }

    pub fn with_github(mut self, github: Arc<dyn GitHub>) -> Self {
        self.github = Some(github);
        self
    }

    pub fn with_github_repos(mut self, repos: Arc<dyn GitHubRepos>) -> Self {
        self.github_repos = Some(repos);
        self
    }

    pub fn with_templates(mut self, catalog: templates::Catalog) -> Self {
        self.templates = Arc::new(catalog);
        self
    }

    pub fn with_publisher(mut self, publisher: Arc<dyn Publisher>) -> Self {
        self.publisher = Some(publisher);
        self
    }

    pub fn with_cluster(mut self, cluster: Arc<dyn Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    pub fn with_app_db(mut self, app_db: Arc<dyn AppDatabase>) -> Self {
        self.app_db = Some(app_db);
        self
    }

    /// The app databases, or the 503 that says this deployment has none.
    pub fn app_db(&self) -> Result<&Arc<dyn AppDatabase>, Error> {
        self.app_db.as_ref().ok_or_else(|| {
            Error::unimplemented("this deployment has no app database configured (app-db-url)")
        })
    }

    pub fn with_registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The registry, or the 503 that says this deployment has none.
    pub fn registry(&self) -> Result<&Arc<dyn Registry>, Error> {
        self.registry
            .as_ref()
            .ok_or_else(|| Error::unimplemented("this deployment has no image registry configured"))
    }

    pub fn with_push_credentials(mut self, credentials: Arc<dyn PushCredentials>) -> Self {
        self.push_credentials = Some(credentials);
        self
    }

    pub fn with_logs(mut self, logs: Arc<dyn LogSource>) -> Self {
        self.logs = Some(logs);
        self
    }

    /// The log source, or the 503 that says this deployment has none.
    pub fn logs(&self) -> Result<&Arc<dyn LogSource>, Error> {
        self.logs
            .as_ref()
            .ok_or_else(|| Error::unimplemented("this deployment has no log backend configured"))
    }

    pub fn with_pipeline(mut self, config: pipeline::PipelineConfig) -> Self {
        self.pipeline = config;
        self
    }

    /// The cluster, or the 503 that says this deployment has none.
    pub fn cluster(&self) -> Result<&Arc<dyn Cluster>, Error> {
        self.cluster.as_ref().ok_or_else(|| {
            Error::unimplemented(
                "this deployment has no cluster configured (kubeconfig or simulated)",
            )
        })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

/// Store failures that reach a use case's caller: never leak backend details.
pub fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::Unavailable(_) | StoreError::Conflict => {
            tracing::warn!(error = %e, "store busy");
            Error::unavailable("the state store is busy; retry shortly")
        }
        other => {
            tracing::error!(error = %other, "store failure");
            Error::internal("the state store failed")
        }
    }
}

/// App-database failures that reach a use case's caller: a passing one is a 503 to retry,
/// anything else an internal error (the details go to the log).
pub fn app_db_error(e: axhub_ports::appdb::AppDbError) -> Error {
    if e.is_retryable() {
        tracing::warn!(error = %e, "app database unavailable");
        Error::unavailable("the app database is unavailable; retry shortly")
    } else {
        tracing::error!(error = %e, "app database failure");
        Error::internal("the app database refused the change")
    }
}

/// A cluster failure in the platform's words. The adapter's text (Kubernetes API messages
/// with namespaces, service accounts, RBAC rules) goes to the log only: it describes the
/// platform's insides, not the tenant's app, so neither an answer nor a failure reason
/// carries it.
pub fn cluster_error(e: &axhub_ports::cluster::ClusterError) -> Error {
    use axhub_ports::cluster::ClusterError;
    match e {
        ClusterError::Unavailable(detail) => {
            tracing::warn!(%detail, "cluster unavailable");
            Error::unavailable("the cluster cannot be reached right now; retry shortly")
        }
        ClusterError::Refused(detail) => {
            tracing::error!(%detail, "the cluster refused a request");
            Error::internal("the platform could not complete the request on the cluster")
        }
    }
}

/// The failure reason's message when the cluster refused to apply an app's objects: the
/// detail is logged where the refusal is seen.
pub const CLUSTER_REFUSED: &str =
    "the platform could not apply the app's objects on the cluster; the operators have the details";
