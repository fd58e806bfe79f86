//! The conformance suite of the runtime-log port: every adapter runs it, through the same
//! paging the route uses (`backward_page`, `forward_page`), with more than 10,000 lines.
//!
//! Lines are told apart by their messages (each is unique): the backend gives ids.
#![allow(clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axhub_domain::logs::{LogLine, Position, TailWindow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{LogScope, LogSource, backward_page, forward_page};

/// How the suite puts lines into the backend, as the cluster's log shipper would: a batch
/// may hold several pods' lines and lines older than ones already written (late arrivals).
#[async_trait]
pub trait LogWriter: Send + Sync {
    async fn write(&self, scope: &LogScope, lines: Vec<LogLine>);
}

/// An adapter under test and the way to feed it.
pub struct Harness {
    pub source: Arc<dyn LogSource>,
    pub writer: Arc<dyn LogWriter>,
    /// Whether the backend keeps stdout and stderr apart (the Kubernetes log API merges
    /// them); when it does not, streams are not compared.
    pub streams_known: bool,
}

/// Lines of the history test; the tail test writes as many.
pub const LINES: usize = 10_000;

fn scope() -> LogScope {
    LogScope {
        tenant_id: Uuid::now_v7(),
        app_id: Uuid::now_v7(),
    }
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn line(ms: i64, pod: &str, n: usize) -> LogLine {
    let stream = if n.is_multiple_of(3) {
        "stderr"
    } else {
        "stdout"
    };
    LogLine {
        timestamp_ms: ms,
        id: format!("{pod}/app/{stream}/{n}"),
        stream: stream.into(),
        pod: pod.into(),
        container: "app".into(),
        message: format!("line {n:05}"),
    }
}

const PODS: [&str; 3] = ["web-7d9f-a", "web-7d9f-b", "web-7d9f-c"];

/// Asserts `got` holds each message of `0..count` once, in ascending positions.
fn assert_each_once(got: &[LogLine], count: usize) {
    let mut times: HashMap<&str, usize> = HashMap::new();
    for l in got {
        *times.entry(l.message.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = times.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(repeated.is_empty(), "lines returned twice: {repeated:?}");
    let missing: Vec<_> = (0..count)
        .map(|n| format!("line {n:05}"))
        .filter(|m| !times.contains_key(m.as_str()))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "lines never returned: {missing:?}");
    assert_eq!(got.len(), count);
}

/// 10,000 lines of three pods, eight per millisecond: backward pages joined are the whole
/// history in order; bounds by time hold; another app sees none of it.
pub async fn history_pages_backward_in_order(h: &Harness) {
    let app = scope();
    let base = now_ms() - 3_600_000;
    let lines: Vec<LogLine> = (0..LINES)
        .map(|n| line(base + (n / 8) as i64, PODS[n % 3], n))
        .collect();
    for batch in lines.chunks(2_500) {
        h.writer.write(&app, batch.to_vec()).await;
    }

    let mut joined: Vec<LogLine> = Vec::new();
    let mut before: Option<Position> = None;
    let mut pages = 0;
    loop {
        // 997: pages end inside a millisecond's burst.
        let (page, next) = backward_page(&*h.source, app, None, before, 997)
            .await
            .expect("backward page");
        pages += 1;
        assert!(page.windows(2).all(|w| w[0].position() < w[1].position()));
        joined.splice(0..0, page);
        match next {
            Some(p) => before = Some(p),
            None => break,
        }
    }
    assert_eq!(pages, LINES.div_ceil(997));
    assert!(joined.windows(2).all(|w| w[0].position() < w[1].position()));
    assert_each_once(&joined, LINES);
    for l in &joined {
        let n: usize = l.message[5..].parse().expect("message number");
        assert_eq!(l.timestamp_ms, base + (n / 8) as i64, "{l:?}");
        assert_eq!(l.pod, PODS[n % 3]);
        assert_eq!(l.container, "app");
        if h.streams_known {
            assert_eq!(
                l.stream,
                if n.is_multiple_of(3) {
                    "stderr"
                } else {
                    "stdout"
                }
            );
        }
    }

    // Milliseconds 100 to 109, both included: 80 lines.
    let (window, next) = backward_page(
        &*h.source,
        app,
        Some(Position::before_ms(base + 100)),
        Some(Position::after_ms(base + 109)),
        1_000,
    )
    .await
    .expect("bounded page");
    assert_eq!(next, None);
    assert_eq!(window.len(), 80);
    assert!(
        window
            .iter()
            .all(|l| (base + 100..=base + 109).contains(&l.timestamp_ms))
    );

    let (none, next) = backward_page(&*h.source, scope(), None, None, 10)
        .await
        .expect("an app that never logged");
    assert!(none.is_empty() && next.is_none());
}

/// A tail polls while 10,000 lines are written: bursts of one millisecond across three pods,
/// and each round a batch of late lines (behind lines already written and returned, within
/// the lateness window): it sees each line exactly once.
pub async fn a_tail_sees_each_line_once(h: &Harness) {
    const BURST: usize = 100;
    const LATE: usize = 25;
    const ROUNDS: usize = LINES / (BURST + LATE);
    let app = scope();
    let base = now_ms() - 600_000;
    let mut window = TailWindow::starting_at(base);

    let writer = h.writer.clone();
    let writing = tokio::spawn(async move {
        let mut n = 0;
        for round in 0..ROUNDS {
            let ms = base + 10 * round as i64;
            let burst: Vec<LogLine> = (0..BURST)
                .map(|i| {
                    n += 1;
                    line(ms, PODS[i % 3], n - 1)
                })
                .collect();
            writer.write(&app, burst).await;
            // Late: lines of the previous round's time, shipped after this round's burst.
            let late_ms = if round == 0 { ms } else { ms - 5 };
            let late: Vec<LogLine> = (0..LATE)
                .map(|_| {
                    n += 1;
                    line(late_ms, "worker-5c4b-a", n - 1)
                })
                .collect();
            writer.write(&app, late).await;
            tokio::task::yield_now().await;
        }
    });

    let mut got: Vec<LogLine> = Vec::new();
    loop {
        let done = writing.is_finished();
        let page = forward_page(&*h.source, app, &mut window, None, 150)
            .await
            .expect("forward page");
        assert!(page.windows(2).all(|w| w[0].position() < w[1].position()));
        let empty = page.is_empty();
        got.extend(page);
        if done && empty {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    writing.await.expect("writer");
    assert_each_once(&got, ROUNDS * (BURST + LATE));
}

/// Step by step: lines that arrive after the tail passed their time (of an earlier
/// millisecond inside the lateness window, and of the very millisecond it read last) come in
/// the next page, once; a line older than the window never does.
pub async fn late_lines_come_once(h: &Harness) {
    let app = scope();
    let t = now_ms() - 120_000;
    let mut window = TailWindow::starting_at(t - 60_000);
    h.writer
        .write(&app, (0..10).map(|n| line(t, PODS[n % 3], n)).collect())
        .await;
    // Full pages inside one millisecond's burst.
    let mut first = Vec::new();
    for expected in [4, 4, 2] {
        let page = forward_page(&*h.source, app, &mut window, None, 4)
            .await
            .expect("forward page");
        assert_eq!(page.len(), expected);
        first.extend(page);
    }
    assert!(first.windows(2).all(|w| w[0].position() < w[1].position()));
    assert_each_once(&first, 10);

    let mut late: Vec<LogLine> = (10..15).map(|n| line(t - 1_000, PODS[1], n)).collect();
    late.extend((15..20).map(|n| line(t, "worker-5c4b-a", n)));
    late.push(line(
        t - axhub_domain::logs::LATENESS_WINDOW_MS - 1_000,
        PODS[2],
        99,
    ));
    h.writer.write(&app, late).await;
    let second = forward_page(&*h.source, app, &mut window, None, 100)
        .await
        .expect("forward page");
    let mut messages: Vec<_> = second.iter().map(|l| l.message.clone()).collect();
    messages.sort();
    let expected: Vec<_> = (10..20).map(|n| format!("line {n:05}")).collect();
    assert_eq!(
        messages, expected,
        "the late lines, once, not the one past the window"
    );
    assert!(second.windows(2).all(|w| w[0].position() < w[1].position()));
    let third = forward_page(&*h.source, app, &mut window, None, 100)
        .await
        .expect("forward page");
    assert!(third.is_empty(), "nothing twice: {third:?}");
}

/// The suite as tests: `axhub_ports::log_conformance_tests!(make())`, where `make()` gives a
/// [`Harness`].
#[macro_export]
macro_rules! log_conformance_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn logs_history_pages_backward_in_order() {
            let h: $crate::logs::conformance::Harness = $make.await;
            $crate::logs::conformance::history_pages_backward_in_order(&h).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn logs_a_tail_sees_each_line_once() {
            let h: $crate::logs::conformance::Harness = $make.await;
            $crate::logs::conformance::a_tail_sees_each_line_once(&h).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn logs_late_lines_come_once() {
            let h: $crate::logs::conformance::Harness = $make.await;
            $crate::logs::conformance::late_lines_come_once(&h).await;
        }
    };
}
