//! The rollback worker: applies the source deployment's image to the production set, and once
//! it rolled out moves the production pointer (no new deployment row).

use std::time::Duration;

use axhub_domain::{Environment, Error};
use axhub_ports::cluster::{ClusterError, RolloutState};
use uuid::Uuid;

use super::{Next, workload};
use crate::state::{Refused, UnitOfWork, apps, deployments};
use crate::{Deps, events};

pub(super) async fn run(
    deps: &Deps,
    app_id: Uuid,
    source: Uuid,
    requested_by: &str,
) -> Result<Next, Error> {
    let cluster = deps.cluster()?.clone();
    let Some(ctx) = apps::load(deps, app_id).await? else {
        return Ok(Next::Done);
    };
    let Some(d) = deployments::get(deps, source).await? else {
        return Ok(Next::Done);
    };
    if d.app_id != app_id {
        // A job can only roll an app back to its own deployment.
        tracing::warn!(%app_id, %source, "rollback job names another app's deployment; dropped");
        return Ok(Next::Done);
    }
    let Some(image) = d.image_uri.clone() else {
        return Ok(Next::Done);
    };
    let previous = ctx.app.production_deployment_id;
    if previous == Some(source) {
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
            let mut work = UnitOfWork::new();
            work.move_pointer(app_id, Environment::Production, previous, source);
            work.emit(events::pointer_moved_by_rollback(
                &d,
                previous,
                requested_by,
                deps.now(),
            ))?;
            match work.commit(deps).await {
                Ok(()) => Ok(Next::Done),
                // The pointer moved meanwhile: look again with what is there now.
                Err(Refused::Lost { .. }) => Ok(Next::Again(Duration::ZERO)),
                Err(Refused::Failed(e)) => Err(e),
            }
        }
        Ok(RolloutState::Failed { cause, message }) => {
            tracing::warn!(%app_id, %source, %cause, %message, "rollback rollout failed; pointer unchanged");
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
