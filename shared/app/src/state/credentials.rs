//! Credentials kept in the state store: personal access tokens (only their SHA-256) and users'
//! sealed GitHub tokens. Implements the `AccessTokens` and `SealedTokens` ports so that the
//! authenticator and the GitHub adapter never see the store's layout.
//!
//! Items: `PAT#{sha256(token)}` / `PAT` `{user_id, platform_admin, scopes}`;
//! `GHUSER#{user}` / `GHUSER` `{alg, nonce, ciphertext}`.

use std::sync::Arc;

use async_trait::async_trait;
use axhub_domain::{Error, Principal};
use axhub_ports::{AccessTokens, Sealed, SealedTokens};
use axhub_store::{Cond, Item, Key, Store, StoreError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store_error;

const NONCE: &str = "nonce";
const CIPHERTEXT: &str = "ciphertext";

/// Where a personal access token is kept: under its hash, never the token itself.
pub fn personal_access_token_key(token: &str) -> Key {
    Key::new(format!("PAT#{}", hash_token(token)), "PAT")
}

/// A user's GitHub tokens (access + refresh), sealed by the GitHub adapter.
pub fn github_user_token_key(user: &str) -> Key {
    Key::new(format!("GHUSER#{user}"), "GHUSER")
}

/// Personal access tokens are kept only as SHA-256 hashes.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The credentials held in the state store.
#[derive(Clone)]
pub struct StoredCredentials {
    store: Arc<dyn Store>,
}

impl StoredCredentials {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Keeps a personal access token (its hash) for the principal.
    pub async fn put_personal_access_token(
        &self,
        token: &str,
        principal: &Principal,
    ) -> Result<(), Error> {
        let key = personal_access_token_key(token);
        let mut item = Item::new();
        item.insert("pk".into(), json!(key.pk));
        item.insert("sk".into(), json!(key.sk));
        item.insert("user_id".into(), json!(principal.user_id));
        item.insert("platform_admin".into(), json!(principal.platform_admin));
        item.insert("scopes".into(), json!(principal.scopes));
        self.store.put(item, None).await.map_err(store_error)
    }
}

#[async_trait]
impl AccessTokens for StoredCredentials {
    async fn principal_for(&self, token: &str) -> Result<Option<Principal>, Error> {
        let Some(item) = self
            .store
            .get(&personal_access_token_key(token))
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let Some(user_id) = item.get("user_id").and_then(Value::as_str) else {
            return Ok(None);
        };
        Ok(Some(Principal {
            user_id: user_id.to_owned(),
            platform_admin: item
                .get("platform_admin")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            scopes: item.get("scopes").and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            }),
        }))
    }
}

#[async_trait]
impl SealedTokens for StoredCredentials {
    async fn get(&self, user_id: &str) -> Result<Option<Sealed>, Error> {
        let key = github_user_token_key(user_id);
        let Some(item) = self.store.get(&key).await.map_err(store_error)? else {
            return Ok(None);
        };
        let field = |n: &str| item.get(n).and_then(Value::as_str).map(str::to_owned);
        Ok(match (field(NONCE), field(CIPHERTEXT)) {
            (Some(nonce), Some(ciphertext)) => Some(Sealed { nonce, ciphertext }),
            _ => None,
        })
    }

    async fn put(
        &self,
        user_id: &str,
        sealed: &Sealed,
        replacing: Option<&str>,
    ) -> Result<bool, Error> {
        let key = github_user_token_key(user_id);
        let mut item = Item::new();
        item.insert("pk".into(), json!(key.pk));
        item.insert("sk".into(), json!(key.sk));
        item.insert("alg".into(), json!("A256GCM"));
        item.insert(NONCE.into(), json!(sealed.nonce));
        item.insert(CIPHERTEXT.into(), json!(sealed.ciphertext));
        let cond = replacing.map(|c| Cond::eq(CIPHERTEXT, c.to_owned()));
        match self.store.put(item, cond).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(store_error(e)),
        }
    }
}
