//! The SQS batch driver of every queue-fed Lambda: a batch's records are handled
//! concurrently, each in a tracing span carrying its message id and within a time budget
//! below the invocation's deadline; the ones that fail, panic or run out of time are reported
//! as batch item failures, so only they return to the queue (and, after the redrive limit, to
//! the dead-letter queue) while the rest of the batch is done. One slow dependency therefore
//! costs its own records a retry, never the whole batch a timeout.
//!
//! A panic is isolated to its record by unwinding, which is why the workspace's release
//! profile sets `panic = "unwind"`: cargo-lambda (and so `sam build`) builds with
//! `panic = "abort"` unless that profile names a strategy, and under abort one panicking job
//! would kill the process and fail the whole batch. Building this crate with abort is refused
//! outright rather than shipping a worker whose isolation silently does nothing.

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::Instrument;

#[cfg(panic = "abort")]
compile_error!(
    "the SQS batch driver isolates a panicking record by unwinding: build with \
     panic = \"unwind\" (the workspace's [profile.release] says so; keep it there, \
     cargo-lambda reads only that profile)"
);

/// What a record may take when the invocation gives no deadline (tests, local runs).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);
/// Kept back from the invocation's deadline to report the batch's outcome.
const ANSWER_MARGIN: Duration = Duration::from_secs(3);

/// Each record's time budget in an invocation that must answer by `deadline_ms` (the Lambda
/// context's deadline, epoch milliseconds).
pub fn budget_until(deadline_ms: u64) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_millis(deadline_ms)
        .saturating_sub(now)
        .saturating_sub(ANSWER_MARGIN)
        .max(Duration::from_secs(1))
}

/// Runs a batch of `axhub_app::jobs::Job` records (the deploy and bootstrap workers): each
/// record is one job, and a job that asks to run again later is sent to `queue` with its
/// delay.
pub async fn drive_jobs(
    deps: &axhub_app::Deps,
    queue: &dyn axhub_ports::queue::Queue,
    event: SqsEvent,
    budget: Duration,
) -> SqsBatchResponse {
    drive(event, budget, |record| async move {
        axhub_runtime::handle_job(deps, queue, record.body.as_deref().unwrap_or_default()).await
    })
    .await
}

/// Handles every record of `event` with `handle`, all at once, each within `budget`. A
/// record whose handler returns an error, panics or runs past the budget is listed in the
/// response's `batch_item_failures` (a handler cut off at the budget is dropped at an await:
/// every job is idempotent, so its redelivery finishes what it started).
pub async fn drive<F, Fut, E>(event: SqsEvent, budget: Duration, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let runs = event.records.into_iter().map(|record| {
        let id = record.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("sqs_record", message_id = %id);
        let work = catch_panic(handle(record)).instrument(span.clone());
        async move {
            let outcome = tokio::time::timeout(budget, work).await;
            let _entered = span.enter();
            let failed = match outcome {
                Ok(Ok(Ok(()))) => false,
                Ok(Ok(Err(e))) => {
                    tracing::warn!(error = %e, "record failed; it goes back to the queue");
                    true
                }
                Ok(Err(panic)) => {
                    tracing::error!(panic = %panic, "record panicked; it goes back to the queue");
                    true
                }
                Err(_) => {
                    tracing::warn!(
                        budget_ms = budget.as_millis() as u64,
                        "record ran out of time; it goes back to the queue"
                    );
                    true
                }
            };
            failed.then_some(id)
        }
    });
    let mut response = SqsBatchResponse::default();
    for id in futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
    {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// Runs a future, turning a panic inside it into `Err(the panic's message)`.
async fn catch_panic<F: Future>(f: F) -> Result<F::Output, String> {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(payload) => std::task::Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    })
    .await
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(ids: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = ids
            .iter()
            .map(|id| {
                let mut m = SqsMessage::default();
                m.message_id = Some((*id).to_owned());
                m.body = Some(format!("body of {id}"));
                m
            })
            .collect();
        event
    }

    fn failed(r: &SqsBatchResponse) -> Vec<&str> {
        r.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn only_the_records_that_fail_or_panic_go_back() {
        let mut seen = Vec::new();
        let r = drive(batch(&["a", "b", "c", "d"]), DEFAULT_BUDGET, |m| {
            seen.push(m.body.clone().unwrap_or_default());
            async move {
                match m.message_id.as_deref() {
                    Some("b") => Err("no such deployment"),
                    Some("c") => panic!("job blew up"),
                    _ => Ok(()),
                }
            }
        })
        .await;
        assert_eq!(failed(&r), ["b", "c"]);
        assert_eq!(seen.len(), 4, "the records after the panic still ran");
    }

    #[tokio::test]
    async fn a_panic_after_an_await_is_caught_too() {
        let r = drive(batch(&["x"]), DEFAULT_BUDGET, |_| async {
            tokio::task::yield_now().await;
            if true {
                panic!("late");
            }
            Ok::<(), String>(())
        })
        .await;
        assert_eq!(failed(&r), ["x"]);
    }

    #[tokio::test]
    async fn a_slow_record_runs_out_of_its_budget_alone_while_the_others_finish() {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let r = drive(
            batch(&["a", "slow", "b", "c"]),
            Duration::from_millis(300),
            |m| {
                let done = done.clone();
                async move {
                    if m.message_id.as_deref() == Some("slow") {
                        // A dependency that never answers.
                        std::future::pending::<()>().await;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok::<(), String>(())
                }
            },
        )
        .await;
        assert_eq!(failed(&r), ["slow"]);
        assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn a_budget_stays_below_the_deadline() {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let b = budget_until(now_ms + 120_000);
        assert!(
            b < Duration::from_secs(118) && b > Duration::from_secs(100),
            "{b:?}"
        );
        assert_eq!(budget_until(now_ms), Duration::from_secs(1));
    }

    #[test]
    fn the_panic_message_is_kept() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "boom 7");
    }

    /// cargo-lambda reads the release profile of the workspace's own Cargo.toml and adds
    /// `--config profile.release.panic="abort"` unless it names a strategy: this is the
    /// setting the shipped workers are built with.
    #[test]
    fn the_release_profile_cargo_lambda_uses_unwinds() {
        let manifest = include_str!("../../../Cargo.toml");
        let mut section = "";
        let mut panic = None;
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line;
            } else if section == "[profile.release]"
                && let Some((key, value)) = line.split_once('=')
                && key.trim() == "panic"
            {
                panic = Some(value.trim().trim_matches('"').to_owned());
            }
        }
        assert_eq!(panic.as_deref(), Some("unwind"), "[profile.release] panic");
    }
}
