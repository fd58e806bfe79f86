//! The deployments endpoint group: history, trigger, inspect, cancel, tenant feed.

use axhub_domain::ErrorCode;
use axhub_domain::authz::require_tenant_member;
use axhub_domain::deployment::NewDeployment;
use axhub_domain::{
    Deployment, DeploymentStatus, DomainEvent, Environment, Error, EventKind, Principal,
    TriggerSource, validate,
};
use axhub_store::{Cond, Index, Query, SkCond, StoreError, TxOp, Update};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::idempotency::IdempotencyKey;
use crate::outbox::Outbox;
use crate::repo::{self, AppContext};
use crate::{Deps, keys, pipeline, store_error};

/// How often a write that lost a race is re-read and retried before giving up.
const MAX_ATTEMPTS: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// Empty when there is nothing more.
    pub next_cursor: String,
    pub total: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub limit: u32,
    pub offset: u64,
    pub cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SeqCursor {
    /// Continue with deployments whose seq is at most this.
    at_most: u64,
}

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
    let (ctx, _) = repo::app_for(deps, who, app_id).await?;
    let total = ctx.state.deployments_total;
    let scope = format!("app-deployments:{app_id}");
    let start = match &params.cursor {
        Some(c) if params.offset > 0 => {
            let _ = c;
            return Err(Error::field(
                "cursor",
                ErrorCode::InvalidValue,
                "use either cursor or offset, not both",
            ));
        }
        Some(c) => deps
            .cursors
            .decode::<SeqCursor>(&scope, c)?
            .at_most
            .min(total),
        None => total.saturating_sub(params.offset),
    };
    if start == 0 {
        return Ok(ListPage {
            items: vec![],
            next_cursor: String::new(),
            total,
        });
    }
    let page = deps
        .store
        .query(
            Query::new(Index::Gsi1, keys::app_deployments_gsi(app_id))
                .sk(SkCond::Le(keys::seq_sk(start)))
                .backward()
                .limit(params.limit),
        )
        .await
        .map_err(store_error)?;
    let items: Vec<Deployment> = page
        .items
        .into_iter()
        .map(repo::from_item)
        .collect::<Result<_, _>>()?;
    let next_cursor = match items.last() {
        Some(last) if items.len() as u32 == params.limit && last.seq > 1 => deps.cursors.encode(
            &scope,
            &SeqCursor {
                at_most: last.seq - 1,
            },
        ),
        _ => String::new(),
    };
    Ok(ListPage {
        items,
        next_cursor,
        total,
    })
}

pub async fn get(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    id: Uuid,
) -> Result<Deployment, Error> {
    repo::app_for(deps, who, app_id).await?;
    find(deps, app_id, id).await
}

