//! Users' GitHub tokens, encrypted at rest: AES-256-GCM with a configured key, a fresh random
//! nonce per write, and the item's key as associated data (a ciphertext copied onto another
//! user's record does not decrypt). Where the sealed records are kept is the `SealedTokens`
//! port's business; this module only seals and opens them.

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use axhub_domain::Error;
use axhub_ports::{Sealed, SealedTokens};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

/// A user's tokens as kept (inside the ciphertext).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Epoch seconds; `None` for a token that does not expire.
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub refresh_token_expires_at: Option<i64>,
}

impl std::fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTokens")
            .field("expires_at", &self.expires_at)
            .field("refresh_token_expires_at", &self.refresh_token_expires_at)
            .finish_non_exhaustive()
    }
}

/// What was read: the tokens and the stored ciphertext (the version a refresh replaces).
pub struct Stored {
    pub tokens: UserTokens,
    pub(crate) ciphertext: String,
}

#[derive(Clone)]
pub struct TokenVault {
    records: Arc<dyn SealedTokens>,
    cipher: Aes256Gcm,
}

#[derive(Debug, thiserror::Error)]
#[error("the token key must be 32 bytes (64 hex characters)")]
pub struct BadKey;

impl TokenVault {
    pub fn new(records: Arc<dyn SealedTokens>, key: &[u8]) -> Result<Self, BadKey> {
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| BadKey)?;
        Ok(Self { records, cipher })
    }

    /// Encrypts and writes the tokens. With `replacing`, only if the stored ciphertext is
    /// still that one (a refresh that lost a race writes nothing); returns whether it wrote.
    pub async fn put(
        &self,
        user: &str,
        tokens: &UserTokens,
        replacing: Option<&Stored>,
    ) -> Result<bool, Error> {
        let plain = serde_json::to_vec(tokens).map_err(|_| Error::internal("encode tokens"))?;
        let nonce: [u8; 12] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &associated_data(user),
                },
            )
            .map_err(|_| Error::internal("could not encrypt a token"))?;
        let record = Sealed {
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(sealed),
        };
        self.records
            .put(user, &record, replacing.map(|s| s.ciphertext.as_str()))
            .await
    }

    /// The user's tokens; `None` when none are stored or they no longer decrypt (another key).
    pub async fn get(&self, user: &str) -> Result<Option<Stored>, Error> {
        let Some(record) = self.records.get(user).await? else {
            return Ok(None);
        };
        let (Ok(nonce), Ok(sealed)) = (B64.decode(&record.nonce), B64.decode(&record.ciphertext))
        else {
            return Ok(None);
        };
        if nonce.len() != 12 {
            return Ok(None);
        }
        let plain = match self.cipher.decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &sealed,
                aad: &associated_data(user),
            },
        ) {
            Ok(p) => p,
            Err(_) => {
                tracing::warn!("a stored GitHub user token does not decrypt with the current key");
                return Ok(None);
            }
        };
        let Ok(tokens) = serde_json::from_slice::<UserTokens>(&plain) else {
            return Ok(None);
        };
        Ok(Some(Stored {
            tokens,
            ciphertext: record.ciphertext,
        }))
    }
}

/// Binds a ciphertext to its user: copied onto another user's record it does not open.
fn associated_data(user: &str) -> Vec<u8> {
    format!("axhub-github-user-token:{user}").into_bytes()
}
