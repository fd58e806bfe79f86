//! Deadline trackers of the changes in progress (`INPROGRESS` / `{deadline:012}#{id}`): one
//! item per deployment, rollback or promotion, sorted by its stage deadline, so the reaper finds the
//! overdue ones with one keyed query, oldest first.

use axhub_domain::Error;
use axhub_store::{Index, Key, Query, SK, SkCond, TxOp};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::UnitOfWork;
use super::codec::bare;
use crate::{Deps, store_error};

const TRACKERS: &str = "INPROGRESS";
const KIND: &str = "change_kind";
const ID: &str = "change_id";

/// What a tracker watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracked {
    Deployment(Uuid),
    Rollback(Uuid),
    /// A promotion, by its review request id.
    Promotion(Uuid),
}

impl Tracked {
    fn id(self) -> Uuid {
        match self {
            Tracked::Deployment(id) | Tracked::Rollback(id) | Tracked::Promotion(id) => id,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Tracked::Deployment(_) => "deployment",
            Tracked::Rollback(_) => "rollback",
            Tracked::Promotion(_) => "promotion",
        }
    }
}

fn key(id: Uuid, deadline: OffsetDateTime) -> Key {
    Key::new(
        TRACKERS,
        format!("{:012}#{id}", deadline.unix_timestamp().max(0)),
    )
}

/// A change past its stage deadline, as its tracker names it.
#[derive(Debug, Clone)]
pub struct Overdue {
    pub change: Tracked,
    tracker: Key,
}

impl Overdue {
    /// Whether this tracker is the one the change has now: still in progress, with
    /// `deadline` its current deadline.
    pub fn is_current(&self, in_progress: bool, deadline: OffsetDateTime) -> bool {
        in_progress && key(self.change.id(), deadline) == self.tracker
    }
}

/// The items of a partition sorted by `{due:012}#…` whose due time is before `now`, oldest
/// first, at most `max`: the deadline trackers here, the bootstrap watches.
pub(super) async fn due(
    deps: &Deps,
    partition: &str,
    now: OffsetDateTime,
    max: u32,
) -> Result<Vec<axhub_store::Item>, Error> {
    let page = deps
        .store
        .query(
            Query::new(Index::Primary, partition)
                .sk(SkCond::Lt(format!("{:012}~", now.unix_timestamp())))
                .limit(max.clamp(1, 1000)),
        )
        .await
        .map_err(store_error)?;
    Ok(page.items)
}

/// The trackers whose deadline passed before `now`, oldest first, at most `max`.
pub async fn overdue(deps: &Deps, now: OffsetDateTime, max: u32) -> Result<Vec<Overdue>, Error> {
    Ok(due(deps, TRACKERS, now, max)
        .await?
        .into_iter()
        .filter_map(|item| {
            let sk = item.get(SK).and_then(Value::as_str)?.to_owned();
            let id = item
                .get(ID)
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())?;
            let change = match item.get(KIND).and_then(Value::as_str) {
                Some("rollback") => Tracked::Rollback(id),
                Some("promotion") => Tracked::Promotion(id),
                _ => Tracked::Deployment(id),
            };
            Some(Overdue {
                change,
                tracker: Key::new(TRACKERS, sk),
            })
        })
        .collect())
}

/// Removes a tracker its change has moved past (a changed deadline configuration leaves old
/// keys behind).
pub async fn drop_tracker(deps: &Deps, stale: &Overdue) {
    if let Err(e) = deps.store.delete(&stale.tracker, None).await {
        tracing::warn!(error = %e, "could not remove a stale deadline tracker");
    }
}

impl UnitOfWork {
    /// Starts tracking a change's stage deadline.
    pub fn track_deadline(
        &mut self,
        change: Tracked,
        app_id: Uuid,
        stage: &str,
        deadline: OffsetDateTime,
    ) {
        let item = bare(
            &key(change.id(), deadline),
            [
                (KIND, json!(change.kind())),
                (ID, json!(change.id())),
                ("app_id", json!(app_id)),
                ("stage", json!(stage)),
            ],
        );
        self.push(TxOp::Put { item, cond: None }, None);
    }

    /// Stops tracking the deadline the change had.
    pub fn untrack_deadline(&mut self, change: Tracked, deadline: OffsetDateTime) {
        self.push(
            TxOp::Delete {
                key: key(change.id(), deadline),
                cond: None,
            },
            None,
        );
    }
}