/// The deployment if it belongs to the app; another app's deployment does not exist here.
async fn find(deps: &Deps, app_id: Uuid, id: Uuid) -> Result<Deployment, Error> {
    match repo::get_deployment(deps, id).await? {
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

/// The outcome of a trigger: the deployment as first answered, and whether this is a replay.
#[derive(Debug, Clone)]
pub struct Created {
    pub body: Value,
    pub replayed: bool,
}

/// Checks every precondition of a new deployment except the in-progress slot, which only the
/// transaction decides.
fn preconditions(ctx: &AppContext) -> Result<Environment, Error> {
    if !ctx.app.has_subdomain() {
        return Err(Error::precondition(
            ErrorCode::SubdomainNotConfigured,
            "set the app's subdomain before deploying",
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

fn in_progress(active: Uuid) -> Error {
    Error::conflict(
        ErrorCode::Conflict,
        format!("deployment {active} is in progress; cancel it or wait for it to finish"),
    )
}

pub async fn create(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    input: CreateDeployment,
    idempotency_key: Option<&str>,
) -> Result<Created, Error> {
    let (ctx, role) = repo::app_for(deps, who, app_id).await?;
    role.require_owner_or_admin("app")?;
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
    if let Some(first) = replay(deps, idem.as_ref()).await? {
        return Ok(first);
    }
    let commit_sha = match input.commit_sha.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Some(validate::commit_sha(s)?),
        _ => None,
    };
    // The 412s come before resolving the branch's HEAD, which costs a GitHub round trip;
    // `start` checks them again against the state it commits on.
    preconditions(&ctx)?;
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
    start(deps, ctx, trigger, idem.as_ref()).await
}

/// What starts a deployment, whoever asks (a person, a push webhook, the bootstrap saga).
#[derive(Debug, Clone)]
pub struct Trigger {
    pub commit_sha: String,
    pub source: TriggerSource,
    /// The user id that caused it (for webhooks: the pusher as GitHub names them).
    pub by: String,
    pub force_rebuild: bool,
}

/// Creates a pending deployment under every rule of the trigger: preconditions (412), the
/// one in-progress slot (409, decided by the transaction), and the outbox entries. Callers
/// have checked who may do it.
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
        if let Some(active) = ctx.state.active_deployment_id {
            return Err(in_progress(active));
        }
        let n = ctx.state.deployments_total;
        let now = deps.now();
        let d = Deployment::new(NewDeployment {
            id: Uuid::now_v7(),
            app_id,
            tenant_id: ctx.app.tenant_id,
            seq: n + 1,
            commit_sha: trigger.commit_sha.clone(),
            branch: ctx.git.as_ref().map(|g| g.branch.clone()),
            trigger_source: trigger.source,
            environment,
            force_rebuild: trigger.force_rebuild,
            triggered_by: trigger.by.clone(),
            now,
        });
        let body = serde_json::to_value(&d).map_err(|_| Error::internal("encode"))?;
        let mut outbox = Outbox::new();
        let seq_unchanged = if n == 0 {
            Cond::has_not("deployments_total")
        } else {
            Cond::eq("deployments_total", n)
        };
        let mut ops = vec![
            TxOp::Update {
                key: keys::app_state(app_id),
                update: Update::new()
                    .set("active_deployment_id", d.id.to_string())
                    .set("deployments_total", n + 1),
                cond: Some(Cond::And(vec![
                    Cond::has_not("active_deployment_id"),
                    seq_unchanged,
                ])),
            },
            TxOp::Put {
                item: repo::deployment_item(&d)?,
                cond: Some(Cond::NotExists),
            },
            TxOp::Update {
                key: keys::tenant_state(ctx.app.tenant_id),
                update: Update::new().add("deployments_total", 1),
                cond: None,
            },
            outbox.event(started_event(&d))?,
            outbox.job(
                pipeline::DEPLOY_QUEUE,
                pipeline::Job::Advance {
                    deployment_id: d.id,
                }
                .body(),
                std::time::Duration::ZERO,
            )?,
            pipeline::track_new(&deps.pipeline, &d),
        ];
        let idem_index = ops.len();
        if let Some(idem) = idem {
            ops.push(idem.record_op(now, 202, body.clone()));
        }
        match deps.store.transact(ops).await {
            Ok(()) => {
                tracing::info!(deployment_id = %d.id, app_id = %app_id, "deployment created");
                outbox.publish(deps).await;
                return Ok(Created {
                    body,
                    replayed: false,
                });
            }
            Err(StoreError::TransactionCancelled { failed }) => {
                if failed.contains(&idem_index)
                    && let Some(first) = replay(deps, idem).await?
                {
                    return Ok(first);
                }
            }
            Err(StoreError::Conflict) => {}
            Err(e) => return Err(store_error(e)),
        }
        // Lost a race: read the slot again and decide from what is there now.
        ctx = repo::load_app(deps, app_id)
            .await?
            .ok_or_else(|| Error::not_found("app"))?;
    }
    Err(Error::unavailable(
        "too many concurrent changes to this app; retry shortly",
    ))
}

/// The first answer given for this idempotency key, if any.
async fn replay(deps: &Deps, idem: Option<&IdempotencyKey>) -> Result<Option<Created>, Error> {
    let Some(idem) = idem else { return Ok(None) };
    Ok(idem.lookup(deps).await?.map(|first| Created {
        body: first.body,
        replayed: true,
    }))
}

fn started_event(d: &Deployment) -> DomainEvent {
    DomainEvent::new(
        EventKind::DeploymentStarted,
        d.tenant_id,
        d.app_id,
        d.started_at,
        json!({
            "deployment_id": d.id,
            "status": d.status,
            "stage": d.current_stage,
            "commit_sha": d.commit_sha,
            "trigger_source": d.trigger_source,
            "environment": d.environment,
            "started_at": d.started_at.format(&time::format_description::well_known::Rfc3339).ok(),
        }),
    )
}

/// Cancels an in-progress deployment and frees the app's slot at once. Cancelling a cancelled
/// deployment is a no-op; a finished one cannot be cancelled.
pub async fn cancel(deps: &Deps, who: &Principal, app_id: Uuid, id: Uuid) -> Result<(), Error> {
    let (ctx, role) = repo::app_for(deps, who, app_id).await?;
    role.require_owner_or_admin("app")?;
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
        ctx = repo::load_app(deps, app_id)
            .await?
            .ok_or_else(|| Error::not_found("app"))?;
    }
    Err(Error::unavailable(
        "the deployment keeps changing; retry shortly",
    ))
}

pub fn finished_event(d: &Deployment) -> DomainEvent {
    DomainEvent::new(
        EventKind::DeploymentFinished,
        d.tenant_id,
        d.app_id,
        d.updated_at,
        json!({
            "deployment_id": d.id,
            "status": d.status,
            "failure_reason": d.failure_reason,
            "release_version": d.release_version,
            "completed_at": d.completed_at.map(axhub_domain::deployment::rfc3339),
        }),
    )
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
    let membership = if who.platform_admin {
        None
    } else {
        repo::membership(deps, tenant_id, &who.user_id).await?
    };
    require_tenant_member(who, membership)?;
    let scope = format!("tenant-deployments:{tenant_id}");
    let start_after = match cursor {
        Some(c) => {
            let after = deps.cursors.decode::<FeedCursor>(&scope, c)?.after;
            let mut k = axhub_store::Item::new();
            let dk = keys::deployment(after);
            k.insert("pk".into(), json!(dk.pk));
            k.insert("sk".into(), json!(dk.sk));
            k.insert(
                "gsi2pk".into(),
                json!(keys::tenant_deployments_gsi(tenant_id)),
            );
            k.insert("gsi2sk".into(), json!(after.to_string()));
            Some(k)
        }
        None => None,
    };
    let query = Query::new(Index::Gsi2, keys::tenant_deployments_gsi(tenant_id))
        .backward()
        .limit(limit + 1)
        .start_after(start_after);
    let state_key = keys::tenant_state(tenant_id);
    let (page, state) = tokio::join!(deps.store.query(query), deps.store.get(&state_key));
    let mut items: Vec<Deployment> = page
        .map_err(store_error)?
        .items
        .into_iter()
        .map(repo::from_item)
        .collect::<Result<_, _>>()?;
    let total = state
        .map_err(store_error)?
        .and_then(|s| s.get("deployments_total").and_then(Value::as_u64))
        .unwrap_or(0);
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

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct RollbackRequest {
    /// Acknowledges that a rollback does not revert schema changes (required only when
    /// destructive changes were applied since the target version).
    #[serde(default)]
    pub confirm_schema_skew: bool,
}

/// Accepts a rollback of production to the image of deployment `id`: no new deployment row;
/// the production set is swapped asynchronously and the pointer moves once it rolled out.
pub async fn rollback(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    id: Uuid,
    _input: RollbackRequest,
) -> Result<(), Error> {
    let (_ctx, role) = repo::app_for(deps, who, app_id).await?;
    role.require_owner_or_admin("app")?;
    let d = find(deps, app_id, id).await?;
    if d.image_uri.is_none() {
        return Err(Error::precondition(
            ErrorCode::ImageNotBuilt,
            format!(
                "deployment {id} never produced an image (it is {}); roll back to one that did",
                d.status.as_str()
            ),
        ));
    }
    deps.cluster()?;
    let mut outbox = Outbox::new();
    let job = pipeline::Job::Rollback {
        app_id,
        deployment_id: id,
        requested_by: who.user_id.clone(),
    };
    let op = outbox.job(
        pipeline::DEPLOY_QUEUE,
        job.body(),
        std::time::Duration::ZERO,
    )?;
    deps.store.transact(vec![op]).await.map_err(store_error)?;
    outbox.publish(deps).await;
    tracing::info!(%app_id, deployment_id = %id, "rollback accepted");
    Ok(())
}

/// The live rollout of the app's sets, explained (DESIGN §2).
pub async fn diagnosis(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
) -> Result<axhub_domain::diagnosis::Diagnosis, Error> {
    let (ctx, role) = repo::app_for(deps, who, app_id).await?;
    role.require_owner_or_admin("app")?;
    let deployed = ctx.state.deployments_total > 0;
    if !deployed {
        return Ok(axhub_domain::diagnosis::diagnose(
            &app_id.to_string(),
            false,
            None,
        ));
    }
    let cluster = deps.cluster()?;
    let mut envs = vec![axhub_domain::Environment::Production];
    if ctx.app.staging_enabled {
        envs.push(axhub_domain::Environment::Staging);
    }
    let mut services = Vec::new();
    for env in envs {
        let w = pipeline::workload(deps, &ctx, env).await?;
        match cluster.facts(&w).await {
            Ok(Some(f)) => services.extend(f),
            Ok(None) => {}
            Err(axhub_ports::cluster::ClusterError::Unavailable(m)) => {
                return Err(Error::unavailable(format!(
                    "the cluster cannot be read right now: {m}"
                )));
            }
            Err(axhub_ports::cluster::ClusterError::Refused(m)) => {
                return Err(Error::internal(format!(
                    "the cluster refused to be read: {m}"
                )));
            }
        }
    }
    let facts = (!services.is_empty()).then_some(services);
    Ok(axhub_domain::diagnosis::diagnose(
        &app_id.to_string(),
        true,
        facts,
    ))
}
