//! The promotion worker: carries out an approved review. Each run goes as far as it can and
//! is safe to repeat from any point of interruption:
//! 1. take the app's in-progress slot (waiting while another change holds it), recording what
//!    production runs;
//! 2. apply the schema ops of the window the review pinned to the production database: the
//!    app database applies each op at most once (op and record in one transaction), so a
//!    repeated run skips what an earlier one applied;
//! 3. roll the release's image out to production (applying the same image again is
//!    harmless) and wait for the rollout;
//! 4. end in one unit of work: `promoted` with the production pointer moved and the slot freed,
//!    or `failed` with the reason, the slot freed, and production put back to its pointer.

use axhub_domain::{Cause, Environment, Error, FailureReason, PromoteStatus, Promotion, Stage};
use axhub_ports::appdb::{AppDbError, SchemaOp};
use uuid::Uuid;

use super::settle::settle_workload;
use super::workload;
use super::workload::{Rollout, roll_out};
use crate::jobs::{DEPLOY_QUEUE, Job, Next};
use crate::state::apps::{self, ActiveChange};
use crate::state::trackers::Tracked;
use crate::state::{Refused, UnitOfWork, pending_pushes, promotions, schema_ops};
use crate::{Deps, app_db_error, events};

pub(crate) async fn run(deps: &Deps, request_id: Uuid) -> Result<Next, Error> {
    let cluster = deps.cluster()?.clone();
    let db = deps.app_db()?.clone();
    let Some(p) = promotions::get(deps, request_id).await? else {
        tracing::warn!(%request_id, "job for an unknown promotion dropped");
        return Ok(Next::Done);
    };
    if p.status.is_terminal() {
        // A failed promotion leaves production on the pointer's release (a redelivery, or
        // the reaper's follow-up); doing it again is harmless.
        if p.status == PromoteStatus::Failed {
            settle_workload(deps, cluster.as_ref(), p.app_id, Environment::Production).await?;
        }
        return Ok(Next::Done);
    }
    let ctx = match apps::load(deps, p.app_id).await? {
        Some(ctx) if !p.image_uri.is_empty() => ctx,
        Some(_) => {
            let reason = FailureReason::new(
                Stage::Deploying,
                Cause::ImageMissing,
                format!("deployment {} made no release to promote", p.deployment_id),
            );
            end(deps, &p, Err(reason), Ending::default()).await?;
            return Ok(Next::Done);
        }
        None => {
            let reason = FailureReason::new(
                Stage::Deploying,
                Cause::AppDeleted,
                "the app was deleted before it was promoted",
            );
            end(deps, &p, Err(reason), Ending::default()).await?;
            return Ok(Next::Done);
        }
    };
    // 1. The slot.
    let mine = ActiveChange::Promotion(p.request_id);
    let p = match ctx.state.active {
        Some(active) if active == mine => p,
        Some(other) => {
            tracing::debug!(%request_id, holder = %other.describe(), "promotion waits for the app's slot");
            return Ok(Next::Again(deps.pipeline.poll));
        }
        None => {
            let mut taken = p.clone();
            taken.previous_deployment_id = ctx.app.production_deployment_id;
            let mut work = UnitOfWork::new();
            work.claim_slot(p.app_id, mine, None);
            work.replace_promotion(&p, &taken)?;
            match work.commit(deps).await {
                Ok(()) => taken,
                Err(Refused::Lost { .. }) => return Ok(Next::Again(std::time::Duration::ZERO)),
                Err(Refused::Failed(e)) => return Err(e),
            }
        }
    };
    // 2. The schema ops of the pinned window.
    let window = schema_ops::window(
        deps,
        p.app_id,
        ctx.state.ops_discarded_through,
        p.cursor_seq,
    )
    .await?;
    let ops: Vec<SchemaOp> = window.into_iter().map(|l| l.op).collect();
    let applied = match db.apply_ops(p.app_id, Environment::Production, &ops).await {
        Ok(applied) => applied,
        Err(e @ AppDbError::Unavailable(_)) => return Err(app_db_error(e)),
        Err(refused) => {
            let schema_seq = db
                .applied_through(p.app_id, Environment::Production)
                .await
                .map_err(app_db_error)?;
            let reason = FailureReason::new(
                Stage::Deploying,
                Cause::SchemaOpRefused,
                refused.to_string(),
            );
            let ending = Ending {
                holds_slot: true,
                schema_seq,
                follow_up: false,
            };
            return finish(deps, cluster.as_ref(), &p, Err(reason), ending).await;
        }
    };
    let p = if applied.is_empty() {
        p
    } else {
        // Recorded at once, so the promotion's report survives a crash before it ends.
        let mut recorded = p.clone();
        recorded.applied_ops.extend(&applied);
        let mut work = UnitOfWork::new();
        work.replace_promotion(&p, &recorded)?;
        match work.commit(deps).await {
            Ok(()) => recorded,
            Err(Refused::Lost { .. }) => return Ok(Next::Again(std::time::Duration::ZERO)),
            Err(Refused::Failed(e)) => return Err(e),
        }
    };
    let schema_seq = db
        .applied_through(p.app_id, Environment::Production)
        .await
        .map_err(app_db_error)?;
    // 3. The rollout.
    let w = workload(deps, &ctx, Environment::Production).await?;
    let outcome = match roll_out(cluster.as_ref(), &w, &p.image_uri).await? {
        Rollout::Progressing => return Ok(Next::Again(deps.pipeline.poll)),
        Rollout::Ended(outcome) => outcome,
    };
    // 4. The end.
    let ending = Ending {
        holds_slot: true,
        schema_seq,
        follow_up: false,
    };
    finish(deps, cluster.as_ref(), &p, outcome, ending).await
}

