//! `AppDatabase` on PostgreSQL: one schema per app and environment,
//! `app_{app uuid, simple}_{prod|staging}`, each with its applied-ops record
//! (`_axhub_applied_ops`). Every op runs in a transaction that locks the record, re-reads it,
//! checks the op against the structure, applies it and records it, so concurrent or retried
//! promotes apply each op once.
//!
//! Connections are plain TCP (`NoTls`): the app database is reached on localhost or inside the
//! VPC. A TLS connection (tokio-postgres-rustls) is future work, see docs/decisions.md.

mod catalog;

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axhub_appdb::sql::Dialect;
use axhub_appdb::{
    APPLIED_OPS_TABLE, AppDatabase, AppDbError, Ident, Literal, SchemaDescription, SchemaOp,
    pending,
};
use axhub_domain::Environment;
use tokio::sync::Mutex;
use tokio_postgres::{Client, Config, NoTls};
use uuid::Uuid;

/// Connections kept open; each call holds one for its duration.
const POOL_SIZE: usize = 4;

pub struct PostgresAppDatabase {
    config: Config,
    slots: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

/// Connection trouble, serialization failures, deadlocks, resource limits, shutdowns: retry.
/// Anything else (undefined or duplicate objects, failed casts, constraint violations) is
/// about the op.
pub(crate) fn db_error(e: tokio_postgres::Error) -> AppDbError {
    let Some(code) = e.code() else {
        return AppDbError::Unavailable(e.to_string());
    };
    let message = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_owned());
    match &code.code()[..2] {
        "08" | "40" | "53" | "57" | "58" => AppDbError::Unavailable(message),
        _ if code.code() == "55P03" => AppDbError::Unavailable(message),
        _ => AppDbError::refused(None, message),
    }
}

/// The schema of one app's environment. Made of a UUID and a fixed suffix, so it is safe to
/// place in a statement as a quoted identifier.
pub fn schema_name(app: Uuid, env: Environment) -> String {
    let suffix = match env {
        Environment::Production => "prod",
        Environment::Staging => "staging",
    };
    format!("app_{}_{suffix}", app.simple())
}

impl PostgresAppDatabase {
    /// Connects to `url` (`postgres://user@host:port/db`); fails now rather than on first use
    /// when the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, AppDbError> {
        let config: Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| AppDbError::Unavailable(e.to_string()))?;
        let db = Self {
            config,
            slots: (0..POOL_SIZE).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        };
        let first = db.open().await?;
        *db.slots[0].lock().await = Some(first);
        Ok(db)
    }

    async fn open(&self) -> Result<Client, AppDbError> {
        let (client, conn) = self.config.connect(NoTls).await.map_err(db_error)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::warn!(error = %e, "app database connection ended");
            }
        });
        // Literals are rendered with quotes doubled and backslashes as plain characters.
        client
            .batch_execute("SET standard_conforming_strings = on")
            .await
            .map_err(db_error)?;
        Ok(client)
    }

    /// A connection of the pool, reconnected first if it was closed.
    async fn session(&self) -> Result<Session<'_>, AppDbError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % POOL_SIZE];
        let mut guard = slot.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(self.open().await?);
        }
        let s = Session {
            guard,
            finished: false,
        };
        s.client()?.batch_execute("BEGIN").await.map_err(db_error)?;
        Ok(s)
    }

    /// A transaction whose search_path is the environment's schema, which must exist.
    async fn in_schema(&self, app: Uuid, env: Environment) -> Result<Session<'_>, AppDbError> {
        let schema = schema_name(app, env);
        let s = self.session().await?;
        if !catalog::schema_exists(s.client()?, &schema).await? {
            return s.finish(Err(AppDbError::NoSchema { app, env })).await;
        }
        s.client()?
            .batch_execute(&format!("SET LOCAL search_path TO \"{schema}\""))
            .await
            .map_err(db_error)?;
        Ok(s)
    }

    /// Creates the schema and its record if missing, under an advisory lock so that two
    /// concurrent creations do not collide.
    async fn create(&self, app: Uuid, env: Environment) -> Result<(), AppDbError> {
        let schema = schema_name(app, env);
        let s = self.session().await?;
        let r = async {
            let c = s.client()?;
            c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&schema])
                .await
                .map_err(db_error)?;
            c.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\";\n\
                 CREATE TABLE IF NOT EXISTS \"{schema}\".\"{APPLIED_OPS_TABLE}\" (\
                     seq BIGINT PRIMARY KEY, op TEXT NOT NULL, \
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now());"
            ))
            .await
            .map_err(db_error)
        }
        .await;
        s.finish(r).await
    }
}

