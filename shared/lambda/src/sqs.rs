//! The SQS batch driver of every queue-fed Lambda: records are handled one at a time, each in
//! a tracing span carrying its message id; the ones that fail or panic are reported as batch
//! item failures, so only they return to the queue (and, after the redrive limit, to the
//! dead-letter queue) while the rest of the batch is done.
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

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::Instrument;

#[cfg(panic = "abort")]
compile_error!(
    "the SQS batch driver isolates a panicking record by unwinding: build with \
     panic = \"unwind\" (the workspace's [profile.release] says so; keep it there, \
     cargo-lambda reads only that profile)"
);

/// Handles every record of `event` with `handle`, in order. A record whose handler returns
/// an error or panics is listed in the response's `batch_item_failures`.
pub async fn drive<F, Fut, E>(event: SqsEvent, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("sqs_record", message_id = %id);
        let outcome = catch_panic(handle(record)).instrument(span.clone()).await;
        let _entered = span.enter();
        let failed = match outcome {
            Ok(Ok(())) => false,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "record failed; it goes back to the queue");
                true
            }
            Err(panic) => {
                tracing::error!(panic = %panic, "record panicked; it goes back to the queue");
                true
            }
        };
        if failed {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
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
        let r = drive(batch(&["a", "b", "c", "d"]), |m| {
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
        let r = drive(batch(&["x"]), |_| async {
            tokio::task::yield_now().await;
            if true {
                panic!("late");
            }
            Ok::<(), String>(())
        })
        .await;
        assert_eq!(failed(&r), ["x"]);
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
