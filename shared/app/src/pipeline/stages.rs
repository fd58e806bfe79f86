//! `advance`: one function per stage, each saying what the deployment does next; the loop
//! commits that move and looks again.

use axhub_domain::{Cause, Deployment, DeploymentStatus, Error, FailureReason, Stage};
use axhub_ports::Cluster;
use axhub_ports::cluster::{BuildRequest, BuildState, ClusterError, RolloutState, Secret};
use axhub_ports::registry::digest_of;
use uuid::Uuid;

use super::settle::settle_workload;
use super::transition::{Finish, commit};
use super::{Next, image, image_uri, workload};
use crate::state::apps::{self, AppContext};
use crate::state::deployments;
use crate::{CLUSTER_REFUSED, Deps, cluster_error};

/// How many moves one call may make before handing back (a guard, not a limit in practice).
const MAX_STEPS: usize = 16;

/// What a stage decided.
enum Step {
    /// A build or rollout is running: look again later.
    Wait,
    /// On to the next stage (with the image, once it is confirmed).
    Move {
        to: DeploymentStatus,
        image_uri: Option<String>,
    },
    /// The rollout completed: the deployment succeeded.
    Succeed,
    /// The deployment fails, in the given stage or (None) the one it is in.
    Fail(Option<Stage>, Cause, String),
}

fn cluster_step(e: ClusterError) -> Result<Step, Error> {
    match e {
        // Retrying later may work: the job goes back to the queue.
        ClusterError::Unavailable(_) => Err(cluster_error(&e)),
        // The cluster refused for good: the deployment fails, in the platform's words.
        ClusterError::Refused(detail) => {
            tracing::error!(%detail, "the cluster refused a deployment's request");
            Ok(Step::Fail(
                None,
                Cause::ClusterRefused,
                CLUSTER_REFUSED.into(),
            ))
        }
    }
}

/// Moves the deployment on as far as it can now.
pub async fn advance(deps: &Deps, deployment_id: Uuid) -> Result<Next, Error> {
    let cluster = deps.cluster()?.clone();
    for _ in 0..MAX_STEPS {
        let Some(d) = deployments::get(deps, deployment_id).await? else {
            tracing::warn!(%deployment_id, "job for an unknown deployment dropped");
            return Ok(Next::Done);
        };
        if d.status.is_terminal() {
            cleanup(deps, cluster.as_ref(), &d).await?;
            return Ok(Next::Done);
        }
        let Some(ctx) = apps::load(deps, d.app_id).await? else {
            // The app was deleted under a running deployment: end it instead of retrying a
            // job that can never succeed.
            let mut new = d.clone();
            let reason = FailureReason::new(
                d.status.failure_stage(),
                Cause::AppDeleted,
                "the app was deleted while it was being deployed",
            );
            new.fail(reason, deps.now())?;
            commit(deps, &d, &new, Finish::default()).await?;
            continue;
        };
        let step = match d.status {
            DeploymentStatus::Pending => Step::Move {
                to: DeploymentStatus::Building,
                image_uri: None,
            },
            DeploymentStatus::Building => build(deps, cluster.as_ref(), &ctx, &d).await?,
            DeploymentStatus::Pushing => push(deps, &ctx, &d).await?,
            DeploymentStatus::Deploying => deploy(deps, cluster.as_ref(), &ctx, &d).await?,
            _ => return Ok(Next::Done),
        };
        let now = deps.now();
        let mut new = d.clone();
        let finish = match step {
            Step::Wait => return Ok(Next::Again(deps.pipeline.poll)),
            Step::Move { to, image_uri } => {
                new.advance(to, now)?;
                if image_uri.is_some() {
                    new.image_uri = image_uri;
                }
                Finish::default()
            }
            Step::Succeed => {
                let releases = ctx.state.releases_total;
                new.advance(DeploymentStatus::Succeeded, now)?;
                new.release_version = Some(format!("v{}", releases + 1));
                Finish {
                    success: Some((releases, d.environment)),
                    slot_held: ctx.holds_slot(d.id),
                    follow_up: false,
                }
            }
            Step::Fail(stage, cause, message) => {
                let stage = stage.unwrap_or(d.status.failure_stage());
                new.fail(FailureReason::new(stage, cause, message), now)?;
                Finish {
                    success: None,
                    slot_held: ctx.holds_slot(d.id),
                    follow_up: false,
                }
            }
        };
        commit(deps, &d, &new, finish).await?;
    }
    Ok(Next::Again(deps.pipeline.poll))
}

