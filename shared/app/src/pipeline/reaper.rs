//! The reaper: fails deployments stuck past their stage deadline with code `timeout`.

use axhub_domain::{Cause, Error, FailureReason};

use super::transition::{Finish, commit};
use crate::Deps;
use crate::state::{apps, deployments};

/// Fails deployments stuck past their stage deadline, freeing their slot. Returns how many
/// it failed.
pub async fn reap(deps: &Deps, max: u32) -> Result<usize, Error> {
    let now = deps.now();
    let mut reaped = 0;
    for overdue in deployments::overdue(deps, now, max).await? {
        let d = deployments::get(deps, overdue.deployment_id).await?;
        let Some(d) = d.filter(|d| overdue.is_current(d, deps.pipeline.deadline_of(d))) else {
            // A tracker its deployment has moved past.
            deployments::drop_tracker(deps, &overdue).await;
            continue;
        };
        // A deleted app has no slot to free, but its stuck deployment still ends.
        let slot_held = apps::load(deps, d.app_id)
            .await?
            .is_some_and(|ctx| ctx.holds_slot(d.id));
        let mut new = d.clone();
        let stage = d.status.failure_stage();
        let limit = deps.pipeline.deadline(d.status).as_secs();
        let message = format!(
            "the deployment spent more than {limit} s in {} and was stopped",
            stage.as_str()
        );
        new.fail(FailureReason::new(stage, Cause::Timeout, message), now)?;
        // The worker that takes the follow-up job stops the build and puts the workload back:
        // with retries, and without the reaper needing the cluster.
        let finish = Finish {
            success: None,
            slot_held,
            follow_up: true,
        };
        if commit(deps, &d, &new, finish).await? {
            reaped += 1;
        }
    }
    Ok(reaped)
}
