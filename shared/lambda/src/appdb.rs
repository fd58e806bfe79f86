//! The apps' databases on PostgreSQL (`AXHUB_APP_DB_URL`), connected on first use like every
//! other client (`lazy.rs`): a cold start that never touches staging or a promotion opens no
//! connection.

use std::sync::Arc;

use async_trait::async_trait;
use axhub_domain::Environment;
use axhub_ports::appdb::{AppDatabase, AppDbError, Ident, Literal, SchemaDescription, SchemaOp};
use uuid::Uuid;

use crate::lazy::Lazy;

/// The app databases at `url`, connected by the first call.
pub fn app_db(url: String) -> Arc<dyn AppDatabase> {
    Arc::new(Lazy::<dyn AppDatabase>::new(
        "the app database client",
        move || {
            let url = url.clone();
            async move {
                let db = axhub_postgres::PostgresAppDatabase::connect(&url).await?;
                Ok(Arc::new(db) as Arc<dyn AppDatabase>)
            }
        },
    ))
}

async fn db(lazy: &Lazy<dyn AppDatabase>) -> Result<&Arc<dyn AppDatabase>, AppDbError> {
    lazy.get().await.map_err(AppDbError::Unavailable)
}

#[async_trait]
impl AppDatabase for Lazy<dyn AppDatabase> {
    async fn ensure_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError> {
        db(self).await?.ensure_schema(app, env).await
    }
    async fn fork_structure(
        &self,
        app: Uuid,
        from: Environment,
        to: Environment,
    ) -> Result<(), AppDbError> {
        db(self).await?.fork_structure(app, from, to).await
    }
    async fn drop_schema(&self, app: Uuid, env: Environment) -> Result<(), AppDbError> {
        db(self).await?.drop_schema(app, env).await
    }
    async fn apply_ops(
        &self,
        app: Uuid,
        env: Environment,
        ops: &[SchemaOp],
    ) -> Result<Vec<u64>, AppDbError> {
        db(self).await?.apply_ops(app, env, ops).await
    }
    async fn applied_through(
        &self,
        app: Uuid,
        env: Environment,
    ) -> Result<Option<u64>, AppDbError> {
        db(self).await?.applied_through(app, env).await
    }
    async fn describe(&self, app: Uuid, env: Environment) -> Result<SchemaDescription, AppDbError> {
        db(self).await?.describe(app, env).await
    }
    async fn row_count(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
    ) -> Result<u64, AppDbError> {
        db(self).await?.row_count(app, env, table).await
    }
    async fn insert_for_test(
        &self,
        app: Uuid,
        env: Environment,
        table: &Ident,
        row: &[(Ident, Literal)],
    ) -> Result<(), AppDbError> {
        db(self).await?.insert_for_test(app, env, table, row).await
    }
}
