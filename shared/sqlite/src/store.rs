//! `Store` on SQLite. One table mirrors the DynamoDB layout (pk, sk, two sparse GSIs, ttl);
//! conditions are evaluated inside an IMMEDIATE transaction, which SQLite serializes, so a
//! check and its write are atomic exactly as DynamoDB's conditional writes are.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axhub_store::{
    Cond, Index, Item, Key, PK, Page, Query, SK, SkCond, Store, StoreError, TTL, TxOp, Update,
    eval_cond, is_expired, key_of_item, now_epoch, validate_transaction,
};
use rusqlite::{
    Connection, OptionalExtension, TransactionBehavior, params_from_iter, types::Value as SqlValue,
};
use serde_json::Value;

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT, gsi1sk TEXT,
    gsi2pk TEXT, gsi2sk TEXT,
    ttl INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL AND gsi1sk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL AND gsi2sk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
";

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed, readable by its owner only) the store file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        crate::create_private(path).map_err(backend)?;
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    /// A private in-memory store (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Deletes items whose ttl has passed (DynamoDB's TTL sweeper does the same, lazily).
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = now_epoch();
        self.with_conn(move |c| {
            c.execute(
                "DELETE FROM items WHERE ttl IS NOT NULL AND ttl <= ?1",
                [now],
            )
            .map_err(backend)
        })
        .await
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Backend("sqlite connection poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(backend)?
    }
}

fn read(c: &Connection, key: &Key) -> Result<Option<Item>, StoreError> {
    let data: Option<String> = c
        .query_row(
            "SELECT data FROM items WHERE pk = ?1 AND sk = ?2",
            [&key.pk, &key.sk],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    data.map(|d| decode(&d)).transpose()
}

fn decode(data: &str) -> Result<Item, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::InvalidItem(e.to_string()))
}

fn str_attr(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn write(c: &Connection, item: &Item) -> Result<(), StoreError> {
    let key = Key::of(item)?;
    let data = serde_json::to_string(item).map_err(|e| StoreError::InvalidItem(e.to_string()))?;
    c.execute(
        "INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, ttl, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            key.pk,
            key.sk,
            str_attr(item, "gsi1pk"),
            str_attr(item, "gsi1sk"),
            str_attr(item, "gsi2pk"),
            str_attr(item, "gsi2sk"),
            item.get(TTL).and_then(Value::as_i64),
            data
        ],
    )
    .map_err(backend)?;
    Ok(())
}

fn remove(c: &Connection, key: &Key) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
        [&key.pk, &key.sk],
    )
    .map_err(backend)?;
    Ok(())
}

fn holds(cond: Option<&Cond>, current: Option<&Item>) -> bool {
    cond.is_none_or(|c| eval_cond(c, current))
}

