//! The deploy worker: each SQS record is a pipeline job. Records that fail are reported as
//! batch item failures, so only they return to the queue (and, after the redrive limit, to
//! the dead-letter queue); one bad record never fails the others.

use std::panic::AssertUnwindSafe;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use axhub_app::Deps;
use axhub_queue::Queue;

/// Handles a batch; `queue` is the deploy queue (for follow-up jobs of running builds).
pub async fn handle(deps: &Deps, queue: &dyn Queue, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.unwrap_or_default();
        // A panic in one job must not take the batch down with it.
        let outcome = catch_panic(axhub_runtime::handle_job(deps, queue, &body)).await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(message_id = %id, error = %e, "job failed");
                failures.push(id);
            }
            Err(()) => {
                tracing::error!(message_id = %id, "job panicked");
                failures.push(id);
            }
        }
    }
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failures
        .into_iter()
        .map(|item_identifier| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = item_identifier;
            f
        })
        .collect();
    resp
}

/// Runs a future, turning a panic inside it into `Err(())`.
async fn catch_panic<F: std::future::Future>(f: F) -> Result<F::Output, ()> {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_caught_and_reported_not_propagated() {
        let ok = catch_panic(async { 7 }).await;
        assert_eq!(ok, Ok(7));
        let boom = catch_panic(async {
            if ok.is_ok() {
                panic!("job blew up");
            }
            0
        })
        .await;
        assert_eq!(boom, Err(()));
    }
}
