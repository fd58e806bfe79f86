//! The conformance suite every `Queue` adapter must pass. Adapters instantiate it with
//! `axhub_queue::queue_conformance_tests!(make)`, where `make` is an async function (or
//! closure) `Fn(max_receives: u32) -> impl Future<Output = Arc<dyn Queue>>` that gives a
//! fresh, empty queue of its own on every call. It expands to one `#[tokio::test]` per case,
//! so a failure names the rule that broke.
//!
//! Timing: the suite runs against real services and against moto, whose server handles one
//! request at a time (infra/moto.sh), so any call may be delayed by another test's long
//! poll. No check here depends on a call being fast: "still hidden" is asserted only when the
//! observing call *finished* inside the hiding window, and "not before" is asserted against
//! the time the observing call finished, which is never earlier than when the backend acted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Message, Queue, QueueError};

/// The `max_receives` of every case that does not test dead-lettering.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;
/// The `max_receives` of the dead-letter case.
pub const POISON_MAX_RECEIVES: u32 = 2;

const NO_WAIT: Duration = Duration::ZERO;
/// A visibility timeout that outlasts every case: the message is not redelivered meanwhile.
const LONG: Duration = Duration::from_secs(30);
/// The short timeouts and delays whose expiry the cases wait for.
const SHORT: Duration = Duration::from_secs(1);
/// How long to keep polling for something that must arrive.
const PATIENCE: Duration = Duration::from_secs(15);
const POLL_PAUSE: Duration = Duration::from_millis(50);
/// Clock granularity: a backend storing milliseconds may act up to 1 ms early.
const TOLERANCE: Duration = Duration::from_millis(20);

/// A name no other test run uses (for queues on shared backends).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// Receives without waiting, again and again, until something comes; returns it and the
/// moment the successful call finished. Short polls keep moto's one-at-a-time server free.
async fn poll(q: &dyn Queue, max: u32, visibility: Duration) -> (Vec<Message>, Instant) {
    let (got, _, finished) = poll_timed(q, max, visibility).await;
    (got, finished)
}

/// `poll`, also returning when the successful call started: the backend hid the messages
/// no earlier than that.
async fn poll_timed(
    q: &dyn Queue,
    max: u32,
    visibility: Duration,
) -> (Vec<Message>, Instant, Instant) {
    let start = Instant::now();
    loop {
        let call = Instant::now();
        let got = q.receive(max, visibility, NO_WAIT).await.unwrap();
        if !got.is_empty() {
            return (got, call, Instant::now());
        }
        assert!(
            start.elapsed() < PATIENCE,
            "nothing was delivered within {PATIENCE:?}"
        );
        tokio::time::sleep(POLL_PAUSE).await;
    }
}

fn only(got: Vec<Message>, id: &str) -> Message {
    assert_eq!(got.len(), 1, "expected exactly message {id}, got {got:?}");
    let m = got.into_iter().next().unwrap();
    assert_eq!(m.id, id);
    m
}

/// Asserts that nothing is delivered while the queue's only message must be hidden (until
/// `until`). When the observing call finishes too late to tell, the check is skipped; if it
/// delivered the message (with visibility `LONG`), that delivery is returned to go on with.
async fn assert_hidden(q: &dyn Queue, until: Instant, what: &str) -> Option<Vec<Message>> {
    let got = q.receive(10, LONG, NO_WAIT).await.unwrap();
    if Instant::now() < until {
        assert!(got.is_empty(), "{what}: delivered while hidden: {got:?}");
        None
    } else {
        eprintln!("{what}: the check came too late to be conclusive; skipped");
        (!got.is_empty()).then_some(got)
    }
}

/// Waits for the next delivery (visibility `LONG`), or takes one `assert_hidden` already got.
async fn next_delivery(q: &dyn Queue, early: Option<Vec<Message>>) -> (Vec<Message>, Instant) {
    match early {
        Some(got) => (got, Instant::now()),
        None => poll(q, 10, LONG).await,
    }
}

