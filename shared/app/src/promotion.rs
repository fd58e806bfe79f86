//! Promotions, as people and the review service see them: an approval starts one
//! (`start_for_approval`, from the review events), `POST …/promotions/{requestID}/retry` runs a
//! failed or stuck one again. The worker (`pipeline::promote`) carries them out.

use axhub_domain::{
    Cause, DeploymentStatus, Error, ErrorCode, FailureReason, Principal, PromoteStatus, Promotion,
    Stage,
};
use uuid::Uuid;

use crate::jobs::{DEPLOY_QUEUE, Job};
use crate::state::reviews::{self, Review, ReviewStatus};
use crate::state::trackers::Tracked;
use crate::state::{Guard, Refused, UnitOfWork, deployments, promotions};
use crate::{Deps, access, events};

/// Starts the promotion of an approved review, once per review: a repeated approval finds it
/// started. A review of something that is not a release of its app is recorded as a failed
/// promotion, so the review service hears why nothing happened.
pub async fn start_for_approval(deps: &Deps, review: &Review) -> Result<(), Error> {
    if promotions::get(deps, review.request_id).await?.is_some() {
        return Ok(());
    }
    let Some(d) = deployments::get(deps, review.deployment_id)
        .await?
        .filter(|d| d.app_id == review.app_id)
    else {
        tracing::warn!(request_id = %review.request_id, deployment_id = %review.deployment_id, "approval of an unknown deployment: nothing to promote");
        return Ok(());
    };
    let now = deps.now();
    let mut p = Promotion {
        request_id: review.request_id,
        app_id: d.app_id,
        tenant_id: d.tenant_id,
        deployment_id: d.id,
        release_version: d.release_version.clone(),
        image_uri: d.image_uri.clone().unwrap_or_default(),
        cursor_seq: review.cursor_seq,
        status: PromoteStatus::Promoting,
        failure_reason: None,
        attempt: 1,
        previous_deployment_id: None,
        applied_ops: Vec::new(),
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    let mut work = UnitOfWork::new();
    if d.status != DeploymentStatus::Succeeded || d.image_uri.is_none() {
        p.fail(
            FailureReason::new(
                Stage::Deploying,
                Cause::ImageMissing,
                format!(
                    "deployment {} is {}, not a release: nothing to promote",
                    d.id,
                    d.status.as_str()
                ),
            ),
            now,
        )?;
        work.insert_promotion(&p)?;
    } else {
        work.insert_promotion(&p)?;
        work.track_deadline(
            Tracked::Promotion(p.request_id),
            p.app_id,
            p.status.as_str(),
            now + deps.pipeline.promote_deadline,
        );
        let job = Job::Promote {
            request_id: p.request_id,
        };
        work.enqueue(DEPLOY_QUEUE, job.body(), std::time::Duration::ZERO)?;
    }
    work.emit(events::promote_status_changed(&p))?;
    match work.commit(deps).await {
        Ok(()) => {
            tracing::info!(request_id = %p.request_id, app_id = %p.app_id, status = p.status.as_str(), "promotion started");
            Ok(())
        }
        // Started by a concurrent delivery of the same approval.
        Err(refused) if refused.lost(Guard::Promotion) => Ok(()),
        Err(refused) => Err(refused.into_error()),
    }
}

/// Runs a failed promotion again, or one stuck in `promoting` past its deadline (202).
pub async fn retry(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    request_id: Uuid,
) -> Result<(), Error> {
    access::app_to_manage(deps, who, app_id).await?;
    let Some(p) = promotions::get(deps, request_id)
        .await?
        .filter(|p| p.app_id == app_id)
    else {
        // An approval whose promotion never started (its event was lost half-way) starts now.
        if let Some(review) = reviews::get(deps, request_id)
            .await?
            .filter(|r| r.app_id == app_id && r.status == ReviewStatus::Approved)
        {
            return start_for_approval(deps, &review).await;
        }
        return Err(Error::not_found("promotion"));
    };
    let now = deps.now();
    let deadline = p.updated_at + deps.pipeline.promote_deadline;
    match p.status {
        PromoteStatus::Promoted => {
            return Err(Error::conflict(
                ErrorCode::AlreadyPromoted,
                format!("review {request_id} was already promoted"),
            ));
        }
        PromoteStatus::Promoting if now < deadline => {
            return Err(Error::precondition(
                ErrorCode::PromoteInProgress,
                "this promotion is running; retry once it failed or ran past its deadline",
            ));
        }
        _ => {}
    }
    let mut new = p.clone();
    new.retry(now)?;
    let mut work = UnitOfWork::new();
    work.replace_promotion(&p, &new)?;
    if p.status == PromoteStatus::Promoting {
        work.untrack_deadline(Tracked::Promotion(request_id), deadline);
    }
    work.track_deadline(
        Tracked::Promotion(request_id),
        app_id,
        new.status.as_str(),
        now + deps.pipeline.promote_deadline,
    );
    work.emit(events::promote_status_changed(&new))?;
    work.enqueue(
        DEPLOY_QUEUE,
        Job::Promote { request_id }.body(),
        std::time::Duration::ZERO,
    )?;
    match work.commit(deps).await {
        Ok(()) => {
            tracing::info!(%request_id, %app_id, attempt = new.attempt, "promotion retried");
            Ok(())
        }
        Err(Refused::Lost { .. }) => Err(Error::precondition(
            ErrorCode::PromoteInProgress,
            "this promotion was started again meanwhile",
        )),
        Err(Refused::Failed(e)) => Err(e),
    }
}
