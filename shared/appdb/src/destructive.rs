//! Which ops can lose data. Decided here, from the op itself, never from a flag in the event:
//! the rollback guard (a destructive op applied after the target version needs
//! `confirm_schema_skew`) and promote-preflight both rely on it.
//!
//! - Drops (table, column, index) are destructive. An index holds no data of its own, but a
//!   dropped unique index removes a guarantee callers relied on, and rolling back past it
//!   cannot restore it.
//! - A type change is destructive unless the new type holds every value of the old one
//!   (`widens`). When in doubt it is destructive: a false alarm costs one confirmation, a
//!   missed one costs data.
//! - Renames are not destructive: no value is lost, and the column keeps its data. (A release
//!   rolled back past a rename reads a column that is no longer there; that is a schema skew
//!   of the kind creates and adds also cause, and the guard is about lost data.)

use crate::{ColumnType, SchemaChange};

pub fn destructive(change: &SchemaChange) -> bool {
    match change {
        SchemaChange::DropTable { .. }
        | SchemaChange::DropColumn { .. }
        | SchemaChange::DropIndex { .. } => true,
        SchemaChange::ChangeColumnType { from, to, .. } => !widens(*from, *to),
        SchemaChange::CreateTable { .. }
        | SchemaChange::AddColumn { .. }
        | SchemaChange::RenameColumn { .. }
        | SchemaChange::CreateIndex { .. } => false,
    }
}

/// Whether every value of `from` is a value of `to`, unchanged.
pub fn widens(from: ColumnType, to: ColumnType) -> bool {
    use ColumnType as T;
    // Digits before the point that a numeric type holds.
    let int_digits = |p: u16, s: u16| p - s;
    match (from, to) {
        (a, b) if a == b => true,
        // Every value has a text form; PostgreSQL's casts to text are total.
        (_, T::Text) => true,
        (T::Varchar(n), T::Varchar(m)) => m >= n,
        // 36 characters: the canonical form of a UUID.
        (T::Uuid, T::Varchar(m)) => m >= 36,
        (T::Integer, T::Bigint | T::Double) => true,
        // i32 has 10 digits, i64 has 19.
        (T::Integer, T::Numeric { precision, scale }) => int_digits(precision, scale) >= 10,
        (T::Bigint, T::Numeric { precision, scale }) => int_digits(precision, scale) >= 19,
        (
            T::Numeric {
                precision: p1,
                scale: s1,
            },
            T::Numeric {
                precision: p2,
                scale: s2,
            },
        ) => s2 >= s1 && int_digits(p2, s2) >= int_digits(p1, s1),
        (T::Date, T::Timestamp) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_is_exactly_the_lossless_changes() {
        let t = |s: &str| s.parse::<ColumnType>().unwrap();
        for (from, to) in [
            ("integer", "bigint"),
            ("integer", "double"),
            ("integer", "numeric(12,2)"),
            ("bigint", "numeric(19,0)"),
            ("varchar(10)", "varchar(20)"),
            ("varchar(10)", "text"),
            ("numeric(5,2)", "numeric(7,3)"),
            ("date", "timestamp"),
            ("uuid", "varchar(36)"),
            ("json", "text"),
            ("boolean", "text"),
        ] {
            assert!(widens(t(from), t(to)), "{from} -> {to}");
        }
        for (from, to) in [
            ("bigint", "integer"),
            ("bigint", "double"),
            ("varchar(20)", "varchar(10)"),
            ("text", "varchar(255)"),
            ("double", "integer"),
            ("double", "numeric(38,10)"),
            ("numeric(7,3)", "numeric(5,2)"),
            ("numeric(5,2)", "numeric(5,3)"),
            ("numeric(10,2)", "integer"),
            ("timestamp", "date"),
            ("text", "json"),
            ("text", "integer"),
            ("uuid", "varchar(35)"),
            ("integer", "boolean"),
        ] {
            assert!(!widens(t(from), t(to)), "{from} -> {to}");
        }
    }
}
