//! Background work on the ports, shared by the Lambda workers and axhub-local: the outbox
//! publisher (jobs to queues, events to the bus), the job handler, and the loops axhub-local
//! runs in process (queue consumer, outbox sweeper, reaper).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axhub_app::jobs::{Job, Next};
use axhub_app::{Deps, bootstrap, outbox, pipeline, worker};
use axhub_domain::{DomainEvent, Error};
use axhub_ports::{EventSink, OutboxEntry, Publisher};
use axhub_queue::{Queue, QueueError};
use tokio::sync::broadcast;

fn queue_error(e: QueueError) -> Error {
    match e {
        QueueError::Unavailable(m) => Error::unavailable(format!("queue unavailable: {m}")),
        other => Error::internal(format!("queue failed: {other}")),
    }
}

/// Routes outbox entries: jobs to the named queue, events to the sink.
pub struct RoutingPublisher {
    queues: HashMap<String, Arc<dyn Queue>>,
    events: Arc<dyn EventSink>,
}

impl RoutingPublisher {
    pub fn new(events: Arc<dyn EventSink>) -> Self {
        Self {
            queues: HashMap::new(),
            events,
        }
    }

    pub fn queue(mut self, name: &str, queue: Arc<dyn Queue>) -> Self {
        self.queues.insert(name.to_owned(), queue);
        self
    }
}

#[async_trait]
impl Publisher for RoutingPublisher {
    async fn publish(&self, entry: &OutboxEntry) -> Result<(), Error> {
        match entry {
            OutboxEntry::Event { event } => self.events.publish(event).await,
            OutboxEntry::Job {
                queue,
                body,
                delay_seconds,
            } => {
                let q = self
                    .queues
                    .get(queue)
                    .ok_or_else(|| Error::internal(format!("no queue named {queue}")))?;
                q.send(
                    &body.to_string(),
                    Duration::from_secs(u64::from(*delay_seconds)),
                )
                .await
                .map(|_| ())
                .map_err(queue_error)
            }
        }
    }
}

/// In-process event bus of axhub-local: subscribers get every event published after they
/// subscribed; the history keeps the latest events for inspection.
pub struct LocalBus {
    tx: broadcast::Sender<DomainEvent>,
    history: Mutex<Vec<DomainEvent>>,
}

/// Events kept in the history of the local bus.
const HISTORY: usize = 1000;

impl Default for LocalBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(1024).0,
            history: Mutex::new(Vec::new()),
        }
    }
}

impl LocalBus {
    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.tx.subscribe()
    }

    pub fn history(&self) -> Vec<DomainEvent> {
        self.history.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl EventSink for LocalBus {
    async fn publish(&self, event: &DomainEvent) -> Result<(), Error> {
        tracing::info!(kind = event.kind.detail_type(), app_id = %event.app_id, detail = %event.detail, "event");
        if let Ok(mut h) = self.history.lock() {
            h.push(event.clone());
            let excess = h.len().saturating_sub(HISTORY);
            h.drain(..excess);
        }
        // No subscribers is fine.
        let _ = self.tx.send(event.clone());
        Ok(())
    }
}

/// Handles one job message: runs it and, when it must be looked at again, sends the follow-up
/// before returning (so the message can be acked without losing the job). An undecodable
/// body is an error: after the queue's retries it lands in the dead-letter queue.
pub async fn handle_job(deps: &Deps, queue: &dyn Queue, body: &str) -> Result<(), Error> {
    let job: Job = serde_json::from_str(body)
        .map_err(|e| Error::bad_request(format!("undecodable job: {e}")))?;
    match worker::run(deps, &job).await? {
        Next::Done => Ok(()),
        Next::Again(delay) => {
            queue
                .send(body, delay.min(axhub_queue::MAX_DELAY))
                .await
                .map_err(queue_error)?;
            Ok(())
        }
    }
}

/// How long a received job stays hidden while a worker runs it.
pub const JOB_VISIBILITY: Duration = Duration::from_secs(60);

/// axhub-local's queue consumer: receives, handles and acks jobs until `stop` flips.
pub async fn run_worker(
    deps: Arc<Deps>,
    queue: Arc<dyn Queue>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let batch = tokio::select! {
            r = queue.receive(10, JOB_VISIBILITY, Duration::from_secs(1)) => r,
            _ = stop.changed() => return,
        };
        let messages = match batch {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for m in messages {
            match handle_job(&deps, queue.as_ref(), &m.body).await {
                Ok(()) => {
                    if let Err(e) = queue.ack(&m.receipt).await {
                        tracing::warn!(error = %e, "ack failed; the job will run again (harmless)");
                    }
                }
                Err(e) => {
                    // Back off: 1 s, 2 s, 4 s … per delivery, until the dead-letter queue.
                    let delay = Duration::from_secs(1 << m.receive_count.min(6));
                    tracing::warn!(message_id = %m.id, receive_count = m.receive_count, error = %e, "job failed");
                    let _ = queue.release(&m.receipt, delay).await;
                }
            }
        }
    }
}

/// Outbox entries younger than this are left to their writer.
pub const SWEEP_MIN_AGE: Duration = Duration::from_secs(10);

/// What one round of maintenance did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Maintained {
    /// Outbox entries published again.
    pub swept: usize,
    /// Changes past their deadline, ended.
    pub reaped: usize,
    /// Stalled bootstrap sagas whose step was queued again.
    pub resumed: usize,
}

/// One round of maintenance: re-publish stale outbox entries, fail overdue deployments,
/// queue stalled bootstrap steps again.
pub async fn maintain(deps: &Deps) -> Result<Maintained, Error> {
    let swept = outbox::sweep(deps, SWEEP_MIN_AGE, 100).await?;
    let reaped = pipeline::reap(deps, 100).await?;
    let resumed = bootstrap::watchdog::resume_stalled(deps, 100).await?;
    if swept + reaped + resumed > 0 {
        tracing::info!(swept, reaped, resumed, "maintenance");
    }
    Ok(Maintained {
        swept,
        reaped,
        resumed,
    })
}

/// axhub-local's maintenance loop (the scheduled maintenance Lambda in AWS).
pub async fn run_maintenance(
    deps: Arc<Deps>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = maintain(&deps).await {
            tracing::warn!(error = %e, "maintenance failed");
        }
    }
}
