//! The build → push → deploy pipeline (DESIGN §5). A worker calls `advance` for a deployment
//! whenever a job about it arrives; `advance` moves it as far as it can right now and says when
//! to look again. Every move is one conditional transaction (deployment + deadline tracker +
//! slot + pointer + outbox), so duplicate, late or redelivered jobs never build twice and never
//! bring a terminal deployment back; a cancelled deployment stops at the next boundary.

use std::time::Duration;

use axhub_domain::{
    Deployment, DeploymentStatus, DomainEvent, Environment, Error, EventKind, FailureReason,
};
use axhub_store::{Cond, Index, Item, Key, Query, SkCond, StoreError, TxOp, Update};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::outbox::Outbox;
use crate::repo::{self, AppContext};
use crate::{Deps, directory, keys, store_error};
use axhub_ports::cluster::{
    BuildRequest, BuildState, Cluster, ClusterError, RolloutState, Secret, Workload,
};

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Registry base that images are pushed to (`{registry}/{tenant}/{app}:{commit}`).
    pub registry: String,
    /// Apps are served at `{subdomain}.{tenant slug}.{domain}`.
    pub domain: String,
    /// How long to wait before looking at a running build or rollout again.
    pub poll: Duration,
    pub pending_deadline: Duration,
    pub building_deadline: Duration,
    pub pushing_deadline: Duration,
    pub deploying_deadline: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            registry: "registry.axhub.local".into(),
            domain: "axhub.ai".into(),
            poll: Duration::from_secs(5),
            pending_deadline: Duration::from_secs(10 * 60),
            building_deadline: Duration::from_secs(30 * 60),
            pushing_deadline: Duration::from_secs(10 * 60),
            deploying_deadline: Duration::from_secs(15 * 60),
        }
    }
}

impl PipelineConfig {
    fn deadline(&self, status: DeploymentStatus) -> Duration {
        match status {
            DeploymentStatus::Pending => self.pending_deadline,
            DeploymentStatus::Building => self.building_deadline,
            DeploymentStatus::Pushing => self.pushing_deadline,
            _ => self.deploying_deadline,
        }
    }
}

/// The queue the pipeline consumes, and its job bodies.
pub const DEPLOY_QUEUE: &str = "deploy";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Move this deployment on.
    Advance { deployment_id: Uuid },
    /// Swap the production set of the app to the image of `deployment_id` (rollback).
    Rollback {
        app_id: Uuid,
        deployment_id: Uuid,
        requested_by: String,
    },
}