/// `building`: reuse an earlier build's image of this commit unless a rebuild was asked for
/// (`image::reusable`), else start the build once (with its clone token and push credential)
/// and follow it. A finished build moves on with its image pinned by digest.
async fn build(
    deps: &Deps,
    cluster: &dyn Cluster,
    ctx: &AppContext,
    d: &Deployment,
) -> Result<Step, Error> {
    let mut build = build_request(deps, ctx, d).await?;
    let state = match cluster.build_state(&build).await {
        Ok(BuildState::NotStarted) => {
            if !d.force_rebuild
                && let Some(pinned) = image::reusable(deps, d, &build.image_uri).await?
            {
                return Ok(Step::Move {
                    to: DeploymentStatus::Pushing,
                    image_uri: Some(pinned),
                });
            }
            if let (Some(github), Some(git)) = (&deps.github, &ctx.git) {
                build.clone_token = github.clone_token(git).await?.map(Secret::new);
            }
            if let Some(credentials) = &deps.push_credentials {
                let scope = image::push_scope(deps, d, ctx.app.tenant_id);
                let minted = credentials.mint(&scope).await;
                build.push_credential = Some(minted.map_err(image::registry_error)?);
            }
            match cluster.start_build(&build).await {
                Ok(()) => Ok(BuildState::Running),
                Err(e) => Err(e),
            }
        }
        other => other,
    };
    match state {
        Ok(BuildState::NotStarted | BuildState::Running) => Ok(Step::Wait),
        Ok(BuildState::Succeeded { digest }) => Ok(Step::Move {
            to: DeploymentStatus::Pushing,
            image_uri: image::pin(deps, &build.image_uri, digest).await?,
        }),
        Ok(BuildState::Failed { cause, message }) => {
            Ok(Step::Fail(Some(Stage::Building), cause, message))
        }
        Err(e) => cluster_step(e),
    }
}

/// `pushing`: the pinned image must be in the registry (a build whose push was lost has no
/// image: the registry held nothing under its tag).
async fn push(deps: &Deps, ctx: &AppContext, d: &Deployment) -> Result<Step, Error> {
    let tag = image_uri(&deps.pipeline, ctx, &d.commit_sha);
    let pin = match d.image_uri.clone().filter(|u| digest_of(u).is_some()) {
        Some(pin) => Some(pin),
        None => image::pin(deps, &tag, None).await?,
    };
    let held = match pin {
        Some(pin) if image::held(deps, &pin).await? => Some(pin),
        _ => None,
    };
    Ok(match held {
        Some(pin) => Step::Move {
            to: DeploymentStatus::Deploying,
            image_uri: Some(pin),
        },
        None => Step::Fail(
            Some(Stage::Pushing),
            Cause::ImageMissing,
            format!("the build finished but {tag} is not in the registry"),
        ),
    })
}

/// `deploying`: apply the workload with the image and follow its rollout.
async fn deploy(
    deps: &Deps,
    cluster: &dyn Cluster,
    ctx: &AppContext,
    d: &Deployment,
) -> Result<Step, Error> {
    let w = workload(deps, ctx, d.environment).await?;
    let image = d
        .image_uri
        .clone()
        .unwrap_or_else(|| image_uri(&deps.pipeline, ctx, &d.commit_sha));
    let state = match cluster.apply(&w, &image).await {
        Ok(()) => cluster.rollout_state(&w, &image).await,
        Err(e) => Err(e),
    };
    match state {
        Ok(RolloutState::Progressing) => Ok(Step::Wait),
        Ok(RolloutState::Complete) => Ok(Step::Succeed),
        Ok(RolloutState::Failed { cause, message }) => {
            Ok(Step::Fail(Some(Stage::Deploying), cause, message))
        }
        Err(e) => cluster_step(e),
    }
}

async fn build_request(
    deps: &Deps,
    ctx: &AppContext,
    d: &Deployment,
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
        image_uri: image_uri(&deps.pipeline, ctx, &d.commit_sha),
        clone_token: None,
        push_credential: None,
    })
}

/// A deployment that ended without succeeding leaves nothing of its own behind: its build is
/// stopped, and a workload it had started to roll out is put back to the pointer's release.
/// A cluster that cannot be reached fails the job, which then comes back to finish this.
async fn cleanup(deps: &Deps, cluster: &dyn Cluster, d: &Deployment) -> Result<(), Error> {
    if d.status == DeploymentStatus::Succeeded {
        return Ok(());
    }
    let Some(ctx) = apps::load(deps, d.app_id).await? else {
        return Ok(());
    };
    if d.image_uri.is_none() {
        // It never got past its build: that is all there is to stop.
        let build = build_request(deps, &ctx, d).await?;
        if let Err(e) = cluster.cancel_build(&build).await {
            tracing::warn!(deployment_id = %d.id, error = %e, "build cleanup failed");
        }
        return Ok(());
    }
    settle_workload(deps, cluster, d.app_id, d.environment).await
}

/// Cancels an in-progress deployment (the HTTP use case checks who may). False when it lost
/// a race with the worker.
pub async fn cancel(deps: &Deps, ctx: &AppContext, d: &Deployment) -> Result<bool, Error> {
    let mut new = d.clone();
    new.cancel(deps.now())?;
    let finish = Finish {
        success: None,
        slot_held: ctx.holds_slot(d.id),
        // The worker stops the build and puts the workload back now, not at its next poll.
        follow_up: true,
    };
    commit(deps, d, &new, finish).await
}