fn assert_not_before(delivered: Instant, earliest: Instant, what: &str) {
    assert!(
        delivered + TOLERANCE >= earliest,
        "{what}: delivered {:?} too early",
        earliest - delivered
    );
}

/// Sent, received with its body intact, acked: never delivered again. Acking twice, or
/// releasing an acked delivery, changes nothing.
pub async fn send_receive_ack(q: Arc<dyn Queue>) {
    let body = "héllo ✓ {\"job\": [1, 2]}\n\t𝄞";
    let id = q.send(body, NO_WAIT).await.unwrap();
    assert!(!id.is_empty());
    let (got, _) = poll(&*q, 10, LONG).await;
    let m = only(got, &id);
    assert_eq!(m.body, body);
    assert_eq!(m.receive_count, 1);
    assert!(!m.receipt.is_empty());
    q.ack(&m.receipt).await.unwrap();
    q.ack(&m.receipt).await.unwrap();
    q.release(&m.receipt, NO_WAIT).await.unwrap();
    // A long poll: a short one on SQS may miss messages that are there.
    let got = q.receive(10, LONG, SHORT).await.unwrap();
    assert!(got.is_empty(), "an acked message came back: {got:?}");
}

/// Received but not acked: hidden for the visibility timeout, then delivered again with
/// receive_count 2 and a new receipt.
pub async fn visibility_timeout_redelivers(q: Arc<dyn Queue>) {
    let id = q.send("job", NO_WAIT).await.unwrap();
    let (got, t0, _) = poll_timed(&*q, 10, SHORT).await;
    let first = only(got, &id);
    assert_eq!(first.receive_count, 1);
    let early = assert_hidden(&*q, t0 + SHORT, "within the visibility timeout").await;
    let (got, at) = next_delivery(&*q, early).await;
    let second = only(got, &id);
    assert_not_before(at, t0 + SHORT, "redelivery");
    assert_eq!(second.receive_count, 2);
    assert_eq!(second.body, "job");
    assert_ne!(second.receipt, first.receipt);
    q.ack(&second.receipt).await.unwrap();
}

/// `release` makes a delivered message visible again after its delay (or at once), and
/// every delivery counts.
pub async fn release_makes_visible_after_delay(q: Arc<dyn Queue>) {
    let id = q.send("retry me", NO_WAIT).await.unwrap();
    let (got, _) = poll(&*q, 10, LONG).await;
    let first = only(got, &id);
    let t = Instant::now();
    q.release(&first.receipt, SHORT).await.unwrap();
    let early = assert_hidden(&*q, t + SHORT, "within the release delay").await;
    let (got, at) = next_delivery(&*q, early).await;
    let second = only(got, &id);
    assert_not_before(at, t + SHORT, "released message");
    assert_eq!(second.receive_count, 2);
    // Released without delay: back at once (well within the 30 s it was hidden for).
    q.release(&second.receipt, NO_WAIT).await.unwrap();
    let (got, _) = poll(&*q, 10, LONG).await;
    let third = only(got, &id);
    assert_eq!(third.receive_count, 3);
    q.ack(&third.receipt).await.unwrap();
}

/// A delayed message is not delivered before its delay has passed.
pub async fn delayed_send_is_hidden_until_due(q: Arc<dyn Queue>) {
    let t = Instant::now();
    let id = q.send("later", SHORT).await.unwrap();
    let early = assert_hidden(&*q, t + SHORT, "before the send delay").await;
    let (got, at) = next_delivery(&*q, early).await;
    let m = only(got, &id);
    assert_not_before(at, t + SHORT, "delayed message");
    assert_eq!(m.receive_count, 1);
    assert_eq!(m.body, "later");
    q.ack(&m.receipt).await.unwrap();
}

