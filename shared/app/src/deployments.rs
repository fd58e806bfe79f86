//! The deployments endpoint group: history, trigger, inspect, cancel, tenant feed.

use axhub_domain::{
    Deployment, DeploymentStatus, Error, ErrorCode, Principal, TriggerSource, validate,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Deps;
use crate::access;
use crate::idempotency::IdempotencyKey;
use crate::paging::{Dense, ListPage, ListParams};
use crate::pipeline;
use crate::state::{self, apps};
use crate::trigger::{self, Created, MAX_ATTEMPTS, Trigger};

#[derive(Serialize, Deserialize)]
struct FeedCursor {
    /// Continue after this deployment id (UUIDv7 order).
    after: Uuid,
}

/// App history, newest first. `total` is the app's counter, kept in the same transaction as
/// each new row; `seq` is dense, so an offset is a key bound and a page costs one keyed query
/// of `limit` items whatever the history's length.
pub async fn list(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    params: ListParams,
) -> Result<ListPage<Deployment>, Error> {
    let (ctx, _) = access::app_for(deps, who, app_id).await?;
    let listing = Dense {
        deps,
        scope: format!("app-deployments:{app_id}"),
        total: ctx.state.deployments_total,
    };
    let start = listing.start(&params)?;
    let items = if start == 0 {
        Vec::new()
    } else {
        state::deployments::history(deps, app_id, start, params.limit).await?
    };
    Ok(listing.page(items, params.limit, |d| d.seq))
}

pub async fn get(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    id: Uuid,
) -> Result<Deployment, Error> {
    access::app_for(deps, who, app_id).await?;
    find(deps, app_id, id).await
}

/// The deployment if it belongs to the app; another app's deployment does not exist here.
pub(crate) async fn find(deps: &Deps, app_id: Uuid, id: Uuid) -> Result<Deployment, Error> {
    match state::deployments::get(deps, id).await? {
        Some(d) if d.app_id == app_id => Ok(d),
        _ => Err(Error::not_found("deployment")),
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CreateDeployment {
    /// The commit to deploy (40 hex characters); empty means the connected branch's HEAD.
    #[serde(default)]
    pub commit_sha: Option<String>,
    /// Build again even if an image for this commit exists.
    #[serde(default)]
    pub force_rebuild: bool,
}

pub async fn create(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    input: CreateDeployment,
    idempotency_key: Option<&str>,
) -> Result<Created, Error> {
    let ctx = access::app_to_manage(deps, who, app_id).await?;
    let idem = idempotency_key
        .map(|k| {
            let fingerprint = serde_json::to_value(&input).unwrap_or(Value::Null);
            IdempotencyKey::parse(
                k,
                &who.user_id,
                &format!("deployments:{app_id}"),
                &fingerprint,
            )
        })
        .transpose()?;
    if let Some(first) = trigger::replay(deps, idem.as_ref()).await? {
        return Ok(first);
    }
    let commit_sha = match input.commit_sha.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Some(validate::commit_sha(s)?),
        _ => None,
    };
    // The 412s come before resolving the branch's HEAD, which costs a GitHub round trip;
    // `start` checks them again against the state it commits on.
    trigger::preconditions(&ctx)?;
    let commit_sha = match (commit_sha, &ctx.git, &deps.github) {
        (Some(sha), _, _) => sha,
        (None, Some(git), Some(github)) => github.branch_head(git).await?,
        (None, _, _) => {
            return Err(Error::unimplemented(
                "resolving the connected branch's HEAD needs the GitHub integration, which this \
                 deployment does not have configured; pass commit_sha explicitly",
            ));
        }
    };
    let trigger = Trigger {
        commit_sha,
        source: TriggerSource::Manual,
        by: who.user_id.clone(),
        force_rebuild: input.force_rebuild,
    };
    trigger::start(deps, ctx, trigger, idem.as_ref()).await
}

/// Cancels an in-progress deployment and frees the app's slot at once. Cancelling a cancelled
/// deployment is a no-op; a finished one cannot be cancelled.
pub async fn cancel(deps: &Deps, who: &Principal, app_id: Uuid, id: Uuid) -> Result<(), Error> {
    let ctx = access::app_to_manage(deps, who, app_id).await?;
    let mut ctx = ctx;
    for _ in 0..MAX_ATTEMPTS {
        let d = find(deps, app_id, id).await?;
        match d.status {
            DeploymentStatus::Cancelled => return Ok(()),
            DeploymentStatus::Succeeded | DeploymentStatus::Failed => {
                return Err(Error::conflict(
                    ErrorCode::InvalidStateTransition,
                    format!(
                        "deployment already {}; only an in-progress one can be cancelled",
                        d.status.as_str()
                    ),
                ));
            }
            _ => {}
        }
        if pipeline::cancel(deps, &ctx, &d).await? {
            tracing::info!(deployment_id = %id, "deployment cancelled");
            return Ok(());
        }
        // The worker moved it on meanwhile: look again.
        ctx = apps::existing(deps, app_id).await?;
    }
    Err(Error::unavailable(
        "the deployment keeps changing; retry shortly",
    ))
}

/// The tenant's deployments across all apps, newest first: one keyed query on the tenant
/// feed index.
pub async fn tenant_feed(
    deps: &Deps,
    who: &Principal,
    tenant_id: Uuid,
    limit: u32,
    cursor: Option<&str>,
) -> Result<ListPage<Deployment>, Error> {
    access::tenant_member(deps, who, tenant_id).await?;
    let scope = format!("tenant-deployments:{tenant_id}");
    let after = cursor
        .map(|c| deps.cursors.decode::<FeedCursor>(&scope, c))
        .transpose()?
        .map(|c| c.after);
    let (items, total) = tokio::join!(
        state::deployments::feed(deps, tenant_id, after, limit + 1),
        state::tenants::deployments_total(deps, tenant_id)
    );
    let (mut items, total) = (items?, total?);
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|d| deps.cursors.encode(&scope, &FeedCursor { after: d.id }))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(ListPage {
        items,
        next_cursor,
        total,
    })
}
