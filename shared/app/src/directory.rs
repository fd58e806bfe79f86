//! The read model of neighbouring services (tenants, memberships, apps) and credentials this
//! service checks (personal access tokens). Their events feed it in production; axhub-local
//! seeds and edits it directly for standalone use.

use axhub_domain::{App, Error, GitConnection, Membership, Tenant};
use axhub_store::Update;
use serde_json::Value;
use uuid::Uuid;

use crate::repo::{from_item, to_item};
use crate::{Deps, keys, store_error};

pub async fn put_tenant(deps: &Deps, t: &Tenant) -> Result<(), Error> {
    let item = to_item(&keys::tenant(t.id), t)?;
    deps.store.put(item, None).await.map_err(store_error)
}

pub async fn put_membership(deps: &Deps, m: &Membership) -> Result<(), Error> {
    let item = to_item(&keys::membership(m.tenant_id, &m.user_id), m)?;
    deps.store.put(item, None).await.map_err(store_error)
}

pub async fn remove_membership(deps: &Deps, tenant: Uuid, user: &str) -> Result<(), Error> {
    deps.store
        .delete(&keys::membership(tenant, user), None)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Writes the app's read-model fields. This service's own state (slot, counters, staging,
/// pointers) lives on a separate item and is never touched here.
pub async fn put_app(deps: &Deps, app: &App) -> Result<(), Error> {
    let mut item = to_item(&keys::app(app.id), app)?;
    for own in [
        "staging_enabled",
        "production_deployment_id",
        "staging_deployment_id",
    ] {
        item.remove(own);
    }
    deps.store.put(item, None).await.map_err(store_error)
}

/// Marks the app as opted in to staging (or not): this service's own flag.
pub async fn set_staging_enabled(deps: &Deps, app_id: Uuid, enabled: bool) -> Result<(), Error> {
    deps.store
        .update(
            &keys::app_state(app_id),
            Update::new().set("staging_enabled", enabled),
            None,
        )
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Writes a connection with its lookup keys (by repository, by installation), without an
/// event: for seeding. Use cases go through `git`, which records `GitConnected`.
pub async fn put_git_connection(deps: &Deps, g: &GitConnection) -> Result<(), Error> {
    let item = crate::git::connection_item(g)?;
    deps.store.put(item, None).await.map_err(store_error)
}

pub async fn get_tenant(deps: &Deps, id: Uuid) -> Result<Option<Tenant>, Error> {
    match deps
        .store
        .get(&keys::tenant(id))
        .await
        .map_err(store_error)?
    {
        Some(i) if i.get("deleted") != Some(&Value::Bool(true)) => Ok(Some(from_item(i)?)),
        _ => Ok(None),
    }
}
