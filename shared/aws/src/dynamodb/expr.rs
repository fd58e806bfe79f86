//! Conditions and updates become DynamoDB expressions that name every attribute through a
//! `#nN` placeholder and every value through a `:vN` placeholder, so reserved words such as
//! `ttl` or `status` are never a problem.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use axhub_store::{Cond, Index, Key, PK, SK, SkCond, StoreError, Update};
use serde_json::Value;

use super::codec::{AttrMap, json_to_attr};

/// An attribute no item carries: an update that changes nothing removes it, because
/// DynamoDB needs a non-empty update expression inside a transaction (and the update must
/// still create a missing item, as `Update::apply` does).
const NOOP_ATTR: &str = "axhub_noop";

/// Builds expressions with `#nN` name and `:vN` value placeholders shared by every
/// expression of one request.
#[derive(Default)]
pub(super) struct Expr {
    /// placeholder -> attribute name, as ExpressionAttributeNames
    names: HashMap<String, String>,
    /// attribute name -> placeholder
    by_name: HashMap<String, String>,
    values: AttrMap,
}

impl Expr {
    fn name(&mut self, n: &str) -> String {
        if let Some(p) = self.by_name.get(n) {
            return p.clone();
        }
        let p = format!("#n{}", self.by_name.len());
        self.by_name.insert(n.to_owned(), p.clone());
        self.names.insert(p.clone(), n.to_owned());
        p
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    /// The ExpressionAttributeNames and ExpressionAttributeValues, each `None` when empty
    /// (DynamoDB refuses empty maps).
    pub(super) fn finish(self) -> (Option<HashMap<String, String>>, Option<AttrMap>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        (names, values)
    }

    /// A ConditionExpression with the semantics of `axhub_store::eval_cond`.
    pub(super) fn cond(&mut self, c: &Cond) -> String {
        match c {
            Cond::Exists => format!("attribute_exists({})", self.name(PK)),
            Cond::NotExists => format!("attribute_not_exists({})", self.name(PK)),
            Cond::Has(n) => format!("attribute_exists({})", self.name(n)),
            Cond::HasNot(n) => format!("attribute_not_exists({})", self.name(n)),
            Cond::Eq(n, v) => self.compare(n, "=", v),
            // `<>` is true when the attribute is missing or of another type.
            Cond::Ne(n, v) => self.compare(n, "<>", v),
            Cond::Lt(n, v) => self.order(n, "<", v),
            Cond::Le(n, v) => self.order(n, "<=", v),
            Cond::Gt(n, v) => self.order(n, ">", v),
            Cond::Ge(n, v) => self.order(n, ">=", v),
            Cond::And(cs) => self.join(cs, " AND ", true),
            Cond::Or(cs) => self.join(cs, " OR ", false),
        }
    }

    fn compare(&mut self, n: &str, op: &str, v: &Value) -> String {
        let n = self.name(n);
        let v = self.value(json_to_attr(v));
        format!("{n} {op} {v}")
    }

    /// Ordering comparisons hold only between numbers or between strings; DynamoDB refuses
    /// other operand types outright, `eval_cond` calls them false, so they become false.
    fn order(&mut self, n: &str, op: &str, v: &Value) -> String {
        if v.is_number() || v.is_string() {
            self.compare(n, op, v)
        } else {
            self.constant(false)
        }
    }

    fn constant(&mut self, truth: bool) -> String {
        let pk = self.name(PK);
        if truth {
            format!("(attribute_exists({pk}) OR attribute_not_exists({pk}))")
        } else {
            format!("(attribute_exists({pk}) AND attribute_not_exists({pk}))")
        }
    }

    fn join(&mut self, cs: &[Cond], sep: &str, empty: bool) -> String {
        if cs.is_empty() {
            return self.constant(empty);
        }
        let mut parts = Vec::with_capacity(cs.len());
        for c in cs {
            parts.push(format!("({})", self.cond(c)));
        }
        parts.join(sep)
    }

    /// An UpdateExpression with the effect of `Update::apply`: every set, then every
    /// remove, then every add, folded into one action per attribute (DynamoDB refuses two
    /// actions on one attribute).
    pub(super) fn update(&mut self, key: &Key, u: &Update) -> Result<String, StoreError> {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut add = Vec::new();
        for (n, action) in plan_update(key, u)? {
            let p = self.name(&n);
            match action {
                Action::Set(v) => {
                    let v = self.value(json_to_attr(&v));
                    set.push(format!("{p} = {v}"));
                }
                Action::Remove => remove.push(p),
                Action::Add(k) => {
                    let v = self.value(AttributeValue::N(k.to_string()));
                    add.push(format!("{p} {v}"));
                }
            }
        }
        if set.is_empty() && remove.is_empty() && add.is_empty() {
            remove.push(self.name(NOOP_ATTR));
        }
        let mut clauses = Vec::new();
        if !set.is_empty() {
            clauses.push(format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            clauses.push(format!("REMOVE {}", remove.join(", ")));
        }
        if !add.is_empty() {
            clauses.push(format!("ADD {}", add.join(", ")));
        }
        Ok(clauses.join(" "))
    }

    /// The KeyConditionExpression of a query.
    pub(super) fn key_cond(&mut self, index: Index, pk: &str, sk: Option<&SkCond>) -> String {
        let (pa, sa) = index.key_attrs();
        let p = self.name(pa);
        let v = self.value(AttributeValue::S(pk.to_owned()));
        let mut expr = format!("{p} = {v}");
        let s = |e: &mut Self, v: &str| e.value(AttributeValue::S(v.to_owned()));
        let part = match sk {
            None => None,
            // Every string begins with "", and DynamoDB refuses an empty key value.
            Some(SkCond::BeginsWith(x)) if x.is_empty() => None,
            Some(c) => {
                let n = self.name(sa);
                Some(match c {
                    SkCond::BeginsWith(x) => format!("begins_with({n}, {})", s(self, x)),
                    SkCond::Lt(x) => format!("{n} < {}", s(self, x)),
                    SkCond::Le(x) => format!("{n} <= {}", s(self, x)),
                    SkCond::Gt(x) => format!("{n} > {}", s(self, x)),
                    SkCond::Ge(x) => format!("{n} >= {}", s(self, x)),
                    SkCond::Between(a, b) => {
                        let a = s(self, a);
                        let b = s(self, b);
                        format!("{n} BETWEEN {a} AND {b}")
                    }
                })
            }
        };
        if let Some(part) = part {
            expr.push_str(" AND ");
            expr.push_str(&part);
        }
        expr
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Set(Value),
    Remove,
    Add(i64),
}

/// Folds an update into one action per attribute, in order of first mention.
fn plan_update(key: &Key, u: &Update) -> Result<Vec<(String, Action)>, StoreError> {
    let mut plan: Vec<(String, Action)> = Vec::new();
    let mut acts: Vec<(String, Option<Action>)> = Vec::new();
    for (n, v) in &u.set {
        let i = index_of(&mut acts, n);
        acts[i].1 = Some(Action::Set(v.clone()));
    }
    for n in &u.remove {
        let i = index_of(&mut acts, n);
        acts[i].1 = Some(Action::Remove);
    }
    for (n, k) in &u.add {
        let i = index_of(&mut acts, n);
        let overflow = || StoreError::InvalidRequest(format!("counter {n} overflows"));
        let next = match acts[i].1.take() {
            None => Action::Add(*k),
            Some(Action::Add(m)) => Action::Add(m.checked_add(*k).ok_or_else(overflow)?),
            Some(Action::Set(v)) => {
                let cur = v.as_i64().unwrap_or(0);
                Action::Set(Value::from(cur.checked_add(*k).ok_or_else(overflow)?))
            }
            Some(Action::Remove) => Action::Set(Value::from(*k)),
        };
        acts[i].1 = Some(next);
    }
    for (n, action) in acts {
        let Some(action) = action else { continue };
        let own = if n == PK {
            Some(&key.pk)
        } else if n == SK {
            Some(&key.sk)
        } else {
            None
        };
        match (own, &action) {
            (None, _) => plan.push((n, action)),
            // Setting a key attribute to the key it already has changes nothing.
            (Some(own), Action::Set(Value::String(s))) if s == own => {}
            (Some(_), _) => {
                return Err(StoreError::InvalidRequest(format!(
                    "an update cannot change the key attribute {n}"
                )));
            }
        }
    }
    Ok(plan)
}

fn index_of(acts: &mut Vec<(String, Option<Action>)>, n: &str) -> usize {
    match acts.iter().position(|(k, _)| k == n) {
        Some(i) => i,
        None => {
            acts.push((n.to_owned(), None));
            acts.len() - 1
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_use_placeholders_only() {
        let mut e = Expr::default();
        let c = Cond::And(vec![
            Cond::Or(vec![Cond::NotExists, Cond::Le("ttl".into(), json!(5))]),
            Cond::Ne("status".into(), json!("done")),
            Cond::has("status"),
            Cond::Lt("n".into(), json!(true)),
            Cond::Or(vec![]),
        ]);
        assert_eq!(
            e.cond(&c),
            "((attribute_not_exists(#n0)) OR (#n1 <= :v0)) AND (#n2 <> :v1) AND \
             (attribute_exists(#n2)) AND ((attribute_exists(#n0) AND attribute_not_exists(#n0))) \
             AND ((attribute_exists(#n0) AND attribute_not_exists(#n0)))"
        );
        let (names, values) = e.finish();
        let names = names.unwrap();
        assert_eq!(names["#n0"], "pk");
        assert_eq!(names["#n1"], "ttl");
        assert_eq!(names["#n2"], "status");
        assert_eq!(values.unwrap()[":v1"], AttributeValue::S("done".into()));
        assert_eq!(Expr::default().finish(), (None, None));
    }

    #[test]
    fn updates_fold_like_apply() {
        let key = Key::new("p", "s");
        let u = Update::new()
            .set("a", 1)
            .set("b", "x")
            .remove("b")
            .add("a", 2)
            .add("c", 3)
            .add("c", 4)
            .remove("d")
            .add("d", 5)
            .set("pk", "p");
        assert_eq!(
            plan_update(&key, &u).unwrap(),
            vec![
                ("a".into(), Action::Set(json!(3))),
                ("b".into(), Action::Remove),
                ("d".into(), Action::Set(json!(5))),
                ("c".into(), Action::Add(7)),
            ]
        );
        let mut e = Expr::default();
        assert_eq!(
            e.update(&key, &u).unwrap(),
            "SET #n0 = :v0, #n2 = :v1 REMOVE #n1 ADD #n3 :v2"
        );
        let mut e = Expr::default();
        assert_eq!(e.update(&key, &Update::new()).unwrap(), "REMOVE #n0");
        assert!(matches!(
            plan_update(&key, &Update::new().set("sk", "other")),
            Err(StoreError::InvalidRequest(_))
        ));
        assert!(matches!(
            plan_update(&key, &Update::new().remove("pk")),
            Err(StoreError::InvalidRequest(_))
        ));
    }

    #[test]
    fn key_conditions() {
        let mut e = Expr::default();
        let sk = SkCond::Between("a".into(), "b".into());
        assert_eq!(
            e.key_cond(Index::Gsi1, "feed", Some(&sk)),
            "#n0 = :v0 AND #n1 BETWEEN :v1 AND :v2"
        );
        let (names, _) = e.finish();
        assert_eq!(names.unwrap()["#n1"], "gsi1sk");
        let mut e = Expr::default();
        let sk = SkCond::BeginsWith(String::new());
        assert_eq!(e.key_cond(Index::Primary, "p", Some(&sk)), "#n0 = :v0");
    }
}
