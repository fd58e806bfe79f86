//! The job-queue port: SQS-shaped, so that the SQLite adapter (axhub-local) and the SQS
//! adapter (Lambda) behave the same. One conformance suite (`conformance`) runs against every
//! adapter.
//!
//! # Semantics every adapter shares
//!
//! * **At-least-once delivery.** A received message stays in the queue, hidden for the
//!   visibility timeout given to `receive`. If it is not acked within that window it becomes
//!   visible again and is delivered again. Handlers must be idempotent.
//! * **Receive counting.** `Message::receive_count` counts deliveries: 1 on the first.
//! * **Dead letters.** With `max_receives = N` (adapter configuration, SQS's
//!   `maxReceiveCount`) a message can be delivered N times; the receive that would deliver it
//!   an N+1-th time moves it to the dead-letter queue instead. The move happens lazily, during
//!   a receive, exactly as SQS does it, so a poison message shows up in `dead_letters` only
//!   after that next receive.
//! * **Order** is roughly first-in first-out but not guaranteed.
//! * **Whole seconds.** SQS counts delays and timeouts in whole seconds, so every adapter
//!   does: delays and visibility timeouts round *up* (the message is never visible earlier
//!   than asked), the long-poll wait rounds *down* (`receive` never blocks longer than asked).
//!   The `normalize_*` helpers below do this, and check the limits, for every adapter.
//!
//! # Receipts
//!
//! A receipt names one delivery, not the message. It acts only while that delivery's
//! visibility window is open:
//!
//! * `ack`/`release` with a receipt whose window has passed (expired), whose message has
//!   since been delivered again (stale), or that was already used (spent) do nothing and
//!   return `Ok(())`. The message then is, or will be, delivered again; at-least-once
//!   delivery covers it. This makes `ack` idempotent (a retried ack is harmless) and matches
//!   SQS's documented DeleteMessage contract (an old receipt handle "succeeds" without
//!   deleting). In particular a worker whose delivery timed out can never delete or un-hide
//!   the delivery another worker is now processing.
//! * A string that is not a receipt of this adapter at all is `QueueError::InvalidRequest`.
//! * A receipt is spent by `ack` or `release`; do not use it again (SQLite ignores it, SQS
//!   may still act on it until its original window ends).

mod normalize;

pub mod conformance;

pub use normalize::*;

use std::time::Duration;

use async_trait::async_trait;

/// One delivery of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message's id, the same on every delivery (and in the dead-letter queue).
    pub id: String,
    /// Names this delivery for `ack` and `release`. Empty for messages read by
    /// `dead_letters`, which are not deliveries.
    pub receipt: String,
    pub body: String,
    /// How many times the message has been delivered, this delivery included (1 on the
    /// first). For dead letters it is at least `max_receives` (SQS also counts reads of the
    /// dead-letter queue).
    pub receive_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The backend cannot be reached or throttles; retrying later may succeed.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The request breaks the port's rules (limits, an empty body, not a receipt).
    #[error("invalid queue request: {0}")]
    InvalidRequest(String),
    #[error("queue backend error: {0}")]
    Backend(String),
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Enqueues `body` (1 byte to 256 KiB of text SQS accepts); the message becomes visible
    /// after `delay` (0..=900 s, SQS's limit). Returns the message id.
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError>;

    /// Up to `max` (1..=10) visible messages, each hidden for `visibility` (0..=12 h)
    /// afterwards. Waits up to `wait` (0..=20 s) for a first message when none is visible,
    /// and returns as soon as there is one; an empty result after `wait` is normal. Messages
    /// already delivered `max_receives` times are moved to the dead-letter queue instead of
    /// being delivered again.
    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError>;

    /// Deletes a received message: the job is done. An expired, stale or spent receipt is
    /// `Ok(())` and deletes nothing (see the crate docs).
    async fn ack(&self, receipt: &str) -> Result<(), QueueError>;

    /// Ends a delivery without deleting: the message becomes visible again after `delay`
    /// (0..=12 h) to be retried; the delivery still counts toward the dead-letter limit.
    /// An expired, stale or spent receipt is `Ok(())` and changes nothing.
    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), QueueError>;

    /// Reads, without deleting or hiding them for long, up to `max` (1..=10) messages of
    /// the dead-letter queue: for tests and operators. May return fewer than there are.
    async fn dead_letters(&self, max: u32) -> Result<Vec<Message>, QueueError>;
}

/// The most messages one `receive` returns (SQS's limit).
pub const MAX_BATCH: u32 = 10;
/// The longest `send` delay (SQS's DelaySeconds limit).
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// The longest visibility timeout, also the longest `release` delay (SQS's limit).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
/// The longest long-poll wait (SQS's WaitTimeSeconds limit).
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// The largest body, in bytes of UTF-8 (SQS's classic limit, kept for every adapter).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The largest `max_receives` (SQS's maxReceiveCount limit).
pub const MAX_RECEIVES: u32 = 1000;
