//! Rendering ops as SQL in each dialect, and reading types and defaults back from what each
//! engine's catalog says. Every identifier is an already validated `Ident`, quoted; every value
//! is a literal rendered here, quoted; nothing else reaches a statement.
//!
//! PostgreSQL statements are unqualified: the adapter sets the schema as the transaction's
//! `search_path`.

use crate::{Column, ColumnDefault, ColumnType, Ident, Literal, SchemaChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The declared type. SQLite keeps the declared text in its catalog (and applies type
    /// affinity to it), so the types are written in a form `parse_type` reads back exactly.
    pub fn column_type(self, t: ColumnType) -> String {
        use ColumnType as T;
        let pg = self == Dialect::Postgres;
        match t {
            T::Text => "TEXT".into(),
            T::Varchar(n) => format!("VARCHAR({n})"),
            T::Integer => "INTEGER".into(),
            T::Bigint => "BIGINT".into(),
            T::Boolean => "BOOLEAN".into(),
            T::Double if pg => "DOUBLE PRECISION".into(),
            T::Double => "DOUBLE".into(),
            T::Numeric { precision, scale } => format!("NUMERIC({precision},{scale})"),
            // An instant: PostgreSQL stores it as UTC; SQLite stores the text CURRENT_TIMESTAMP
            // gives, which is UTC too.
            T::Timestamp if pg => "TIMESTAMPTZ".into(),
            T::Timestamp => "TIMESTAMP".into(),
            T::Date => "DATE".into(),
            T::Uuid => "UUID".into(),
            T::Json if pg => "JSONB".into(),
            T::Json => "JSON".into(),
        }
    }

    /// The type from a catalog: SQLite's declared type, PostgreSQL's `format_type`.
    pub fn parse_type(self, declared: &str) -> Option<ColumnType> {
        let d = declared.trim().to_ascii_lowercase();
        let d = match d.as_str() {
            "double precision" | "double" => "double".to_owned(),
            "timestamptz" | "timestamp with time zone" => "timestamp".to_owned(),
            "jsonb" => "json".to_owned(),
            other => other.replace("character varying", "varchar"),
        };
        d.parse().ok()
    }

    pub fn literal(self, l: &Literal) -> String {
        match l {
            Literal::Null => "NULL".into(),
            Literal::Text(s) => quote(s),
            Literal::Integer(i) => i.to_string(),
            // Debug keeps a decimal point or exponent, so the literal stays a float.
            Literal::Double(d) => format!("{d:?}"),
            Literal::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            // Validated as -?\d+(\.\d+)? before it gets here.
            Literal::Numeric(n) => n.clone(),
        }
    }

    pub fn default_expr(self, d: &ColumnDefault, t: ColumnType) -> String {
        match (d, t) {
            (ColumnDefault::Now(_), ColumnType::Date) => "CURRENT_DATE".into(),
            (ColumnDefault::Now(_), _) => "CURRENT_TIMESTAMP".into(),
            (ColumnDefault::Literal(l), _) => self.literal(l),
        }
    }

    /// A default as the catalog shows it (SQLite's `dflt_value`, PostgreSQL's
    /// `pg_get_expr`), read back for a column of type `t`.
    pub fn parse_default(self, expr: &str, t: ColumnType) -> Option<ColumnDefault> {
        let e = strip_cast(strip_parens(expr.trim()));
        let upper = e.to_ascii_uppercase();
        if matches!(
            upper.as_str(),
            "CURRENT_TIMESTAMP" | "CURRENT_DATE" | "NOW()" | "LOCALTIMESTAMP"
        ) {
            return Some(ColumnDefault::NOW);
        }
        if upper == "NULL" {
            return Some(ColumnDefault::Literal(Literal::Null));
        }
        let raw = unquote(e).unwrap_or_else(|| e.to_owned());
        use ColumnType as T;
        let lit = match t {
            T::Text | T::Varchar(_) | T::Json | T::Uuid => Literal::Text(raw),
            T::Integer | T::Bigint => Literal::Integer(raw.parse().ok()?),
            T::Double => Literal::Double(raw.parse().ok()?),
            T::Numeric { .. } => Literal::Numeric(raw),
            T::Boolean => Literal::Boolean(match raw.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return None,
            }),
            T::Timestamp | T::Date => Literal::Text(raw),
        };
        Some(ColumnDefault::Literal(lit))
    }

    /// `"name" TYPE [NOT NULL] [DEFAULT …] [UNIQUE]`; primary keys are a table constraint.
    pub fn column_def(self, c: &Column) -> String {
        let mut s = format!("{} {}", c.name.quoted(), self.column_type(c.column_type));
        if !c.nullable {
            s.push_str(" NOT NULL");
        }
        if let Some(d) = &c.default {
            s.push_str(" DEFAULT ");
            s.push_str(&self.default_expr(d, c.column_type));
        }
        if c.unique {
            s.push_str(" UNIQUE");
        }
        s
    }

    pub fn create_table(self, table: &Ident, columns: &[Column]) -> String {
        let mut parts: Vec<String> = columns.iter().map(|c| self.column_def(c)).collect();
        let pk: Vec<String> = columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.quoted())
            .collect();
        if !pk.is_empty() {
            parts.push(format!("PRIMARY KEY ({})", pk.join(", ")));
        }
        format!("CREATE TABLE {} ({})", table.quoted(), parts.join(", "))
    }

    /// The one statement that applies `change`, or None where the dialect needs more than a
    /// statement (a type change on SQLite is a table rebuild, done by the adapter).
    pub fn statement(self, change: &SchemaChange) -> Option<String> {
        let s = match change {
            SchemaChange::CreateTable { table, columns } => self.create_table(table, columns),
            SchemaChange::DropTable { table } => format!("DROP TABLE {}", table.quoted()),
            SchemaChange::AddColumn { table, column } => format!(
                "ALTER TABLE {} ADD COLUMN {}",
                table.quoted(),
                self.column_def(column)
            ),
            SchemaChange::DropColumn { table, column } => format!(
                "ALTER TABLE {} DROP COLUMN {}",
                table.quoted(),
                column.quoted()
            ),
            SchemaChange::RenameColumn { table, from, to } => format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                table.quoted(),
                from.quoted(),
                to.quoted()
            ),
            SchemaChange::ChangeColumnType { .. } if self == Dialect::Sqlite => return None,
            SchemaChange::ChangeColumnType {
                table, column, to, ..
            } => {
                let ty = self.column_type(*to);
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} TYPE {ty} USING {}::{ty}",
                    table.quoted(),
                    column.quoted(),
                    column.quoted()
                )
            }
            SchemaChange::CreateIndex {
                name,
                table,
                columns,
                unique,
            } => format!(
                "CREATE {}INDEX {} ON {} ({})",
                if *unique { "UNIQUE " } else { "" },
                name.quoted(),
                table.quoted(),
                quoted_list(columns)
            ),
            SchemaChange::DropIndex { name } => format!("DROP INDEX {}", name.quoted()),
        };
        Some(s)
    }

    /// `INSERT INTO "t" ("a", …) VALUES (…)`, for tests that need rows.
    pub fn insert(self, table: &Ident, row: &[(Ident, Literal)]) -> String {
        let cols: Vec<Ident> = row.iter().map(|(c, _)| c.clone()).collect();
        let vals: Vec<String> = row.iter().map(|(_, v)| self.literal(v)).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.quoted(),
            quoted_list(&cols),
            vals.join(", ")
        )
    }
}

