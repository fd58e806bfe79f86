//! Cases about applying ops: every kind on a real database, types and defaults read back,
//! exactly-once application, atomicity of an op with its record, refusals.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::{AppDbError, ColumnDefault, ColumnType, IndexDescription};

type Db = Arc<dyn AppDatabase>;

pub async fn every_op_kind_applies(db: Db) {
    let (db, a) = (&*db, app());
    db.ensure_schema(a, PROD).await.unwrap();
    let ops = vec![
        users_table(1),
        op(
            2,
            json!({"op": "create_table", "table": "order", "columns": [
                {"name": "user", "type": "bigint", "nullable": false, "primary_key": true},
                {"name": "line", "type": "integer", "nullable": false, "primary_key": true},
                {"name": "note", "type": "text"}
            ]}),
        ),
        op(
            3,
            json!({"op": "add_column", "table": "users", "column":
            {"name": "bio", "type": "varchar(10)"}}),
        ),
        op(
            4,
            json!({"op": "rename_column", "table": "users", "from": "name", "to": "full_name"}),
        ),
        op(
            5,
            json!({"op": "change_column_type", "table": "users", "column": "bio",
            "from": "varchar(10)", "to": "text"}),
        ),
        op(
            6,
            json!({"op": "create_index", "name": "users_by_name", "table": "users",
            "columns": ["full_name", "score"]}),
        ),
        op(
            7,
            json!({"op": "create_index", "name": "order_note", "table": "order",
            "columns": ["note"], "unique": true}),
        ),
        op(8, json!({"op": "drop_index", "name": "order_note"})),
        op(
            9,
            json!({"op": "drop_column", "table": "order", "column": "note"}),
        ),
    ];
    assert_eq!(
        db.apply_ops(a, PROD, &ops).await.unwrap(),
        (1..=9).collect::<Vec<_>>()
    );
    assert_eq!(db.applied_through(a, PROD).await.unwrap(), Some(9));
    let d = describe(db, a, PROD).await;
    assert_eq!(d.tables.keys().collect::<Vec<_>>(), ["order", "users"]);
    let users = &d.tables["users"];
    let names: Vec<&str> = users.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "email", "full_name", "score", "bio"]);
    assert_eq!(users.primary_key, ["id"]);
    assert_eq!(users.column("bio").unwrap().column_type, ColumnType::Text);
    assert!(users.column("email").unwrap().unique);
    assert!(!users.column("email").unwrap().nullable);
    assert_eq!(
        users.indexes.get("users_by_name"),
        Some(&IndexDescription {
            columns: vec!["full_name".into(), "score".into()],
            unique: false
        })
    );
    let order = &d.tables["order"];
    assert_eq!(order.primary_key, ["user", "line"]);
    assert_eq!(order.columns.len(), 2);
    assert!(order.indexes.is_empty());

    db.apply_ops(
        a,
        PROD,
        &[op(10, json!({"op": "drop_table", "table": "order"}))],
    )
    .await
    .unwrap();
    let d = describe(db, a, PROD).await;
    assert_eq!(d.tables.keys().collect::<Vec<_>>(), ["users"]);
}

pub async fn types_and_defaults_read_back(db: Db) {
    let (db, a) = (&*db, app());
    db.ensure_schema(a, PROD).await.unwrap();
    let lit = |kind: &str, v: serde_json::Value| json!({"kind": kind, "value": v});
    let columns = json!([
        {"name": "t", "type": "text", "default": lit("text", json!("it's a \\ 'quote'"))},
        {"name": "v", "type": "varchar(12)", "default": lit("text", json!(""))},
        {"name": "i", "type": "integer", "nullable": false, "default": lit("integer", json!(-5))},
        {"name": "b", "type": "bigint", "default": lit("integer", json!(9_007_199_254_740_993_i64))},
        {"name": "f", "type": "boolean", "nullable": false, "default": lit("boolean", json!(true))},
        {"name": "d", "type": "double", "default": lit("double", json!(2.5))},
        {"name": "n", "type": "numeric(10,2)", "default": lit("numeric", json!("12.50"))},
        {"name": "ts", "type": "timestamp", "nullable": false, "default": {"kind": "now"}},
        {"name": "dt", "type": "date", "default": {"kind": "now"}},
        {"name": "u", "type": "uuid"},
        {"name": "j", "type": "json", "default": lit("text", json!("{}"))},
        {"name": "x", "type": "text", "default": {"kind": "null"}},
    ]);
    let create = op(
        1,
        json!({"op": "create_table", "table": "all_types", "columns": columns}),
    );
    db.apply_ops(a, PROD, std::slice::from_ref(&create))
        .await
        .unwrap();
    let crate::SchemaChange::CreateTable { columns, .. } = &create.change else {
        unreachable!()
    };
    let d = describe(db, a, PROD).await;
    let table = &d.tables["all_types"];
    assert_eq!(table.columns.len(), columns.len());
    for (want, got) in columns.iter().zip(&table.columns) {
        assert_eq!(got.name, want.name.as_str());
        assert_eq!(got.column_type, want.column_type, "type of {}", got.name);
        assert_eq!(got.nullable, want.nullable, "nullable of {}", got.name);
        // A null default and no default are the same thing to every engine.
        let null = Some(ColumnDefault::Literal(Literal::Null));
        let norm = |d: &Option<ColumnDefault>| if *d == null { None } else { d.clone() };
        assert_eq!(
            norm(&got.default),
            norm(&want.default),
            "default of {}",
            got.name
        );
    }
    // Defaults really apply: a row with only `u` set gets every other value.
    db.insert_for_test(a, PROD, &id("all_types"), &[(id("u"), Literal::Null)])
        .await
        .unwrap();
    assert_eq!(db.row_count(a, PROD, &id("all_types")).await.unwrap(), 1);
}

