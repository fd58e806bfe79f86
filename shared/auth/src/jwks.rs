//! The issuer's public keys, fetched from its JWKS URL and cached.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axhub_domain::Error;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::RwLock;

use crate::invalid;

/// How long a fetched JWKS is trusted before it is fetched again.
pub const JWKS_TTL: Duration = Duration::from_secs(600);
/// An unknown `kid` refetches the JWKS at most this often (key rotation, not a DoS lever).
pub const JWKS_REFETCH_MIN: Duration = Duration::from_secs(30);

/// When the cached keys are fetched again. The constants in production; tests shorten them.
#[derive(Clone, Copy, Debug)]
pub struct JwksTiming {
    pub ttl: Duration,
    pub refetch_min: Duration,
}

impl Default for JwksTiming {
    fn default() -> Self {
        Self {
            ttl: JWKS_TTL,
            refetch_min: JWKS_REFETCH_MIN,
        }
    }
}

struct Cached {
    set: JwkSet,
    fetched: Instant,
}

pub(crate) struct JwksCache {
    url: String,
    pub(crate) timing: JwksTiming,
    /// Built by the first fetch: building it loads the system's root certificates, a cost a
    /// Lambda's cold start should not pay for requests that never fetch keys.
    http: OnceLock<reqwest::Client>,
    cached: RwLock<Option<Cached>>,
}

fn no_key() -> Error {
    invalid("no key of the issuer matches this token")
}

impl JwksCache {
    pub(crate) fn new(url: String) -> Self {
        Self {
            url,
            timing: JwksTiming::default(),
            http: OnceLock::new(),
            cached: RwLock::new(None),
        }
    }

    /// The key that verifies a token with this `kid`, for the pinned algorithm.
    pub(crate) async fn key(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, Error> {
        let fresh = |c: &Cached| c.fetched.elapsed() < self.timing.ttl;
        {
            let cache = self.cached.read().await;
            if let Some(c) = cache.as_ref().filter(|c| fresh(c)) {
                if let Some(k) = find_key(&c.set, kid, alg) {
                    return k;
                }
                if c.fetched.elapsed() < self.timing.refetch_min {
                    return Err(no_key());
                }
            }
        }
        let set = self.fetch().await?;
        let found = find_key(&set, kid, alg);
        *self.cached.write().await = Some(Cached {
            set,
            fetched: Instant::now(),
        });
        found.unwrap_or_else(|| Err(no_key()))
    }

    async fn fetch(&self) -> Result<JwkSet, Error> {
        let unavailable = |e: reqwest::Error| {
            tracing::warn!(error = %e, "JWKS fetch failed");
            Error::unavailable("the token issuer's keys could not be fetched")
        };
        let http = self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default()
        });
        http.get(&self.url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(unavailable)?
            .json::<JwkSet>()
            .await
            .map_err(unavailable)
    }
}

/// The set's key for `kid` (the only key when the token names none), or `None`.
fn find_key(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<Result<DecodingKey, Error>> {
    let jwk = match kid {
        Some(kid) => set.find(kid)?,
        None if set.keys.len() == 1 => &set.keys[0],
        None => return None,
    };
    let family_ok = matches!(
        (&jwk.algorithm, alg),
        (AlgorithmParameters::RSA(_), Algorithm::RS256)
            | (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256)
    );
    if !family_ok {
        return Some(Err(invalid(
            "the issuer's key does not fit the pinned algorithm",
        )));
    }
    Some(DecodingKey::from_jwk(jwk).map_err(|_| invalid("the issuer's key is unusable")))
}
