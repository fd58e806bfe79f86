//! The releases index (`RELEASES#{app}` / `{number:012}`): one item per succeeded deployment,
//! written in the transaction that gives it its version, so the releases list is a keyed query
//! of one page whatever the history, and `total` is the app's `releases_total` counter.

use axhub_domain::{Deployment, Environment, Error};
use axhub_store::{Cond, Index, Key, Query, SkCond, StoreError, TxOp, Update};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::UnitOfWork;
use super::codec::{from_item, to_item};
use crate::{Deps, store_error};

fn pk(app: Uuid) -> String {
    format!("RELEASES#{app}")
}

fn key(app: Uuid, number: u64) -> Key {
    Key::new(pk(app), format!("{number:012}"))
}

/// A release as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// 1, 2, … per app; the version is `v{number}`.
    pub number: u64,
    pub deployment_id: Uuid,
    pub commit_sha: String,
    pub image_uri: String,
    pub environment: Environment,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// A review approved this version (ReviewApproved names its deployment).
    #[serde(default)]
    pub approved: bool,
    /// The schema-op cursor the approving review pinned: the schema this version was
    /// reviewed against (the rollback guard compares production's with it).
    #[serde(default)]
    pub approved_cursor_seq: Option<u64>,
}

impl Release {
    pub fn version(&self) -> String {
        format!("v{}", self.number)
    }
}

/// Up to `limit` of the app's releases numbered at most `at_most`, newest first.
pub async fn page(deps: &Deps, app: Uuid, at_most: u64, limit: u32) -> Result<Vec<Release>, Error> {
    let page = deps
        .store
        .query(
            Query::new(Index::Primary, pk(app))
                .sk(SkCond::Le(format!("{at_most:012}")))
                .backward()
                .limit(limit),
        )
        .await
        .map_err(store_error)?;
    page.items.into_iter().map(from_item).collect()
}

/// The app's release `number`.
pub async fn get(deps: &Deps, app: Uuid, number: u64) -> Result<Option<Release>, Error> {
    match deps
        .store
        .get(&key(app, number))
        .await
        .map_err(store_error)?
    {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// The release number of a version string (`v7` → 7).
pub fn number_of(version: &str) -> Option<u64> {
    version.strip_prefix('v')?.parse().ok()
}

/// Marks release `number` of the app approved by a review that pinned `cursor_seq`; false
/// when there is no such release.
pub async fn mark_approved(
    deps: &Deps,
    app: Uuid,
    number: u64,
    cursor_seq: u64,
) -> Result<bool, Error> {
    match deps
        .store
        .update(
            &key(app, number),
            Update::new()
                .set("approved", true)
                .set("approved_cursor_seq", cursor_seq),
            Some(Cond::Exists),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

impl UnitOfWork {
    /// Records the succeeded deployment `d` as the app's release `number`.
    pub fn record_release(&mut self, d: &Deployment, number: u64) -> Result<(), Error> {
        let release = Release {
            number,
            deployment_id: d.id,
            commit_sha: d.commit_sha.clone(),
            image_uri: d.image_uri.clone().unwrap_or_default(),
            environment: d.environment,
            created_at: d.updated_at,
            approved: false,
            approved_cursor_seq: None,
        };
        self.push(
            TxOp::Put {
                item: to_item(&key(d.app_id, number), &release)?,
                cond: Some(Cond::NotExists),
            },
            None,
        );
        Ok(())
    }
}
