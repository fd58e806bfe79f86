//! Cases about whole databases: ensure, fork, drop, isolation, and the destructive table.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::{AppDbError, destructive};

type Db = Arc<dyn AppDatabase>;

pub async fn ensure_is_idempotent_and_empty(db: Db) {
    let (db, a) = (&*db, app());
    let e = db.describe(a, PROD).await.unwrap_err();
    assert_eq!(e, AppDbError::NoSchema { app: a, env: PROD });
    assert!(matches!(
        db.applied_through(a, PROD).await,
        Err(AppDbError::NoSchema { .. })
    ));
    db.ensure_schema(a, PROD).await.unwrap();
    db.apply_ops(a, PROD, &[users_table(1)]).await.unwrap();
    insert_user(db, a, PROD, 1).await;
    // Ensuring again touches nothing that is there.
    db.ensure_schema(a, PROD).await.unwrap();
    assert_eq!(db.applied_through(a, PROD).await.unwrap(), Some(1));
    assert_eq!(db.row_count(a, PROD, &id("users")).await.unwrap(), 1);
    let fresh = app();
    db.ensure_schema(fresh, PROD).await.unwrap();
    assert!(describe(db, fresh, PROD).await.is_empty());
    assert_eq!(db.applied_through(fresh, PROD).await.unwrap(), None);
    let missing = db.row_count(fresh, PROD, &id("users")).await.unwrap_err();
    assert!(matches!(missing, AppDbError::Refused { .. }), "{missing:?}");
}

pub async fn fork_copies_structure_not_rows(db: Db) {
    let (db, a) = (&*db, app());
    db.ensure_schema(a, PROD).await.unwrap();
    let ops = [
        users_table(1),
        op(
            2,
            json!({"op": "create_index", "name": "by_name", "table": "users",
                     "columns": ["name", "score"]}),
        ),
        op(
            3,
            json!({"op": "create_index", "name": "by_email_name", "table": "users",
                     "columns": ["email", "name"], "unique": true}),
        ),
        op(
            4,
            json!({"op": "create_table", "table": "events", "columns": [
                {"name": "at", "type": "timestamp", "nullable": false, "default": {"kind": "now"}},
                {"name": "kind", "type": "varchar(20)", "nullable": false,
                 "default": {"kind": "text", "value": "click"}},
                {"name": "user_id", "type": "bigint", "nullable": false},
                {"name": "payload", "type": "json"}
            ]}),
        ),
    ];
    db.apply_ops(a, PROD, &ops).await.unwrap();
    for n in 1..=3 {
        insert_user(db, a, PROD, n).await;
    }
    db.insert_for_test(
        a,
        PROD,
        &id("events"),
        &[(id("user_id"), Literal::Integer(1))],
    )
    .await
    .unwrap();

    db.fork_structure(a, PROD, STAGING).await.unwrap();
    let prod = describe(db, a, PROD).await;
    assert_eq!(describe(db, a, STAGING).await, prod);
    assert_eq!(db.row_count(a, STAGING, &id("users")).await.unwrap(), 0);
    assert_eq!(db.row_count(a, STAGING, &id("events")).await.unwrap(), 0);
    assert_eq!(db.row_count(a, PROD, &id("users")).await.unwrap(), 3);
    // The fork is at production's point of the op log.
    assert_eq!(db.applied_through(a, STAGING).await.unwrap(), Some(4));
    assert_eq!(
        db.apply_ops(a, STAGING, &ops).await.unwrap(),
        Vec::<u64>::new()
    );
    // Constraints came along: the staging copy enforces them too.
    insert_user(db, a, STAGING, 1).await;
    let again = db
        .insert_for_test(a, STAGING, &id("users"), &[(id("id"), Literal::Integer(1))])
        .await;
    assert!(
        matches!(again, Err(AppDbError::Refused { .. })),
        "{again:?}"
    );
    // From now on the two evolve apart.
    let next = op(5, json!({"op": "drop_table", "table": "events"}));
    assert_eq!(db.apply_ops(a, STAGING, &[next]).await.unwrap(), [5]);
    assert_eq!(describe(db, a, PROD).await, prod);
    assert_eq!(db.applied_through(a, PROD).await.unwrap(), Some(4));
}

