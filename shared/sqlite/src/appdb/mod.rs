//! `AppDatabase` on SQLite: one file per app and environment, `{dir}/apps/{app}/{env}.db`
//! (`production.db`, `staging.db`), so dropping staging is deleting a file and apps share
//! nothing. Every op runs in an IMMEDIATE transaction (SQLite's writer lock) that re-reads the
//! applied-ops record, checks the op against the structure, applies it and records it.

mod catalog;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use axhub_appdb::sql::Dialect;
use axhub_appdb::{
    APPLIED_OPS_TABLE, AppDatabase, AppDbError, Ident, Literal, SchemaChange, SchemaDescription,
    SchemaOp, env_name, pending,
};
use axhub_domain::Environment;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct SqliteAppDatabase {
    dir: PathBuf,
}

/// Busy (another writer), I/O, disk full: retry. Anything else is about the statement.
pub(super) fn db_error(e: rusqlite::Error) -> AppDbError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::CannotOpen
                    | ErrorCode::DiskFull
                    | ErrorCode::OutOfMemory
            ) =>
        {
            AppDbError::Unavailable(e.to_string())
        }
        _ => AppDbError::refused(None, e.to_string()),
    }
}

fn io_error(e: std::io::Error) -> AppDbError {
    AppDbError::Unavailable(e.to_string())
}

impl SqliteAppDatabase {
    /// App databases under `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, app: Uuid, env: Environment) -> PathBuf {
        self.dir
            .join("apps")
            .join(app.to_string())
            .join(format!("{}.db", env_name(env)))
    }

    /// Runs `f` on a connection to an existing database, off the async threads.
    async fn with_db<T: Send + 'static>(
        &self,
        app: Uuid,
        env: Environment,
        f: impl FnOnce(&mut Connection) -> Result<T, AppDbError> + Send + 'static,
    ) -> Result<T, AppDbError> {
        let path = self.path(app, env);
        blocking(move || {
            if !path.exists() {
                return Err(AppDbError::NoSchema { app, env });
            }
            let mut c = open(&path, false)?;
            f(&mut c)
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppDbError> + Send + 'static,
) -> Result<T, AppDbError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppDbError::Unavailable(e.to_string()))?
}

fn open(path: &Path, create: bool) -> Result<Connection, AppDbError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let c = Connection::open_with_flags(path, flags).map_err(db_error)?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db_error)?;
    c.pragma_update(None, "journal_mode", "WAL")
        .map_err(db_error)?;
    Ok(c)
}

/// A new database file (its directories 0700, the file 0600: an app's data is its tenant's).
fn create(path: &Path) -> Result<Connection, AppDbError> {
    if let Some(parent) = path.parent() {
        crate::create_private_dir(parent).map_err(io_error)?;
    }
    crate::create_private(path).map_err(io_error)?;
    let c = open(path, true)?;
    c.execute_batch(catalog::RECORD_TABLE_SQL)
        .map_err(db_error)?;
    Ok(c)
}

/// One op with its record, in one transaction; false when the record shows it applied already.
fn apply_one(c: &mut Connection, op: &SchemaOp) -> Result<bool, AppDbError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    if catalog::max_seq(&tx)?.is_some_and(|m| m >= op.seq) {
        return Ok(false);
    }
    let desc = catalog::describe(&tx)?;
    desc.check(&op.change)
        .map_err(|reason| AppDbError::refused(None, reason))?;
    apply_change(&tx, &desc, &op.change)?;
    let record = serde_json::to_string(op).map_err(|e| AppDbError::refused(None, e.to_string()))?;
    tx.execute(
        &format!("INSERT INTO \"{APPLIED_OPS_TABLE}\" (seq, op) VALUES (?1, ?2)"),
        rusqlite::params![op.seq as i64, record],
    )
    .map_err(db_error)?;
    tx.commit().map_err(db_error)?;
    Ok(true)
}