/// One pooled connection inside an explicit transaction (BEGIN … COMMIT/ROLLBACK), held for
/// one call. Dropped without `finish` (the call was cancelled), it closes the connection, so
/// the server rolls the transaction back and the slot reconnects on next use.
struct Session<'a> {
    guard: tokio::sync::MutexGuard<'a, Option<Client>>,
    finished: bool,
}

impl Session<'_> {
    fn client(&self) -> Result<&Client, AppDbError> {
        self.guard
            .as_ref()
            .ok_or_else(|| AppDbError::Unavailable("connection closed".into()))
    }

    /// Commits when `r` is Ok, rolls back when it is an error; returns `r` (or the commit's
    /// error).
    async fn finish<T>(mut self, r: Result<T, AppDbError>) -> Result<T, AppDbError> {
        let end = if r.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.client()?.batch_execute(end).await.map_err(db_error);
        self.finished = ended.is_ok();
        match (r, ended) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), _) => Err(e),
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if !self.finished {
            *self.guard = None;
        }
    }
}

mod apply;

#[async_trait]
impl AppDatabase for PostgresAppDatabase {
    async fn ensure_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError> {
        self.create(app, env).await
    }

    async fn fork_structure(
        &self,
        app: Uuid,
        from: Environment,
        to: Environment,
    ) -> Result<(), AppDbError> {
        let from_schema = schema_name(app, from);
        {
            let s = self.session().await?;
            let exists = catalog::schema_exists(s.client()?, &from_schema).await;
            if !s.finish(exists).await? {
                return Err(AppDbError::NoSchema { app, env: from });
            }
        }
        self.create(app, to).await?;
        let target = schema_name(app, to);
        let s = self.in_schema(app, to).await?;
        let r = async {
            let c = s.client()?;
            c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&target])
                .await
                .map_err(db_error)?;
            if !catalog::schema_exists(c, &from_schema).await? {
                return Err(AppDbError::NoSchema { app, env: from });
            }
            if !catalog::describe(c, &target).await?.is_empty() {
                return Err(AppDbError::TargetNotEmpty { app, env: to });
            }
            catalog::fork_into(c, &from_schema).await
        }
        .await;
        s.finish(r).await
    }

    async fn drop_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError> {
        let schema = schema_name(app, env);
        let s = self.session().await?;
        let r = async {
            s.client()?
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
                .map_err(db_error)
        }
        .await;
        s.finish(r).await
    }

    async fn apply_ops(
        &self,
        app: Uuid,
        env: Environment,
        ops: &[SchemaOp],
    ) -> Result<Vec<u64>, AppDbError> {
        let first = self.applied_through(app, env).await?;
        let mut applied = Vec::new();
        for op in pending(ops, first)? {
            let s = self.in_schema(app, env).await?;
            let r = async { apply::one(s.client()?, op).await }.await;
            if s.finish(r).await.map_err(|e| e.of_op(op.seq))? {
                applied.push(op.seq);
            }
        }
        Ok(applied)
    }

    async fn applied_through(
        &self,
        app: Uuid,
        env: Environment,
    ) -> Result<Option<u64>, AppDbError> {
        let s = self.in_schema(app, env).await?;
        let r = async { catalog::max_seq(s.client()?).await }.await;
        s.finish(r).await
    }

    async fn describe(&self, app: Uuid, env: Environment) -> Result<SchemaDescription, AppDbError> {
        let schema = schema_name(app, env);
        let s = self.in_schema(app, env).await?;
        let r = async { catalog::describe(s.client()?, &schema).await }.await;
        s.finish(r).await
    }

    async fn row_count(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
    ) -> Result<u64, AppDbError> {
        let sql = format!("SELECT count(*) FROM {}", table.quoted());
        let s = self.in_schema(app, env).await?;
        let r = async {
            let row = s.client()?.query_one(&sql, &[]).await.map_err(db_error)?;
            Ok(row.get::<_, i64>(0) as u64)
        }
        .await;
        s.finish(r).await
    }

    async fn insert_for_test(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
        row: &[(Ident, Literal)],
    ) -> Result<(), AppDbError> {
        let sql = Dialect::Postgres.insert(table, row);
        let s = self.in_schema(app, env).await?;
        let r = async { s.client()?.batch_execute(&sql).await.map_err(db_error) }.await;
        s.finish(r).await
    }
}
