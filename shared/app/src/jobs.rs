//! The job bodies of the deploy queue (docs/events.md), in a module of their own that imports
//! no use case: the pipeline, the trigger and the webhook all enqueue jobs, and `worker`
//! dispatches them, so the job type sits below all of them and no module needs another's
//! internals to name a job.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The queue the deploy worker consumes.
pub const DEPLOY_QUEUE: &str = "deploy";
/// The queue the bootstrap worker consumes (its own, so a slow saga never delays builds).
pub const BOOTSTRAP_QUEUE: &str = "bootstrap";

/// One job (`{"kind": "advance", …}` on the wire).
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
    /// Act on a GitHub webhook delivery that was recorded (with the compact work it asks
    /// for) when it was received.
    GithubDelivery { delivery_id: String },
    /// Deploy the push kept for this app while its slot was held; queued by the change that
    /// freed the slot.
    PendingPush { app_id: Uuid },
    /// Run the bootstrap saga's current step (queue `bootstrap`).
    Bootstrap { bootstrap_id: Uuid },
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
