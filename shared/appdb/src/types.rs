//! The column types and values an op may name: a small vocabulary that both dialects render
//! and read back, so `describe` answers the same on SQLite and PostgreSQL.

use serde::{Deserialize, Serialize};

/// On the wire a string: `text`, `varchar(255)`, `integer`, `bigint`, `boolean`, `double`,
/// `numeric(10,2)`, `timestamp` (UTC instant), `date`, `uuid`, `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ColumnType {
    Text,
    Varchar(u32),
    Integer,
    Bigint,
    Boolean,
    Double,
    Numeric { precision: u16, scale: u16 },
    Timestamp,
    Date,
    Uuid,
    Json,
}

/// PostgreSQL's limits, which SQLite (that enforces none) then shares.
const MAX_VARCHAR: u32 = 10_485_760;
const MAX_NUMERIC_PRECISION: u16 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown column type {0:?}")]
pub struct InvalidType(pub String);

impl std::str::FromStr for ColumnType {
    type Err = InvalidType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidType(s.to_owned());
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let (name, args) = match compact.split_once('(') {
            Some((n, rest)) => (n, Some(rest.strip_suffix(')').ok_or_else(bad)?)),
            None => (compact.as_str(), None),
        };
        let t = match (name, args) {
            ("text", None) => Self::Text,
            ("integer", None) => Self::Integer,
            ("bigint", None) => Self::Bigint,
            ("boolean", None) => Self::Boolean,
            ("double", None) => Self::Double,
            ("timestamp", None) => Self::Timestamp,
            ("date", None) => Self::Date,
            ("uuid", None) => Self::Uuid,
            ("json", None) => Self::Json,
            ("varchar", Some(n)) => {
                let n: u32 = n.parse().map_err(|_| bad())?;
                if n == 0 || n > MAX_VARCHAR {
                    return Err(bad());
                }
                Self::Varchar(n)
            }
            ("numeric", Some(ps)) => {
                let (p, s) = ps.split_once(',').ok_or_else(bad)?;
                let precision: u16 = p.parse().map_err(|_| bad())?;
                let scale: u16 = s.parse().map_err(|_| bad())?;
                if precision == 0 || precision > MAX_NUMERIC_PRECISION || scale > precision {
                    return Err(bad());
                }
                Self::Numeric { precision, scale }
            }
            _ => return Err(bad()),
        };
        Ok(t)
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text => f.write_str("text"),
            Self::Varchar(n) => write!(f, "varchar({n})"),
            Self::Integer => f.write_str("integer"),
            Self::Bigint => f.write_str("bigint"),
            Self::Boolean => f.write_str("boolean"),
            Self::Double => f.write_str("double"),
            Self::Numeric { precision, scale } => write!(f, "numeric({precision},{scale})"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Date => f.write_str("date"),
            Self::Uuid => f.write_str("uuid"),
            Self::Json => f.write_str("json"),
        }
    }
}

impl TryFrom<String> for ColumnType {
    type Error = InvalidType;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ColumnType> for String {
    fn from(t: ColumnType) -> Self {
        t.to_string()
    }
}

/// A literal value: a column default or (in tests) a cell. Every variant is rendered as a
/// quoted or numeric literal, never spliced as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Literal {
    Null,
    Text(String),
    Integer(i64),
    Double(f64),
    Boolean(bool),
    /// A decimal number as a string (`-12.50`), so no precision is lost on the way.
    Numeric(String),
}

