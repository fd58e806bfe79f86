//! Who may see what (DESIGN §3), read from the state: an app or a tenant exists for its
//! tenant's members only; to anyone else it is a 404, the same as a missing id.

use axhub_domain::authz::require_tenant_member;
use axhub_domain::{AppRole, Error, Principal};
use uuid::Uuid;

use crate::Deps;
use crate::state::apps::{self, AppContext};
use crate::state::tenants;

/// The app and what the caller is to it. A missing app and an app the caller may not see
/// give the same 404.
pub async fn app_for(
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

/// The app, for its owner, a tenant admin or a platform admin: the gate of every change.
/// Other members get 403, everyone else 404.
pub async fn app_to_manage(
    deps: &Deps,
    principal: &Principal,
    app_id: Uuid,
) -> Result<AppContext, Error> {
    let (ctx, role) = app_for(deps, principal, app_id).await?;
    role.require_owner_or_admin("app")?;
    Ok(ctx)
}

/// Passes for the tenant's members (and platform admins); 404 for anyone else.
pub async fn tenant_member(deps: &Deps, who: &Principal, tenant: Uuid) -> Result<(), Error> {
    let membership = if who.platform_admin {
        None
    } else {
        tenants::membership(deps, tenant, &who.user_id).await?
    };
    require_tenant_member(who, membership)
}
