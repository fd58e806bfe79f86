//! The app database conformance suite on a real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//!
//! Needs a server: run through infra/test.sh, or `eval "$(infra/postgres.sh start)"`, which
//! exports AXHUB_TEST_POSTGRES_URL. Without it the tests fail rather than pass silently.

use std::sync::Arc;

use axhub_appdb::AppDatabase;
use axhub_postgres::PostgresAppDatabase;

async fn make() -> Arc<dyn AppDatabase> {
    let Some(url) = std::env::var("AXHUB_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        panic!(
            "the PostgreSQL tests need a server: run them through infra/test.sh, or \
             `eval \"$(infra/postgres.sh start)\"` to export AXHUB_TEST_POSTGRES_URL"
        );
    };
    match PostgresAppDatabase::connect(&url).await {
        Ok(db) => Arc::new(db),
        Err(e) => panic!("connecting to {url} failed: {e}; is infra/postgres.sh running?"),
    }
}

axhub_appdb::conformance_tests!(make());

#[test]
fn schema_names_fit_and_differ_per_environment() {
    use axhub_domain::Environment;
    let app = uuid::Uuid::parse_str("0190b5c2-7e4b-7cc0-8a4e-1f2d3c4b5a69").unwrap();
    let prod = axhub_postgres::schema_name(app, Environment::Production);
    assert_eq!(prod, "app_0190b5c27e4b7cc08a4e1f2d3c4b5a69_prod");
    let staging = axhub_postgres::schema_name(app, Environment::Staging);
    assert_eq!(staging, "app_0190b5c27e4b7cc08a4e1f2d3c4b5a69_staging");
    assert!(staging.len() <= 63);
}

/// PostgreSQL casts every row when a type changes, and a row the new type cannot hold fails
/// the op as a whole (SQLite converts by affinity and never fails): refused, nothing kept.
#[tokio::test]
async fn a_cast_the_rows_do_not_allow_is_refused_and_leaves_no_record() {
    use axhub_appdb::{AppDbError, Ident, Literal, SchemaOp};
    use axhub_domain::Environment::Production as PROD;
    use serde_json::json;

    let db = make().await;
    let app = uuid::Uuid::new_v4();
    let op = |v: serde_json::Value| serde_json::from_value::<SchemaOp>(v).unwrap();
    let id = |s: &str| Ident::new(s).unwrap();
    db.ensure_schema(app, PROD).await.unwrap();
    let create = op(json!({"seq": 1, "op": "create_table", "table": "t",
                           "columns": [{"name": "c", "type": "text"}]}));
    db.apply_ops(app, PROD, &[create]).await.unwrap();
    db.insert_for_test(
        app,
        PROD,
        &id("t"),
        &[(id("c"), Literal::Text("abc".into()))],
    )
    .await
    .unwrap();
    let change = op(
        json!({"seq": 2, "op": "change_column_type", "table": "t", "column": "c",
                           "from": "text", "to": "integer"}),
    );
    let e = db.apply_ops(app, PROD, &[change]).await.unwrap_err();
    assert!(
        matches!(e, AppDbError::Refused { seq: Some(2), .. }),
        "{e:?}"
    );
    assert_eq!(db.applied_through(app, PROD).await.unwrap(), Some(1));
    let t = &db.describe(app, PROD).await.unwrap().tables["t"];
    assert_eq!(t.columns[0].column_type, axhub_appdb::ColumnType::Text);
}