pub async fn change_type_keeps_rows(db: Db) {
    let (db, a) = (&*db, app());
    db.ensure_schema(a, PROD).await.unwrap();
    db.apply_ops(a, PROD, &[users_table(1)]).await.unwrap();
    for n in 1..=3 {
        insert_user(db, a, PROD, n).await;
    }
    let change = |seq, col: &str, from: &str, to: &str| {
        op(
            seq,
            json!({"op": "change_column_type", "table": "users", "column": col,
                       "from": from, "to": to}),
        )
    };
    let ops = [
        change(2, "score", "integer", "bigint"),
        // Narrowing, with data that fits: applied (it is destructive, not impossible).
        change(3, "email", "varchar(100)", "varchar(40)"),
        op(
            4,
            json!({"op": "create_index", "name": "by_score", "table": "users",
                     "columns": ["score"]}),
        ),
        change(5, "score", "bigint", "numeric(20,0)"),
    ];
    assert_eq!(db.apply_ops(a, PROD, &ops).await.unwrap(), [2, 3, 4, 5]);
    assert_eq!(db.row_count(a, PROD, &id("users")).await.unwrap(), 3);
    let users = &describe(db, a, PROD).await.tables["users"];
    let email = users.column("email").unwrap();
    assert_eq!(email.column_type, ColumnType::Varchar(40));
    assert!(
        email.unique && !email.nullable,
        "constraints survive: {email:?}"
    );
    assert_eq!(users.primary_key, ["id"]);
    let score = users.column("score").unwrap();
    let numeric = ColumnType::Numeric {
        precision: 20,
        scale: 0,
    };
    assert_eq!(score.column_type, numeric);
    assert_eq!(
        score.default,
        Some(ColumnDefault::Literal(Literal::Numeric("0".into())))
    );
    assert!(users.indexes.contains_key("by_score"), "indexes survive");
    // The unique constraint still holds after the change.
    let dup = db
        .insert_for_test(
            a,
            PROD,
            &id("users"),
            &[
                (id("id"), Literal::Integer(9)),
                (id("email"), Literal::Text("u1@example.com".into())),
            ],
        )
        .await;
    assert!(matches!(dup, Err(AppDbError::Refused { .. })), "{dup:?}");
}

pub async fn reapplying_applies_nothing_twice(db: Db) {
    let (db, a) = (&*db, app());
    db.ensure_schema(a, PROD).await.unwrap();
    let add = |seq: u64, name: &str| {
        op(
            seq,
            json!({"op": "add_column", "table": "users", "column":
                       {"name": name, "type": "text"}}),
        )
    };
    // Out of order on the way in, applied in seq order.
    let first = vec![add(2, "a"), users_table(1)];
    assert_eq!(db.apply_ops(a, PROD, &first).await.unwrap(), [1, 2]);
    assert_eq!(
        db.apply_ops(a, PROD, &first).await.unwrap(),
        Vec::<u64>::new()
    );
    // A retried promote carries old and new ops: only the new ones run.
    let more = vec![users_table(1), add(2, "a"), add(3, "b"), add(3, "b")];
    assert_eq!(db.apply_ops(a, PROD, &more).await.unwrap(), [3]);
    assert_eq!(db.applied_through(a, PROD).await.unwrap(), Some(3));
    assert_eq!(describe(db, a, PROD).await.tables["users"].columns.len(), 6);
    // Two different ops with one seq: refused before anything runs.
    let clash = vec![add(4, "c"), add(4, "d")];
    let e = db.apply_ops(a, PROD, &clash).await.unwrap_err();
    assert!(
        matches!(e, AppDbError::Refused { seq: Some(4), .. }),
        "{e:?}"
    );
    assert_eq!(db.applied_through(a, PROD).await.unwrap(), Some(3));
}

