//! The outbox (DESIGN §5): domain events and background jobs are written in the same
//! transaction as the state change that causes them, as pending entries a relay publishes
//! right after commit (and a sweeper re-publishes if a process died in between).

use axhub_domain::{DomainEvent, Error};
use axhub_store::{Cond, TxOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{keys, repo::to_item};

/// Where an outbox entry goes once published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum OutboxEntry {
    /// A domain event for the event bus (EventBridge; in-process subscribers locally).
    Event { event: DomainEvent },
    /// A job for a work queue (`deploy`, `bootstrap`, …).
    Job { queue: String, body: Value },
}

/// The transaction operation that records `entry` as pending.
pub fn put(entry: &OutboxEntry) -> Result<TxOp, Error> {
    let id = Uuid::now_v7();
    let mut item = to_item(&keys::outbox(id), entry)?;
    item.insert("gsi1pk".into(), Value::String(keys::OUTBOX_PENDING.into()));
    item.insert("gsi1sk".into(), Value::String(id.to_string()));
    Ok(TxOp::Put {
        item,
        cond: Some(Cond::NotExists),
    })
}

pub fn event(event: DomainEvent) -> Result<TxOp, Error> {
    put(&OutboxEntry::Event { event })
}

pub fn job(queue: &str, body: Value) -> Result<TxOp, Error> {
    put(&OutboxEntry::Job {
        queue: queue.to_owned(),
        body,
    })
}