/// Receives return at most `max` messages, and every one of 25 messages is delivered
/// exactly once when each is acked.
pub async fn batches_deliver_everything_once(q: Arc<dyn Queue>) {
    let mut sent = HashMap::new();
    for i in 0..25 {
        let body = format!("m{i:02}");
        let id = q.send(&body, NO_WAIT).await.unwrap();
        assert!(sent.insert(id, body).is_none(), "two sends, one id");
    }
    let mut seen = HashSet::new();
    let mut biggest = 0;
    let (first, _) = poll(&*q, 3, LONG).await;
    check_batch(&first, 3, &sent, &mut seen, &mut biggest);
    for m in first {
        q.ack(&m.receipt).await.unwrap();
    }
    let start = Instant::now();
    while seen.len() < sent.len() {
        assert!(
            start.elapsed() < PATIENCE,
            "only {} of {} delivered",
            seen.len(),
            sent.len()
        );
        let batch = q.receive(10, LONG, NO_WAIT).await.unwrap();
        if batch.is_empty() {
            tokio::time::sleep(POLL_PAUSE).await;
        }
        check_batch(&batch, 10, &sent, &mut seen, &mut biggest);
        for m in batch {
            q.ack(&m.receipt).await.unwrap();
        }
    }
    assert!(biggest > 1, "every receive returned a single message");
    let rest = q.receive(10, LONG, NO_WAIT).await.unwrap();
    assert!(rest.is_empty(), "acked messages came back: {rest:?}");
}

fn check_batch(
    batch: &[Message],
    max: usize,
    sent: &HashMap<String, String>,
    seen: &mut HashSet<String>,
    biggest: &mut usize,
) {
    assert!(batch.len() <= max, "{} messages for max {max}", batch.len());
    *biggest = (*biggest).max(batch.len());
    for m in batch {
        assert_eq!(sent.get(&m.id), Some(&m.body), "unknown message {m:?}");
        assert!(seen.insert(m.id.clone()), "delivered twice: {m:?}");
        assert_eq!(m.receive_count, 1);
    }
}

/// A message delivered `max_receives` times and never acked (once timed out, then
/// released) goes to the dead-letter queue on the next receive: never delivered again, read
/// by `dead_letters` as often as asked, while other messages flow on.
pub async fn dead_letter_after_max_receives(q: Arc<dyn Queue>, max_receives: u32) {
    assert!(max_receives >= 2, "the case needs at least two deliveries");
    let poison = q.send("poison", NO_WAIT).await.unwrap();
    let (got, _) = poll(&*q, 10, SHORT).await;
    assert_eq!(only(got, &poison).receive_count, 1);
    // Delivery 1 times out; deliveries 2..=max_receives are released at once.
    for n in 2..=max_receives {
        let (got, _) = poll(&*q, 10, LONG).await;
        let m = only(got, &poison);
        assert_eq!(m.receive_count, n);
        q.release(&m.receipt, NO_WAIT).await.unwrap();
    }
    let good = q.send("good", NO_WAIT).await.unwrap();
    let (got, _) = poll(&*q, 10, LONG).await;
    let m = only(got, &good);
    q.ack(&m.receipt).await.unwrap();

    let start = Instant::now();
    let dead = loop {
        let dead = q.dead_letters(10).await.unwrap();
        if !dead.is_empty() {
            break dead;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no dead letter within {PATIENCE:?}"
        );
        let got = q.receive(10, LONG, NO_WAIT).await.unwrap();
        assert!(got.is_empty(), "a dead message was delivered: {got:?}");
        tokio::time::sleep(POLL_PAUSE).await;
    };
    let d = only(dead, &poison);
    assert_eq!(d.body, "poison");
    assert!(d.receive_count >= max_receives, "{d:?}");
    assert!(
        d.receipt.is_empty(),
        "dead letters are not deliveries: {d:?}"
    );
    // Reading dead letters neither deletes nor hides them.
    let again = q.dead_letters(10).await.unwrap();
    assert_eq!(only(again, &poison).body, "poison");
    let got = q.receive(10, LONG, SHORT).await.unwrap();
    assert!(got.is_empty(), "a dead message was delivered: {got:?}");
}

