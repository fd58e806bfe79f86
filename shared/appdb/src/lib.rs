//! The app database port: the database each app gets from the no-code DB service, one per
//! environment (production, and staging once the app opted in). Staging is forked from
//! production's structure; schema ops recorded on staging are applied to production when a
//! review approves them (issue 8). Two adapters, `axhub_sqlite::SqliteAppDatabase` and
//! `axhub_postgres::PostgresAppDatabase`, pass the one suite in `conformance`.
//!
//! Rules every adapter keeps:
//! - An op and the record that it was applied commit in one database transaction, and an op
//!   is applied only if its `seq` is above the highest recorded one, checked inside that
//!   transaction. A crash between ops, a retried promote or two concurrent ones apply each op
//!   exactly once.
//! - Every op is checked against the current structure (`SchemaDescription::check`) inside its
//!   transaction before it runs, so both dialects refuse the same ops for the same reasons.
//! - The applied-ops record lives inside each database, in an object whose name starts with
//!   `_axhub` (which no `Ident` may), and is never part of `describe`.

mod describe;
mod destructive;
mod ident;
mod op;
pub mod sql;
mod types;

pub mod conformance;

pub use describe::{ColumnDescription, IndexDescription, SchemaDescription, TableDescription};
pub use destructive::{destructive, widens};
pub use ident::{Ident, InvalidIdent, RESERVED_PREFIX};
pub use op::{Column, SchemaChange, SchemaOp};
pub use types::{ColumnDefault, ColumnType, InvalidType, Literal, NowTag};

use async_trait::async_trait;
use axhub_domain::Environment;
use uuid::Uuid;

/// The name of the applied-ops table inside every app database.
pub const APPLIED_OPS_TABLE: &str = "_axhub_applied_ops";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppDbError {
    /// The database could not be reached or gave up for a passing reason (connection lost,
    /// busy, serialization failure, disk full). Nothing of the failed op was kept: retry.
    #[error("app database unavailable: {0}")]
    Unavailable(String),
    /// The op cannot apply to the current schema (a missing column, a name taken, a cast the
    /// data does not allow, a unique index over duplicates) or is malformed. Retrying the same
    /// op will fail the same way; `seq` names it, when the refusal is about one op. Ops before
    /// it in the same call stay applied.
    #[error("schema op {seq:?} refused: {reason}")]
    Refused { seq: Option<u64>, reason: String },
    /// The environment has no database yet (`ensure_schema` was never called, or it was
    /// dropped). Not retryable as is.
    #[error("no app database for app {app} in {env:?}")]
    NoSchema { app: Uuid, env: Environment },
    /// `fork_structure` found tables in the target: a fork never merges into existing data.
    #[error("app database of {app} in {env:?} already has tables")]
    TargetNotEmpty { app: Uuid, env: Environment },
}

impl AppDbError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    pub fn refused(seq: Option<u64>, reason: impl Into<String>) -> Self {
        Self::Refused {
            seq,
            reason: reason.into(),
        }
    }

    /// A refusal that names no op yet, attributed to op `seq` (adapters check and run one op
    /// at a time, and name it here).
    pub fn of_op(self, seq: u64) -> Self {
        match self {
            Self::Refused { seq: None, reason } => Self::Refused {
                seq: Some(seq),
                reason,
            },
            other => other,
        }
    }
}

#[async_trait]
pub trait AppDatabase: Send + Sync + 'static {
    /// Creates the environment's database (empty, with its applied-ops record) if missing.
    async fn ensure_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError>;

    /// Creates `to` with the structure of `from` (tables, columns, defaults, primary keys,
    /// unique columns, indexes) and none of its rows. The applied-ops record is copied, so
    /// `applied_through(to)` equals `applied_through(from)`: the fork is at that point of the
    /// op log. `to` may exist if it has no tables; otherwise `TargetNotEmpty`. `from` must
    /// exist (`NoSchema`). The copy is one transaction; if it fails, `to` may be left existing
    /// and empty, which a caller undoing its steps removes with `drop_schema`.
    async fn fork_structure(
        &self,
        app: Uuid,
        from: Environment,
        to: Environment,
    ) -> Result<(), AppDbError>;

    /// Removes the environment's database and all its data; nothing to remove is fine.
    async fn drop_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError>;

    /// Applies `ops` in `seq` order, skipping every op at or below `applied_through`, each in
    /// its own transaction with its record. Returns the seqs it applied, in order. On an error
    /// the ops applied before it stay applied (see `applied_through`). Two different ops with
    /// one seq in a call are refused before anything is applied.
    async fn apply_ops(
        &self,
        app: Uuid,
        env: Environment,
        ops: &[SchemaOp],
    ) -> Result<Vec<u64>, AppDbError>;

    /// The highest applied seq; None when no op was applied.
    async fn applied_through(&self, app: Uuid, env: Environment)
    -> Result<Option<u64>, AppDbError>;

    async fn describe(&self, app: Uuid, env: Environment) -> Result<SchemaDescription, AppDbError>;

    async fn row_count(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
    ) -> Result<u64, AppDbError>;

    /// Inserts one row, values rendered as literals. For tests (rows must exist before a
    /// fork can show it copies none); the app's own data never passes through this service.
    async fn insert_for_test(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
        row: &[(Ident, Literal)],
    ) -> Result<(), AppDbError>;
}

/// The ops of `ops` that `apply_ops` would apply after `applied`: above it, in seq order, each
/// once. Refuses two different ops with one seq, and seqs outside 1..=i64::MAX. Adapters still re-check each seq against the
/// record inside the op's transaction.
pub fn pending(ops: &[SchemaOp], applied: Option<u64>) -> Result<Vec<&SchemaOp>, AppDbError> {
    // Both engines store seqs as signed 64-bit integers.
    if let Some(o) = ops
        .iter()
        .find(|o| o.seq == 0 || i64::try_from(o.seq).is_err())
    {
        return Err(AppDbError::refused(
            Some(o.seq),
            "seq must be in 1..=i64::MAX",
        ));
    }
    let mut sorted: Vec<&SchemaOp> = ops.iter().collect();
    sorted.sort_by_key(|o| o.seq);
    sorted.dedup_by(|b, a| a.seq == b.seq && a.change == b.change);
    if let Some(w) = sorted.windows(2).find(|w| w[0].seq == w[1].seq) {
        return Err(AppDbError::refused(
            Some(w[0].seq),
            "two different ops with the same seq",
        ));
    }
    Ok(sorted
        .into_iter()
        .filter(|o| applied.is_none_or(|a| o.seq > a))
        .collect())
}

/// The file and schema name of an environment: `production` / `staging`.
pub fn env_name(env: Environment) -> &'static str {
    match env {
        Environment::Production => "production",
        Environment::Staging => "staging",
    }
}
