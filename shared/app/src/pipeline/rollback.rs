//! The rollback worker: rolls the target release's image out to production and ends the
//! rollback in one unit of work: succeeded (pointer moved, slot freed) or failed (slot freed,
//! then the workload put back to the pointer's release). The reaper ends one past its
//! deadline the same way.

use axhub_domain::{Cause, Environment, Error, FailureReason, Rollback, RollbackStatus, Stage};
use uuid::Uuid;

use super::settle::settle_workload;
use super::workload;
use super::workload::{Rollout, roll_out};
use crate::jobs::{DEPLOY_QUEUE, Job, Next};
use crate::state::apps::ActiveChange;
use crate::state::trackers::Tracked;
use crate::state::{Refused, UnitOfWork, apps, deployments, pending_pushes, rollbacks};
use crate::{Deps, events};

pub(crate) async fn run(deps: &Deps, rollback_id: Uuid) -> Result<Next, Error> {
    let cluster = deps.cluster()?.clone();
    let Some(r) = rollbacks::get(deps, rollback_id).await? else {
        tracing::warn!(%rollback_id, "job for an unknown rollback dropped");
        return Ok(Next::Done);
    };
    if r.status.is_terminal() {
        // A failed rollback leaves production on the pointer's release (a redelivery, or the
        // reaper's follow-up); doing it again is harmless.
        if r.status == RollbackStatus::Failed {
            settle_workload(deps, cluster.as_ref(), r.app_id, Environment::Production).await?;
        }
        return Ok(Next::Done);
    }
    // The target must be a release of this very app, with this image: a job never carries
    // another app's image to production, whatever its record says.
    let target = deployments::get(deps, r.deployment_id).await?;
    if !target.is_some_and(|d| d.app_id == r.app_id && d.image_uri.as_deref() == Some(&r.image_uri))
    {
        tracing::error!(rollback_id = %r.id, app_id = %r.app_id, deployment_id = %r.deployment_id, "rollback target is not a release of its app");
        let reason = FailureReason::new(
            Stage::Deploying,
            Cause::ImageMissing,
            "the rollback's target is not a release of this app",
        );
        end(deps, &r, Err(reason), false).await?;
        return Ok(Next::Done);
    }
    let Some(ctx) = apps::load(deps, r.app_id).await? else {
        let reason = FailureReason::new(
            Stage::Deploying,
            Cause::AppDeleted,
            "the app was deleted while it was being rolled back",
        );
        end(deps, &r, Err(reason), false).await?;
        return Ok(Next::Done);
    };
    let w = workload(deps, &ctx, Environment::Production).await?;
    let outcome = match roll_out(cluster.as_ref(), &w, &r.image_uri).await? {
        Rollout::Progressing => return Ok(Next::Again(deps.pipeline.poll)),
        Rollout::Ended(outcome) => outcome,
    };
    let failed = outcome.is_err();
    if !end(deps, &r, outcome, false).await? {
        // Moved meanwhile (the reaper): look again at what is there now.
        return Ok(Next::Again(std::time::Duration::ZERO));
    }
    if failed {
        // The slot is free now: production goes back to its pointer's release.
        settle_workload(deps, cluster.as_ref(), r.app_id, Environment::Production).await?;
    }
    Ok(Next::Done)
}

/// Ends the rollback: succeeded (`Ok`) moves the production pointer from what it was when the
/// rollback was accepted to its target; failed (`Err`) only frees the slot. With
/// `follow_up`, its job is enqueued with the move so a worker puts the workload back. False
/// when the rollback or the app's state moved meanwhile.
pub(super) async fn end(
    deps: &Deps,
    r: &Rollback,
    outcome: Result<(), FailureReason>,
    follow_up: bool,
) -> Result<bool, Error> {
    let now = deps.now();
    let mut new = r.clone();
    let moved = match outcome {
        Ok(()) => {
            new.succeed(now)?;
            Some((r.previous_deployment_id, r.deployment_id))
        }
        Err(reason) => {
            new.fail(reason, now)?;
            None
        }
    };
    let mut work = UnitOfWork::new();
    work.replace_rollback(r, &new)?;
    work.untrack_deadline(
        Tracked::Rollback(r.id),
        r.updated_at + deps.pipeline.rollback_deadline,
    );
    work.end_production_change(r.app_id, ActiveChange::Rollback(r.id), moved, None);
    let pending = pending_pushes::get(deps, r.app_id).await?;
    work.hand_over_pending_push(r.app_id, pending.as_ref())?;
    if moved.is_some() {
        work.emit(events::pointer_moved_by_rollback(&new))?;
    }
    work.emit(events::rollback_finished(&new))?;
    if follow_up {
        let job = Job::Rollback { rollback_id: r.id };
        work.enqueue(DEPLOY_QUEUE, job.body(), std::time::Duration::ZERO)?;
    }
    match work.commit(deps).await {
        Ok(()) => {
            tracing::info!(rollback_id = %r.id, app_id = %r.app_id, status = new.status.as_str(), "rollback ended");
            Ok(true)
        }
        Err(Refused::Lost { guards }) => {
            tracing::debug!(rollback_id = %r.id, ?guards, "rollback end lost a race");
            Ok(false)
        }
        Err(Refused::Failed(e)) => Err(e),
    }
}
