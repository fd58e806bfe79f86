//! Tenants and memberships (read models fed by the tenants service: `TENANT#{id}` / `META`
//! `{id, slug}` and `MEMBER#{user}` `{role}`), and this service's per-tenant counter
//! (`TENANT#{id}` / `DEPLOYSTATE` `deployments_total`, moved in each trigger's transaction).

use axhub_domain::{Error, Membership, Tenant, TenantRole};
use axhub_store::{Item, Key, TxOp, Update};
use serde_json::Value;
use uuid::Uuid;

use super::UnitOfWork;
use super::codec::{from_item, to_item};
use crate::{Deps, store_error};

const DEPLOYMENTS_TOTAL: &str = "deployments_total";
const DELETED: &str = "deleted";

fn pk(tenant: Uuid) -> String {
    format!("TENANT#{tenant}")
}

pub fn key(tenant: Uuid) -> Key {
    Key::new(pk(tenant), "META")
}

fn state_key(tenant: Uuid) -> Key {
    Key::new(pk(tenant), "DEPLOYSTATE")
}

pub fn membership_key(tenant: Uuid, user: &str) -> Key {
    Key::new(pk(tenant), format!("MEMBER#{user}"))
}

pub fn item(t: &Tenant) -> Result<Item, Error> {
    to_item(&key(t.id), t)
}

pub fn membership_item(m: &Membership) -> Result<Item, Error> {
    to_item(&membership_key(m.tenant_id, &m.user_id), m)
}

/// The tenant, unless unknown or deleted.
pub async fn get(deps: &Deps, id: Uuid) -> Result<Option<Tenant>, Error> {
    match deps.store.get(&key(id)).await.map_err(store_error)? {
        Some(i) if i.get(DELETED) != Some(&Value::Bool(true)) => Ok(Some(from_item(i)?)),
        _ => Ok(None),
    }
}

/// The user's role in the tenant, if they are a member.
pub async fn membership(
    deps: &Deps,
    tenant: Uuid,
    user: &str,
) -> Result<Option<TenantRole>, Error> {
    let item = deps
        .store
        .get(&membership_key(tenant, user))
        .await
        .map_err(store_error)?;
    Ok(item
        .and_then(|i| i.get("role").cloned())
        .and_then(|r| serde_json::from_value(r).ok()))
}

/// How many deployments the tenant ever had (its feed's `total`).
pub async fn deployments_total(deps: &Deps, tenant: Uuid) -> Result<u64, Error> {
    Ok(deps
        .store
        .get(&state_key(tenant))
        .await
        .map_err(store_error)?
        .and_then(|s| s.get(DEPLOYMENTS_TOTAL).and_then(Value::as_u64))
        .unwrap_or(0))
}

pub async fn put(deps: &Deps, t: &Tenant) -> Result<(), Error> {
    deps.store.put(item(t)?, None).await.map_err(store_error)
}

pub async fn put_membership(deps: &Deps, m: &Membership) -> Result<(), Error> {
    deps.store
        .put(membership_item(m)?, None)
        .await
        .map_err(store_error)
}

impl UnitOfWork {
    /// Counts a new deployment in its tenant's feed total.
    pub fn count_tenant_deployment(&mut self, tenant: Uuid) {
        self.push(
            TxOp::Update {
                key: state_key(tenant),
                update: Update::new().add(DEPLOYMENTS_TOTAL, 1),
                cond: None,
            },
            None,
        );
    }
}
