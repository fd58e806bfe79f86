//! Events of neighbouring services feed the read model (DESIGN §3): tenants, memberships and
//! apps belong to them; this service keeps what it needs to authorize and deploy. They arrive
//! through EventBridge → SQS at least once and in any order, so every write is an upsert that
//! only moves forward in the source's version (`occurred_at` in milliseconds).
//!
//! Contract (documented in docs/events.md): detail-types `TenantUpserted {id, slug}`,
//! `MembershipUpserted {tenant_id, user_id, role}`, `MembershipRemoved {tenant_id, user_id}`,
//! `AppUpserted {id, tenant_id, owner_id, slug, subdomain, approved}`, `AppDeleted {id}`,
//! `ReviewRequested`/`ReviewApproved`/`ReviewRejected`/`ReviewCancelled` `{request_id, app_id,
//! deployment_id, cursor_seq}`, `AppEnvChanged {app_id, environment, hashes}` (value hashes
//! of the app's environment variables); every detail carries `version` (a number that grows
//! with each change of that entity, e.g. its update time in ms). `SchemaOpRecorded {app_id,
//! seq, op, …}` (the no-code DB service's structured schema ops) needs none: an op never
//! changes, its `seq` is its identity.

use axhub_domain::ErrorCode;
use axhub_domain::{App, Error, Membership, Tenant};
use axhub_store::{Cond, Item, Key, StoreError};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::state::app_env::{self, EnvHashes};
use crate::state::codec::bare;
use crate::state::reviews::{self, Review, ReviewStatus};
use crate::state::{apps, deployments, releases, schema_ops, tenants};
use crate::{Deps, promotion, store_error};
use axhub_domain::Environment;
use axhub_ports::appdb::SchemaOp;

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
struct ReviewEvent {
    request_id: Uuid,
    app_id: Uuid,
    /// The deployment (release) the review is about.
    deployment_id: Uuid,
    #[serde(default)]
    cursor_seq: u64,
}

#[derive(Deserialize)]
struct EnvEvent {
    app_id: Uuid,
    environment: Environment,
    /// Key → hash of its value (the apps service never sends values).
    hashes: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct OpEvent {
    app_id: Uuid,
    #[serde(flatten)]
    op: SchemaOp,
}

/// A review's request or decision. The review belongs to the version it names: an approval
/// marks that release approved (and the app approved, even before the app itself is known)
/// and starts its promotion. A repeated approval starts nothing new, but one whose first
/// delivery died before the promotion was written starts it now.
async fn review(deps: &Deps, detail_type: &str, detail: &Value) -> Result<Applied, Error> {
    let e: ReviewEvent = parse(detail)?;
    let status = match detail_type {
        "ReviewRequested" => ReviewStatus::Pending,
        "ReviewApproved" => ReviewStatus::Approved,
        "ReviewRejected" => ReviewStatus::Rejected,
        _ => ReviewStatus::Cancelled,
    };
    let review = Review {
        request_id: e.request_id,
        app_id: e.app_id,
        deployment_id: e.deployment_id,
        cursor_seq: e.cursor_seq,
        status,
    };
    let fresh = reviews::put_newer(deps, &review, version(detail)?).await?;
    let approved = match fresh {
        true => status == ReviewStatus::Approved,
        false => reviews::get(deps, e.request_id)
            .await?
            .is_some_and(|r| r.status == ReviewStatus::Approved && r == review),
    };
    if approved {
        reviews::mark_app_approved(deps, e.app_id).await?;
        approve_release(deps, e.app_id, e.deployment_id, e.cursor_seq).await?;
        promotion::start_for_approval(deps, &review).await?;
    }
    Ok(if fresh {
        Applied::Applied
    } else {
        Applied::Stale
    })
}

/// Marks the release that deployment `d` of the app made as approved; a deployment of another
/// app, or one that made no release, approves nothing.
async fn approve_release(deps: &Deps, app: Uuid, d: Uuid, cursor_seq: u64) -> Result<(), Error> {
    let number = deployments::get(deps, d)
        .await?
        .filter(|d| d.app_id == app)
        .and_then(|d| d.release_version)
        .and_then(|v| releases::number_of(&v));
    if let Some(n) = number {
        releases::mark_approved(deps, app, n, cursor_seq).await?;
    }
    Ok(())
}

/// The EventBridge source that owns each detail-type this service follows: an event is
/// believed only from the service that owns its entity.
pub fn source_of(detail_type: &str) -> Option<&'static str> {
    match detail_type {
        "TenantUpserted" | "MembershipUpserted" | "MembershipRemoved" => Some("axhub.tenants"),
        "AppUpserted" | "AppDeleted" | "AppEnvChanged" => Some("axhub.apps"),
        "SchemaOpRecorded" => Some("axhub.nocode-db"),
        "ReviewRequested" | "ReviewApproved" | "ReviewRejected" | "ReviewCancelled" => {
            Some("axhub.review")
        }
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

/// Applies an event whose source was checked: only `apply_delivered` calls it, so no caller can
/// skip the check.
async fn apply(deps: &Deps, detail_type: &str, detail: &Value) -> Result<Applied, Error> {
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
        "ReviewRequested" | "ReviewApproved" | "ReviewRejected" | "ReviewCancelled" => {
            review(deps, detail_type, detail).await
        }
        "AppEnvChanged" => {
            let e: EnvEvent = parse(detail)?;
            let hashes = EnvHashes { hashes: e.hashes };
            put_newer(
                deps,
                app_env::item(e.app_id, e.environment, &hashes)?,
                version(detail)?,
            )
            .await
        }
        "SchemaOpRecorded" => {
            let e: OpEvent = parse(detail)?;
            if let Err(why) = e.op.change.validate() {
                return Err(Error::bad_request(format!("schema op {}: {why}", e.op.seq)));
            }
            if e.op.seq == 0 || i64::try_from(e.op.seq).is_err() {
                return Err(Error::bad_request("schema op seq must be in 1..=i64::MAX"));
            }
            Ok(match schema_ops::record(deps, e.app_id, &e.op).await? {
                true => Applied::Applied,
                false => Applied::Stale,
            })
        }
        _ => Ok(Applied::Ignored),
    }
}
