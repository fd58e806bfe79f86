//! Who may see and do what (DESIGN §3), read from the state: an app or a tenant exists for
//! its tenant's members only; to anyone else it is a 404, the same as a missing id.
//!
//! Every use case passes one of these gates first, and each gate also holds a delegated
//! token to its scopes ([`Access`]): reads need `deploy:read` or `deploy:write`, changes
//! `deploy:write`. The scopes are checked before the app is read: they are the token's, not
//! the app's, so the 403 tells nothing about the app.

use axhub_domain::authz::require_tenant_member;
use axhub_domain::{Access, AppRole, Error, Principal};
use uuid::Uuid;

use crate::Deps;
use crate::state::apps::{self, AppContext};
use crate::state::tenants;

/// The app and what the caller is to it, for a read. A missing app and an app the caller may
/// not see give the same 404.
pub async fn app_for(
    deps: &Deps,
    principal: &Principal,
    app_id: Uuid,
) -> Result<(AppContext, AppRole), Error> {
    principal.require(Access::Read)?;
    app_and_role(deps, principal, app_id).await
}

/// The app, for a read that only its owner, a tenant admin or a platform admin may make
/// (diagnosis, promote-preflight). Other members get 403, everyone else 404.
pub async fn app_to_inspect(
    deps: &Deps,
    principal: &Principal,
    app_id: Uuid,
) -> Result<AppContext, Error> {
    let (ctx, role) = app_for(deps, principal, app_id).await?;
    role.require_owner_or_admin("app")?;
    Ok(ctx)
}

/// The app, for its owner, a tenant admin or a platform admin: the gate of every change.
/// Other members get 403, everyone else 404.
pub async fn app_to_manage(
    deps: &Deps,
    principal: &Principal,
    app_id: Uuid,
) -> Result<AppContext, Error> {
    principal.require(Access::Write)?;
    let (ctx, role) = app_and_role(deps, principal, app_id).await?;
    role.require_owner_or_admin("app")?;
    Ok(ctx)
}

/// Passes for the tenant's members (and platform admins), for a read; 404 for anyone else.
pub async fn tenant_member(deps: &Deps, who: &Principal, tenant: Uuid) -> Result<(), Error> {
    who.require(Access::Read)?;
    let membership = if who.platform_admin {
        None
    } else {
        tenants::membership(deps, tenant, &who.user_id).await?
    };
    require_tenant_member(who, membership)
}

/// The gate of the operations that name no app or tenant (the installation picker, and the
/// install flow's completion, whose app comes from its state token): the scopes alone.
pub fn caller_may(who: &Principal, access: Access) -> Result<(), Error> {
    who.require(access)
}

/// Whether the caller's token may change things: what a read shows may depend on it.
pub fn may_write(who: &Principal) -> bool {
    who.require(Access::Write).is_ok()
}

async fn app_and_role(
    deps: &Deps,
    principal: &Principal,
    app_id: Uuid,
) -> Result<(AppContext, AppRole), Error> {
    let ctx = apps::existing(deps, app_id).await?;
    let membership = if principal.platform_admin {
        None
    } else {
        tenants::membership(deps, ctx.app.tenant_id, &principal.user_id).await?
    };
    let role = AppRole::of(principal, &ctx.app.owner_id, membership);
    role.require_reader("app")?;
    Ok((ctx, role))
}
