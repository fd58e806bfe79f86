//! The shared store conformance suite on SQLite (in memory and on a file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axhub_sqlite::SqliteStore;
use axhub_store::Store;

async fn make() -> Arc<dyn Store> {
    Arc::new(SqliteStore::in_memory().expect("sqlite"))
}

axhub_store::conformance_tests!(make());

mod on_file {
    use super::*;

    async fn make() -> Arc<dyn Store> {
        let dir = std::env::temp_dir().join(format!("axhub-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path =
            dir.join(format!("{:?}.db", std::thread::current().id()).replace(['(', ')'], ""));
        Arc::new(SqliteStore::open(&path).expect("sqlite file"))
    }

    axhub_store::conformance_tests!(make());
}

/// DynamoDB's TTL deletes expired items in the background; axhub-local's maintenance does it
/// with `purge_expired`, which must remove exactly the expired items.
#[tokio::test]
async fn purge_removes_only_expired_items() {
    use axhub_store::{Item, Key};
    use serde_json::json;

    let store = SqliteStore::in_memory().expect("sqlite");
    let now = axhub_store::now_epoch();
    for (sk, ttl) in [
        ("gone", Some(now - 1)),
        ("kept", Some(now + 3600)),
        ("forever", None),
    ] {
        let mut item = Item::new();
        item.insert("pk".into(), json!("P"));
        item.insert("sk".into(), json!(sk));
        if let Some(t) = ttl {
            item.insert("ttl".into(), json!(t));
        }
        store.put(item, None).await.unwrap();
    }
    assert_eq!(store.purge_expired().await.unwrap(), 1);
    // Conditions still saw the expired item before the purge; now nothing is there at all.
    let none = axhub_store::Cond::NotExists;
    let mut again = Item::new();
    again.insert("pk".into(), json!("P"));
    again.insert("sk".into(), json!("gone"));
    store.put(again, Some(none)).await.unwrap();
    assert!(store.get(&Key::new("P", "kept")).await.unwrap().is_some());
    assert!(
        store
            .get(&Key::new("P", "forever"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.purge_expired().await.unwrap(), 0);
}

/// A new database file and its WAL and shared-memory files are readable by their owner only:
/// they hold every tenant's state.
#[cfg(unix)]
#[tokio::test]
async fn a_new_database_file_is_private() {
    use axhub_queue::Queue;
    use axhub_store::Item;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    let dir = std::env::temp_dir().join(format!("axhub-sqlite-mode-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut item = Item::new();
    item.insert("pk".into(), json!("P"));
    item.insert("sk".into(), json!("S"));
    store.put(item, None).await.unwrap();
    let queue_path = dir.join("queue.db");
    let queue = axhub_sqlite::SqliteQueue::open(&queue_path, "q", 5).unwrap();
    queue.send("job", std::time::Duration::ZERO).await.unwrap();
    for file in [
        "state.db",
        "state.db-wal",
        "state.db-shm",
        "queue.db",
        "queue.db-wal",
    ] {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(format!("{mode:o}"), "600", "{file}");
    }
    drop((store, queue));
    std::fs::remove_dir_all(&dir).unwrap();
}
