//! The build → push → deploy pipeline (DESIGN §5). A worker runs a [`Job`] whenever one
//! arrives: `advance` moves a deployment as far as it can right now and says when to look
//! again; `rollback` swaps production to an earlier image; `promote` carries out an approved
//! review; `settle_staging` seeds or tears down staging. Every move is one unit of work
//! (deployment + deadline tracker + slot + pointer + outbox, [`transition`]), so duplicate,
//! late or redelivered jobs never build twice and never bring a terminal deployment back; a
//! cancelled deployment stops at the next boundary. The reaper ends deployments stuck past
//! their stage deadline.

mod image;
mod promote;
mod reaper;
mod rollback;
mod settle;
mod stages;
mod transition;
mod workload;

use std::time::Duration;

use axhub_domain::{Deployment, DeploymentStatus, Error};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Deps;

pub use reaper::reap;
pub use stages::{advance, cancel};
pub use workload::{image_uri, workload};

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Registry base that images are pushed to (`{registry}/{tenant}/{app}:{commit}`).
    pub registry: String,
    /// Apps are served at `{subdomain}.{tenant slug}.{domain}`.
    pub domain: String,
    /// How long to wait before looking at a running build or rollout again.
    pub poll: Duration,
    pub pending_deadline: Duration,
    pub building_deadline: Duration,
    pub pushing_deadline: Duration,
    pub deploying_deadline: Duration,
    /// How long a rollback may take to roll out.
    pub rollback_deadline: Duration,
    /// How long a promotion may stay `promoting` (waiting for the app's slot included).
    pub promote_deadline: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            registry: "registry.axhub.local".into(),
            domain: "axhub.ai".into(),
            poll: Duration::from_secs(5),
            pending_deadline: Duration::from_secs(10 * 60),
            building_deadline: Duration::from_secs(30 * 60),
            pushing_deadline: Duration::from_secs(10 * 60),
            deploying_deadline: Duration::from_secs(15 * 60),
            rollback_deadline: Duration::from_secs(15 * 60),
            promote_deadline: Duration::from_secs(30 * 60),
        }
    }
}

impl PipelineConfig {
    /// How long a deployment may stay in `status`.
    pub fn deadline(&self, status: DeploymentStatus) -> Duration {
        match status {
            DeploymentStatus::Pending => self.pending_deadline,
            DeploymentStatus::Building => self.building_deadline,
            DeploymentStatus::Pushing => self.pushing_deadline,
            _ => self.deploying_deadline,
        }
    }

    /// When the deployment's current stage runs out of time.
    pub fn deadline_of(&self, d: &Deployment) -> OffsetDateTime {
        d.updated_at + self.deadline(d.status)
    }
}

/// The queue the pipeline consumes.
pub const DEPLOY_QUEUE: &str = "deploy";

/// The job bodies of the deploy queue (docs/events.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Move this deployment on.
    Advance { deployment_id: Uuid },
    /// Roll production out to this rollback's target, and end it.
    Rollback { rollback_id: Uuid },
    /// Carry out this review's promotion: schema ops, rollout, pointer.
    Promote { request_id: Uuid },
    /// Make the app's staging environment what its state says: the staging pointer's release
    /// running (the seed after staging is enabled), or nothing and no database (after it is
    /// disabled).
    SettleStaging { app_id: Uuid },
}

impl Job {
    pub fn body(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What the worker does with the job after running it.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Nothing more to do for this job.
    Done,
    /// Send the job again after this delay (a build or rollout is running).
    Again(Duration),
}

/// Runs one job.
pub async fn run(deps: &Deps, job: &Job) -> Result<Next, Error> {
    match job {
        Job::Advance { deployment_id } => advance(deps, *deployment_id).await,
        Job::Rollback { rollback_id } => rollback::run(deps, *rollback_id).await,
        Job::Promote { request_id } => promote::run(deps, *request_id).await,
        Job::SettleStaging { app_id } => settle::settle_staging(deps, *app_id).await,
    }
}
