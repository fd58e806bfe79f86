//! One move of a deployment, as one unit of work: the deployment (only if nobody moved it
//! meanwhile), its deadline tracker, the app's slot and pointer when it ends (with the
//! deployment of a push kept while it held the slot), and its events.

use std::time::Duration;

use axhub_domain::{Deployment, Environment, Error};

use crate::jobs::{DEPLOY_QUEUE, Job};

use crate::state::apps::NewRelease;
use crate::state::pending_pushes;
use crate::state::trackers::Tracked;
use crate::state::{Refused, UnitOfWork};
use crate::{Deps, events};

/// What a terminal move changes on the app besides the deployment.
#[derive(Default)]
pub(super) struct Finish {
    /// A success: the releases counted so far and the environment whose pointer moves.
    pub success: Option<(u64, Environment)>,
    /// Whether the app's in-progress slot is still held by this deployment.
    pub slot_held: bool,
    /// Enqueue the deployment's job with the move, so that a worker cleans up after a move
    /// made elsewhere (a cancel, the reaper).
    pub follow_up: bool,
}

/// Writes `new` over `old`. Returns false when it lost a race (the caller re-reads and
/// decides again).
pub(super) async fn commit(
    deps: &Deps,
    old: &Deployment,
    new: &Deployment,
    finish: Finish,
) -> Result<bool, Error> {
    let cfg = &deps.pipeline;
    let mut work = UnitOfWork::new();
    work.replace_deployment(old, new)?;
    if !old.status.is_terminal() {
        work.untrack_deadline(Tracked::Deployment(old.id), cfg.deadline_of(old));
    }
    if !new.status.is_terminal() {
        work.track_deadline(
            Tracked::Deployment(new.id),
            new.app_id,
            new.status.as_str(),
            cfg.deadline_of(new),
        );
        work.emit(events::deployment_stage_changed(new))?;
    } else {
        work.emit(events::deployment_finished(new))?;
        let release = finish
            .success
            .map(|(releases_seen, environment)| NewRelease {
                releases_seen,
                environment,
                deployment_id: new.id,
            });
        if let Some(r) = &release {
            work.record_release(new, r.releases_seen + 1)?;
            work.emit(events::pointer_moved_by_deployment(new, r.environment))?;
        }
        work.settle_app(new.app_id, finish.slot_held.then_some(new.id), release);
        if finish.slot_held {
            // A push kept while this deployment ran deploys once the slot is free.
            let pending = pending_pushes::get(deps, new.app_id).await?;
            work.hand_over_pending_push(new.app_id, pending.as_ref())?;
        }
    }
    if finish.follow_up {
        let job = Job::Advance {
            deployment_id: new.id,
        };
        work.enqueue(DEPLOY_QUEUE, job.body(), Duration::ZERO)?;
    }
    match work.commit(deps).await {
        Ok(()) => {
            tracing::info!(deployment_id = %new.id, from = old.status.as_str(), to = new.status.as_str(), "deployment moved");
            Ok(true)
        }
        Err(Refused::Lost { guards }) => {
            tracing::debug!(deployment_id = %new.id, ?guards, "transition lost a race");
            Ok(false)
        }
        Err(Refused::Failed(e)) => Err(e),
    }
}
