//! The structure of one app database as `describe` reports it, and the rules an op must meet
//! against it. Adapters check an op against the description read inside the op's own
//! transaction, so both dialects refuse the same ops with the same reasons instead of
//! passing on whatever their engine says.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ColumnDefault, ColumnType, SchemaChange};

/// Tables by name. This service's own bookkeeping (the applied-ops record) is not in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaDescription {
    pub tables: BTreeMap<String, TableDescription>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableDescription {
    /// In table order.
    pub columns: Vec<ColumnDescription>,
    /// Columns of the primary key, in key order; empty when there is none.
    pub primary_key: Vec<String>,
    /// Indexes created by `create_index`, by name (the ones behind primary keys and unique
    /// columns are reported on the table and its columns instead).
    pub indexes: BTreeMap<String, IndexDescription>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDescription {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    pub nullable: bool,
    pub default: Option<ColumnDefault>,
    /// A single-column unique constraint (`unique: true` at creation).
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDescription {
    pub columns: Vec<String>,
    pub unique: bool,
}

impl TableDescription {
    pub fn column(&self, name: &str) -> Option<&ColumnDescription> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl SchemaDescription {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The table holding index `name`.
    pub fn index(&self, name: &str) -> Option<(&str, &IndexDescription)> {
        self.tables
            .iter()
            .find_map(|(t, d)| d.indexes.get(name).map(|i| (t.as_str(), i)))
    }

    fn table(&self, name: &str) -> Result<&TableDescription, String> {
        self.tables
            .get(name)
            .ok_or_else(|| format!("table {name} does not exist"))
    }

    fn name_is_free(&self, name: &str) -> Result<(), String> {
        if self.tables.contains_key(name) || self.index(name).is_some() {
            return Err(format!("a table or index named {name} already exists"));
        }
        Ok(())
    }

    /// Whether `change` can be applied to a database of this structure, and if not, why.
    pub fn check(&self, change: &SchemaChange) -> Result<(), String> {
        change.validate()?;
        match change {
            SchemaChange::CreateTable { table, .. } => self.name_is_free(table.as_str()),
            SchemaChange::DropTable { table } => self.table(table.as_str()).map(drop),
            SchemaChange::AddColumn { table, column } => {
                let t = self.table(table.as_str())?;
                match t.column(column.name.as_str()) {
                    Some(_) => Err(format!("column {table}.{} already exists", column.name)),
                    None => Ok(()),
                }
            }
            SchemaChange::DropColumn { table, column } => {
                let t = self.table(table.as_str())?;
                let c = existing(t, table.as_str(), column.as_str())?;
                let indexed = t
                    .indexes
                    .iter()
                    .find(|(_, i)| i.columns.iter().any(|n| n == &c.name));
                if t.columns.len() == 1 {
                    Err(format!(
                        "{column} is the last column of {table}; drop the table"
                    ))
                } else if t.primary_key.contains(&c.name) {
                    Err(format!("{table}.{column} is part of the primary key"))
                } else if c.unique {
                    Err(format!("{table}.{column} is unique"))
                } else if let Some((name, _)) = indexed {
                    Err(format!(
                        "{table}.{column} is used by index {name}; drop it first"
                    ))
                } else {
                    Ok(())
                }
            }
            SchemaChange::RenameColumn { table, from, to } => {
                let t = self.table(table.as_str())?;
                existing(t, table.as_str(), from.as_str())?;
                match t.column(to.as_str()) {
                    Some(_) => Err(format!("column {table}.{to} already exists")),
                    None => Ok(()),
                }
            }
            SchemaChange::ChangeColumnType {
                table,
                column,
                from,
                to,
            } => {
                let t = self.table(table.as_str())?;
                let c = existing(t, table.as_str(), column.as_str())?;
                if c.column_type != *from {
                    return Err(format!("{table}.{column} is {}, not {from}", c.column_type));
                }
                if let Some(d) = &c.default {
                    d.check_for(*to)
                        .map_err(|e| format!("the default of {table}.{column}: {e}"))?;
                }
                Ok(())
            }
            SchemaChange::CreateIndex {
                name,
                table,
                columns,
                ..
            } => {
                self.name_is_free(name.as_str())?;
                let t = self.table(table.as_str())?;
                for c in columns {
                    existing(t, table.as_str(), c.as_str())?;
                }
                Ok(())
            }
            SchemaChange::DropIndex { name } => match self.index(name.as_str()) {
                Some(_) => Ok(()),
                None => Err(format!("index {name} does not exist")),
            },
        }
    }
}

fn existing<'a>(
    t: &'a TableDescription,
    table: &str,
    column: &str,
) -> Result<&'a ColumnDescription, String> {
    t.column(column)
        .ok_or_else(|| format!("column {table}.{column} does not exist"))
}
