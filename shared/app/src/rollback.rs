//! `POST …/deployments/{id}/rollback`: production goes back to an earlier deployment's image.
//! No new deployment row; the worker swaps the production set and moves the pointer once it
//! rolled out (`pipeline::rollback`).

use axhub_domain::{Error, ErrorCode, Principal};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::deployments::find;
use crate::pipeline::{self, Job};
use crate::state::UnitOfWork;
use crate::{Deps, access};

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct RollbackRequest {
    /// Acknowledges that a rollback does not revert schema changes (required only when
    /// destructive changes were applied since the target version).
    #[serde(default)]
    pub confirm_schema_skew: bool,
}

/// Accepts a rollback of production to the image of deployment `id`.
pub async fn request(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    id: Uuid,
    _input: RollbackRequest,
) -> Result<(), Error> {
    let _ctx = access::app_to_manage(deps, who, app_id).await?;
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
    let mut work = UnitOfWork::new();
    let job = Job::Rollback {
        app_id,
        deployment_id: id,
        requested_by: who.user_id.clone(),
    };
    work.enqueue(
        pipeline::DEPLOY_QUEUE,
        job.body(),
        std::time::Duration::ZERO,
    )?;
    work.commit(deps).await.map_err(|r| r.into_error())?;
    tracing::info!(%app_id, deployment_id = %id, "rollback accepted");
    Ok(())
}