impl Literal {
    /// Why this literal cannot be stored in a column of type `t`, if it cannot.
    pub fn check_for(&self, t: ColumnType) -> Result<(), String> {
        use ColumnType as T;
        let fits = match self {
            Self::Null => true,
            Self::Text(s) => {
                if s.contains('\0') {
                    return Err("text literal contains a NUL character".into());
                }
                match t {
                    T::Text | T::Json => true,
                    T::Varchar(n) => s.chars().count() <= n as usize,
                    _ => false,
                }
            }
            Self::Integer(i) => match t {
                T::Integer => i32::try_from(*i).is_ok(),
                T::Bigint | T::Double => true,
                T::Numeric { precision, scale } => {
                    (i.unsigned_abs().to_string().len() as u32) <= u32::from(precision - scale)
                }
                _ => false,
            },
            Self::Double(d) => d.is_finite() && t == T::Double,
            Self::Boolean(_) => t == T::Boolean,
            Self::Numeric(s) => {
                let Some((int, frac)) = decimal_digits(s) else {
                    return Err(format!("numeric literal {s:?} is not a decimal number"));
                };
                match t {
                    T::Numeric { precision, scale } => {
                        frac <= usize::from(scale) && int <= usize::from(precision - scale)
                    }
                    T::Double => true,
                    _ => false,
                }
            }
        };
        if fits {
            Ok(())
        } else {
            Err(format!("{self:?} does not fit a {t} column"))
        }
    }
}

/// Digits before and after the point of `-?\d+(\.\d+)?`, or None when `s` is not one.
fn decimal_digits(s: &str) -> Option<(usize, usize)> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    let ok = !int.is_empty() && digits(int) && digits(frac) && !s.ends_with('.');
    ok.then(|| (int.trim_start_matches('0').len(), frac.len()))
}

/// A column default: a literal, or the current time (`{"kind":"now"}`; timestamp and date
/// columns only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnDefault {
    Now(NowTag),
    Literal(Literal),
}

/// The `{"kind":"now"}` form of `ColumnDefault::Now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NowTag {
    Now,
}

impl ColumnDefault {
    pub const NOW: Self = Self::Now(NowTag::Now);

    pub fn check_for(&self, t: ColumnType) -> Result<(), String> {
        match self {
            Self::Now(_) if matches!(t, ColumnType::Timestamp | ColumnType::Date) => Ok(()),
            Self::Now(_) => Err(format!("default now does not fit a {t} column")),
            Self::Literal(l) => l.check_for(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_round_trip_as_strings() {
        for s in [
            "text",
            "varchar(255)",
            "integer",
            "bigint",
            "boolean",
            "double",
            "numeric(10,2)",
            "timestamp",
            "date",
            "uuid",
            "json",
        ] {
            let t: ColumnType = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
        }
        for bad in [
            "varchar",
            "varchar(0)",
            "numeric(2,3)",
            "int",
            "text(3)",
            "blob",
        ] {
            assert!(bad.parse::<ColumnType>().is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_are_tagged_and_checked_against_the_type() {
        let now: ColumnDefault = serde_json::from_value(json!({"kind": "now"})).unwrap();
        assert_eq!(now, ColumnDefault::NOW);
        let lit: ColumnDefault =
            serde_json::from_value(json!({"kind": "text", "value": "it's"})).unwrap();
        assert_eq!(lit, ColumnDefault::Literal(Literal::Text("it's".into())));
        assert!(now.check_for(ColumnType::Timestamp).is_ok());
        assert!(now.check_for(ColumnType::Text).is_err());
        let n = |s: &str| Literal::Numeric(s.into());
        let t = ColumnType::Numeric {
            precision: 5,
            scale: 2,
        };
        assert!(n("123.45").check_for(t).is_ok());
        assert!(n("1234.5").check_for(t).is_err());
        assert!(n("1.234").check_for(t).is_err());
        assert!(n("1e5").check_for(t).is_err());
        assert!(n("1.").check_for(t).is_err());
        assert!(
            Literal::Integer(1 << 40)
                .check_for(ColumnType::Integer)
                .is_err()
        );
        assert!(
            Literal::Double(f64::NAN)
                .check_for(ColumnType::Double)
                .is_err()
        );
        assert!(
            Literal::Text("a\0".into())
                .check_for(ColumnType::Text)
                .is_err()
        );
        assert!(
            Literal::Text("abc".into())
                .check_for(ColumnType::Varchar(2))
                .is_err()
        );
    }
}
