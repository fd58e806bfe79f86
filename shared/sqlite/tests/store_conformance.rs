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
