//! Where an app's image goes and where its set runs.

use axhub_domain::{Cause, Environment, Error, ErrorCode, FailureReason, Stage, validate};
use axhub_ports::Cluster;
use axhub_ports::cluster::{ClusterError, RolloutState, Workload};

use crate::state::apps::AppContext;
use crate::state::tenants;
use crate::{CLUSTER_REFUSED, Deps, cluster_error};

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
/// Names and hosts are built only from valid DNS labels (`validate::dns_label`): an app whose
/// slug or subdomain is not one has no workload; a tenant slug that is not one is replaced by
/// the tenant's id (32 hex digits, always a label).
pub async fn workload(deps: &Deps, ctx: &AppContext, env: Environment) -> Result<Workload, Error> {
    let tenant = tenants::get(deps, ctx.app.tenant_id)
        .await?
        .map(|t| t.slug)
        .filter(|slug| validate::dns_label("tenant", slug).is_ok())
        .unwrap_or_else(|| ctx.app.tenant_id.simple().to_string());
    let sub = ctx
        .app
        .subdomain
        .clone()
        .unwrap_or_else(|| ctx.app.slug.clone());
    for (field, label) in [("slug", &ctx.app.slug), ("subdomain", &sub)] {
        validate::dns_label(field, label).map_err(|e| {
            Error::precondition(
                ErrorCode::SubdomainNotConfigured,
                format!("the app's {}: no workload can be named after it", e.message),
            )
        })?;
    }
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
        Err(e @ ClusterError::Unavailable(_)) => return Err(cluster_error(&e)),
        Err(ClusterError::Refused(detail)) => {
            tracing::error!(%detail, "the cluster refused a rollout");
            Rollout::Ended(Err(FailureReason::new(
                Stage::Deploying,
                Cause::ClusterRefused,
                CLUSTER_REFUSED,
            )))
        }
    })
}
