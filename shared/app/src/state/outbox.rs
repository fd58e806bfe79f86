//! Outbox entries (`OUTBOX#{id}` / `OUTBOX`, id a UUIDv7): written by a unit of work, pending
//! on GSI1 `OUTBOX#PENDING` (sorted by id, so oldest first) until published, then kept a week
//! for inspection. An entry the sweeper failed to publish [`MAX_PUBLISH_ATTEMPTS`] times, or
//! one that cannot be read, is parked on GSI1 `OUTBOX#PARKED` for an operator, so the oldest
//! entries never stall the ones behind them.

use std::time::Duration;

use axhub_domain::{DomainEvent, Error};
use axhub_ports::OutboxEntry;
use axhub_store::{Cond, Index, Key, Query, TxOp, Update};
use serde_json::Value;
use uuid::Uuid;

use super::codec::{from_item, index, to_item};
use crate::{Deps, store_error};

/// GSI1 partition of the not yet published entries.
pub const PENDING: &str = "OUTBOX#PENDING";
/// GSI1 partition of the entries the sweeper gave up on.
pub const PARKED: &str = "OUTBOX#PARKED";
/// Sweeps that may fail to publish an entry before it is parked (at one sweep a minute, about
/// ten minutes of a publisher that keeps refusing it).
pub const MAX_PUBLISH_ATTEMPTS: i64 = 10;
/// How long published entries are kept (for inspection) before TTL removes them.
const KEEP_PUBLISHED_SECONDS: i64 = 7 * 86_400;

fn key(id: Uuid) -> Key {
    Key::new(format!("OUTBOX#{id}"), "OUTBOX")
}

/// The entries of one unit of work, published once it committed.
#[derive(Default)]
pub(crate) struct Pending {
    entries: Vec<(Uuid, OutboxEntry)>,
}

impl Pending {
    fn put(&mut self, entry: OutboxEntry) -> Result<TxOp, Error> {
        let id = Uuid::now_v7();
        let mut item = to_item(&key(id), &entry)?;
        index(&mut item, Index::Gsi1, PENDING.into(), id.to_string());
        self.entries.push((id, entry));
        Ok(TxOp::Put {
            item,
            cond: Some(Cond::NotExists),
        })
    }

    pub(crate) fn event(&mut self, event: DomainEvent) -> Result<TxOp, Error> {
        self.put(OutboxEntry::Event { event })
    }

    pub(crate) fn job(&mut self, queue: &str, body: Value, delay: Duration) -> Result<TxOp, Error> {
        self.put(OutboxEntry::Job {
            queue: queue.to_owned(),
            body,
            delay_seconds: delay.as_secs().min(900) as u32,
        })
    }

    /// Publishes the entries of a committed transaction. Failures are logged, not returned:
    /// the change is committed and the sweeper will publish what is left pending.
    pub(crate) async fn publish(self, deps: &Deps) {
        for (id, entry) in self.entries {
            deliver(deps, id, &entry).await;
        }
    }
}

/// Publishes one entry and marks it published; false when there is no publisher or it failed.
pub async fn deliver(deps: &Deps, id: Uuid, entry: &OutboxEntry) -> bool {
    let Some(publisher) = &deps.publisher else {
        return false;
    };
    if let Err(e) = publisher.publish(entry).await {
        tracing::warn!(outbox_id = %id, error = %e, "publish failed; the sweeper will retry");
        return false;
    }
    let now = deps.now().unix_timestamp();
    let done = Update::new()
        .remove("gsi1pk")
        .remove("gsi1sk")
        .set("published_at", now)
        .set("ttl", now + KEEP_PUBLISHED_SECONDS);
    if let Err(e) = deps.store.update(&key(id), done, Some(Cond::Exists)).await {
        // Published but still marked pending: the sweeper publishes it again (a harmless
        // duplicate), which is the price of never losing one.
        tracing::warn!(outbox_id = %id, error = %e, "could not mark published");
    }
    true
}

/// Up to `max` pending entries, oldest first.
pub async fn pending(deps: &Deps, max: u32) -> Result<Vec<(Uuid, OutboxEntry)>, Error> {
    let page = deps
        .store
        .query(Query::new(Index::Gsi1, PENDING).limit(max.clamp(1, 1000)))
        .await
        .map_err(store_error)?;
    let mut out = Vec::with_capacity(page.items.len());
    for item in page.items {
        let Some(id) = item
            .get("gsi1sk")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        match from_item::<OutboxEntry>(item) {
            Ok(entry) => out.push((id, entry)),
            Err(_) => park(deps, id, "the entry cannot be read").await,
        }
    }
    Ok(out)
}

/// Counts a failed publish of a pending entry, and parks it once it failed
/// [`MAX_PUBLISH_ATTEMPTS`] times. True when it was parked.
pub async fn record_failure(deps: &Deps, id: Uuid) -> bool {
    let counted = deps
        .store
        .update(
            &key(id),
            Update::new().add("publish_attempts", 1),
            Some(Cond::eq("gsi1pk", PENDING)),
        )
        .await;
    match counted {
        Ok(item) => {
            let attempts = item
                .get("publish_attempts")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if attempts >= MAX_PUBLISH_ATTEMPTS {
                park(deps, id, "publishing failed too often").await;
                return true;
            }
            false
        }
        Err(e) => {
            tracing::warn!(outbox_id = %id, error = %e, "could not count a failed publish");
            false
        }
    }
}

/// Moves a pending entry to the parked partition; the log line is the operator's alarm
/// (`metric=outbox_parked`).
async fn park(deps: &Deps, id: Uuid, why: &str) {
    let now = deps.now().unix_timestamp();
    let parked = Update::new().set("gsi1pk", PARKED).set("parked_at", now);
    match deps
        .store
        .update(&key(id), parked, Some(Cond::Exists))
        .await
    {
        Ok(_) => {
            tracing::error!(outbox_id = %id, metric = "outbox_parked", reason = why, "outbox entry parked")
        }
        Err(e) => tracing::warn!(outbox_id = %id, error = %e, "could not park an outbox entry"),
    }
}

/// Up to `max` parked entries' ids, oldest first (for operators and tests).
pub async fn parked(deps: &Deps, max: u32) -> Result<Vec<Uuid>, Error> {
    let page = deps
        .store
        .query(Query::new(Index::Gsi1, PARKED).limit(max.clamp(1, 1000)))
        .await
        .map_err(store_error)?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| i.get("gsi1sk").and_then(Value::as_str))
        .filter_map(|s| Uuid::parse_str(s).ok())
        .collect())
}
