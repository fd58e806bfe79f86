//! The job that deploys an app's pending push (`{"kind":"pending_push","app_id":…}`), queued
//! by the change that freed the app's slot. The push deploys only if the app still follows
//! what was pushed (same repository, branch and installation); otherwise it is dropped, with a
//! log line. Found with the slot taken again (someone deployed first), it stays kept: that
//! change's end queues this job again.

use axhub_domain::{Error, GitConnection};
use uuid::Uuid;

use super::push::{Placed, deploy_push};
use crate::Deps;
use crate::jobs::Next;
use crate::state::apps;
use crate::state::pending_pushes::{self, PendingPush};

/// Whether the app's connection is still the one the push was kept for.
fn still_followed(git: Option<&GitConnection>, p: &PendingPush) -> bool {
    git.is_some_and(|g| {
        g.repo_full_name.eq_ignore_ascii_case(&p.repo_full_name)
            && g.branch == p.branch
            && p.installation_id.is_none_or(|i| i == g.installation_id)
    })
}

/// Deploys the app's pending push, if one is kept.
pub async fn deploy(deps: &Deps, app_id: Uuid) -> Result<Next, Error> {
    let Some(p) = pending_pushes::get(deps, app_id).await? else {
        return Ok(Next::Done);
    };
    let Some(ctx) = apps::load(deps, app_id).await? else {
        tracing::info!(%app_id, delivery_id = %p.delivery_id, "pending push dropped: the app is gone");
        pending_pushes::drop_this(deps, &p).await?;
        return Ok(Next::Done);
    };
    if !still_followed(ctx.git.as_ref(), &p) {
        tracing::info!(%app_id, delivery_id = %p.delivery_id, repo = %p.repo_full_name, branch = %p.branch, "pending push dropped: the app's connection changed");
        pending_pushes::drop_this(deps, &p).await?;
        return Ok(Next::Done);
    }
    match deploy_push(deps, ctx, &p, false).await? {
        Placed::Deployed(deployment_id) => {
            tracing::info!(%app_id, delivery_id = %p.delivery_id, ?deployment_id, "pending push deployed");
        }
        Placed::Superseded => {
            tracing::info!(%app_id, delivery_id = %p.delivery_id, "pending push dropped: a newer push deployed");
            pending_pushes::drop_this(deps, &p).await?;
        }
        Placed::Busy | Placed::Kept => {
            tracing::info!(%app_id, delivery_id = %p.delivery_id, "pending push waits: the app's slot is taken again");
        }
        Placed::Refused(code, message) => {
            tracing::info!(%app_id, delivery_id = %p.delivery_id, %code, %message, "pending push dropped: the trigger refused it");
            pending_pushes::drop_this(deps, &p).await?;
        }
    }
    Ok(Next::Done)
}
