//! The outbox (DESIGN §5): domain events and background jobs are written in the same
//! transaction as the state change that causes them, as pending entries. Right after commit
//! the writer publishes them (`Outbox::publish`); a sweeper re-publishes whatever a dead
//! process left pending. Publishing is at-least-once: consumers dedupe by id or are idempotent.

use std::time::Duration;

use axhub_domain::{DomainEvent, Error};
use axhub_store::{Cond, Index, Query, TxOp, Update};
use serde_json::Value;
use uuid::Uuid;

use axhub_ports::OutboxEntry;

use crate::{Deps, keys, repo::to_item, store_error};

/// Entries written by one transaction, published once it committed.
#[derive(Default)]
pub struct Outbox {
    entries: Vec<(Uuid, OutboxEntry)>,
}

/// How long published entries are kept (for inspection) before TTL removes them.
const KEEP_PUBLISHED_SECONDS: i64 = 7 * 86_400;

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    fn put(&mut self, entry: OutboxEntry) -> Result<TxOp, Error> {
        let id = Uuid::now_v7();
        let mut item = to_item(&keys::outbox(id), &entry)?;
        item.insert("gsi1pk".into(), Value::String(keys::OUTBOX_PENDING.into()));
        item.insert("gsi1sk".into(), Value::String(id.to_string()));
        self.entries.push((id, entry));
        Ok(TxOp::Put {
            item,
            cond: Some(Cond::NotExists),
        })
    }

    pub fn event(&mut self, event: DomainEvent) -> Result<TxOp, Error> {
        self.put(OutboxEntry::Event { event })
    }

    pub fn job(&mut self, queue: &str, body: Value, delay: Duration) -> Result<TxOp, Error> {
        self.put(OutboxEntry::Job {
            queue: queue.to_owned(),
            body,
            delay_seconds: delay.as_secs().min(900) as u32,
        })
    }

    /// Publishes the entries of a committed transaction. Failures are logged, not returned:
    /// the change is committed and the sweeper will publish what is left pending.
    pub async fn publish(self, deps: &Deps) {
        for (id, entry) in self.entries {
            publish_one(deps, id, &entry).await;
        }
    }
}

async fn publish_one(deps: &Deps, id: Uuid, entry: &OutboxEntry) -> bool {
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
    if let Err(e) = deps
        .store
        .update(&keys::outbox(id), done, Some(Cond::Exists))
        .await
    {
        // Published but still marked pending: the sweeper publishes it again (a harmless
        // duplicate), which is the price of never losing one.
        tracing::warn!(outbox_id = %id, error = %e, "could not mark published");
    }
    true
}

/// Re-publishes pending entries older than `min_age` (their writer died or its publish
/// failed), oldest first, at most `max` per call. Returns how many were published.
pub async fn sweep(deps: &Deps, min_age: Duration, max: u32) -> Result<usize, Error> {
    let page = deps
        .store
        .query(Query::new(Index::Gsi1, keys::OUTBOX_PENDING).limit(max.clamp(1, 1000)))
        .await
        .map_err(store_error)?;
    let cutoff = deps.now() - min_age;
    let mut published = 0;
    for item in page.items {
        let Some(id) = item
            .get("gsi1sk")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        if uuid_time(id).is_some_and(|t| t > cutoff) {
            // Young entries are being published by their writer right now.
            break;
        }
        let entry: OutboxEntry = match crate::repo::from_item(item) {
            Ok(e) => e,
            Err(_) => continue,
        };
        if publish_one(deps, id, &entry).await {
            published += 1;
        }
    }
    Ok(published)
}

/// The creation time of a UUIDv7.
pub fn uuid_time(id: Uuid) -> Option<time::OffsetDateTime> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .map(|t| t + time::Duration::nanoseconds(i64::from(nanos)))
}
