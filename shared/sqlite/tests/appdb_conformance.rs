//! The app database conformance suite on SQLite: one directory per test process, one file per
//! app and environment inside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axhub_appdb::AppDatabase;
use axhub_sqlite::SqliteAppDatabase;

async fn make() -> Arc<dyn AppDatabase> {
    let dir = std::env::temp_dir().join(format!("axhub-appdb-{}", std::process::id()));
    Arc::new(SqliteAppDatabase::new(dir))
}

axhub_appdb::conformance_tests!(make());

/// Where the files are, as docs/decisions.md says: `{dir}/apps/{app}/{env}.db`.
#[tokio::test]
async fn one_file_per_app_and_environment() {
    use axhub_domain::Environment;
    let dir = std::env::temp_dir().join(format!("axhub-appdb-files-{}", uuid::Uuid::new_v4()));
    let db = SqliteAppDatabase::new(&dir);
    let app = uuid::Uuid::new_v4();
    db.ensure_schema(app, Environment::Production)
        .await
        .unwrap();
    db.ensure_schema(app, Environment::Staging).await.unwrap();
    let base = dir.join("apps").join(app.to_string());
    assert!(base.join("production.db").is_file());
    assert!(base.join("staging.db").is_file());
    db.drop_schema(app, Environment::Staging).await.unwrap();
    assert!(!base.join("staging.db").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