pub async fn fork_into_non_empty_target_is_refused(db: Db) {
    let (db, a) = (&*db, app());
    let e = db.fork_structure(a, PROD, STAGING).await.unwrap_err();
    assert_eq!(e, AppDbError::NoSchema { app: a, env: PROD });
    db.ensure_schema(a, PROD).await.unwrap();
    db.apply_ops(a, PROD, &[users_table(1)]).await.unwrap();
    // An existing but empty target is fine (a retried enable after a crash).
    db.ensure_schema(a, STAGING).await.unwrap();
    db.fork_structure(a, PROD, STAGING).await.unwrap();
    insert_user(db, a, STAGING, 7).await;
    let e = db.fork_structure(a, PROD, STAGING).await.unwrap_err();
    assert_eq!(
        e,
        AppDbError::TargetNotEmpty {
            app: a,
            env: STAGING
        }
    );
    assert_eq!(
        db.row_count(a, STAGING, &id("users")).await.unwrap(),
        1,
        "target untouched"
    );
}

pub async fn drop_then_ensure_gives_an_empty_schema(db: Db) {
    let (db, a) = (&*db, app());
    db.drop_schema(a, STAGING).await.unwrap();
    db.ensure_schema(a, PROD).await.unwrap();
    db.apply_ops(a, PROD, &[users_table(1)]).await.unwrap();
    db.fork_structure(a, PROD, STAGING).await.unwrap();
    db.drop_schema(a, STAGING).await.unwrap();
    db.drop_schema(a, STAGING).await.unwrap();
    assert!(matches!(
        db.describe(a, STAGING).await,
        Err(AppDbError::NoSchema { .. })
    ));
    db.ensure_schema(a, STAGING).await.unwrap();
    assert!(describe(db, a, STAGING).await.is_empty());
    assert_eq!(db.applied_through(a, STAGING).await.unwrap(), None);
    assert_eq!(
        db.applied_through(a, PROD).await.unwrap(),
        Some(1),
        "production untouched"
    );
}

pub async fn apps_and_environments_are_isolated(db: Db) {
    let (db, a, b) = (&*db, app(), app());
    for (x, env) in [(a, PROD), (a, STAGING), (b, PROD)] {
        db.ensure_schema(x, env).await.unwrap();
    }
    db.apply_ops(a, PROD, &[users_table(1)]).await.unwrap();
    insert_user(db, a, PROD, 1).await;
    assert!(describe(db, a, STAGING).await.is_empty());
    assert!(describe(db, b, PROD).await.is_empty());
    assert_eq!(db.applied_through(b, PROD).await.unwrap(), None);
    // The same op on another app applies there independently.
    assert_eq!(db.apply_ops(b, PROD, &[users_table(1)]).await.unwrap(), [1]);
    assert_eq!(db.row_count(b, PROD, &id("users")).await.unwrap(), 0);
    db.drop_schema(b, PROD).await.unwrap();
    assert_eq!(db.row_count(a, PROD, &id("users")).await.unwrap(), 1);
}

/// The classification is the port's, not the adapter's; it is here so that every adapter's
/// suite shows the table the rollback guard relies on.
pub async fn destructive_classification(_db: Db) {
    let change = |from: &str, to: &str| {
        op(
            1,
            json!({"op": "change_column_type", "table": "t", "column": "c",
                     "from": from, "to": to}),
        )
    };
    let cases = [
        (users_table(1), false),
        (op(1, json!({"op": "drop_table", "table": "t"})), true),
        (
            op(
                1,
                json!({"op": "add_column", "table": "t", "column": {"name": "c", "type": "text"}}),
            ),
            false,
        ),
        (
            op(1, json!({"op": "drop_column", "table": "t", "column": "c"})),
            true,
        ),
        (
            op(
                1,
                json!({"op": "rename_column", "table": "t", "from": "a", "to": "b"}),
            ),
            false,
        ),
        (
            op(
                1,
                json!({"op": "create_index", "name": "i", "table": "t", "columns": ["c"]}),
            ),
            false,
        ),
        (op(1, json!({"op": "drop_index", "name": "i"})), true),
        (change("integer", "bigint"), false),
        (change("varchar(10)", "varchar(20)"), false),
        (change("varchar(10)", "text"), false),
        (change("numeric(5,2)", "numeric(8,2)"), false),
        (change("bigint", "integer"), true),
        (change("varchar(20)", "varchar(10)"), true),
        (change("text", "varchar(255)"), true),
        (change("double", "integer"), true),
        (change("numeric(8,2)", "numeric(5,2)"), true),
        (change("timestamp", "date"), true),
        (change("text", "integer"), true),
    ];
    for (o, want) in cases {
        assert_eq!(destructive(&o.change), want, "{o:?}");
    }
    // A flag in the event is not part of the op and changes nothing.
    let flagged = op(
        1,
        json!({"op": "drop_table", "table": "t", "destructive": false}),
    );
    assert!(destructive(&flagged.change));
}
