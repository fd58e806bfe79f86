//! The outbox sweeper (DESIGN §5): domain events and background jobs are written in the unit of
//! work of the change that causes them (`state::UnitOfWork`), published right after commit,
//! and whatever a dead process left pending is re-published here. Publishing is
//! at-least-once: consumers dedupe by id or are idempotent.

use std::time::Duration;

use axhub_domain::Error;
use uuid::Uuid;

use crate::Deps;
use crate::state::outbox::{deliver, pending, record_failure};

/// Re-publishes pending entries older than `min_age` (their writer died or its publish
/// failed), oldest first, at most `max` per call. Returns how many were published. An entry
/// that keeps failing is parked after `MAX_PUBLISH_ATTEMPTS` sweeps, so it cannot hold back
/// the entries behind it.
pub async fn sweep(deps: &Deps, min_age: Duration, max: u32) -> Result<usize, Error> {
    let cutoff = deps.now() - min_age;
    let mut published = 0;
    for (id, entry) in pending(deps, max).await? {
        if uuid_time(id).is_some_and(|t| t > cutoff) {
            // Young entries are being published by their writer right now.
            break;
        }
        if deliver(deps, id, &entry).await {
            published += 1;
        } else if deps.publisher.is_some() {
            record_failure(deps, id).await;
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
