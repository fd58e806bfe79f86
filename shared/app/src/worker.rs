//! Runs one job of the deploy queue: the top of the use cases, so that the pipeline and the
//! git integration never call each other (the webhook starts deployments through the
//! trigger; the pipeline only enqueues jobs, which land here).

use axhub_domain::Error;

use crate::jobs::{Job, Next};
use crate::{Deps, bootstrap, git, pipeline};

/// Runs one job. An error leaves the job to the queue's retries (then its dead-letter queue).
pub async fn run(deps: &Deps, job: &Job) -> Result<Next, Error> {
    match job {
        Job::Advance { deployment_id } => pipeline::advance(deps, *deployment_id).await,
        Job::Rollback { rollback_id } => pipeline::run_rollback(deps, *rollback_id).await,
        Job::Promote { request_id } => pipeline::run_promotion(deps, *request_id).await,
        Job::SettleStaging { app_id } => pipeline::settle_staging(deps, *app_id).await,
        Job::GithubDelivery { delivery_id } => git::webhook::process(deps, delivery_id).await,
        Job::PendingPush { app_id } => git::pending::deploy(deps, *app_id).await,
        Job::Bootstrap { bootstrap_id } => bootstrap::saga::run(deps, *bootstrap_id).await,
    }
}
