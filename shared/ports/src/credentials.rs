//! Credentials this service keeps for others to check or use: personal access tokens (looked
//! up by the authenticator) and users' GitHub tokens (sealed by the GitHub adapter, which owns
//! the cipher; the store only ever sees ciphertext).

use async_trait::async_trait;
use axhub_domain::{Error, Principal};

/// Who a personal access token (`X-Api-Key: axhub_pat_…`) stands for.
#[async_trait]
pub trait AccessTokens: Send + Sync + 'static {
    /// The token's principal, or `None` for an unknown or revoked token.
    async fn principal_for(&self, token: &str) -> Result<Option<Principal>, Error>;
}

/// A secret as kept: encrypted elsewhere, opaque here (base64 text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: String,
    pub ciphertext: String,
}

/// Where users' sealed GitHub tokens are kept, one record per user.
#[async_trait]
pub trait SealedTokens: Send + Sync + 'static {
    async fn get(&self, user_id: &str) -> Result<Option<Sealed>, Error>;

    /// Writes the user's record. With `replacing`, only if the stored ciphertext is still that
    /// one (a refresh that lost a race to another writes nothing); returns whether it wrote.
    async fn put(
        &self,
        user_id: &str,
        sealed: &Sealed,
        replacing: Option<&str>,
    ) -> Result<bool, Error>;
}
