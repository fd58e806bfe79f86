//! An app's pending push (`APP#{id}` / `PENDINGPUSH`): the newest push to the app's branch
//! that found its slot held, kept to be deployed once the slot frees. "Newest" is the time the
//! delivery was received (`received_at`, microseconds, stamped before it was queued, so queue
//! order and retries never change it); a tie keeps the one kept first.
//!
//! Two conditions make sure no push is lost between a slot holder's end and a push that
//! arrives: a push is kept only while the app's slot is held, and the change that frees the
//! slot checks that the pending push is still the one it read (and queues its deployment in
//! the same unit of work). Whichever commits second sees the other.
//!
//! Beside it, `APP#{id}` / `PUSHDEPLOYED` `{received_at}` remembers the newest push that
//! deployed to the app, so that a push whose job ran late (a retry, a redelivered record)
//! never deploys an older commit over it.

use axhub_domain::Error;
use axhub_store::{Cond, Key, StoreError, TxOp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codec::{from_item, to_item};
use super::{Guard, UnitOfWork, app_pk, apps};
use crate::jobs::{DEPLOY_QUEUE, Job};
use crate::{Deps, store_error};

const PENDING_PUSH: &str = "PENDINGPUSH";
const NEWEST_DEPLOYED: &str = "PUSHDEPLOYED";
const RECEIVED_AT: &str = "received_at";
const DELIVERY_ID: &str = "delivery_id";

fn key(app: Uuid) -> Key {
    Key::new(app_pk(app), PENDING_PUSH)
}

fn newest_deployed_key(app: Uuid) -> Key {
    Key::new(app_pk(app), NEWEST_DEPLOYED)
}

/// Whether a push received after `received_at` has deployed to the app already.
pub async fn newer_deployed(deps: &Deps, app_id: Uuid, received_at: i64) -> Result<bool, Error> {
    let item = deps
        .store
        .get(&newest_deployed_key(app_id))
        .await
        .map_err(store_error)?;
    let newest = item
        .and_then(|i| i.get(RECEIVED_AT).and_then(serde_json::Value::as_i64))
        .unwrap_or(i64::MIN);
    Ok(newest > received_at)
}

/// Remembers that the push received at `received_at` deployed to the app, unless a newer
/// one did.
pub async fn mark_deployed(deps: &Deps, app_id: Uuid, received_at: i64) -> Result<(), Error> {
    let item = super::codec::bare(
        &newest_deployed_key(app_id),
        [(RECEIVED_AT, serde_json::json!(received_at))],
    );
    let older = Cond::Or(vec![Cond::NotExists, Cond::lt(RECEIVED_AT, received_at)]);
    match deps.store.put(item, Some(older)).await {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

/// A push waiting for its app's slot, with what it takes to deploy it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPush {
    pub app_id: Uuid,
    pub delivery_id: String,
    /// When the delivery was received (microseconds since the epoch).
    pub received_at: i64,
    pub repo_full_name: String,
    pub branch: String,
    pub commit_sha: String,
    /// The installation that sent it, when GitHub said.
    pub installation_id: Option<i64>,
    /// Who pushed, as the deployment names them (`github:{login}`).
    pub by: String,
}

/// The app's pending push, if one is kept.
pub async fn get(deps: &Deps, app_id: Uuid) -> Result<Option<PendingPush>, Error> {
    let item = deps.store.get(&key(app_id)).await.map_err(store_error)?;
    item.map(from_item).transpose()
}

/// Drops the app's pending push if it was received at or before `received_at` (it is
/// deployed, or a newer push was): a newer one stays. Nothing to drop is fine.
pub async fn drop_up_to(deps: &Deps, app_id: Uuid, received_at: i64) -> Result<(), Error> {
    let cond = Cond::lt(RECEIVED_AT, received_at + 1);
    match deps.store.delete(&key(app_id), Some(cond)).await {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

/// Drops exactly this pending push (it can no longer be deployed), unless a newer one
/// replaced it.
pub async fn drop_this(deps: &Deps, p: &PendingPush) -> Result<(), Error> {
    let cond = Cond::eq(DELIVERY_ID, p.delivery_id.clone());
    match deps.store.delete(&key(p.app_id), Some(cond)).await {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

impl UnitOfWork {
    /// Keeps `p` as its app's pending push: holds only if no newer push is kept
    /// ([`Guard::PendingPush`]; `p` itself may be) and the app's slot is still held ([`Guard::AppState`]).
    pub fn keep_pending_push(&mut self, p: &PendingPush) -> Result<(), Error> {
        let item = to_item(&key(p.app_id), p)?;
        // Its own record again (a retried job) is kept too, not superseded by itself.
        let not_newer = Cond::Or(vec![
            Cond::NotExists,
            Cond::lt(RECEIVED_AT, p.received_at),
            Cond::eq(DELIVERY_ID, p.delivery_id.clone()),
        ]);
        self.push(
            TxOp::Put {
                item,
                cond: Some(not_newer),
            },
            Some(Guard::PendingPush),
        );
        self.push(
            TxOp::Check {
                key: apps::state_key(p.app_id),
                cond: apps::slot_held(),
            },
            Some(Guard::AppState),
        );
        Ok(())
    }

    /// In the unit of work that frees the app's slot: queues the deployment of the pending
    /// push read before (`seen`), and holds only if the pending push is still that one (none
    /// stays none), so a push kept meanwhile makes the caller read again.
    pub fn hand_over_pending_push(
        &mut self,
        app_id: Uuid,
        seen: Option<&PendingPush>,
    ) -> Result<(), Error> {
        let cond = match seen {
            Some(p) => Cond::eq(DELIVERY_ID, p.delivery_id.clone()),
            None => Cond::NotExists,
        };
        self.push(
            TxOp::Check {
                key: key(app_id),
                cond,
            },
            Some(Guard::PendingPush),
        );
        if seen.is_some() {
            let job = Job::PendingPush { app_id };
            self.enqueue(DEPLOY_QUEUE, job.body(), std::time::Duration::ZERO)?;
        }
        Ok(())
    }
}