impl Job {
    pub fn body(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What the worker does with the job after `advance`.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Nothing more to do for this job.
    Done,
    /// Send the job again after this delay (a build or rollout is running).
    Again(Duration),
}

/// Runs one job.
pub async fn run(deps: &Deps, job: &Job) -> Result<Next, Error> {
    match job {
        Job::Advance { deployment_id } => advance(deps, *deployment_id).await,
        Job::Rollback {
            app_id,
            deployment_id,
            requested_by,
        } => rollback(deps, *app_id, *deployment_id, requested_by).await,
    }
}

const TRACKER_PK: &str = "INPROGRESS";

/// The deadline tracker of an in-progress deployment: one item per deployment, sorted by its
/// stage deadline, so the reaper finds overdue ones with one keyed query.
fn tracker_key(cfg: &PipelineConfig, d: &Deployment) -> Key {
    let deadline = d.updated_at + cfg.deadline(d.status);
    Key::new(
        TRACKER_PK,
        format!("{:012}#{}", deadline.unix_timestamp().max(0), d.id),
    )
}

fn tracker_item(cfg: &PipelineConfig, d: &Deployment) -> Item {
    let key = tracker_key(cfg, d);
    let mut item = Item::new();
    item.insert("pk".into(), json!(key.pk));
    item.insert("sk".into(), json!(key.sk));
    item.insert("deployment_id".into(), json!(d.id));
    item.insert("app_id".into(), json!(d.app_id));
    item.insert("stage".into(), json!(d.status.as_str()));
    item
}

/// The tracker of a deployment that was just created (pending).
pub fn track_new(cfg: &PipelineConfig, d: &Deployment) -> TxOp {
    TxOp::Put {
        item: tracker_item(cfg, d),
        cond: None,
    }
}

fn ts(t: time::OffsetDateTime) -> String {
    axhub_domain::deployment::rfc3339(t)
}

/// Extra writes that go with a terminal transition.
#[derive(Default)]
struct Finish {
    /// Release version and pointer moves of a success.
    success: Option<(u64, Environment)>,
    /// Whether the app's in-progress slot is still held by this deployment.
    slot_held: bool,
}

/// Writes `new` over `old` in one transaction: the deployment (only if nobody moved it
/// meanwhile), its deadline tracker, the slot and pointers when it ends, and its events.
/// Returns false when it lost a race (the caller re-reads and decides again).
async fn commit(
    deps: &Deps,
    old: &Deployment,
    new: &Deployment,
    finish: Finish,
) -> Result<bool, Error> {
    let cfg = &deps.pipeline;
    let mut outbox = Outbox::new();
    let mut ops = vec![TxOp::Put {
        item: repo::deployment_item(new)?,
        cond: Some(Cond::And(vec![
            Cond::eq("status", old.status.as_str()),
            Cond::eq("updated_at", ts(old.updated_at)),
        ])),
    }];
    if !old.status.is_terminal() {
        ops.push(TxOp::Delete {
            key: tracker_key(cfg, old),
            cond: None,
        });
    }
    if !new.status.is_terminal() {
        ops.push(TxOp::Put {
            item: tracker_item(cfg, new),
            cond: None,
        });
        ops.push(outbox.event(stage_event(new))?);
    } else {
        ops.push(outbox.event(crate::deployments::finished_event(new))?);
    }
    if new.status.is_terminal() {
        let mut update = Update::new();
        let mut conds = Vec::new();
        if finish.slot_held {
            update = update.remove("active_deployment_id");
            conds.push(Cond::eq("active_deployment_id", new.id.to_string()));
        }
        if let Some((releases, env)) = finish.success {
            update = update
                .set("releases_total", releases + 1)
                .set(pointer_attr(env), new.id.to_string());
            conds.push(if releases == 0 {
                Cond::has_not("releases_total")
            } else {
                Cond::eq("releases_total", releases)
            });
            ops.push(outbox.event(pointer_event(new, env))?);
        }
        if !conds.is_empty() {
            ops.push(TxOp::Update {
                key: keys::app_state(new.app_id),
                update,
                cond: Some(Cond::And(conds)),
            });
        }
    }
    match deps.store.transact(ops).await {
        Ok(()) => {
            tracing::info!(deployment_id = %new.id, from = old.status.as_str(), to = new.status.as_str(), "deployment moved");
            outbox.publish(deps).await;
            Ok(true)
        }
        Err(StoreError::TransactionCancelled { failed }) => {
            tracing::debug!(deployment_id = %new.id, ?failed, "transition lost a race");
            Ok(false)
        }
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

fn pointer_attr(env: Environment) -> &'static str {
    match env {
        Environment::Production => "production_deployment_id",
        Environment::Staging => "staging_deployment_id",
    }
}

fn stage_event(d: &Deployment) -> DomainEvent {
    DomainEvent::new(
        EventKind::DeploymentStageChanged,
        d.tenant_id,
        d.app_id,
        d.updated_at,
        json!({
            "deployment_id": d.id,
            "status": d.status,
            "stage": d.current_stage,
            "image_uri": d.image_uri,
            "changed_at": ts(d.updated_at),
        }),
    )
}

fn pointer_event(d: &Deployment, env: Environment) -> DomainEvent {
    DomainEvent::new(
        EventKind::ProductionPointerMoved,
        d.tenant_id,
        d.app_id,
        d.updated_at,
        json!({
            "deployment_id": d.id,
            "environment": env,
            "release_version": d.release_version,
            "image_uri": d.image_uri,
            "cause": "deployment",
            "moved_at": ts(d.updated_at),
        }),
    )
}

/// The image a deployment builds: one per app and commit, so an unchanged commit reuses it.
pub fn image_uri(cfg: &PipelineConfig, ctx: &AppContext, commit_sha: &str) -> String {
    format!(
        "{}/{}/{}:{}",
        cfg.registry.trim_end_matches('/'),
        ctx.app.tenant_id.simple(),
        ctx.app.slug,
        commit_sha
    )
}

pub async fn workload(deps: &Deps, ctx: &AppContext, env: Environment) -> Result<Workload, Error> {
    let tenant = directory::get_tenant(deps, ctx.app.tenant_id)
        .await?
        .map(|t| t.slug)
        .unwrap_or_else(|| ctx.app.tenant_id.simple().to_string());
    let sub = ctx
        .app
        .subdomain
        .clone()
        .unwrap_or_else(|| ctx.app.slug.clone());
    let label = match env {
        Environment::Production => sub,
        Environment::Staging => format!("{sub}-staging"),
    };
    Ok(Workload {
        tenant_id: ctx.app.tenant_id,
        app_id: ctx.app.id,
        app_slug: ctx.app.slug.clone(),
        environment: env,
        host: format!("{label}.{tenant}.{}", deps.pipeline.domain),
    })
}

fn cluster_error(e: ClusterError) -> Result<Option<FailureReason>, Error> {
    match e {
        // Retrying later may work: the job goes back to the queue.
        ClusterError::Unavailable(m) => {
            Err(Error::unavailable(format!("cluster unavailable: {m}")))
        }
        // The cluster refused for good: the deployment fails with the reason.
        ClusterError::Refused(m) => Ok(Some(FailureReason {
            stage: String::new(),
            code: "platform.cluster_refused".into(),
            message: m,
        })),
    }
}

/// How many moves one call may make before handing back (a guard, not a limit in practice).
const MAX_STEPS: usize = 16;

/// Moves the deployment on as far as it can now.
pub async fn advance(deps: &Deps, deployment_id: Uuid) -> Result<Next, Error> {
    let cluster = deps.cluster()?.clone();
    for _ in 0..MAX_STEPS {
        let Some(d) = repo::get_deployment(deps, deployment_id).await? else {
            tracing::warn!(%deployment_id, "job for an unknown deployment dropped");
            return Ok(Next::Done);
        };
        if d.status.is_terminal() {
            if d.status == DeploymentStatus::Cancelled {
                cleanup(deps, cluster.as_ref(), &d).await;
            }
            return Ok(Next::Done);
        }
        let Some(ctx) = repo::load_app(deps, d.app_id).await? else {
            // The app was deleted under a running deployment: end it instead of retrying a
            // job that can never succeed.
            let mut new = d.clone();
            let reason = FailureReason {
                stage: d.status.as_str().into(),
                code: "app_deleted".into(),
                message: "the app was deleted while it was being deployed".into(),
            };
            new.fail(reason, deps.now())?;
            commit(deps, &d, &new, Finish::default()).await?;
            continue;
        };
        let image = image_uri(&deps.pipeline, &ctx, &d.commit_sha);
        let now = deps.now();
        let mut new = d.clone();
        let outcome: Result<Option<FailureReason>, Error> = match d.status {
            DeploymentStatus::Pending => {
                new.advance(DeploymentStatus::Building, now)?;
                Ok(None)
            }
            DeploymentStatus::Building => {
                let mut build = build_request(deps, &ctx, &d, &image).await?;
                if let (Some(github), Some(git)) = (&deps.github, &ctx.git) {
                    build.clone_token = github.clone_token(git).await?.map(Secret::new);
                }
                match building(cluster.as_ref(), &build, d.force_rebuild).await {
                    Ok(BuildState::Running) => return Ok(Next::Again(deps.pipeline.poll)),
                    Ok(BuildState::Succeeded) => {
                        new.advance(DeploymentStatus::Pushing, now)?;
                        Ok(None)
                    }
                    Ok(BuildState::Failed { code, message }) => Ok(Some(FailureReason {
                        stage: "build".into(),
                        code,
                        message,
                    })),
                    Err(e) => cluster_error(e),
                }
            }
            DeploymentStatus::Pushing => match cluster.image_exists(&image).await {
                Ok(true) => {
                    new.advance(DeploymentStatus::Deploying, now)?;
                    new.image_uri = Some(image.clone());
                    Ok(None)
                }
                Ok(false) => Ok(Some(FailureReason {
                    stage: "push".into(),
                    code: "push.image_missing".into(),
                    message: format!("the build finished but {image} is not in the registry"),
                })),
                Err(e) => cluster_error(e),
            },
            DeploymentStatus::Deploying => {
                let w = workload(deps, &ctx, d.environment).await?;
                let img = d.image_uri.clone().unwrap_or(image.clone());
                let state = match cluster.apply(&w, &img).await {
                    Ok(()) => cluster.rollout_state(&w, &img).await,
                    Err(e) => Err(e),
                };
                match state {
                    Ok(RolloutState::Progressing) => return Ok(Next::Again(deps.pipeline.poll)),
                    Ok(RolloutState::Complete) => {
                        let releases = releases_total(deps, d.app_id).await?;
                        new.advance(DeploymentStatus::Succeeded, now)?;
                        new.release_version = Some(format!("v{}", releases + 1));
                        let finish = Finish {
                            success: Some((releases, d.environment)),
                            slot_held: ctx.state.active_deployment_id == Some(d.id),
                        };
                        commit(deps, &d, &new, finish).await?;
                        continue;
                    }
                    Ok(RolloutState::Failed { code, message }) => Ok(Some(FailureReason {
                        stage: "deploy".into(),
                        code,
                        message,
                    })),
                    Err(e) => cluster_error(e),
                }
            }
            _ => return Ok(Next::Done),
        };
        match outcome? {
            Some(mut reason) => {
                if reason.stage.is_empty() {
                    reason.stage = d.status.as_str().into();
                }
                new = d.clone();
                new.fail(reason, now)?;
                let finish = Finish {
                    success: None,
                    slot_held: ctx.state.active_deployment_id == Some(d.id),
                };
                commit(deps, &d, &new, finish).await?;
            }
            None => {
                commit(deps, &d, &new, Finish::default()).await?;
            }
        }
    }
    Ok(Next::Again(deps.pipeline.poll))
}

async fn building(
    cluster: &dyn Cluster,
    build: &BuildRequest,
    force: bool,
) -> Result<BuildState, ClusterError> {
    // An image of this commit from an earlier build is reused unless a rebuild was asked for.
    if !force && cluster.image_exists(&build.image_uri).await? {
        return Ok(BuildState::Succeeded);
    }
    cluster.start_build(build).await?;
    cluster.build_state(build).await
}

async fn build_request(
    deps: &Deps,
    ctx: &AppContext,
    d: &Deployment,
    image: &str,
) -> Result<BuildRequest, Error> {
    Ok(BuildRequest {
        deployment_id: d.id,
        workload: workload(deps, ctx, d.environment).await?,
        repo_full_name: ctx
            .git
            .as_ref()
            .map(|g| g.repo_full_name.clone())
            .unwrap_or_default(),
        commit_sha: d.commit_sha.clone(),
        image_uri: image.to_owned(),
        clone_token: None,
    })
}

async fn releases_total(deps: &Deps, app_id: Uuid) -> Result<u64, Error> {
    let item = deps
        .store
        .get(&keys::app_state(app_id))
        .await
        .map_err(store_error)?;
    Ok(item
        .and_then(|i| i.get("releases_total").and_then(Value::as_u64))
        .unwrap_or(0))
}

/// A cancelled deployment leaves nothing running behind.
async fn cleanup(deps: &Deps, cluster: &dyn Cluster, d: &Deployment) {
    let Ok(Some(ctx)) = repo::load_app(deps, d.app_id).await else {
        return;
    };
    let image = image_uri(&deps.pipeline, &ctx, &d.commit_sha);
    if let Ok(build) = build_request(deps, &ctx, d, &image).await
        && let Err(e) = cluster.cancel_build(&build).await
    {
        tracing::warn!(deployment_id = %d.id, error = %e, "build cleanup failed");
    }
}

/// Cancels an in-progress deployment (the HTTP use case checks who may).
pub async fn cancel(deps: &Deps, ctx: &AppContext, d: &Deployment) -> Result<bool, Error> {
    let mut new = d.clone();
    new.cancel(deps.now())?;
    let finish = Finish {
        success: None,
        slot_held: ctx.state.active_deployment_id == Some(d.id),
    };
    commit(deps, d, &new, finish).await
}

/// Fails deployments stuck past their stage deadline with code `timeout`, freeing their
/// slot. Returns how many it failed.
pub async fn reap(deps: &Deps, max: u32) -> Result<usize, Error> {
    let now = deps.now();
    let page = deps
        .store
        .query(
            Query::new(Index::Primary, TRACKER_PK)
                .sk(SkCond::Lt(format!("{:012}~", now.unix_timestamp())))
                .limit(max.clamp(1, 1000)),
        )
        .await
        .map_err(store_error)?;
    let mut reaped = 0;
    for item in page.items {
        let sk = item
            .get("sk")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(id) = item
            .get("deployment_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        let d = repo::get_deployment(deps, id).await?;
        let stale = match &d {
            None => true,
            Some(d) => d.status.is_terminal() || tracker_key(&deps.pipeline, d).sk != sk,
        };
        if stale {
            // A tracker its deployment has moved past (a crash between writes is impossible,
            // but a changed deadline configuration leaves old keys behind).
            let _ = deps.store.delete(&Key::new(TRACKER_PK, sk), None).await;
            continue;
        }
        let Some(d) = d else { continue };
        // A deleted app has no slot to free, but its stuck deployment still ends.
        let slot_held = repo::load_app(deps, d.app_id)
            .await?
            .is_some_and(|ctx| ctx.state.active_deployment_id == Some(d.id));
        let mut new = d.clone();
        let stage = d.status.as_str();
        let limit = deps.pipeline.deadline(d.status).as_secs();
        new.fail(
            FailureReason {
                stage: stage.into(),
                code: "timeout".into(),
                message: format!(
                    "the deployment spent more than {limit} s in {stage} and was stopped"
                ),
            },
            now,
        )?;
        let finish = Finish {
            success: None,
            slot_held,
        };
        if commit(deps, &d, &new, finish).await? {
            if let Some(cluster) = &deps.cluster {
                cleanup(deps, cluster.as_ref(), &new).await;
            }
            reaped += 1;
        }
    }
    Ok(reaped)
}

/// Rollback worker: applies the source image to the production set, and once it rolled out
/// moves the production pointer (no new deployment row).
async fn rollback(
    deps: &Deps,
    app_id: Uuid,
    source: Uuid,
    requested_by: &str,
) -> Result<Next, Error> {
    let cluster = deps.cluster()?.clone();
    let Some(ctx) = repo::load_app(deps, app_id).await? else {
        return Ok(Next::Done);
    };
    let Some(d) = repo::get_deployment(deps, source).await? else {
        return Ok(Next::Done);
    };
    let Some(image) = d.image_uri.clone() else {
        return Ok(Next::Done);
    };
    if ctx.app.production_deployment_id == Some(source) {
        return Ok(Next::Done);
    }
    let w = workload(deps, &ctx, Environment::Production).await?;
    let state = match cluster.apply(&w, &image).await {
        Ok(()) => cluster.rollout_state(&w, &image).await,
        Err(e) => Err(e),
    };
    match state {
        Ok(RolloutState::Progressing) => Ok(Next::Again(deps.pipeline.poll)),
        Ok(RolloutState::Complete) => {
            let mut outbox = Outbox::new();
            let now = deps.now();
            let event = DomainEvent::new(
                EventKind::ProductionPointerMoved,
                ctx.app.tenant_id,
                app_id,
                now,
                json!({
                    "deployment_id": source,
                    "previous_deployment_id": ctx.app.production_deployment_id,
                    "environment": Environment::Production,
                    "release_version": d.release_version,
                    "image_uri": image,
                    "cause": "rollback",
                    "requested_by": requested_by,
                    "moved_at": ts(now),
                }),
            );
            let prev = ctx.app.production_deployment_id.map(|p| p.to_string());
            let cond = match &prev {
                Some(p) => Cond::eq("production_deployment_id", p.clone()),
                None => Cond::has_not("production_deployment_id"),
            };
            let ops = vec![
                TxOp::Update {
                    key: keys::app_state(app_id),
                    update: Update::new().set("production_deployment_id", source.to_string()),
                    cond: Some(cond),
                },
                outbox.event(event)?,
            ];
            match deps.store.transact(ops).await {
                Ok(()) => {
                    outbox.publish(deps).await;
                    Ok(Next::Done)
                }
                // The pointer moved meanwhile: look again with what is there now.
                Err(StoreError::TransactionCancelled { .. } | StoreError::Conflict) => {
                    Ok(Next::Again(Duration::ZERO))
                }
                Err(e) => Err(store_error(e)),
            }
        }
        Ok(RolloutState::Failed { code, message }) => {
            tracing::warn!(%app_id, %source, %code, %message, "rollback rollout failed; pointer unchanged");
            Ok(Next::Done)
        }
        Err(ClusterError::Unavailable(m)) => {
            Err(Error::unavailable(format!("cluster unavailable: {m}")))
        }
        Err(ClusterError::Refused(m)) => {
            tracing::warn!(%app_id, %source, message = %m, "rollback refused by the cluster");
            Ok(Next::Done)
        }
    }
}
