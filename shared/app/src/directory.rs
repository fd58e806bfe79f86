//! Seeding and editing the read model of neighbouring services (tenants, memberships, apps)
//! directly: axhub-local and tests use it for standalone use; in production their events
//! feed it (`ingest`).

use axhub_domain::{App, Error, GitConnection, Membership, Tenant};
use uuid::Uuid;

use crate::Deps;
use crate::state::{apps, git, tenants};

pub async fn put_tenant(deps: &Deps, t: &Tenant) -> Result<(), Error> {
    tenants::put(deps, t).await
}

pub async fn put_membership(deps: &Deps, m: &Membership) -> Result<(), Error> {
    tenants::put_membership(deps, m).await
}

/// Writes the app's read-model fields. This service's own state (slot, counters, staging,
/// pointers) lives on a separate item and is never touched here.
pub async fn put_app(deps: &Deps, app: &App) -> Result<(), Error> {
    apps::put_read_model(deps, app).await
}

/// Marks the app as opted in to staging (or not): this service's own flag.
pub async fn set_staging_enabled(deps: &Deps, app_id: Uuid, enabled: bool) -> Result<(), Error> {
    apps::set_staging_enabled(deps, app_id, enabled).await
}

/// Writes a connection without an event: for seeding. Use cases go through `git`, which
/// records `GitConnected`.
pub async fn put_git_connection(deps: &Deps, g: &GitConnection) -> Result<(), Error> {
    git::put_connection(deps, g).await
}

pub async fn get_tenant(deps: &Deps, id: Uuid) -> Result<Option<Tenant>, Error> {
    tenants::get(deps, id).await
}
