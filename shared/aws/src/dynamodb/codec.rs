//! JSON ⇄ AttributeValue. Items are JSON objects stored attribute by attribute
//! (string→S, number→N, bool→BOOL, null→NULL, array→L, object→M).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use axhub_store::{Item, Key, PK, SK, StoreError};
use serde_json::{Number, Value};

pub(super) type AttrMap = HashMap<String, AttributeValue>;

pub(super) fn json_to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(json_to_attr).collect()),
        Value::Object(m) => AttributeValue::M(
            m.iter()
                .map(|(k, v)| (k.clone(), json_to_attr(v)))
                .collect(),
        ),
    }
}

pub(super) fn item_to_attrs(item: &Item) -> AttrMap {
    item.iter()
        .map(|(k, v)| (k.clone(), json_to_attr(v)))
        .collect()
}

pub(super) fn key_attrs(key: &Key) -> AttrMap {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Reads a DynamoDB number back exactly: an integer when it is one (i64, then u64), else
/// a float.
fn parse_number(s: &str) -> Result<Number, StoreError> {
    if let Ok(i) = s.parse::<i64>() {
        return Ok(i.into());
    }
    if let Ok(u) = s.parse::<u64>() {
        return Ok(u.into());
    }
    s.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| StoreError::Backend(format!("unreadable number {s:?}")))
}

fn attr_to_json(av: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match av {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(l) => Value::Array(l.iter().map(attr_to_json).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => Value::Object(attrs_to_item(m)?),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(
            ns.iter()
                .map(|n| parse_number(n).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::B(_) | AttributeValue::Bs(_) => {
            return Err(StoreError::Backend(
                "binary attributes are not supported".into(),
            ));
        }
        _ => {
            return Err(StoreError::Backend(
                "an attribute of an unknown type".into(),
            ));
        }
    })
}

pub(super) fn attrs_to_item(attrs: &AttrMap) -> Result<Item, StoreError> {
    attrs
        .iter()
        .map(|(k, v)| Ok((k.clone(), attr_to_json(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn json_roundtrips_exactly() {
        let v = json!({"s": "", "i": -7, "big": 9_007_199_254_740_993_i64, "u": u64::MAX,
                       "f": 1.5, "b": false, "z": null, "l": [1, "x", {"y": [true]}], "m": {}});
        let Value::Object(item) = v else {
            unreachable!()
        };
        assert_eq!(attrs_to_item(&item_to_attrs(&item)).unwrap(), item);
        assert_eq!(
            json_to_attr(&json!(9_007_199_254_740_993_i64)),
            AttributeValue::N("9007199254740993".into())
        );
        assert_eq!(
            attr_to_json(&AttributeValue::N("1E+2".into())).unwrap(),
            json!(100.0)
        );
        assert_eq!(
            attr_to_json(&AttributeValue::Ss(vec!["a".into()])).unwrap(),
            json!(["a"])
        );
        assert!(attr_to_json(&AttributeValue::N("nope".into())).is_err());
    }
}
