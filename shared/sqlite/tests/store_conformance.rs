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
