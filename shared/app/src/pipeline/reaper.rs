//! The reaper: ends changes stuck past their stage deadline with code `timeout`: deployments,
//! rollbacks and promotions alike free the app's slot, and a follow-up job lets a worker stop what they
//! left running (with retries, and without the reaper needing the cluster).

use axhub_domain::{Cause, Error, FailureReason, Stage};

use super::promote::{self, Ending};
use super::rollback;
use super::transition::{Finish, commit};
use crate::Deps;
use crate::state::apps::ActiveChange;
use crate::state::trackers::{self, Overdue, Tracked};
use crate::state::{apps, deployments, promotions, rollbacks};

/// Ends the changes stuck past their deadline. Returns how many it ended.
pub async fn reap(deps: &Deps, max: u32) -> Result<usize, Error> {
    let now = deps.now();
    let mut reaped = 0;
    for overdue in trackers::overdue(deps, now, max).await? {
        let ended = match overdue.change {
            Tracked::Deployment(_) => reap_deployment(deps, &overdue).await?,
            Tracked::Rollback(_) => reap_rollback(deps, &overdue).await?,
            Tracked::Promotion(_) => reap_promotion(deps, &overdue).await?,
        };
        if ended {
            reaped += 1;
        }
    }
    Ok(reaped)
}

fn timeout(stage: Stage, limit: std::time::Duration, what: &str) -> FailureReason {
    let message = format!(
        "the {what} spent more than {} s in {} and was stopped",
        limit.as_secs(),
        stage.as_str()
    );
    FailureReason::new(stage, Cause::Timeout, message)
}

async fn reap_deployment(deps: &Deps, overdue: &Overdue) -> Result<bool, Error> {
    let Tracked::Deployment(id) = overdue.change else {
        return Ok(false);
    };
    let d = deployments::get(deps, id).await?;
    let Some(d) =
        d.filter(|d| overdue.is_current(!d.status.is_terminal(), deps.pipeline.deadline_of(d)))
    else {
        // A tracker its deployment has moved past.
        trackers::drop_tracker(deps, overdue).await;
        return Ok(false);
    };
    // A deleted app has no slot to free, but its stuck deployment still ends.
    let slot_held = apps::load(deps, d.app_id)
        .await?
        .is_some_and(|ctx| ctx.holds_slot(d.id));
    let mut new = d.clone();
    let stage = d.status.failure_stage();
    let reason = timeout(stage, deps.pipeline.deadline(d.status), "deployment");
    new.fail(reason, deps.now())?;
    let finish = Finish {
        success: None,
        slot_held,
        follow_up: true,
    };
    commit(deps, &d, &new, finish).await
}

async fn reap_rollback(deps: &Deps, overdue: &Overdue) -> Result<bool, Error> {
    let Tracked::Rollback(id) = overdue.change else {
        return Ok(false);
    };
    let limit = deps.pipeline.rollback_deadline;
    let r = rollbacks::get(deps, id).await?;
    let Some(r) = r.filter(|r| overdue.is_current(!r.status.is_terminal(), r.updated_at + limit))
    else {
        trackers::drop_tracker(deps, overdue).await;
        return Ok(false);
    };
    let reason = timeout(Stage::Deploying, limit, "rollback");
    rollback::end(deps, &r, Err(reason), true).await
}

async fn reap_promotion(deps: &Deps, overdue: &Overdue) -> Result<bool, Error> {
    let Tracked::Promotion(id) = overdue.change else {
        return Ok(false);
    };
    let limit = deps.pipeline.promote_deadline;
    let p = promotions::get(deps, id).await?;
    let Some(p) = p.filter(|p| overdue.is_current(!p.status.is_terminal(), p.updated_at + limit))
    else {
        trackers::drop_tracker(deps, overdue).await;
        return Ok(false);
    };
    let holds_slot = apps::load(deps, p.app_id)
        .await?
        .is_some_and(|ctx| ctx.state.active == Some(ActiveChange::Promotion(id)));
    let reason = timeout(Stage::Deploying, limit, "promotion");
    let ending = Ending {
        holds_slot,
        schema_seq: None,
        follow_up: true,
    };
    promote::end(deps, &p, Err(reason), ending).await
}
