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

/// An app's database is its tenant's: the directories are 0700 and the files (WAL and
/// shared memory included, a staging fork too) 0600.
#[cfg(unix)]
#[tokio::test]
async fn app_databases_are_private() {
    use axhub_domain::Environment;
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("axhub-appdb-modes-{}", uuid::Uuid::new_v4()));
    let db = SqliteAppDatabase::new(dir.join("appdb"));
    let app = uuid::Uuid::new_v4();
    db.ensure_schema(app, Environment::Production)
        .await
        .unwrap();
    db.fork_structure(app, Environment::Production, Environment::Staging)
        .await
        .unwrap();
    let mode = |p: &std::path::Path| {
        let m = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        format!("{m:o}")
    };
    let apps = dir.join("appdb").join("apps");
    for d in [dir.join("appdb"), apps.clone(), apps.join(app.to_string())] {
        assert_eq!(mode(&d), "700", "{}", d.display());
    }
    // The WAL and shared-memory files exist while a connection is open; SQLite gives them the
    // database file's mode.
    let open =
        rusqlite::Connection::open(apps.join(app.to_string()).join("production.db")).unwrap();
    open.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
    for file in [
        "production.db",
        "production.db-wal",
        "production.db-shm",
        "staging.db",
    ] {
        let p = apps.join(app.to_string()).join(file);
        assert_eq!(mode(&p), "600", "{file}");
    }
    drop(open);
    std::fs::remove_dir_all(&dir).unwrap();
}
