//! One op and its record, in the caller's transaction.

use axhub_appdb::sql::Dialect;
use axhub_appdb::{APPLIED_OPS_TABLE, AppDbError, SchemaOp};
use tokio_postgres::Client;

use crate::{catalog, db_error};

/// Applies `op` unless the record shows it applied; true when it applied it. The EXCLUSIVE
/// lock on the record (readers may still read it) makes concurrent callers take turns, so the
/// check and the write cannot interleave.
pub(crate) async fn one(tx: &Client, op: &SchemaOp) -> Result<bool, AppDbError> {
    tx.batch_execute(&format!(
        "LOCK TABLE \"{APPLIED_OPS_TABLE}\" IN EXCLUSIVE MODE"
    ))
    .await
    .map_err(db_error)?;
    if catalog::max_seq(tx).await?.is_some_and(|m| m >= op.seq) {
        return Ok(false);
    }
    let schema: String = tx
        .query_one("SELECT current_schema()::text", &[])
        .await
        .map_err(db_error)?
        .get(0);
    let desc = catalog::describe(tx, &schema).await?;
    desc.check(&op.change)
        .map_err(|reason| AppDbError::refused(None, reason))?;
    let Some(sql) = Dialect::Postgres.statement(&op.change) else {
        return Err(AppDbError::refused(None, "op has no PostgreSQL form"));
    };
    tx.batch_execute(&sql).await.map_err(db_error)?;
    let record = serde_json::to_string(op).map_err(|e| AppDbError::refused(None, e.to_string()))?;
    tx.execute(
        &format!("INSERT INTO \"{APPLIED_OPS_TABLE}\" (seq, op) VALUES ($1, $2)"),
        &[&(op.seq as i64), &record],
    )
    .await
    .map_err(db_error)?;
    Ok(true)
}
