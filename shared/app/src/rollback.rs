//! `POST …/deployments/{id}/rollback`: production goes back to an earlier release's image.
//! No new deployment row: a rollback is a change of its own (`axhub_domain::Rollback`) that
//! holds the app's in-progress slot while the worker rolls it out (`pipeline::rollback`), has
//! a deadline the reaper enforces, and ends with `RollbackFinished`; once it rolled out, the
//! production pointer names the target.

use axhub_domain::{DeploymentStatus, Error, ErrorCode, Principal, Rollback, RollbackStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::deployments::find;
use crate::idempotency::IdempotencyKey;
use crate::jobs::{DEPLOY_QUEUE, Job};
use crate::state::apps::{self, ActiveChange};
use crate::state::trackers::Tracked;
use crate::state::{Guard, Refused, UnitOfWork};
use crate::state::{releases, schema_ops};
use crate::trigger::{MAX_ATTEMPTS, in_progress, too_busy};
use crate::{Deps, access, events};

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct RollbackRequest {
    /// Acknowledges that a rollback does not revert schema changes (required only when
    /// destructive changes were applied since the target version).
    #[serde(default)]
    pub confirm_schema_skew: bool,
}

/// A rollback accepted: 202, with whether this answer replays an earlier request's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub replayed: bool,
}

/// Accepts a rollback of production to the release of deployment `id`.
pub async fn request(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    id: Uuid,
    input: RollbackRequest,
    idempotency_key: Option<&str>,
) -> Result<Accepted, Error> {
    let mut ctx = access::app_to_manage(deps, who, app_id).await?;
    let idem = idempotency_key
        .map(|k| {
            let request =
                json!({"deployment_id": id, "confirm_schema_skew": input.confirm_schema_skew});
            IdempotencyKey::parse(k, &who.user_id, &format!("rollback:{app_id}"), &request)
        })
        .transpose()?;
    if let Some(idem) = &idem
        && idem.lookup(deps).await?.is_some()
    {
        return Ok(Accepted { replayed: true });
    }
    let target = find(deps, app_id, id).await?;
    let Some(image_uri) = target.image_uri.clone() else {
        return Err(Error::precondition(
            ErrorCode::ImageNotBuilt,
            format!(
                "deployment {id} never produced an image (it is {}); roll back to one that did",
                target.status.as_str()
            ),
        ));
    };
    if target.status != DeploymentStatus::Succeeded {
        return Err(Error::precondition(
            ErrorCode::NotARelease,
            format!(
                "deployment {id} {}: only a release (a deployment that succeeded) can be rolled \
                 back to",
                target.status.as_str()
            ),
        ));
    }
    let release = match target
        .release_version
        .as_deref()
        .and_then(releases::number_of)
    {
        Some(n) => releases::get(deps, app_id, n).await?,
        None => None,
    };
    // Spec FR-014: with staging on, production changes only to what a review approved.
    if ctx.app.staging_enabled && !release.as_ref().is_some_and(|r| r.approved) {
        return Err(Error::new(
            ErrorCode::VersionNotApproved,
            format!(
                "{} was never approved by a review: with staging on, production rolls \
                 back only to an approved version",
                target
                    .release_version
                    .as_deref()
                    .unwrap_or("this deployment")
            ),
        ));
    }
    if !input.confirm_schema_skew {
        let reviewed_against = release.and_then(|r| r.approved_cursor_seq).unwrap_or(0);
        let skew = destructive_since(
            deps,
            app_id,
            reviewed_against,
            ctx.state.production_schema_seq,
        )
        .await?;
        if !skew.is_empty() {
            return Err(Error::precondition(
                ErrorCode::ConfirmRequired,
                format!(
                    "destructive schema ops {skew:?} were applied to production after {} was \
                     reviewed; a rollback does not revert them. Send confirm_schema_skew: true \
                     to roll back anyway",
                    target
                        .release_version
                        .as_deref()
                        .unwrap_or("this deployment")
                ),
            ));
        }
    }
    deps.cluster()?;
    for _ in 0..MAX_ATTEMPTS {
        // Another change in flight decides what production will run: refused even when it
        // runs the target now.
        if let Some(active) = ctx.state.active {
            return Err(in_progress(active));
        }
        if ctx.app.production_deployment_id == Some(id) {
            // Production runs that release already: nothing to do.
            return Ok(Accepted { replayed: false });
        }
        let now = deps.now();
        let r = Rollback {
            id: Uuid::now_v7(),
            app_id,
            tenant_id: ctx.app.tenant_id,
            deployment_id: id,
            release_version: target.release_version.clone(),
            image_uri: image_uri.clone(),
            previous_deployment_id: ctx.app.production_deployment_id,
            status: RollbackStatus::Deploying,
            failure_reason: None,
            requested_by: who.user_id.clone(),
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        let mut work = UnitOfWork::new();
        work.claim_slot(app_id, ActiveChange::Rollback(r.id), None);
        work.insert_rollback(&r)?;
        work.track_deadline(
            Tracked::Rollback(r.id),
            app_id,
            r.status.as_str(),
            now + deps.pipeline.rollback_deadline,
        );
        work.emit(events::rollback_started(&r))?;
        let job = Job::Rollback { rollback_id: r.id };
        work.enqueue(DEPLOY_QUEUE, job.body(), std::time::Duration::ZERO)?;
        if let Some(idem) = &idem {
            idem.record(&mut work, now, 202, json!({"rollback_id": r.id}));
        }
        match work.commit(deps).await {
            Ok(()) => {
                tracing::info!(%app_id, deployment_id = %id, rollback_id = %r.id, "rollback accepted");
                return Ok(Accepted { replayed: false });
            }
            Err(refused) if refused.lost(Guard::Idempotency) => {
                return Ok(Accepted { replayed: true });
            }
            Err(Refused::Lost { .. }) => {}
            Err(Refused::Failed(e)) => return Err(e),
        }
        // Lost a race for the slot: decide again from what is there now.
        ctx = apps::existing(deps, app_id).await?;
    }
    Err(too_busy())
}

/// The seqs of destructive schema ops production applied after `after`, up to `through`.
async fn destructive_since(
    deps: &Deps,
    app_id: Uuid,
    after: u64,
    through: u64,
) -> Result<Vec<u64>, Error> {
    Ok(schema_ops::window(deps, app_id, after, through)
        .await?
        .into_iter()
        .filter(|l| l.destructive)
        .map(|l| l.op.seq)
        .collect())
}
