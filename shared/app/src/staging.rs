//! `PUT` and `DELETE …/apps/{id}/staging`: an app's staging environment. With staging on,
//! pushes and manual triggers deploy to staging (`trigger::preconditions`) and production
//! changes only by promotion and guarded rollback.
//!
//! Enabling is all or nothing: a claim on the app's state (one enabler at a time; it expires,
//! so a crashed enabler does not block the app), the staging database forked from
//! production's structure, then the opt-in, which also points staging at production's release
//! and queues the seed (`Job::SettleStaging`, no rebuild). A failure at any step drops the
//! fork and gives the claim back.

use std::time::Duration;

use axhub_domain::{Environment, Error, ErrorCode, Principal};
use axhub_ports::AppDatabase;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::{DEPLOY_QUEUE, Job};
use crate::state::apps::{self, AppContext};
use crate::state::{Refused, UnitOfWork, promotions, reviews, schema_ops};
use crate::trigger::{MAX_ATTEMPTS, in_progress, too_busy};
use crate::{Deps, access, app_db_error, events};

/// How long an enable may hold its claim: far longer than a fork takes.
const CLAIM: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct DisableStaging {
    /// Acknowledges that the schema ops never promoted are discarded with staging (and its
    /// data is lost). False or missing: 412 `confirm_required`.
    #[serde(default)]
    pub confirm_discard_ops: bool,
}

/// Turns staging on (202: the seed rolls out asynchronously).
pub async fn enable(deps: &Deps, who: &Principal, app_id: Uuid) -> Result<(), Error> {
    let ctx = access::app_to_manage(deps, who, app_id).await?;
    if ctx.app.staging_enabled {
        return Err(already_enabled());
    }
    let Some(seed) = ctx.app.production_deployment_id else {
        return Err(Error::precondition(
            ErrorCode::ProdDeployRequired,
            "deploy to production once before enabling staging: staging starts from \
             production's release, and promotion replaces it",
        ));
    };
    let db = deps.app_db()?.clone();
    let claim = Uuid::now_v7();
    let now = deps.now().unix_timestamp();
    let mut work = UnitOfWork::new();
    work.claim_staging(app_id, claim, now, now + CLAIM.as_secs() as i64);
    match work.commit(deps).await {
        Ok(()) => {}
        Err(Refused::Lost { .. }) => {
            return Err(if apps::existing(deps, app_id).await?.app.staging_enabled {
                already_enabled()
            } else {
                Error::conflict(
                    ErrorCode::Conflict,
                    "staging is being enabled by another request; wait for it to finish",
                )
            });
        }
        Err(Refused::Failed(e)) => return Err(e),
    }
    match fork_and_opt_in(deps, db.as_ref(), &ctx, claim, seed, who).await {
        Ok(()) => {
            tracing::info!(%app_id, seed_deployment_id = %seed, "staging enabled");
            Ok(())
        }
        Err(e) => {
            undo_enable(deps, db.as_ref(), app_id, claim).await;
            Err(e)
        }
    }
}

fn already_enabled() -> Error {
    Error::conflict(
        ErrorCode::StagingAlreadyEnabled,
        "staging is already enabled for this app",
    )
}

async fn fork_and_opt_in(
    deps: &Deps,
    db: &dyn AppDatabase,
    ctx: &AppContext,
    claim: Uuid,
    seed: Uuid,
    who: &Principal,
) -> Result<(), Error> {
    let app_id = ctx.app.id;
    db.ensure_schema(app_id, Environment::Production)
        .await
        .map_err(app_db_error)?;
    // What an earlier staging left, if its teardown never finished: a fork never merges.
    db.drop_schema(app_id, Environment::Staging)
        .await
        .map_err(app_db_error)?;
    db.fork_structure(app_id, Environment::Production, Environment::Staging)
        .await
        .map_err(app_db_error)?;
    // Ops recorded before the fork are in production's structure already, or never will be.
    let ops_through = schema_ops::latest(deps, app_id).await?;
    let mut work = UnitOfWork::new();
    work.enable_staging(app_id, claim, seed, ops_through);
    work.emit(events::staging_enabled(
        ctx.app.tenant_id,
        app_id,
        seed,
        &who.user_id,
        deps.now(),
    ))?;
    work.enqueue(
        DEPLOY_QUEUE,
        Job::SettleStaging { app_id }.body(),
        Duration::ZERO,
    )?;
    work.commit(deps).await.map_err(Refused::into_error)
}

/// Undoes a failed enable: the fork goes, the claim is given back (if that write fails too,
/// the claim expires on its own).
async fn undo_enable(deps: &Deps, db: &dyn AppDatabase, app_id: Uuid, claim: Uuid) {
    if let Err(e) = db.drop_schema(app_id, Environment::Staging).await {
        tracing::error!(%app_id, error = %e, "could not drop the staging fork of a failed enable");
    }
    let mut work = UnitOfWork::new();
    work.release_staging_claim(app_id, claim);
    if let Err(e) = work.commit(deps).await {
        tracing::warn!(%app_id, error = ?e, "could not release the staging claim; it expires");
    }
}

/// Turns staging off (204): the staging workload and host go (`Job::SettleStaging`), the
/// staging database is dropped, the ops never promoted are discarded.
pub async fn disable(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    input: DisableStaging,
) -> Result<(), Error> {
    let mut ctx = access::app_to_manage(deps, who, app_id).await?;
    if !input.confirm_discard_ops {
        return Err(Error::precondition(
            ErrorCode::ConfirmRequired,
            "turning staging off drops its database and discards the schema changes never \
             promoted; send confirm_discard_ops: true to confirm",
        ));
    }
    if !ctx.app.staging_enabled {
        return Err(not_enabled());
    }
    if reviews::has_pending(deps, app_id).await? {
        return Err(Error::precondition(
            ErrorCode::PendingReviewExists,
            "a review of this app is pending; cancel or decide it before turning staging off",
        ));
    }
    if promotions::any_promoting(deps, app_id).await? {
        return Err(Error::precondition(
            ErrorCode::PromoteInProgress,
            "a promotion of this app is running; wait for it to end",
        ));
    }
    let db = deps.app_db()?.clone();
    for _ in 0..MAX_ATTEMPTS {
        if let Some(active) = ctx.state.active {
            return Err(in_progress(active));
        }
        let ops_through = schema_ops::latest(deps, app_id).await?;
        let mut work = UnitOfWork::new();
        work.disable_staging(app_id, ops_through);
        work.emit(events::staging_disabled(
            ctx.app.tenant_id,
            app_id,
            ops_through,
            &who.user_id,
            deps.now(),
        ))?;
        work.enqueue(
            DEPLOY_QUEUE,
            Job::SettleStaging { app_id }.body(),
            Duration::ZERO,
        )?;
        match work.commit(deps).await {
            Ok(()) => {
                // The settle job drops it as well if this fails.
                if let Err(e) = db.drop_schema(app_id, Environment::Staging).await {
                    tracing::warn!(%app_id, error = %e, "staging database not dropped yet; the settle job retries");
                }
                tracing::info!(%app_id, discarded_through = ops_through, "staging disabled");
                return Ok(());
            }
            Err(Refused::Lost { .. }) => {}
            Err(Refused::Failed(e)) => return Err(e),
        }
        ctx = apps::existing(deps, app_id).await?;
        if !ctx.app.staging_enabled {
            return Err(not_enabled());
        }
    }
    Err(too_busy())
}

fn not_enabled() -> Error {
    Error::precondition(
        ErrorCode::StagingNotEnabled,
        "staging is not enabled for this app",
    )
}
