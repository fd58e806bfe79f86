//! Idempotency records (`IDEM#{sha256(user, scope, key)}` / `IDEM`): the first answer to a
//! request and the fingerprint of its body, kept 24 h.

use axhub_domain::Error;
use axhub_store::{Cond, Key, TxOp};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::codec::bare;
use super::{Guard, UnitOfWork};
use crate::{Deps, store_error};

/// How long a key is remembered.
pub const TTL_SECONDS: i64 = 24 * 3600;

fn key(record: &str) -> Key {
    Key::new(format!("IDEM#{record}"), "IDEM")
}

/// A first answer as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub fingerprint: String,
    pub status: u16,
    pub body: Value,
}

pub async fn get(deps: &Deps, record: &str) -> Result<Option<Stored>, Error> {
    let item = deps.store.get(&key(record)).await.map_err(store_error)?;
    Ok(item.map(|i| Stored {
        fingerprint: i
            .get("fingerprint")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        status: i.get("status").and_then(Value::as_u64).unwrap_or(200) as u16,
        body: i.get("body").cloned().unwrap_or(Value::Null),
    }))
}

impl UnitOfWork {
    /// Records the answer under the key: holds only if the key is free (or expired).
    pub fn record_answer(
        &mut self,
        record: &str,
        fingerprint: &str,
        now: OffsetDateTime,
        status: u16,
        body: Value,
    ) {
        let now = now.unix_timestamp();
        let item = bare(
            &key(record),
            [
                ("fingerprint", json!(fingerprint)),
                ("status", json!(status)),
                ("body", body),
                ("ttl", json!(now + TTL_SECONDS)),
            ],
        );
        self.push(
            TxOp::Put {
                item,
                cond: Some(Cond::absent_or_expired(now)),
            },
            Some(Guard::Idempotency),
        );
    }
}
