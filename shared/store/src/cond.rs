//! Write conditions: a small expression language both adapters understand. SQLite evaluates
//! it with `eval_cond`; DynamoDB translates it into a ConditionExpression.

use serde_json::Value;
use std::cmp::Ordering;

use crate::Item;

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// The item exists.
    Exists,
    /// The item does not exist.
    NotExists,
    /// The attribute exists (on an existing item).
    Has(String),
    /// The attribute does not exist (true for a missing item).
    HasNot(String),
    Eq(String, Value),
    /// True when the attribute is missing or differs (DynamoDB `<>` semantics).
    Ne(String, Value),
    /// Numeric or string comparison; false when the attribute is missing or of another type.
    Lt(String, Value),
    Le(String, Value),
    Gt(String, Value),
    Ge(String, Value),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    pub fn eq(name: &str, v: impl Into<Value>) -> Self {
        Cond::Eq(name.to_owned(), v.into())
    }
    pub fn has_not(name: &str) -> Self {
        Cond::HasNot(name.to_owned())
    }
    pub fn has(name: &str) -> Self {
        Cond::Has(name.to_owned())
    }
    pub fn lt(name: &str, v: impl Into<Value>) -> Self {
        Cond::Lt(name.to_owned(), v.into())
    }
    pub fn gt(name: &str, v: impl Into<Value>) -> Self {
        Cond::Gt(name.to_owned(), v.into())
    }
    /// The item is missing, or its `ttl` has passed: a key that may be taken over.
    pub fn absent_or_expired(now_epoch: i64) -> Self {
        Cond::Or(vec![
            Cond::NotExists,
            Cond::Le(crate::TTL.into(), now_epoch.into()),
        ])
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare(a, b) == Some(Ordering::Equal),
        _ => a == b,
    }
}

/// Evaluates `cond` against the current item (`None` when there is none).
pub fn eval_cond(cond: &Cond, item: Option<&Item>) -> bool {
    let attr = |n: &str| item.and_then(|i| i.get(n));
    let cmp = |n: &str, v: &Value, ok: fn(Ordering) -> bool| {
        attr(n).and_then(|a| compare(a, v)).is_some_and(ok)
    };
    match cond {
        Cond::Exists => item.is_some(),
        Cond::NotExists => item.is_none(),
        Cond::Has(n) => attr(n).is_some(),
        Cond::HasNot(n) => attr(n).is_none(),
        Cond::Eq(n, v) => attr(n).is_some_and(|a| values_equal(a, v)),
        Cond::Ne(n, v) => !attr(n).is_some_and(|a| values_equal(a, v)),
        Cond::Lt(n, v) => cmp(n, v, Ordering::is_lt),
        Cond::Le(n, v) => cmp(n, v, Ordering::is_le),
        Cond::Gt(n, v) => cmp(n, v, Ordering::is_gt),
        Cond::Ge(n, v) => cmp(n, v, Ordering::is_ge),
        Cond::And(cs) => cs.iter().all(|c| eval_cond(c, item)),
        Cond::Or(cs) => cs.iter().any(|c| eval_cond(c, item)),
    }
}
