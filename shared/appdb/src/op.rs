//! Schema ops as the no-code DB service sends them in `SchemaOpRecorded` events:
//! `{"seq": 7, "op": "add_column", "table": "users", "column": {...}}`.

use serde::{Deserialize, Serialize};

use crate::{ColumnDefault, ColumnType, Ident};

/// One column of `create_table` or `add_column`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: Ident,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    #[serde(default = "yes")]
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ColumnDefault>,
    /// Part of the table's primary key (several columns make a composite key).
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary_key: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !b
}

/// What an op changes. `change_column_type` names the type it changes `from`: the service
/// classifies the op by it and refuses to apply it when the column's actual type differs, so
/// the classification always describes what really happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SchemaChange {
    CreateTable {
        table: Ident,
        columns: Vec<Column>,
    },
    DropTable {
        table: Ident,
    },
    AddColumn {
        table: Ident,
        column: Column,
    },
    DropColumn {
        table: Ident,
        column: Ident,
    },
    RenameColumn {
        table: Ident,
        from: Ident,
        to: Ident,
    },
    ChangeColumnType {
        table: Ident,
        column: Ident,
        from: ColumnType,
        to: ColumnType,
    },
    CreateIndex {
        name: Ident,
        table: Ident,
        columns: Vec<Ident>,
        #[serde(default)]
        unique: bool,
    },
    DropIndex {
        name: Ident,
    },
}

/// A change with its position in the app's op log (increasing per app, from 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaOp {
    pub seq: u64,
    #[serde(flatten)]
    pub change: SchemaChange,
}

impl SchemaChange {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CreateTable { .. } => "create_table",
            Self::DropTable { .. } => "drop_table",
            Self::AddColumn { .. } => "add_column",
            Self::DropColumn { .. } => "drop_column",
            Self::RenameColumn { .. } => "rename_column",
            Self::ChangeColumnType { .. } => "change_column_type",
            Self::CreateIndex { .. } => "create_index",
            Self::DropIndex { .. } => "drop_index",
        }
    }

    /// Checks what can be checked without looking at the database: shapes, defaults against
    /// types, and the limits both dialects share (a column added later cannot be part of the
    /// primary key or unique, and is nullable or has a default, because SQLite's ADD COLUMN
    /// allows nothing else and rows may already exist).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::CreateTable { columns, .. } => {
                if columns.is_empty() {
                    return Err("a table needs at least one column".into());
                }
                let mut seen = std::collections::BTreeSet::new();
                for c in columns {
                    if !seen.insert(&c.name) {
                        return Err(format!("column {} appears twice", c.name));
                    }
                    check_column(c)?;
                }
                Ok(())
            }
            Self::AddColumn { column, .. } => {
                check_column(column)?;
                if column.primary_key || column.unique {
                    return Err("an added column cannot be primary key or unique; \
                                create a unique index instead"
                        .into());
                }
                let has_default = column
                    .default
                    .as_ref()
                    .is_some_and(|d| d != &ColumnDefault::Literal(crate::Literal::Null));
                if column.default == Some(ColumnDefault::NOW) {
                    return Err("an added column cannot default to now (SQLite allows only \
                                constant defaults on existing rows)"
                        .into());
                }
                if !column.nullable && !has_default {
                    return Err("an added NOT NULL column needs a default".into());
                }
                Ok(())
            }
            Self::RenameColumn { from, to, .. } if from == to => {
                Err("rename to the same name".into())
            }
            Self::ChangeColumnType { from, to, .. } if from == to => {
                Err("type change to the same type".into())
            }
            Self::CreateIndex { columns, .. } => {
                let distinct: std::collections::BTreeSet<_> = columns.iter().collect();
                if columns.is_empty() || distinct.len() != columns.len() {
                    return Err("an index needs distinct columns".into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn check_column(c: &Column) -> Result<(), String> {
    if c.primary_key && c.nullable {
        return Err(format!("primary key column {} must be NOT NULL", c.name));
    }
    if let Some(d) = &c.default {
        d.check_for(c.column_type)
            .map_err(|e| format!("default of {}: {e}", c.name))?;
        if !c.nullable && d == &ColumnDefault::Literal(crate::Literal::Null) {
            return Err(format!("NOT NULL column {} defaults to null", c.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ops_read_as_the_db_service_sends_them() {
        let op: SchemaOp = serde_json::from_value(json!({
            "seq": 3, "op": "create_table", "table": "users",
            "columns": [
                {"name": "id", "type": "uuid", "nullable": false, "primary_key": true},
                {"name": "email", "type": "varchar(320)", "unique": true},
                {"name": "created", "type": "timestamp", "nullable": false,
                 "default": {"kind": "now"}}
            ]
        }))
        .unwrap();
        assert_eq!(op.seq, 3);
        assert!(op.change.validate().is_ok());
        let back: SchemaOp = serde_json::from_value(serde_json::to_value(&op).unwrap()).unwrap();
        assert_eq!(back, op);
        let bad = serde_json::from_value::<SchemaOp>(json!({
            "seq": 1, "op": "drop_table", "table": "x; drop table y"
        }));
        assert!(bad.is_err());
        let unknown = serde_json::from_value::<SchemaOp>(json!({"seq": 1, "op": "truncate"}));
        assert!(unknown.is_err());
    }

    #[test]
    fn validation_refuses_what_no_dialect_can_apply() {
        let col = |v: serde_json::Value| serde_json::from_value::<Column>(v).unwrap();
        let t = Ident::new("t").unwrap();
        let add = |c| SchemaChange::AddColumn {
            table: t.clone(),
            column: c,
        };
        assert!(
            add(col(json!({"name": "a", "type": "text"})))
                .validate()
                .is_ok()
        );
        assert!(
            add(col(json!({"name": "a", "type": "text", "nullable": false})))
                .validate()
                .is_err()
        );
        assert!(
            add(col(json!({"name": "a", "type": "text", "unique": true})))
                .validate()
                .is_err()
        );
        let wrong_default = col(json!({"name": "a", "type": "integer",
                                       "default": {"kind": "text", "value": "x"}}));
        assert!(add(wrong_default).validate().is_err());
        let dup = SchemaChange::CreateTable {
            table: t.clone(),
            columns: vec![
                col(json!({"name": "a", "type": "text"})),
                col(json!({"name": "a", "type": "text"})),
            ],
        };
        assert!(dup.validate().is_err());
    }
}
