//! Opaque, tamper-evident list cursors: base64url(JSON) + "." + base64url(HMAC-SHA256), bound
//! to the list they came from so a cursor of one app cannot page another's history.

use axhub_domain::Error;
use axhub_domain::ErrorCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Serialize, de::DeserializeOwned};
use sha2::Sha256;

#[derive(Clone)]
pub struct CursorCodec {
    secret: Vec<u8>,
}

fn invalid() -> Error {
    Error::field(
        "cursor",
        ErrorCode::InvalidValue,
        "is not a cursor this list gave out",
    )
}

impl CursorCodec {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            secret: secret.to_vec(),
        }
    }

    fn mac(&self, scope: &str, body: &str) -> Hmac<Sha256> {
        // new_from_slice accepts keys of any length for HMAC.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(scope.as_bytes());
        mac.update(b"\0");
        mac.update(body.as_bytes());
        mac
    }

    pub fn encode<T: Serialize>(&self, scope: &str, value: &T) -> String {
        let json = serde_json::to_vec(value).unwrap_or_default();
        let body = B64.encode(json);
        let tag = B64.encode(self.mac(scope, &body).finalize().into_bytes());
        format!("{body}.{tag}")
    }

    pub fn decode<T: DeserializeOwned>(&self, scope: &str, cursor: &str) -> Result<T, Error> {
        let (body, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let tag = B64.decode(tag).map_err(|_| invalid())?;
        self.mac(scope, body)
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
        let json = B64.decode(body).map_err(|_| invalid())?;
        serde_json::from_slice(&json).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let c = CursorCodec::new(b"k");
        let s = c.encode("app:1", &42u64);
        assert_eq!(c.decode::<u64>("app:1", &s).unwrap(), 42);
        assert!(c.decode::<u64>("app:2", &s).is_err(), "bound to its list");
        let forged = format!("{}.{}", B64.encode(b"7"), s.split_once('.').unwrap().1);
        assert!(c.decode::<u64>("app:1", &forged).is_err());
        assert!(
            CursorCodec::new(b"other")
                .decode::<u64>("app:1", &s)
                .is_err()
        );
        assert!(c.decode::<u64>("app:1", "garbage").is_err());
    }
}
