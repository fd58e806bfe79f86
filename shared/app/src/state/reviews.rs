//! Reviews (a read model fed by the review service): `REVIEW#{request_id}` / `META`, one item
//! per review request with the deployment (release) it is about, the schema-op cursor it
//! pinned, its status, and the source's version (events apply only forward). A pending review
//! also sits on GSI1 `PENDINGREVIEWS#{app}`, so "does the app have a pending review" is one
//! keyed query; approved, rejected and cancelled ones leave that index.
//!
//! An approval also marks the app approved on `APP#{id}` / `REVIEW` (beside the app's read
//! model, read with it): written whether or not the app is known yet, so an approval that
//! arrives before the app's own event is not lost.

use axhub_domain::Error;
use axhub_store::{Cond, Index, Item, Key, Query, StoreError, Update};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::app_pk;
use super::codec::{from_item, index, to_item};
use crate::{Deps, store_error};

/// The sort key of the app's review state, in the app's partition.
pub const APP_REVIEW: &str = "REVIEW";
const VERSION: &str = "source_version";

fn key(request: Uuid) -> Key {
    Key::new(format!("REVIEW#{request}"), "META")
}

fn pending_pk(app: Uuid) -> String {
    format!("PENDINGREVIEWS#{app}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Pending,
    Approved,
    Rejected,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub request_id: Uuid,
    pub app_id: Uuid,
    pub deployment_id: Uuid,
    /// The schema-op cursor the review pinned: promotion applies ops up to it.
    #[serde(default)]
    pub cursor_seq: u64,
    pub status: ReviewStatus,
}

/// Writes the review as of source version `v`, only if what is stored is older. False for a
/// stale (older or repeated) event.
pub async fn put_newer(deps: &Deps, review: &Review, v: i64) -> Result<bool, Error> {
    let mut item: Item = to_item(&key(review.request_id), review)?;
    if review.status == ReviewStatus::Pending {
        index(
            &mut item,
            Index::Gsi1,
            pending_pk(review.app_id),
            review.request_id.to_string(),
        );
    }
    item.insert(VERSION.into(), Value::from(v));
    let cond = Cond::Or(vec![Cond::NotExists, Cond::lt(VERSION, v)]);
    match deps.store.put(item, Some(cond)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

pub async fn get(deps: &Deps, request: Uuid) -> Result<Option<Review>, Error> {
    match deps.store.get(&key(request)).await.map_err(store_error)? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// Whether the app has a review waiting for a decision.
pub async fn has_pending(deps: &Deps, app: Uuid) -> Result<bool, Error> {
    let page = deps
        .store
        .query(Query::new(Index::Gsi1, pending_pk(app)).limit(1))
        .await
        .map_err(store_error)?;
    Ok(!page.items.is_empty())
}

/// Records that a review approved the app (approval only ever turns on).
pub async fn mark_app_approved(deps: &Deps, app: Uuid) -> Result<(), Error> {
    deps.store
        .update(
            &Key::new(app_pk(app), APP_REVIEW),
            Update::new().set("approved", true),
            None,
        )
        .await
        .map_err(store_error)?;
    Ok(())
}
