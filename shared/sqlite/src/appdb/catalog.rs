//! Reading an app database's structure from SQLite's catalog, and the one change SQLite cannot
//! make in place: a column's type, done as a table rebuild
//! (<https://sqlite.org/lang_altertable.html#otheralter>) inside the op's transaction. The
//! page recommends building the new table under a temporary name and renaming it; we move the
//! old one aside instead, so the new table is rendered under its own (validated) name. That
//! order is only unsafe for views, triggers and foreign keys naming the table, and ops create
//! none of them.

use axhub_appdb::sql::{Dialect, quoted_list};
use axhub_appdb::{
    APPLIED_OPS_TABLE, AppDbError, Column, ColumnDescription, ColumnType, Ident, IndexDescription,
    SchemaDescription, TableDescription,
};
use rusqlite::{Connection, OptionalExtension};

use super::db_error;

/// User tables: not SQLite's own, not ours (`_axhub…`; `_` is a LIKE wildcard, hence ESCAPE).
const USER_TABLES: &str = "SELECT name FROM sqlite_master WHERE type = 'table' \
     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_axhub%' ESCAPE '\\' \
     ORDER BY name";

pub(super) fn describe(c: &Connection) -> Result<SchemaDescription, AppDbError> {
    let names: Vec<String> = {
        let mut stmt = c.prepare(USER_TABLES).map_err(db_error)?;
        stmt.query_map([], |r| r.get(0))
            .map_err(db_error)?
            .collect::<Result<_, _>>()
            .map_err(db_error)?
    };
    let mut tables = std::collections::BTreeMap::new();
    for name in names {
        let t = table(c, &name)?;
        tables.insert(name, t);
    }
    Ok(SchemaDescription { tables })
}

fn table(c: &Connection, name: &str) -> Result<TableDescription, AppDbError> {
    let mut stmt = c
        .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid")
        .map_err(db_error)?;
    let rows: Vec<(String, String, bool, Option<String>, u32)> = stmt
        .query_map([name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(db_error)?
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    let mut columns = Vec::with_capacity(rows.len());
    let mut pk: Vec<(u32, String)> = Vec::new();
    for (col, declared, notnull, default, pk_pos) in rows {
        let column_type = Dialect::Sqlite.parse_type(&declared).ok_or_else(|| {
            AppDbError::refused(None, format!("{name}.{col} has an unknown type {declared}"))
        })?;
        let default = default.and_then(|d| Dialect::Sqlite.parse_default(&d, column_type));
        if pk_pos > 0 {
            pk.push((pk_pos, col.clone()));
        }
        columns.push(ColumnDescription {
            name: col,
            column_type,
            nullable: !notnull,
            default,
            unique: false,
        });
    }
    pk.sort();
    let mut t = TableDescription {
        columns,
        primary_key: pk.into_iter().map(|(_, n)| n).collect(),
        indexes: Default::default(),
    };
    let mut stmt = c
        .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1)")
        .map_err(db_error)?;
    let indexes: Vec<(String, bool, String)> = stmt
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(db_error)?
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    for (index, unique, origin) in indexes {
        let cols = index_columns(c, &index)?;
        match origin.as_str() {
            // CREATE [UNIQUE] INDEX: an op's index.
            "c" => {
                t.indexes.insert(
                    index,
                    IndexDescription {
                        columns: cols,
                        unique,
                    },
                );
            }
            // A column's UNIQUE constraint.
            "u" => {
                if let [only] = cols.as_slice()
                    && let Some(col) = t.columns.iter_mut().find(|c| &c.name == only)
                {
                    col.unique = true;
                }
            }
            _ => {}
        }
    }
    Ok(t)
}

fn index_columns(c: &Connection, index: &str) -> Result<Vec<String>, AppDbError> {
    let mut stmt = c
        .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
        .map_err(db_error)?;
    stmt.query_map([index], |r| r.get(0))
        .map_err(db_error)?
        .collect::<Result<_, _>>()
        .map_err(db_error)
}

/// The `CREATE` statements of the user's tables (first) and indexes, as SQLite keeps them:
/// replayed into a fresh file, they give the same structure. Auto-indexes (primary keys,
/// UNIQUE columns) have no statement; they come back with their table.
pub(super) fn structure_sql(c: &Connection) -> Result<Vec<String>, AppDbError> {
    let mut stmt = c
        .prepare(
            "SELECT sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND tbl_name NOT LIKE '\\_axhub%' ESCAPE '\\' \
             ORDER BY type = 'table' DESC, rowid",
        )
        .map_err(db_error)?;
    stmt.query_map([], |r| r.get(0))
        .map_err(db_error)?
        .collect::<Result<_, _>>()
        .map_err(db_error)
}

/// Changes `table.column` to `to` by a rebuild: the old table moves aside, a new one with the
/// same columns and constraints (the changed type aside) takes its name, the rows are copied
/// (SQLite converts them by the new column's affinity and never rejects one), the old table
/// goes, and its indexes are recreated from their own statements.
pub(super) fn change_type(
    c: &Connection,
    desc: &SchemaDescription,
    table: &Ident,
    column: &Ident,
    to: ColumnType,
) -> Result<(), AppDbError> {
    let Some(t) = desc.tables.get(table.as_str()) else {
        return Err(AppDbError::refused(
            None,
            format!("table {table} does not exist"),
        ));
    };
    let columns = t
        .columns
        .iter()
        .map(|d| {
            let name =
                Ident::new(d.name.clone()).map_err(|e| AppDbError::refused(None, e.to_string()))?;
            Ok(Column {
                column_type: if &name == column { to } else { d.column_type },
                primary_key: t.primary_key.contains(&d.name),
                name,
                nullable: d.nullable,
                default: d.default.clone(),
                unique: d.unique,
            })
        })
        .collect::<Result<Vec<_>, AppDbError>>()?;
    let index_sql: Vec<String> = {
        let mut stmt = c
            .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL")
            .map_err(db_error)?;
        stmt.query_map([table.as_str()], |r| r.get(0))
            .map_err(db_error)?
            .collect::<Result<_, _>>()
            .map_err(db_error)?
    };
    let names: Vec<Ident> = columns.iter().map(|c| c.name.clone()).collect();
    let cols = quoted_list(&names);
    let aside = "\"_axhub_rebuild\"";
    let leftover: Option<String> = c
        .query_row(
            "SELECT name FROM sqlite_master WHERE name = '_axhub_rebuild'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?;
    if leftover.is_some() {
        return Err(AppDbError::refused(
            None,
            "a previous rebuild left _axhub_rebuild behind",
        ));
    }
    let script = format!(
        "ALTER TABLE {t} RENAME TO {aside};\n{create};\nINSERT INTO {t} ({cols}) SELECT {cols} FROM {aside};\nDROP TABLE {aside};\n{indexes}",
        t = table.quoted(),
        create = Dialect::Sqlite.create_table(table, &columns),
        indexes = index_sql
            .iter()
            .map(|s| format!("{s};\n"))
            .collect::<String>(),
    );
    c.execute_batch(&script).map_err(db_error)
}

pub(super) const RECORD_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS \"_axhub_applied_ops\" (\
     seq INTEGER PRIMARY KEY, op TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)";

pub(super) fn max_seq(c: &Connection) -> Result<Option<u64>, AppDbError> {
    let sql = format!("SELECT max(seq) FROM \"{APPLIED_OPS_TABLE}\"");
    let v: Option<i64> = c.query_row(&sql, [], |r| r.get(0)).map_err(db_error)?;
    Ok(v.map(|s| s as u64))
}
