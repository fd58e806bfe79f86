//! `GET …/releases`: every succeeded deployment as a version, newest first, with where it
//! runs and whether a review approved it. One keyed query of the releases index per page.

use axhub_domain::{Environment, Error, Principal};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::paging::{Dense, ListPage, ListParams};
use crate::state::releases;
use crate::{Deps, access};

/// A release as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReleaseView {
    /// `v1`, `v2`, … per app.
    pub version: String,
    pub deployment_id: Uuid,
    pub commit_sha: String,
    pub image_uri: String,
    /// Where the deployment that made it ran (`production` or `staging`).
    pub environment: Environment,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Production runs it now.
    pub active_prod: bool,
    /// Staging runs it now.
    pub active_staging: bool,
    /// A review approved this version.
    pub approved: bool,
}

pub async fn list(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    params: ListParams,
) -> Result<ListPage<ReleaseView>, Error> {
    let (ctx, _) = access::app_for(deps, who, app_id).await?;
    let listing = Dense {
        deps,
        scope: format!("app-releases:{app_id}"),
        total: ctx.state.releases_total,
    };
    let start = listing.start(&params)?;
    let items = if start == 0 {
        Vec::new()
    } else {
        releases::page(deps, app_id, start, params.limit).await?
    };
    let page = listing.page(items, params.limit, |r| r.number);
    let (prod, staging) = (
        ctx.app.production_deployment_id,
        ctx.app.staging_deployment_id,
    );
    Ok(ListPage {
        items: page
            .items
            .into_iter()
            .map(|r| ReleaseView {
                version: r.version(),
                active_prod: prod == Some(r.deployment_id),
                active_staging: staging == Some(r.deployment_id),
                deployment_id: r.deployment_id,
                commit_sha: r.commit_sha,
                image_uri: r.image_uri,
                environment: r.environment,
                created_at: r.created_at,
                approved: r.approved,
            })
            .collect(),
        next_cursor: page.next_cursor,
        total: page.total,
    })
}