fn check_key_attrs(item: &Item) -> Result<(), StoreError> {
    Key::of(item)?;
    for n in ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"] {
        if item.get(n).is_some_and(|v| !v.is_string()) {
            return Err(StoreError::InvalidItem(format!("{n} must be a string")));
        }
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        let item = self.with_conn(move |c| read(c, &key)).await?;
        Ok(item.filter(|i| !is_expired(i, now_epoch())))
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), StoreError> {
        check_key_attrs(&item)?;
        self.with_conn(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let current = read(&tx, &Key::of(&item)?)?;
            if !holds(cond.as_ref(), current.as_ref()) {
                return Err(StoreError::ConditionFailed);
            }
            write(&tx, &item)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        cond: Option<Cond>,
    ) -> Result<Item, StoreError> {
        let key = key.clone();
        self.with_conn(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let current = read(&tx, &key)?;
            if !holds(cond.as_ref(), current.as_ref()) {
                return Err(StoreError::ConditionFailed);
            }
            let item = update.apply(&key, current);
            check_key_attrs(&item)?;
            write(&tx, &item)?;
            tx.commit().map_err(backend)?;
            Ok(item)
        })
        .await
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.with_conn(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let current = read(&tx, &key)?;
            if !holds(cond.as_ref(), current.as_ref()) {
                return Err(StoreError::ConditionFailed);
            }
            remove(&tx, &key)?;
            tx.commit().map_err(backend)?;
            Ok(current)
        })
        .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        for op in &ops {
            if let TxOp::Put { item, .. } = op {
                check_key_attrs(item)?;
            }
        }
        self.with_conn(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            // Evaluate every condition first, and report all that fail, as DynamoDB does.
            let mut currents = Vec::with_capacity(ops.len());
            let mut failed = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                let current = read(&tx, &op.key()?)?;
                if !holds(op.cond(), current.as_ref()) {
                    failed.push(i);
                }
                currents.push(current);
            }
            if !failed.is_empty() {
                return Err(StoreError::TransactionCancelled { failed });
            }
            for (op, current) in ops.into_iter().zip(currents) {
                match op {
                    TxOp::Put { item, .. } => write(&tx, &item)?,
                    TxOp::Update { key, update, .. } => {
                        let item = update.apply(&key, current);
                        check_key_attrs(&item)?;
                        write(&tx, &item)?;
                    }
                    TxOp::Delete { key, .. } => remove(&tx, &key)?,
                    TxOp::Check { .. } => {}
                }
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        if q.limit == 0 || q.limit > 1000 {
            return Err(StoreError::InvalidRequest(
                "query limit must be 1..=1000".into(),
            ));
        }
        let (pcol, scol) = q.index.key_attrs();
        let mut sql = format!("SELECT data FROM items WHERE {pcol} = ?");
        let mut args: Vec<SqlValue> = vec![SqlValue::Text(q.pk.clone())];
        if q.index != Index::Primary {
            sql.push_str(&format!(" AND {scol} IS NOT NULL"));
        }
        match &q.sk {
            None => {}
            Some(SkCond::BeginsWith(p)) => {
                sql.push_str(&format!(" AND substr({scol}, 1, length(?)) = ?"));
                args.push(SqlValue::Text(p.clone()));
                args.push(SqlValue::Text(p.clone()));
            }
            Some(SkCond::Between(a, b)) => {
                sql.push_str(&format!(" AND {scol} BETWEEN ? AND ?"));
                args.push(SqlValue::Text(a.clone()));
                args.push(SqlValue::Text(b.clone()));
            }
            Some(c) => {
                let (op, v) = match c {
                    SkCond::Lt(v) => ("<", v),
                    SkCond::Le(v) => ("<=", v),
                    SkCond::Gt(v) => (">", v),
                    SkCond::Ge(v) => (">=", v),
                    SkCond::BeginsWith(v) | SkCond::Between(v, _) => ("=", v),
                };
                sql.push_str(&format!(" AND {scol} {op} ?"));
                args.push(SqlValue::Text(v.clone()));
            }
        }
        let dir = if q.forward { "ASC" } else { "DESC" };
        let cmp = if q.forward { ">" } else { "<" };
        // Index entries sort by their sort key, ties broken by the table key, so a cursor is
        // the full key of the last item read.
        let order_cols: Vec<&str> = if q.index == Index::Primary {
            vec![SK]
        } else {
            vec![scol, PK, SK]
        };
        if let Some(start) = &q.start_after {
            let cols = order_cols.join(", ");
            let marks = vec!["?"; order_cols.len()].join(", ");
            sql.push_str(&format!(" AND ({cols}) {cmp} ({marks})"));
            for col in &order_cols {
                let v = start.get(*col).and_then(Value::as_str).ok_or_else(|| {
                    StoreError::InvalidRequest(format!("start_after lacks {col}"))
                })?;
                args.push(SqlValue::Text(v.to_owned()));
            }
        }
        let order = order_cols
            .iter()
            .map(|c| format!("{c} {dir}"))
            .collect::<Vec<_>>()
            .join(", ");
        sql.push_str(&format!(" ORDER BY {order} LIMIT {}", q.limit));
        let limit = q.limit as usize;
        let index = q.index;
        let rows: Vec<Item> = self
            .with_conn(move |c| {
                let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
                let rows = stmt
                    .query_map(params_from_iter(args), |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                let mut out = Vec::new();
                for r in rows {
                    out.push(decode(&r.map_err(backend)?)?);
                }
                Ok(out)
            })
            .await?;
        let last_key = (rows.len() == limit)
            .then(|| rows.last().map(|i| key_of_item(i, index)))
            .flatten();
        let now = now_epoch();
        let items = rows.into_iter().filter(|i| !is_expired(i, now)).collect();
        Ok(Page { items, last_key })
    }
}
