//! What runs is what the pointer says (DESIGN §6): once no change is rolling out an
//! environment, its workload runs the release the environment's pointer names, or nothing
//! when there is none. A deployment that failed or was cancelled after it touched the workload
//! puts it back here.

use axhub_domain::{DeploymentStatus, Environment, Error};
use axhub_ports::Cluster;
use axhub_ports::cluster::ClusterError;
use uuid::Uuid;

use super::workload;
use crate::jobs::Next;
use crate::state::apps::{self, ActiveChange};
use crate::state::deployments;
use crate::{Deps, app_db_error, cluster_error};

/// Puts the app's `env` workload back to its pointer's release, unless the change holding the
/// app's slot is rolling out that environment right now (it owns the workload until it ends,
/// and ends here again).
pub(super) async fn settle_workload(
    deps: &Deps,
    cluster: &dyn Cluster,
    app_id: Uuid,
    env: Environment,
) -> Result<(), Error> {
    let Some(ctx) = apps::load(deps, app_id).await? else {
        return Ok(());
    };
    match ctx.state.active {
        Some(ActiveChange::Deployment(active)) => {
            if let Some(holder) = deployments::get(deps, active).await?
                && holder.environment == env
                && holder.status == DeploymentStatus::Deploying
            {
                return Ok(());
            }
        }
        Some(ActiveChange::Rollback(_) | ActiveChange::Promotion(_))
            if env == Environment::Production =>
        {
            return Ok(());
        }
        _ => {}
    }
    let pointer = match env {
        Environment::Production => ctx.app.production_deployment_id,
        Environment::Staging => ctx.app.staging_deployment_id,
    };
    let image = match pointer {
        Some(id) => deployments::get(deps, id).await?.and_then(|d| d.image_uri),
        None => None,
    };
    let w = workload(deps, &ctx, env).await?;
    let result = match &image {
        Some(image) => cluster.apply(&w, image).await,
        None => cluster.remove(&w).await,
    };
    match result {
        Ok(()) => {
            tracing::info!(%app_id, environment = ?env, image = ?image, "workload put back to its pointer");
            Ok(())
        }
        // Retried with the job that asked.
        Err(e @ ClusterError::Unavailable(_)) => Err(cluster_error(&e)),
        Err(ClusterError::Refused(m)) => {
            tracing::error!(%app_id, environment = ?env, message = %m, "the cluster refused to put the workload back");
            Ok(())
        }
    }
}

/// Makes staging what the app's state says: with staging on, its workload runs the staging
/// pointer's release (the seed, right after `PUT …/staging`); with staging off, no workload
/// and no database (after `DELETE …/staging`, which drops the database itself and leaves it to
/// this job only when that failed). A database being forked by a live enable claim is left
/// alone.
pub(crate) async fn settle_staging(deps: &Deps, app_id: Uuid) -> Result<Next, Error> {
    let cluster = deps.cluster()?.clone();
    let Some(ctx) = apps::load(deps, app_id).await? else {
        return Ok(Next::Done);
    };
    settle_workload(deps, cluster.as_ref(), app_id, Environment::Staging).await?;
    let now = deps.now().unix_timestamp();
    let enabling = ctx
        .state
        .staging_claim
        .is_some_and(|(_, until)| until >= now);
    if !ctx.app.staging_enabled && !enabling {
        deps.app_db()?
            .drop_schema(app_id, Environment::Staging)
            .await
            .map_err(app_db_error)?;
    }
    Ok(Next::Done)
}
