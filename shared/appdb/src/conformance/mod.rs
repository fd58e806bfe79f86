//! The conformance suite every `AppDatabase` adapter must pass. Adapters instantiate it with
//! `axhub_appdb::conformance_tests!(make())`, where `make()` is an async expression giving an
//! `Arc<dyn AppDatabase>`; it expands to one `#[tokio::test]` per case, so a failure names the
//! rule that broke. Every case uses fresh app ids, so cases may share one server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lifecycle;
mod ops;

pub use lifecycle::*;
pub use ops::*;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{AppDatabase, Ident, Literal, SchemaDescription, SchemaOp};
use axhub_domain::Environment;

pub(crate) const PROD: Environment = Environment::Production;
pub(crate) const STAGING: Environment = Environment::Staging;

pub(crate) fn app() -> Uuid {
    Uuid::new_v4()
}

pub(crate) fn id(s: &str) -> Ident {
    Ident::new(s).unwrap()
}

/// An op as the DB service would send it: `op(3, json!({"op": "drop_table", ...}))`.
pub(crate) fn op(seq: u64, body: Value) -> SchemaOp {
    let mut v = body;
    v["seq"] = json!(seq);
    serde_json::from_value(v).unwrap()
}

pub(crate) fn users_table(seq: u64) -> SchemaOp {
    op(
        seq,
        json!({"op": "create_table", "table": "users", "columns": [
            {"name": "id", "type": "bigint", "nullable": false, "primary_key": true},
            {"name": "email", "type": "varchar(100)", "nullable": false, "unique": true},
            {"name": "name", "type": "text"},
            {"name": "score", "type": "integer", "nullable": false,
             "default": {"kind": "integer", "value": 0}}
        ]}),
    )
}

pub(crate) async fn insert_user(db: &dyn AppDatabase, app: Uuid, env: Environment, n: i64) {
    db.insert_for_test(
        app,
        env,
        &id("users"),
        &[
            (id("id"), Literal::Integer(n)),
            (id("email"), Literal::Text(format!("u{n}@example.com"))),
            (id("name"), Literal::Text("Zoë O'Brien".into())),
        ],
    )
    .await
    .unwrap();
}

pub(crate) async fn describe(
    db: &dyn AppDatabase,
    app: Uuid,
    env: Environment,
) -> SchemaDescription {
    db.describe(app, env).await.unwrap()
}

/// Expands to one `#[tokio::test]` per conformance case.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@cases $make;
            ensure_is_idempotent_and_empty,
            every_op_kind_applies,
            types_and_defaults_read_back,
            change_type_keeps_rows,
            reapplying_applies_nothing_twice,
            failed_op_leaves_neither_change_nor_record,
            refusals_name_the_op,
            concurrent_applies_apply_each_op_once,
            fork_copies_structure_not_rows,
            fork_into_non_empty_target_is_refused,
            drop_then_ensure_gives_an_empty_schema,
            apps_and_environments_are_isolated,
            destructive_classification,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let db: std::sync::Arc<dyn $crate::AppDatabase> = $make.await;
                $crate::conformance::$case(db).await;
            }
        )*
    };
}
