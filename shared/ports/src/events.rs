//! Where committed outbox entries go: events to the bus, jobs to their queue.

use async_trait::async_trait;
use axhub_domain::{DomainEvent, Error};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One outbox entry: written in the transaction of the change that causes it, delivered once
/// that committed (DESIGN §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum OutboxEntry {
    /// A domain event for the event bus (EventBridge; in-process subscribers locally).
    Event { event: DomainEvent },
    /// A job for a work queue (`deploy`, …).
    Job {
        queue: String,
        body: Value,
        /// Seconds before the job becomes visible.
        #[serde(default)]
        delay_seconds: u32,
    },
}

/// Delivers outbox entries: events to the bus, jobs to their queue.
#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    async fn publish(&self, entry: &OutboxEntry) -> Result<(), Error>;
}

/// Where domain events go: EventBridge in AWS, in-process subscribers locally.
#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    async fn publish(&self, event: &DomainEvent) -> Result<(), Error>;
}