async fn finish(
    deps: &Deps,
    cluster: &dyn axhub_ports::Cluster,
    p: &Promotion,
    outcome: Result<(), FailureReason>,
    ending: Ending,
) -> Result<Next, Error> {
    let failed = outcome.is_err();
    if !end(deps, p, outcome, ending).await? {
        // Moved meanwhile (the reaper, a retry): look again at what is there now.
        return Ok(Next::Again(std::time::Duration::ZERO));
    }
    if failed {
        // The slot is free now: production goes back to its pointer's release.
        settle_workload(deps, cluster, p.app_id, Environment::Production).await?;
    }
    Ok(Next::Done)
}

/// What ending a promotion touches besides the promotion itself.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ending {
    /// It holds the app's slot, which ending frees.
    pub holds_slot: bool,
    /// How far the production schema is now, to record on the app.
    pub schema_seq: Option<u64>,
    /// Enqueue its job with the end, so a worker puts production back (the reaper).
    pub follow_up: bool,
}

/// Ends the promotion: promoted (`Ok`) moves the production pointer from what it was when the
/// promotion took the slot to the release; failed (`Err`) only frees the slot. False when the
/// promotion or the app's state moved meanwhile.
pub(super) async fn end(
    deps: &Deps,
    p: &Promotion,
    outcome: Result<(), FailureReason>,
    ending: Ending,
) -> Result<bool, Error> {
    let now = deps.now();
    let mut new = p.clone();
    let moved = match outcome {
        Ok(()) => {
            new.promote(now)?;
            Some((p.previous_deployment_id, p.deployment_id))
        }
        Err(reason) => {
            new.fail(reason, now)?;
            None
        }
    };
    let mut work = UnitOfWork::new();
    work.replace_promotion(p, &new)?;
    work.untrack_deadline(
        Tracked::Promotion(p.request_id),
        p.updated_at + deps.pipeline.promote_deadline,
    );
    if ending.holds_slot {
        work.end_production_change(
            p.app_id,
            ActiveChange::Promotion(p.request_id),
            moved,
            ending.schema_seq,
        );
        let pending = pending_pushes::get(deps, p.app_id).await?;
        work.hand_over_pending_push(p.app_id, pending.as_ref())?;
    }
    if moved.is_some() {
        work.emit(events::pointer_moved_by_promotion(&new))?;
    }
    work.emit(events::promote_status_changed(&new))?;
    if ending.follow_up {
        let job = Job::Promote {
            request_id: p.request_id,
        };
        work.enqueue(DEPLOY_QUEUE, job.body(), std::time::Duration::ZERO)?;
    }
    match work.commit(deps).await {
        Ok(()) => {
            tracing::info!(request_id = %p.request_id, app_id = %p.app_id, status = new.status.as_str(), "promotion ended");
            Ok(true)
        }
        Err(Refused::Lost { guards }) => {
            tracing::debug!(request_id = %p.request_id, ?guards, "promotion end lost a race");
            Ok(false)
        }
        Err(Refused::Failed(e)) => Err(e),
    }
}
