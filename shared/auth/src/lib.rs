//! Who is calling: `Authorization: Bearer <JWT>` or `X-Api-Key: axhub_pat_…`.
//!
//! JWTs are HS256 with a configured secret (local use) or RS256/ES256 against a JWKS URL
//! (production), fetched and cached. The algorithm is pinned by configuration and never
//! taken from the token; `exp` and `sub` are always required, `iss` and `aud` whenever they
//! are configured (a token that names no audience is not one issued for this service), and
//! `nbf`, when present, must have passed.

mod jwks;

use std::sync::Arc;

use axhub_domain::ErrorCode;
use axhub_domain::{Error, Principal};
use axhub_ports::AccessTokens;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub use jwks::{JWKS_REFETCH_MIN, JWKS_STALE_MAX, JWKS_TTL, JwksTiming};

pub const PAT_PREFIX: &str = "axhub_pat_";

#[derive(Clone, Debug)]
pub enum JwtKeys {
    /// Shared secret, HS256.
    Hs256 { secret: Vec<u8> },
    /// Public keys from a JWKS URL; `algorithm` is RS256 or ES256.
    Jwks { url: String, algorithm: Algorithm },
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub keys: JwtKeys,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// The claims this service reads. Scopes come as a space-separated `scope` string (OAuth) or
/// a `scopes` array; either marks the token as delegated.
#[derive(Debug, Serialize, Deserialize, Default)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub platform_admin: bool,
}

/// `aud`: one audience or a list of them (RFC 7519 §4.1.3). Verification checks it against
/// the configured audience; it is here so that a list does not fail to deserialize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl From<&str> for Audience {
    fn from(aud: &str) -> Self {
        Audience::One(aud.to_owned())
    }
}

impl Claims {
    fn principal(self) -> Principal {
        let scopes = match (self.scopes, self.scope) {
            (Some(s), _) => Some(s),
            (None, Some(s)) => Some(s.split_whitespace().map(str::to_owned).collect()),
            (None, None) => None,
        };
        Principal {
            user_id: self.sub,
            platform_admin: self.platform_admin,
            scopes,
        }
    }
}

pub struct Authenticator {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
    tokens: Arc<dyn AccessTokens>,
}

/// What verifies a token's signature.
enum Keys {
    Hs256(DecodingKey),
    Jwks(jwks::JwksCache, Algorithm),
}

fn invalid(msg: &str) -> Error {
    Error::unauthenticated(ErrorCode::TokenInvalid, msg)
}

impl Authenticator {
    pub fn new(config: AuthConfig, tokens: Arc<dyn AccessTokens>) -> Self {
        let keys = match config.keys {
            JwtKeys::Hs256 { secret } => Keys::Hs256(DecodingKey::from_secret(&secret)),
            JwtKeys::Jwks { url, algorithm } => Keys::Jwks(jwks::JwksCache::new(url), algorithm),
        };
        Self {
            keys,
            issuer: config.issuer,
            audience: config.audience,
            tokens,
        }
    }

    /// Fetches the JWKS on other intervals than the production ones (tests).
    pub fn with_jwks_timing(mut self, timing: JwksTiming) -> Self {
        if let Keys::Jwks(jwks, _) = &mut self.keys {
            jwks.timing = timing;
        }
        self
    }

    /// The caller of a request from its `Authorization` and `X-Api-Key` header values.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Principal, Error> {
        if let Some(auth) = authorization {
            let token = auth
                .strip_prefix("Bearer ")
                .or_else(|| auth.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| invalid("Authorization must be `Bearer <token>`"))?;
            if token.starts_with(PAT_PREFIX) {
                return self.personal_access_token(token).await;
            }
            return self.verify_jwt(token).await;
        }
        if let Some(key) = api_key {
            return self.personal_access_token(key.trim()).await;
        }
        Err(Error::unauthenticated(
            ErrorCode::TokenMissing,
            "send `Authorization: Bearer <JWT>` or `X-Api-Key: axhub_pat_…`",
        ))
    }

    async fn personal_access_token(&self, token: &str) -> Result<Principal, Error> {
        if !token.starts_with(PAT_PREFIX) {
            return Err(invalid("personal access tokens start with axhub_pat_"));
        }
        self.tokens
            .principal_for(token)
            .await?
            .ok_or_else(|| invalid("unknown or revoked personal access token"))
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        // jsonwebtoken compares `iss` and `aud` only when the token has them: a configured
        // one must also be required, or a token that leaves it out passes.
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(iss) => {
                v.set_issuer(&[iss]);
                required.push("iss");
            }
            None => v.iss = None,
        }
        match &self.audience {
            Some(aud) => {
                v.set_audience(&[aud]);
                required.push("aud");
            }
            None => v.validate_aud = false,
        }
        v.set_required_spec_claims(&required);
        // The same leeway for `exp` and `nbf`: clock skew between the issuer and us.
        v.leeway = 30;
        v.validate_nbf = true;
        v
    }

    async fn verify_jwt(&self, token: &str) -> Result<Principal, Error> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
        let (key, alg) = match &self.keys {
            Keys::Hs256(secret) => (secret.clone(), Algorithm::HS256),
            Keys::Jwks(jwks, alg) => (jwks.key(header.kid.as_deref(), *alg).await?, *alg),
        };
        if header.alg != alg {
            return Err(invalid("token algorithm not accepted"));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation(alg)).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    Error::unauthenticated(ErrorCode::TokenExpired, "the token has expired")
                }
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                    invalid("the token is not valid yet (nbf)")
                }
                _ => invalid("the token could not be verified"),
            },
        )?;
        if data.claims.sub.is_empty() {
            return Err(invalid("the token names no subject"));
        }
        Ok(data.claims.principal())
    }
}

/// Mints an HS256 token (axhub-local's demo users, tests).
pub fn mint_hs256(secret: &[u8], claims: &Claims) -> Result<String, Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|_| Error::internal("could not sign a token"))
}
