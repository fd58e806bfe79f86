//! The bootstrap worker: each SQS record is one step of an app bootstrap saga
//! (`axhub_app::bootstrap::saga`), handled by the shared batch driver (`axhub_lambda::sqs`):
//! a step that fails goes back to the queue alone (after the redrive limit, to the
//! dead-letter queue); one bad record never fails the others.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use axhub_app::Deps;
use axhub_queue::Queue;

/// Handles a batch, each step within `budget`; `queue` is the bootstrap queue (a step that
/// waits, for a rate limit or a rollout, is sent to it again with a delay).
pub async fn handle(
    deps: &Deps,
    queue: &dyn Queue,
    event: SqsEvent,
    budget: std::time::Duration,
) -> SqsBatchResponse {
    axhub_lambda::sqs::drive_jobs(deps, queue, event, budget).await
}
