//! The runtime-log port: where an app's container output is read from (CloudWatch Logs in
//! AWS, the simulated cluster's log book in axhub-local and tests).
//!
//! A [`LogSource`] answers one kind of question: the lines of one app strictly between two
//! [`Position`]s, in ascending or descending position order, at most so many. Positions order
//! lines by time, then by a key of the backend's stable line id (`axhub_domain::logs`), so
//! every read of the same lines agrees on their order, also within one millisecond. A line
//! that reaches the backend late simply appears at its position from then on.
//!
//! How the use case pages with it, backward by position and forward with a lateness window,
//! is [`backward_page`] and [`forward_page`]; the conformance suite (`conformance`) reads
//! through them too, so every adapter is held to what the route gives.

pub mod conformance;

use async_trait::async_trait;
use axhub_domain::logs::{LogLine, Position, TailWindow};
use uuid::Uuid;

/// Whose lines: every container of every environment of one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogScope {
    pub tenant_id: Uuid,
    pub app_id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// One read: the lines with `after < position < before` (an absent bound is open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRead {
    pub scope: LogScope,
    pub after: Option<Position>,
    pub before: Option<Position>,
    pub order: Order,
    pub limit: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The backend cannot answer now (down, throttled, timed out): retry later.
    #[error("log backend unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the read (permissions, a malformed request): the operators'.
    #[error("log backend refused the read: {0}")]
    Refused(String),
}

#[async_trait]
pub trait LogSource: Send + Sync {
    /// The scope's lines inside the read's bounds, in its order of position, at most
    /// `limit` (fewer only when no more lie inside the bounds). An app that never logged
    /// has no lines, not an error.
    async fn read(&self, read: &LogRead) -> Result<Vec<LogLine>, LogError>;
}

/// A page into the past: the newest `limit` lines before `before` (and after `after`), in
/// ascending order, and where the next older page ends (None when none is left).
pub async fn backward_page(
    source: &dyn LogSource,
    scope: LogScope,
    after: Option<Position>,
    before: Option<Position>,
    limit: usize,
) -> Result<(Vec<LogLine>, Option<Position>), LogError> {
    let mut lines = source
        .read(&LogRead {
            scope,
            after,
            before,
            order: Order::Descending,
            limit: limit + 1,
        })
        .await?;
    let more = lines.len() > limit;
    lines.truncate(limit);
    lines.reverse();
    let next = if more {
        lines.first().map(LogLine::position)
    } else {
        None
    };
    Ok((lines, next))
}

/// The next page of a tail: up to `limit` lines after the window's floor (and before
/// `before`) that it has not returned yet, in ascending order; the window takes them in.
/// Reading `limit + seen` lines is enough: at most `seen` of them are repeats.
pub async fn forward_page(
    source: &dyn LogSource,
    scope: LogScope,
    window: &mut TailWindow,
    before: Option<Position>,
    limit: usize,
) -> Result<Vec<LogLine>, LogError> {
    let read = source
        .read(&LogRead {
            scope,
            after: Some(window.floor),
            before,
            order: Order::Ascending,
            limit: limit + window.seen.len(),
        })
        .await?;
    let lines: Vec<LogLine> = read
        .into_iter()
        .filter(|l| !window.has_seen(&l.position()))
        .take(limit)
        .collect();
    window.advance(lines.iter().map(LogLine::position));
    Ok(lines)
}