fn apply_change(
    c: &Connection,
    desc: &SchemaDescription,
    change: &SchemaChange,
) -> Result<(), AppDbError> {
    match (Dialect::Sqlite.statement(change), change) {
        (Some(sql), _) => c.execute_batch(&sql).map_err(db_error),
        (
            None,
            SchemaChange::ChangeColumnType {
                table, column, to, ..
            },
        ) => catalog::change_type(c, desc, table, column, *to),
        (None, other) => Err(AppDbError::refused(
            None,
            format!("{} has no SQLite form", other.kind()),
        )),
    }
}

#[async_trait]
impl AppDatabase for SqliteAppDatabase {
    async fn ensure_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError> {
        let path = self.path(app, env);
        blocking(move || create(&path).map(drop)).await
    }

    async fn fork_structure(
        &self,
        app: Uuid,
        from: Environment,
        to: Environment,
    ) -> Result<(), AppDbError> {
        let (from_path, to_path) = (self.path(app, from), self.path(app, to));
        blocking(move || {
            if !from_path.exists() {
                return Err(AppDbError::NoSchema { app, env: from });
            }
            // A read transaction: the statements and the record are one snapshot.
            let mut src = open(&from_path, false)?;
            let snap = src.transaction().map_err(db_error)?;
            let statements = catalog::structure_sql(&snap)?;
            let records: Vec<(i64, String)> = {
                let mut stmt = snap
                    .prepare(&format!(
                        "SELECT seq, op FROM \"{APPLIED_OPS_TABLE}\" ORDER BY seq"
                    ))
                    .map_err(db_error)?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(db_error)?
                    .collect::<Result<_, _>>()
                    .map_err(db_error)?
            };
            drop(snap);
            let mut dst = create(&to_path)?;
            let tx = dst
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            if !catalog::describe(&tx)?.is_empty() {
                return Err(AppDbError::TargetNotEmpty { app, env: to });
            }
            tx.execute(&format!("DELETE FROM \"{APPLIED_OPS_TABLE}\""), [])
                .map_err(db_error)?;
            for sql in &statements {
                tx.execute_batch(sql).map_err(db_error)?;
            }
            for (seq, op) in &records {
                tx.execute(
                    &format!("INSERT INTO \"{APPLIED_OPS_TABLE}\" (seq, op) VALUES (?1, ?2)"),
                    rusqlite::params![seq, op],
                )
                .map_err(db_error)?;
            }
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn drop_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError> {
        let path = self.path(app, env);
        blocking(move || {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                match std::fs::remove_file(&p) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(e)),
                    _ => {}
                }
            }
            Ok(())
        })
        .await
    }

    async fn apply_ops(
        &self,
        app: Uuid,
        env: Environment,
        ops: &[SchemaOp],
    ) -> Result<Vec<u64>, AppDbError> {
        let ops = ops.to_vec();
        self.with_db(app, env, move |c| {
            let todo = pending(&ops, catalog::max_seq(c)?)?;
            let mut applied = Vec::new();
            for op in todo {
                if apply_one(c, op).map_err(|e| e.of_op(op.seq))? {
                    applied.push(op.seq);
                }
            }
            Ok(applied)
        })
        .await
    }

    async fn applied_through(
        &self,
        app: Uuid,
        env: Environment,
    ) -> Result<Option<u64>, AppDbError> {
        self.with_db(app, env, |c| catalog::max_seq(c)).await
    }

    async fn describe(&self, app: Uuid, env: Environment) -> Result<SchemaDescription, AppDbError> {
        self.with_db(app, env, |c| catalog::describe(c)).await
    }

    async fn row_count(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
    ) -> Result<u64, AppDbError> {
        let sql = format!("SELECT count(*) FROM {}", table.quoted());
        self.with_db(app, env, move |c| {
            let n: i64 = c.query_row(&sql, [], |r| r.get(0)).map_err(db_error)?;
            Ok(n as u64)
        })
        .await
    }

    async fn insert_for_test(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
        row: &[(Ident, Literal)],
    ) -> Result<(), AppDbError> {
        let sql = Dialect::Sqlite.insert(table, row);
        self.with_db(app, env, move |c| c.execute_batch(&sql).map_err(db_error))
            .await
    }
}
