//! The cluster port: builds, rollouts and live facts, whatever runs them (Kubernetes through
//! `kube`, or the simulated cluster of axhub-local and tests).

use async_trait::async_trait;
use axhub_domain::diagnosis::ServiceFacts;
use axhub_domain::{Cause, Environment};
use uuid::Uuid;

/// One app's set in one environment: a Deployment + Service + Ingress in the tenant's
/// namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub tenant_id: Uuid,
    pub app_id: Uuid,
    pub app_slug: String,
    pub environment: Environment,
    /// The public host name (`{subdomain}.{tenant}.axhub.ai`, `-staging` for staging).
    pub host: String,
}

impl Workload {
    /// The tenant's namespace.
    pub fn namespace(&self) -> String {
        format!("tenant-{}", self.tenant_id.simple())
    }

    /// The name of the Deployment, Service and Ingress.
    pub fn name(&self) -> String {
        match self.environment {
            Environment::Production => self.app_slug.clone(),
            Environment::Staging => format!("{}-staging", self.app_slug),
        }
    }
}

/// A credential that never shows in logs: its Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildRequest {
    pub deployment_id: Uuid,
    pub workload: Workload,
    pub repo_full_name: String,
    pub commit_sha: String,
    /// Where the image goes (`{registry}/{tenant}/{app}:{commit}`).
    pub image_uri: String,
    /// A short-lived token that may clone the repository (an installation token for that one
    /// repository, `contents: read`); None clones anonymously (public repositories).
    pub clone_token: Option<Secret>,
    /// The registry credential of this build (a Docker `config.json` that may push to this
    /// tenant's repositories only, `PushCredentials`); None where the cluster needs none
    /// (the simulated one). The Kubernetes adapter refuses a build without one: there is no
    /// shared push credential to fall back on.
    pub push_credential: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BuildState {
    /// No build of this deployment exists: never started, or removed since (cancelled, or
    /// cleaned up after it ended). The pipeline starts one.
    NotStarted,
    Running,
    /// The image is built and pushed; `digest` is its manifest's (`sha256:…`) when the build
    /// reported it (None: ask the registry for the tag's).
    Succeeded {
        digest: Option<String>,
    },
    Failed {
        cause: Cause,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RolloutState {
    Progressing,
    Complete,
    Failed { cause: Cause, message: String },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError {
    /// The cluster or registry could not be reached or refused for now: retry later.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// The request was wrong in a way retrying won't fix.
    #[error("cluster refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// Starts the build (a Job named after the deployment): idempotent, a second call for the
    /// same deployment finds the first Job. The pipeline calls it only when `build_state`
    /// says `NotStarted`, so credentials are minted once per build, not once per look.
    async fn start_build(&self, build: &BuildRequest) -> Result<(), ClusterError>;
    async fn build_state(&self, build: &BuildRequest) -> Result<BuildState, ClusterError>;
    /// Stops and removes the build of a cancelled deployment (nothing if there is none).
    async fn cancel_build(&self, build: &BuildRequest) -> Result<(), ClusterError>;
    /// Applies the workload's Deployment, Service and Ingress with `image_uri`
    /// (server-side apply; idempotent).
    async fn apply(&self, workload: &Workload, image_uri: &str) -> Result<(), ClusterError>;
    /// Removes the workload's Deployment, Service and Ingress (nothing if they are gone):
    /// an environment whose pointer names no release runs nothing.
    async fn remove(&self, workload: &Workload) -> Result<(), ClusterError>;
    async fn rollout_state(
        &self,
        workload: &Workload,
        image_uri: &str,
    ) -> Result<RolloutState, ClusterError>;
    /// Live facts of the workload's services for diagnosis; None when nothing is deployed.
    async fn facts(&self, workload: &Workload) -> Result<Option<Vec<ServiceFacts>>, ClusterError>;
}
