//! The build → push → deploy pipeline (DESIGN §5). The worker (`crate::worker`) runs a
//! [`Job`](crate::jobs::Job) whenever one arrives: `advance` moves a deployment as far as it
//! can right now and says when to look again; `rollback` swaps production to an earlier
//! image; `promote` carries out an approved review; `settle_staging` seeds or tears down
//! staging. Every move is one unit of work
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

use axhub_domain::{Deployment, DeploymentStatus};
use time::OffsetDateTime;

// `stages` names the job protocol through its parent (`super::Next`); it lives in `jobs`.
use crate::jobs::Next;

pub(crate) use promote::run as run_promotion;
pub use reaper::reap;
pub(crate) use rollback::run as run_rollback;
pub(crate) use settle::settle_staging;
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
