//! Reading an app schema's structure from PostgreSQL's catalog, and forking it. Queries take
//! the schema name as a parameter; the few statements that must name it are built from
//! `schema_name`, which is made of a UUID and a fixed suffix.

use std::collections::BTreeMap;

use axhub_appdb::sql::Dialect;
use axhub_appdb::{
    APPLIED_OPS_TABLE, AppDbError, ColumnDescription, Ident, IndexDescription, SchemaChange,
    SchemaDescription, TableDescription,
};
use tokio_postgres::GenericClient;

use crate::db_error;

pub(crate) async fn schema_exists(
    c: &impl GenericClient,
    schema: &str,
) -> Result<bool, AppDbError> {
    let row = c
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
        .await
        .map_err(db_error)?;
    Ok(row.is_some())
}

/// Tables of the schema other than ours (`_axhub…`), with their oids.
async fn tables(c: &impl GenericClient, schema: &str) -> Result<Vec<(u32, String)>, AppDbError> {
    let rows = c
        .query(
            "SELECT c.oid, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname NOT LIKE '\\_axhub%' \
             ORDER BY c.relname",
            &[&schema],
        )
        .await
        .map_err(db_error)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(crate) async fn describe(
    c: &impl GenericClient,
    schema: &str,
) -> Result<SchemaDescription, AppDbError> {
    let mut out = BTreeMap::new();
    for (oid, name) in tables(c, schema).await? {
        out.insert(name.clone(), table(c, oid, &name).await?);
    }
    Ok(SchemaDescription { tables: out })
}

async fn table(
    c: &impl GenericClient,
    oid: u32,
    name: &str,
) -> Result<TableDescription, AppDbError> {
    let cols = c
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    pg_get_expr(d.adbin, d.adrelid) \
             FROM pg_attribute a \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&oid],
        )
        .await
        .map_err(db_error)?;
    let unique = column_names(c, UNIQUE_COLUMNS, oid).await?;
    let mut columns = Vec::with_capacity(cols.len());
    for r in &cols {
        let (col, ty, notnull, default): (String, String, bool, Option<String>) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let column_type = Dialect::Postgres.parse_type(&ty).ok_or_else(|| {
            AppDbError::refused(None, format!("{name}.{col} has an unknown type {ty}"))
        })?;
        columns.push(ColumnDescription {
            default: default.and_then(|d| Dialect::Postgres.parse_default(&d, column_type)),
            unique: unique.contains(&col),
            name: col,
            column_type,
            nullable: !notnull,
        });
    }
    let primary_key = column_names(c, PRIMARY_KEY, oid).await?;
    // Indexes that back no constraint: the ones `create_index` made.
    let indexes = c
        .query(
            "SELECT i.relname::text, x.indisunique, \
                    array(SELECT a.attname::text \
                          FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                          JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum \
                          ORDER BY k.ord) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             WHERE x.indrelid = $1 \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid)",
            &[&oid],
        )
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| {
            let idx = IndexDescription {
                unique: r.get(1),
                columns: r.get(2),
            };
            (r.get::<_, String>(0), idx)
        })
        .collect();
    Ok(TableDescription {
        columns,
        primary_key,
        indexes,
    })
}

/// Columns with a single-column UNIQUE constraint.
const UNIQUE_COLUMNS: &str = "SELECT a.attname::text FROM pg_constraint con \
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] \
     WHERE con.conrelid = $1 AND con.contype = 'u' AND cardinality(con.conkey) = 1";

/// The primary key's columns, in key order.
const PRIMARY_KEY: &str = "SELECT a.attname::text FROM pg_constraint con \
     CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) \
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
     WHERE con.conrelid = $1 AND con.contype = 'p' ORDER BY k.ord";

async fn column_names(
    c: &impl GenericClient,
    sql: &str,
    oid: u32,
) -> Result<Vec<String>, AppDbError> {
    let rows = c.query(sql, &[&oid]).await.map_err(db_error)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn max_seq(c: &impl GenericClient) -> Result<Option<u64>, AppDbError> {
    let row = c
        .query_one(
            &format!("SELECT max(seq) FROM \"{APPLIED_OPS_TABLE}\""),
            &[],
        )
        .await
        .map_err(db_error)?;
    Ok(row.get::<_, Option<i64>>(0).map(|s| s as u64))
}

/// Copies the structure of `from` into the transaction's schema (the target, on the
/// search_path, already checked empty): each table by `LIKE … INCLUDING ALL EXCLUDING
/// INDEXES` (columns, types, defaults, NOT NULL and CHECK constraints), then its primary key,
/// unique columns and indexes from `from`'s description, so every name is the original one
/// (LIKE would invent new index names). The op vocabulary has no foreign keys, so there are
/// none to copy.
pub(crate) async fn fork_into(c: &impl GenericClient, from: &str) -> Result<(), AppDbError> {
    let desc = describe(c, from).await?;
    let ident = |s: &str| Ident::new(s).map_err(|e| AppDbError::refused(None, e.to_string()));
    for (name, t) in &desc.tables {
        let table = ident(name)?;
        let mut sql = format!(
            "CREATE TABLE {t} (LIKE \"{from}\".{t} INCLUDING ALL EXCLUDING INDEXES);\n",
            t = table.quoted()
        );
        if !t.primary_key.is_empty() {
            let pk = t
                .primary_key
                .iter()
                .map(|n| ident(n))
                .collect::<Result<Vec<_>, _>>()?;
            sql.push_str(&format!(
                "ALTER TABLE {} ADD PRIMARY KEY ({});\n",
                table.quoted(),
                axhub_appdb::sql::quoted_list(&pk)
            ));
        }
        for col in t.columns.iter().filter(|c| c.unique) {
            sql.push_str(&format!(
                "ALTER TABLE {} ADD UNIQUE ({});\n",
                table.quoted(),
                ident(&col.name)?.quoted()
            ));
        }
        for (index, i) in &t.indexes {
            let create = SchemaChange::CreateIndex {
                name: ident(index)?,
                table: table.clone(),
                columns: i
                    .columns
                    .iter()
                    .map(|n| ident(n))
                    .collect::<Result<_, _>>()?,
                unique: i.unique,
            };
            if let Some(s) = Dialect::Postgres.statement(&create) {
                sql.push_str(&s);
                sql.push_str(";\n");
            }
        }
        c.batch_execute(&sql).await.map_err(db_error)?;
    }
    c.batch_execute(&format!(
        "DELETE FROM \"{APPLIED_OPS_TABLE}\";\n\
         INSERT INTO \"{APPLIED_OPS_TABLE}\" SELECT * FROM \"{from}\".\"{APPLIED_OPS_TABLE}\";"
    ))
    .await
    .map_err(db_error)
}
