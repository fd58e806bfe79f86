//! Where an app's image goes and where its set runs.

use axhub_domain::{Cause, Environment, Error, FailureReason, Stage};
use axhub_ports::Cluster;
use axhub_ports::cluster::{ClusterError, RolloutState, Workload};

use crate::Deps;
use crate::state::apps::AppContext;
use crate::state::tenants;

use super::PipelineConfig;

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

/// The app's set in `env`, served at `{subdomain}[-staging].{tenant slug}.{domain}`.
pub async fn workload(deps: &Deps, ctx: &AppContext, env: Environment) -> Result<Workload, Error> {
    let tenant = tenants::get(deps, ctx.app.tenant_id)
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

/// How a rollout of an image stands after one look.
pub(super) enum Rollout {
    Progressing,
    /// Rolled out (`Ok`), or failed for good with the reason.
    Ended(Result<(), FailureReason>),
}

/// Applies `image` to the workload (idempotent: a repeated call re-applies the same image) and
/// looks at its rollout. A cluster that cannot be reached is an error, for the job to retry.
pub(super) async fn roll_out(
    cluster: &dyn Cluster,
    w: &Workload,
    image: &str,
) -> Result<Rollout, Error> {
    let state = match cluster.apply(w, image).await {
        Ok(()) => cluster.rollout_state(w, image).await,
        Err(e) => Err(e),
    };
    Ok(match state {
        Ok(RolloutState::Progressing) => Rollout::Progressing,
        Ok(RolloutState::Complete) => Rollout::Ended(Ok(())),
        Ok(RolloutState::Failed { cause, message }) => {
            Rollout::Ended(Err(FailureReason::new(Stage::Deploying, cause, message)))
        }
        Err(ClusterError::Unavailable(m)) => {
            return Err(Error::unavailable(format!("cluster unavailable: {m}")));
        }
        Err(ClusterError::Refused(m)) => Rollout::Ended(Err(FailureReason::new(
            Stage::Deploying,
            Cause::ClusterRefused,
            m,
        ))),
    })
}
