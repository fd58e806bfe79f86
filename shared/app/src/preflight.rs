//! `GET …/releases/promote-preflight?deployment_id=`: whether a release could be promoted now,
//! for the screens that submit and approve a review. Read-only.
//! - `missing_images`: the release's image, if the registry no longer holds it (then it is
//!   not `promotable`);
//! - `diff_keys`: environment keys whose staging value differs from production's, from the
//!   value hashes the apps service announces (values never reach this service);
//! - `ops`: the schema ops a review submitted now would carry to production (recorded after
//!   production's schema and after the fork), each marked `destructive` by this service;
//! - `cursor_seq`: the op cursor a review submitted now would pin.

use axhub_domain::{DeploymentStatus, Error, ErrorCode, Principal};
use axhub_ports::registry::RegistryError;
use serde::Serialize;
use uuid::Uuid;

use crate::deployments::find;
use crate::state::{app_env, schema_ops};
use crate::{Deps, access};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PreflightOp {
    pub seq: u64,
    /// `create_table`, `drop_column`, …
    pub op: String,
    /// Can lose data (drops, narrowing type changes), as this service judges it.
    pub destructive: bool,
    /// The op as the no-code DB service recorded it.
    #[schema(value_type = Object)]
    pub change: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Preflight {
    pub cursor_seq: u64,
    pub diff_keys: Vec<String>,
    pub missing_images: Vec<String>,
    pub ops: Vec<PreflightOp>,
    pub promotable: bool,
}

pub async fn preflight(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    deployment_id: Uuid,
) -> Result<Preflight, Error> {
    let ctx = access::app_to_inspect(deps, who, app_id).await?;
    if !ctx.app.staging_enabled {
        return Err(Error::precondition(
            ErrorCode::StagingNotEnabled,
            "staging is not enabled for this app: production changes by deployment, not promotion",
        ));
    }
    let d = find(deps, app_id, deployment_id).await?;
    let image = match (&d.image_uri, d.status) {
        (Some(image), DeploymentStatus::Succeeded) => image.clone(),
        _ => {
            return Err(Error::precondition(
                ErrorCode::NotARelease,
                format!(
                    "deployment {deployment_id} is {}: only a release can be promoted",
                    d.status.as_str()
                ),
            ));
        }
    };
    let registry = deps.registry()?;
    let missing_images = registry.missing(&[image]).await.map_err(|e| match e {
        RegistryError::Unavailable(m) => {
            tracing::warn!(%app_id, detail = %m, "registry unavailable");
            Error::unavailable("the image registry cannot be reached right now; retry shortly")
        }
        RegistryError::Refused(m) => {
            tracing::error!(%app_id, message = %m, "the registry refused the preflight");
            Error::internal("the registry refused the image lookup")
        }
    })?;
    let cursor_seq = schema_ops::latest(deps, app_id).await?;
    let after = ctx
        .state
        .ops_discarded_through
        .max(ctx.state.production_schema_seq);
    let ops = schema_ops::window(deps, app_id, after, cursor_seq)
        .await?
        .into_iter()
        .map(|l| PreflightOp {
            seq: l.op.seq,
            op: l.op.change.kind().to_owned(),
            destructive: l.destructive,
            change: serde_json::to_value(&l.op.change).unwrap_or_default(),
        })
        .collect();
    let (prod, staging) = app_env::both(deps, app_id).await?;
    Ok(Preflight {
        cursor_seq,
        diff_keys: app_env::differing(&prod, &staging),
        promotable: missing_images.is_empty(),
        missing_images,
        ops,
    })
}
