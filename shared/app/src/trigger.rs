//! Starting a deployment, whoever asks (a person, a push webhook, the bootstrap saga): every
//! rule of the trigger in one place.

use axhub_domain::deployment::NewDeployment;
use axhub_domain::{Deployment, Environment, Error, ErrorCode, TriggerSource, validate};
use serde_json::Value;
use uuid::Uuid;

use crate::idempotency::IdempotencyKey;
use crate::jobs::{DEPLOY_QUEUE, Job};
use crate::state::apps::{self, ActiveChange, AppContext};
use crate::state::trackers::Tracked;
use crate::state::{Guard, Refused, UnitOfWork};
use crate::{Deps, events};

/// How often a write that lost a race is re-read and retried before giving up.
pub(crate) const MAX_ATTEMPTS: usize = 8;

/// What starts a deployment.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub commit_sha: String,
    pub source: TriggerSource,
    /// The user id that caused it (for webhooks: the pusher as GitHub names them).
    pub by: String,
    pub force_rebuild: bool,
}

/// The outcome of a trigger: the deployment as first answered, and whether this is a replay.
#[derive(Debug, Clone)]
pub struct Created {
    pub body: Value,
    pub replayed: bool,
}

/// Checks every precondition of a new deployment except the in-progress slot, which only the
/// transaction decides. Says where it deploys.
pub fn preconditions(ctx: &AppContext) -> Result<Environment, Error> {
    if !ctx.app.has_subdomain() {
        return Err(Error::precondition(
            ErrorCode::SubdomainNotConfigured,
            "set the app's subdomain before deploying",
        ));
    }
    // Both become Kubernetes names and host labels: refuse what cannot be one, or what would
    // land on another app's staging set.
    let labels = validate::dns_label("slug", &ctx.app.slug)
        .and_then(|_| validate::dns_label("subdomain", ctx.app.subdomain.as_deref().unwrap_or("")));
    if let Err(e) = labels {
        return Err(Error::precondition(
            ErrorCode::SubdomainNotConfigured,
            format!(
                "the app's {}; fix it in the app's settings before deploying",
                e.message
            ),
        ));
    }
    if ctx.git.is_none() {
        return Err(Error::precondition(
            ErrorCode::GitConnectionRequired,
            "connect the app to a GitHub repository before deploying",
        ));
    }
    if ctx.app.approved && !ctx.app.staging_enabled {
        return Err(Error::precondition(
            ErrorCode::StagingRequired,
            "this app is public: enable staging to deploy; production changes only by promote",
        ));
    }
    Ok(if ctx.app.staging_enabled {
        Environment::Staging
    } else {
        Environment::Production
    })
}

/// The 409 of a change refused because another holds the app's slot.
pub(crate) fn in_progress(active: ActiveChange) -> Error {
    Error::conflict(
        ErrorCode::Conflict,
        format!(
            "{} is in progress; wait for it to finish (a deployment can be cancelled)",
            active.describe()
        ),
    )
}

/// Creates a pending deployment under every rule of the trigger: preconditions (412), the
/// one in-progress slot (409, decided by the transaction), the tenant's count, the
/// idempotency record, the deadline tracker, the `DeploymentStarted` event and the first
/// pipeline job, all in one unit of work. Callers have checked who may do it.
pub async fn start(
    deps: &Deps,
    ctx: AppContext,
    trigger: Trigger,
    idem: Option<&IdempotencyKey>,
) -> Result<Created, Error> {
    let environment = preconditions(&ctx)?;
    let app_id = ctx.app.id;
    let mut ctx = ctx;
    for _ in 0..MAX_ATTEMPTS {
        if let Some(active) = ctx.state.active {
            return Err(in_progress(active));
        }
        let seen_total = ctx.state.deployments_total;
        let now = deps.now();
        let d = Deployment::new(NewDeployment {
            id: Uuid::now_v7(),
            app_id,
            tenant_id: ctx.app.tenant_id,
            seq: seen_total + 1,
            commit_sha: trigger.commit_sha.clone(),
            branch: ctx.git.as_ref().map(|g| g.branch.clone()),
            trigger_source: trigger.source,
            environment,
            force_rebuild: trigger.force_rebuild,
            triggered_by: trigger.by.clone(),
            now,
        });
        let body = serde_json::to_value(&d).map_err(|_| Error::internal("encode"))?;
        let mut work = UnitOfWork::new();
        work.claim_slot(app_id, ActiveChange::Deployment(d.id), Some(seen_total));
        work.insert_deployment(&d)?;
        work.count_tenant_deployment(ctx.app.tenant_id);
        work.emit(events::deployment_started(&d))?;
        work.enqueue(
            DEPLOY_QUEUE,
            Job::Advance {
                deployment_id: d.id,
            }
            .body(),
            std::time::Duration::ZERO,
        )?;
        work.track_deadline(
            Tracked::Deployment(d.id),
            app_id,
            d.status.as_str(),
            deps.pipeline.deadline_of(&d),
        );
        if let Some(idem) = idem {
            idem.record(&mut work, now, 202, body.clone());
        }
        match work.commit(deps).await {
            Ok(()) => {
                tracing::info!(deployment_id = %d.id, app_id = %app_id, "deployment created");
                return Ok(Created {
                    body,
                    replayed: false,
                });
            }
            Err(refused @ Refused::Lost { .. }) => {
                if refused.lost(Guard::Idempotency)
                    && let Some(first) = replay(deps, idem).await?
                {
                    return Ok(first);
                }
            }
            Err(Refused::Failed(e)) => return Err(e),
        }
        // Lost a race: read the slot again and decide from what is there now.
        ctx = apps::existing(deps, app_id).await?;
    }
    Err(too_busy())
}

/// The answer of a change that lost the race for the app's state too often.
pub(crate) fn too_busy() -> Error {
    Error::unavailable("too many concurrent changes to this app; retry shortly")
}

/// The first answer given for this idempotency key, if any.
pub async fn replay(deps: &Deps, idem: Option<&IdempotencyKey>) -> Result<Option<Created>, Error> {
    let Some(idem) = idem else { return Ok(None) };
    Ok(idem.lookup(deps).await?.map(|first| Created {
        body: first.body,
        replayed: true,
    }))
}
