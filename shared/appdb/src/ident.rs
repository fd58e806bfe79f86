//! Identifiers (table, column and index names) as the no-code DB service sends them. An
//! `Ident` can only be built by validation, so no name from an event reaches SQL unchecked;
//! adapters still quote every identifier, which keeps reserved words (`order`, `user`) usable.

use serde::{Deserialize, Serialize};

/// The prefix of this service's own objects inside an app database (the applied-ops record).
/// Names from events may not start with it, so they can never collide with ours.
pub const RESERVED_PREFIX: &str = "_axhub";

/// `^[a-z_][a-z0-9_]{0,62}$`, not starting with `_axhub`: fits PostgreSQL's 63-byte limit and
/// means the same thing, unquoted or quoted, in both dialects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ident(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid identifier {0:?}: expected ^[a-z_][a-z0-9_]{{0,62}}$, not starting with _axhub")]
pub struct InvalidIdent(pub String);

impl Ident {
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidIdent> {
        let s = s.into();
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if first_ok && rest_ok && s.len() <= 63 && !s.starts_with(RESERVED_PREFIX) {
            Ok(Self(s))
        } else {
            Err(InvalidIdent(s))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier double-quoted, as both dialects accept it. Validation already excludes
    /// `"`, so no escaping is needed; quoting keeps reserved words from being read as keywords.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl TryFrom<String> for Ident {
    type Error = InvalidIdent;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<Ident> for String {
    fn from(i: Ident) -> Self {
        i.0
    }
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_safe_alphabet() {
        for ok in ["a", "_x", "users", "order", "t1_2", &"a".repeat(63)] {
            assert!(Ident::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a b",
            "a\"b",
            "a;drop table x",
            "é",
            &"a".repeat(64),
            "_axhub_applied_ops",
            "_axhubx",
        ] {
            assert!(Ident::new(bad).is_err(), "{bad}");
        }
        let e: Result<Ident, _> = serde_json::from_str("\"x\\\"; drop\"");
        assert!(e.is_err());
    }
}
