//! The shared queue conformance suite on SQLite: in memory, and with many queues sharing
//! one database file the way axhub-local keeps them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axhub_queue::{Queue, conformance::unique_name};
use axhub_sqlite::SqliteQueue;

async fn make(max_receives: u32) -> Arc<dyn Queue> {
    Arc::new(SqliteQueue::in_memory("jobs", max_receives).expect("sqlite"))
}

axhub_queue::queue_conformance_tests!(make);

/// One database file per test process, shared by every test's queue (each under its own
/// name), so the suite also shows that names keep queues apart.
fn shared_file() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("axhub-sqlite-queue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("queues.db")
}

mod on_one_file {
    use super::*;

    async fn make(max_receives: u32) -> Arc<dyn Queue> {
        let name = unique_name("q");
        Arc::new(SqliteQueue::open(&shared_file(), &name, max_receives).expect("sqlite file"))
    }

    axhub_queue::queue_conformance_tests!(make);
}

/// Two handles (two connections) on one file and one name are one queue: receivers on
/// different connections never get the same message at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_to_one_file_share_a_queue() {
    let name = unique_name("shared");
    let a = SqliteQueue::open(&shared_file(), &name, 5).unwrap();
    let b = SqliteQueue::open(&shared_file(), &name, 5).unwrap();
    let other = SqliteQueue::open(&shared_file(), &unique_name("other"), 5).unwrap();
    for i in 0..30 {
        a.send(&format!("m{i}"), Duration::ZERO).await.unwrap();
    }
    let long = Duration::from_secs(30);
    let (ra, rb) = tokio::join!(
        async {
            let mut got = Vec::new();
            while let Ok(batch) = a.receive(2, long, Duration::from_secs(1)).await {
                if batch.is_empty() {
                    break;
                }
                got.extend(batch);
            }
            got
        },
        async {
            let mut got = Vec::new();
            while let Ok(batch) = b.receive(3, long, Duration::from_secs(1)).await {
                if batch.is_empty() {
                    break;
                }
                got.extend(batch);
            }
            got
        }
    );
    let mut ids: Vec<_> = ra.iter().chain(&rb).map(|m| m.id.clone()).collect();
    assert_eq!(ids.len(), 30);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "a message went to both connections");
    // A receipt works through any handle of the queue, not through another queue's. Either
    // connection may have won every message, so take one from whichever got some.
    let (m, other_handle) = match ra.first() {
        Some(m) => (m, &b),
        None => (&rb[0], &a),
    };
    other.ack(&m.receipt).await.unwrap();
    other_handle.ack(&m.receipt).await.unwrap();
    assert!(
        other
            .receive(10, long, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bad_configuration_is_refused() {
    assert!(SqliteQueue::in_memory("q", 0).is_err());
    assert!(SqliteQueue::in_memory("", 3).is_err());
    assert!(SqliteQueue::in_memory("q", 1000).is_ok());
}