pub fn quoted_list(names: &[Ident]) -> String {
    names
        .iter()
        .map(Ident::quoted)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A string literal: single quotes doubled. Both dialects read backslashes literally in
/// standard strings (the PostgreSQL adapter keeps `standard_conforming_strings` on), and NUL is
/// refused before rendering.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

fn strip_parens(s: &str) -> &str {
    let mut s = s;
    while let Some(inner) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        s = inner.trim();
    }
    s
}

/// `'x'::character varying` → `'x'`; `NULL::text` → `NULL` (PostgreSQL's deparsed defaults).
fn strip_cast(s: &str) -> &str {
    let end_of_value = if s.starts_with('\'') {
        s.rfind('\'').map_or(s.len(), |i| i + 1)
    } else {
        0
    };
    match s[end_of_value..].find("::") {
        Some(i) => strip_parens(s[..end_of_value + i].trim()),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted_and_read_back() {
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            assert_eq!(d.literal(&Literal::Text("it's".into())), "'it''s'");
            let t = ColumnType::Varchar(20);
            let back = d.parse_default("'it''s'::character varying", t);
            assert_eq!(
                back,
                Some(ColumnDefault::Literal(Literal::Text("it's".into())))
            );
            let neg = d.parse_default("'-5'::integer", ColumnType::Integer);
            assert_eq!(neg, Some(ColumnDefault::Literal(Literal::Integer(-5))));
            let null = d.parse_default("NULL::text", ColumnType::Text);
            assert_eq!(null, Some(ColumnDefault::Literal(Literal::Null)));
            let now = d.parse_default("CURRENT_TIMESTAMP", ColumnType::Timestamp);
            assert_eq!(now, Some(ColumnDefault::NOW));
            for t in [ColumnType::Double, ColumnType::Json, ColumnType::Timestamp] {
                assert_eq!(d.parse_type(&d.column_type(t)), Some(t));
            }
        }
        assert_eq!(
            Dialect::Postgres.parse_type("character varying(12)"),
            Some(ColumnType::Varchar(12))
        );
        assert_eq!(Dialect::Sqlite.literal(&Literal::Double(2.0)), "2.0");
    }
}
