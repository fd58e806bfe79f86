//! The deploy worker: each SQS record is a pipeline job, handled by the shared batch driver
//! (`axhub_lambda::sqs`): a job that fails or panics goes back to the queue alone (and,
//! after the redrive limit, to the dead-letter queue); one bad record never fails the others.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use axhub_app::Deps;
use axhub_queue::Queue;

/// Handles a batch, each job within `budget`; `queue` is the deploy queue (for follow-up
/// jobs of running builds).
pub async fn handle(
    deps: &Deps,
    queue: &dyn Queue,
    event: SqsEvent,
    budget: std::time::Duration,
) -> SqsBatchResponse {
    axhub_lambda::sqs::drive_jobs(deps, queue, event, budget).await
}
