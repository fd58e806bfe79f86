//! `Idempotency-Key` on POSTs that create work: a retried request gets the first answer.
//! The record is written in the same unit of work as the work it stands for, so two racing
//! requests with one key can never both create work.

use axhub_domain::{Error, ErrorCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::Deps;
use crate::state::{self, UnitOfWork};

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
        let Some(stored) = state::idempotency::get(deps, &self.record).await? else {
            return Ok(None);
        };
        if stored.fingerprint != self.fingerprint {
            return Err(Error::field(
                "Idempotency-Key",
                ErrorCode::IdempotencyKeyReused,
                "was already used for a different request",
            ));
        }
        Ok(Some(Recorded {
            status: stored.status,
            body: stored.body,
        }))
    }

    /// Records the answer in `work` (which then fails if the key is taken meanwhile).
    pub fn record(&self, work: &mut UnitOfWork, now: OffsetDateTime, status: u16, body: Value) {
        work.record_answer(&self.record, &self.fingerprint, now, status, body);
    }
}