/// Four receivers at once: no message is delivered to two of them within its visibility
/// window, and all are delivered.
pub async fn concurrent_receivers_never_share_a_message(q: Arc<dyn Queue>) {
    const N: usize = 20;
    let mut sent = HashSet::new();
    for i in 0..N {
        sent.insert(q.send(&format!("c{i}"), NO_WAIT).await.unwrap());
    }
    let got: Arc<Mutex<Vec<(usize, Message)>>> = Arc::default();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let q = q.clone();
        let got = got.clone();
        tasks.push(tokio::spawn(async move {
            while got.lock().unwrap().len() < N && start.elapsed() < PATIENCE {
                let batch = q.receive(3, LONG, NO_WAIT).await.unwrap();
                if batch.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                got.lock()
                    .unwrap()
                    .extend(batch.into_iter().map(|m| (worker, m)));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = std::mem::take(&mut *got.lock().unwrap());
    let mut seen = HashMap::new();
    for (worker, m) in &got {
        if let Some(other) = seen.insert(m.id.clone(), *worker) {
            panic!("message {} went to workers {other} and {worker}", m.id);
        }
    }
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), sent);
    for (_, m) in got {
        q.ack(&m.receipt).await.unwrap();
    }
}

/// A receipt whose window has passed does nothing: neither before the message is delivered
/// again (it is not deleted) nor after (it cannot ack or release the new delivery).
pub async fn stale_receipt_cannot_touch_a_new_delivery(q: Arc<dyn Queue>) {
    let id = q.send("job", NO_WAIT).await.unwrap();
    let (got, received) = poll(&*q, 10, SHORT).await;
    let first = only(got, &id);
    // Expired, not yet delivered again: ack and release are no-ops.
    tokio::time::sleep_until((received + SHORT + Duration::from_millis(100)).into()).await;
    q.ack(&first.receipt).await.unwrap();
    q.release(&first.receipt, LONG).await.unwrap();
    let (got, _) = poll(&*q, 10, LONG).await;
    let second = only(got, &id);
    assert_eq!(
        second.receive_count, 2,
        "the expired ack deleted the message"
    );
    // Stale: the message is in flight again under another receipt.
    q.ack(&first.receipt).await.unwrap();
    q.release(&first.receipt, NO_WAIT).await.unwrap();
    let got = q.receive(10, LONG, NO_WAIT).await.unwrap();
    assert!(
        got.is_empty(),
        "a stale release un-hid the new delivery: {got:?}"
    );
    // The second delivery is intact: its own receipt still works.
    q.release(&second.receipt, NO_WAIT).await.unwrap();
    let (got, _) = poll(&*q, 10, LONG).await;
    let third = only(got, &id);
    assert_eq!(third.receive_count, 3, "the stale ack deleted the message");
    q.ack(&third.receipt).await.unwrap();
}

/// `wait` bounds a long poll: an empty queue answers after about `wait`, and a message that
/// becomes visible during the wait is returned at once.
pub async fn long_poll_waits_up_to_wait(q: Arc<dyn Queue>) {
    let t = Instant::now();
    let got = q.receive(10, LONG, SHORT).await.unwrap();
    let took = t.elapsed();
    assert!(got.is_empty());
    assert!(
        took + TOLERANCE >= SHORT,
        "returned after {took:?}, before the wait"
    );
    let t = Instant::now();
    let id = q.send("soon", SHORT).await.unwrap();
    let wait = Duration::from_secs(5);
    let got = q.receive(10, LONG, wait).await.unwrap();
    let took = t.elapsed();
    let m = only(got, &id);
    assert!(
        took + TOLERANCE >= SHORT,
        "delivered after {took:?}, before its delay"
    );
    assert!(
        took < wait - Duration::from_millis(500),
        "took {took:?}: the long poll did not return when the message arrived"
    );
    q.ack(&m.receipt).await.unwrap();
}

/// Every adapter refuses the same requests, before touching the backend.
pub async fn invalid_requests_are_refused(q: Arc<dyn Queue>) {
    let invalid = |r: Result<(), QueueError>, what: &str| {
        assert!(
            matches!(r, Err(QueueError::InvalidRequest(_))),
            "{what}: {r:?}"
        );
    };
    let secs = Duration::from_secs;
    invalid(q.send("", NO_WAIT).await.map(drop), "empty body");
    invalid(q.send("a\u{0}b", NO_WAIT).await.map(drop), "NUL in body");
    invalid(q.send("x", secs(901)).await.map(drop), "delay > 900 s");
    invalid(q.receive(0, LONG, NO_WAIT).await.map(drop), "max 0");
    invalid(q.receive(11, LONG, NO_WAIT).await.map(drop), "max 11");
    invalid(
        q.receive(1, secs(12 * 3600 + 1), NO_WAIT).await.map(drop),
        "visibility > 12 h",
    );
    invalid(q.receive(1, LONG, secs(21)).await.map(drop), "wait > 20 s");
    invalid(q.ack("").await, "empty receipt");
    invalid(q.ack("not a receipt").await, "not a receipt");
    invalid(q.release("not a receipt", NO_WAIT).await, "not a receipt");
    invalid(q.dead_letters(0).await.map(drop), "dead_letters 0");
    invalid(q.dead_letters(11).await.map(drop), "dead_letters 11");
    // Refused requests left nothing behind.
    let got = q.receive(10, LONG, NO_WAIT).await.unwrap();
    assert!(got.is_empty(), "{got:?}");
}

/// Expands to one `#[tokio::test]` per conformance case. `$make` is called as
/// `$make(max_receives).await` and must give a fresh `Arc<dyn Queue>` of its own.
#[macro_export]
macro_rules! queue_conformance_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_send_receive_ack() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::DEFAULT_MAX_RECEIVES).await;
            $crate::conformance::send_receive_ack(q).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_visibility_timeout_redelivers() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::DEFAULT_MAX_RECEIVES).await;
            $crate::conformance::visibility_timeout_redelivers(q).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_release_makes_visible_after_delay() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::DEFAULT_MAX_RECEIVES).await;
            $crate::conformance::release_makes_visible_after_delay(q).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_delayed_send_is_hidden_until_due() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::DEFAULT_MAX_RECEIVES).await;
            $crate::conformance::delayed_send_is_hidden_until_due(q).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_batches_deliver_everything_once() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::DEFAULT_MAX_RECEIVES).await;
            $crate::conformance::batches_deliver_everything_once(q).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_dead_letter_after_max_receives() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::POISON_MAX_RECEIVES).await;
            $crate::conformance::dead_letter_after_max_receives(
                q,
                $crate::conformance::POISON_MAX_RECEIVES,
            )
            .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_concurrent_receivers_never_share_a_message() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::DEFAULT_MAX_RECEIVES).await;
            $crate::conformance::concurrent_receivers_never_share_a_message(q).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_stale_receipt_cannot_touch_a_new_delivery() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::DEFAULT_MAX_RECEIVES).await;
            $crate::conformance::stale_receipt_cannot_touch_a_new_delivery(q).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_long_poll_waits_up_to_wait() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::DEFAULT_MAX_RECEIVES).await;
            $crate::conformance::long_poll_waits_up_to_wait(q).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue_invalid_requests_are_refused() {
            let q: std::sync::Arc<dyn $crate::Queue> =
                ($make)($crate::conformance::DEFAULT_MAX_RECEIVES).await;
            $crate::conformance::invalid_requests_are_refused(q).await;
        }
    };
}