pub async fn failed_op_leaves_neither_change_nor_record(db: Db) {
    let (db, a) = (&*db, app());
    db.ensure_schema(a, PROD).await.unwrap();
    db.apply_ops(a, PROD, &[users_table(1)]).await.unwrap();
    for n in 1..=2 {
        insert_user(db, a, PROD, n).await;
    }
    // Both users have the same name: the engine itself refuses the unique index, after op 2
    // was applied and before op 4 is reached.
    let ops = [
        op(
            2,
            json!({"op": "add_column", "table": "users", "column":
                     {"name": "nick", "type": "text"}}),
        ),
        op(
            3,
            json!({"op": "create_index", "name": "one_name", "table": "users",
                     "columns": ["name"], "unique": true}),
        ),
        op(
            4,
            json!({"op": "add_column", "table": "users", "column":
                     {"name": "later", "type": "text"}}),
        ),
    ];
    let e = db.apply_ops(a, PROD, &ops).await.unwrap_err();
    assert!(
        matches!(e, AppDbError::Refused { seq: Some(3), .. }),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    assert_eq!(db.applied_through(a, PROD).await.unwrap(), Some(2));
    let users = &describe(db, a, PROD).await.tables["users"];
    assert!(users.column("nick").is_some(), "op 2 stays applied");
    assert!(users.indexes.is_empty(), "op 3 left nothing");
    assert!(users.column("later").is_none(), "op 4 never ran");
    assert_eq!(db.row_count(a, PROD, &id("users")).await.unwrap(), 2);
    // The service corrects op 3; the same call now goes through from there.
    let fixed = [
        ops[0].clone(),
        op(
            3,
            json!({"op": "create_index", "name": "one_name", "table": "users",
                     "columns": ["name"]}),
        ),
        ops[2].clone(),
    ];
    assert_eq!(db.apply_ops(a, PROD, &fixed).await.unwrap(), [3, 4]);
}

pub async fn refusals_name_the_op(db: Db) {
    let (db, a) = (&*db, app());
    db.ensure_schema(a, PROD).await.unwrap();
    db.apply_ops(a, PROD, &[users_table(1)]).await.unwrap();
    let refused = [
        json!({"op": "drop_column", "table": "users", "column": "missing"}),
        json!({"op": "drop_column", "table": "users", "column": "id"}),
        json!({"op": "drop_column", "table": "users", "column": "email"}),
        json!({"op": "drop_table", "table": "missing"}),
        json!({"op": "create_table", "table": "users", "columns": [{"name": "a", "type": "text"}]}),
        json!({"op": "add_column", "table": "users", "column": {"name": "name", "type": "text"}}),
        json!({"op": "rename_column", "table": "users", "from": "name", "to": "email"}),
        json!({"op": "change_column_type", "table": "users", "column": "name",
               "from": "integer", "to": "bigint"}),
        json!({"op": "create_index", "name": "users", "table": "users", "columns": ["name"]}),
        json!({"op": "create_index", "name": "ix", "table": "users", "columns": ["nope"]}),
        json!({"op": "drop_index", "name": "missing"}),
    ];
    for body in refused {
        let e = db
            .apply_ops(a, PROD, &[op(2, body.clone())])
            .await
            .unwrap_err();
        assert!(
            matches!(e, AppDbError::Refused { seq: Some(2), .. }),
            "{body}: {e:?}"
        );
    }
    assert_eq!(db.applied_through(a, PROD).await.unwrap(), Some(1));
    let e = db
        .apply_ops(app(), PROD, &[users_table(1)])
        .await
        .unwrap_err();
    assert!(matches!(e, AppDbError::NoSchema { .. }), "{e:?}");
}

pub async fn concurrent_applies_apply_each_op_once(db: Db) {
    let a = app();
    db.ensure_schema(a, PROD).await.unwrap();
    let ops: Vec<SchemaOp> = std::iter::once(users_table(1))
        .chain((2..=8).map(|n| {
            op(
                n,
                json!({"op": "add_column", "table": "users", "column":
                         {"name": format!("c{n}"), "type": "text"}}),
            )
        }))
        .collect();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (db, ops) = (db.clone(), ops.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                match db.apply_ops(a, PROD, &ops).await {
                    Err(e) if e.is_retryable() => tokio::task::yield_now().await,
                    other => return other.unwrap(),
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=8).collect::<Vec<_>>(),
        "each op applied by exactly one caller"
    );
    assert_eq!(
        describe(&*db, a, PROD).await.tables["users"].columns.len(),
        11
    );
}
