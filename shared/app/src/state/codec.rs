//! Items as serde values: an aggregate's domain type is its item, plus its key and index
//! attributes.

use axhub_domain::Error;
use axhub_store::{Item, Key, PK, SK};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Serializes a value into an item under `key`.
pub fn to_item<T: Serialize>(key: &Key, value: &T) -> Result<Item, Error> {
    let mut item = match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => return Err(Error::internal("could not encode an item")),
    };
    item.insert(PK.into(), Value::String(key.pk.clone()));
    item.insert(SK.into(), Value::String(key.sk.clone()));
    Ok(item)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, Error> {
    serde_json::from_value(Value::Object(item)).map_err(|e| {
        tracing::error!(error = %e, "undecodable item");
        Error::internal("a stored item could not be read")
    })
}

/// An item holding only its key and the given attributes.
pub fn bare(key: &Key, attrs: impl IntoIterator<Item = (&'static str, Value)>) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), Value::String(key.pk.clone()));
    item.insert(SK.into(), Value::String(key.sk.clone()));
    for (name, value) in attrs {
        item.insert(name.into(), value);
    }
    item
}

/// Sets a secondary index's key attributes on an item.
pub fn index(item: &mut Item, index: axhub_store::Index, pk: String, sk: String) {
    let (ip, is) = index.key_attrs();
    item.insert(ip.into(), Value::String(pk));
    item.insert(is.into(), Value::String(sk));
}
