//! `Idempotency-Key` on POSTs that create work: a retried request gets the first answer.
//! The record is written in the same transaction as the work it stands for, so two racing
//! requests with one key can never both create work.

use axhub_domain::Error;
use axhub_domain::ErrorCode;
use axhub_store::{Cond, Item, TxOp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::{Deps, keys, store_error};

/// How long a key is remembered.
pub const TTL_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// Hash of who asked, on what, with which key.
    record: String,
    /// Hash of the request body: the same key with another body is refused.
    fingerprint: String,
}

/// The stored first answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub status: u16,
    pub body: Value,
}

fn sha(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

impl IdempotencyKey {
    pub fn parse(raw: &str, user: &str, scope: &str, request: &Value) -> Result<Self, Error> {
        if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(Error::field(
                "Idempotency-Key",
                ErrorCode::InvalidFormat,
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        Ok(Self {
            record: sha(&[user, scope, raw]),
            fingerprint: sha(&[&request.to_string()]),
        })
    }

    /// The first answer, if this key was used before; an error if it was used for another body.
    pub async fn lookup(&self, deps: &Deps) -> Result<Option<Recorded>, Error> {
        let item = deps
            .store
            .get(&keys::idempotency(&self.record))
            .await
            .map_err(store_error)?;
        item.map(|i| self.recorded(i)).transpose()
    }

    fn recorded(&self, item: Item) -> Result<Recorded, Error> {
        if item.get("fingerprint").and_then(Value::as_str) != Some(self.fingerprint.as_str()) {
            return Err(Error::field(
                "Idempotency-Key",
                ErrorCode::IdempotencyKeyReused,
                "was already used for a different request",
            ));
        }
        Ok(Recorded {
            status: item.get("status").and_then(Value::as_u64).unwrap_or(200) as u16,
            body: item.get("body").cloned().unwrap_or(Value::Null),
        })
    }

    /// The transaction operation that records the answer (fails if the key is taken).
    pub fn record_op(&self, now: OffsetDateTime, status: u16, body: Value) -> TxOp {
        let key = keys::idempotency(&self.record);
        let mut item = Item::new();
        item.insert("pk".into(), json!(key.pk));
        item.insert("sk".into(), json!(key.sk));
        item.insert("fingerprint".into(), json!(self.fingerprint));
        item.insert("status".into(), json!(status));
        item.insert("body".into(), body);
        let now = now.unix_timestamp();
        item.insert("ttl".into(), json!(now + TTL_SECONDS));
        TxOp::Put {
            item,
            cond: Some(Cond::absent_or_expired(now)),
        }
    }
}
