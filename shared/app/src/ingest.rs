//! Events of neighbouring services feed the read model (DESIGN §3): tenants, memberships and
//! apps belong to them; this service keeps what it needs to authorize and deploy. They arrive
//! through EventBridge → SQS at least once and in any order, so every write is an upsert that
//! only moves forward in the source's version (`occurred_at` in milliseconds).
//!
//! Contract (documented in docs/events.md): detail-types `TenantUpserted {id, slug}`,
//! `MembershipUpserted {tenant_id, user_id, role}`, `MembershipRemoved {tenant_id, user_id}`,
//! `AppUpserted {id, tenant_id, owner_id, slug, subdomain, approved}`, `AppDeleted {id}`,
//! `ReviewApproved {app_id}`; every detail carries `version` (a number that grows with each
//! change of that entity, e.g. its update time in ms).

use axhub_domain::ErrorCode;
use axhub_domain::{App, Error, Membership, Tenant};
use axhub_store::{Cond, Item, Key, StoreError};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::state::codec::bare;
use crate::state::{apps, deployments, releases, tenants};
use crate::{Deps, store_error};

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// An older or repeated version: nothing to do.
    Stale,
    /// A detail-type this service does not follow.
    Ignored,
}

const VERSION: &str = "source_version";

fn version(detail: &Value) -> Result<i64, Error> {
    detail
        .get("version")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            Error::field(
                "version",
                ErrorCode::Required,
                "every event detail carries a version",
            )
        })
}

fn parse<T: serde::de::DeserializeOwned>(detail: &Value) -> Result<T, Error> {
    serde_json::from_value(detail.clone())
        .map_err(|e| Error::bad_request(format!("event detail: {e}")))
}

/// Writes `item` only if what is stored is older: replays and out-of-order arrivals are no-ops.
async fn put_newer(deps: &Deps, mut item: Item, v: i64) -> Result<Applied, Error> {
    item.insert(VERSION.into(), Value::from(v));
    let cond = Cond::Or(vec![
        Cond::NotExists,
        Cond::has_not(VERSION),
        Cond::lt(VERSION, v),
    ]);
    match deps.store.put(item, Some(cond)).await {
        Ok(()) => Ok(Applied::Applied),
        Err(StoreError::ConditionFailed) => Ok(Applied::Stale),
        Err(e) => Err(store_error(e)),
    }
}

/// Deletion leaves a tombstone with the version, so a late upsert cannot resurrect it.
async fn tombstone(deps: &Deps, key: Key, v: i64) -> Result<Applied, Error> {
    put_newer(deps, bare(&key, [("deleted", Value::Bool(true))]), v).await
}

#[derive(Deserialize)]
struct MemberRef {
    tenant_id: Uuid,
    user_id: String,
}

#[derive(Deserialize)]
struct AppRef {
    #[serde(alias = "app_id")]
    id: Uuid,
}

#[derive(Deserialize)]
struct ReviewRef {
    app_id: Uuid,
    /// The deployment (release) the review approved.
    #[serde(default)]
    deployment_id: Option<Uuid>,
}

/// Marks the release that deployment `d` of the app made as approved; a deployment of another
/// app, or one that made no release, approves nothing.
async fn approve_release(deps: &Deps, app: Uuid, d: Uuid) -> Result<(), Error> {
    let number = deployments::get(deps, d)
        .await?
        .filter(|d| d.app_id == app)
        .and_then(|d| d.release_version)
        .and_then(|v| v.strip_prefix('v').and_then(|n| n.parse::<u64>().ok()));
    if let Some(n) = number {
        releases::mark_approved(deps, app, n).await?;
    }
    Ok(())
}

/// The EventBridge source that owns each detail-type this service follows: an event is
/// believed only from the service that owns its entity.
pub fn source_of(detail_type: &str) -> Option<&'static str> {
    match detail_type {
        "TenantUpserted" | "MembershipUpserted" | "MembershipRemoved" => Some("axhub.tenants"),
        "AppUpserted" | "AppDeleted" => Some("axhub.apps"),
        "ReviewApproved" => Some("axhub.review"),
        _ => None,
    }
}

/// Applies an event as EventBridge delivers it (`source`, `detail-type`, `detail`). An event
/// of a followed type from any other source is refused (403), so one neighbour cannot write
/// another's entities.
pub async fn apply_delivered(
    deps: &Deps,
    source: &str,
    detail_type: &str,
    detail: &Value,
) -> Result<Applied, Error> {
    match source_of(detail_type) {
        Some(owner) if owner != source => Err(Error::forbidden(format!(
            "{detail_type} events come from {owner}, not from {source:?}"
        ))),
        _ => apply(deps, detail_type, detail).await,
    }
}

pub async fn apply(deps: &Deps, detail_type: &str, detail: &Value) -> Result<Applied, Error> {
    match detail_type {
        "TenantUpserted" => {
            let t: Tenant = parse(detail)?;
            put_newer(deps, tenants::item(&t)?, version(detail)?).await
        }
        "MembershipUpserted" => {
            let m: Membership = parse(detail)?;
            put_newer(deps, tenants::membership_item(&m)?, version(detail)?).await
        }
        "MembershipRemoved" => {
            let m: MemberRef = parse(detail)?;
            tombstone(
                deps,
                tenants::membership_key(m.tenant_id, &m.user_id),
                version(detail)?,
            )
            .await
        }
        "AppUpserted" => {
            let app: App = parse(detail)?;
            put_newer(deps, apps::read_model_item(&app)?, version(detail)?).await
        }
        "AppDeleted" => {
            let a: AppRef = parse(detail)?;
            tombstone(deps, apps::key(a.id), version(detail)?).await
        }
        "ReviewApproved" => {
            let a: ReviewRef = parse(detail)?;
            // Approval only ever turns on; it rides on the app item without a version race.
            if !apps::mark_approved(deps, a.app_id).await? {
                return Ok(Applied::Stale);
            }
            // The version it names is approved (the releases list shows it).
            if let Some(d) = a.deployment_id {
                approve_release(deps, a.app_id, d).await?;
            }
            Ok(Applied::Applied)
        }
        _ => Ok(Applied::Ignored),
    }
}
