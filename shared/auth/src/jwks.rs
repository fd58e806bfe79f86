//! The issuer's public keys, fetched from its JWKS URL and cached.
//!
//! One fetch at a time: concurrent misses wait for the fetch in flight and take its outcome,
//! so a burst of tokens with a new `kid` (or a cold start under load) asks the issuer once.
//! A refetch that fails keeps the last good keys verifying for a while, so an outage of the
//! issuer's endpoint does not fail every request.

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axhub_domain::Error;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::invalid;

/// How long a fetched JWKS is trusted before it is fetched again.
pub const JWKS_TTL: Duration = Duration::from_secs(600);
/// The issuer is asked at most this often: for an unknown `kid` (key rotation, not a DoS
/// lever) and after a failed fetch (no request waits on an endpoint that just failed).
pub const JWKS_REFETCH_MIN: Duration = Duration::from_secs(30);
/// How long, counted from the last good fetch, its keys keep verifying while the issuer's
/// JWKS cannot be fetched: an outage of the endpoint should not log everyone out, but a key
/// the issuer withdrew meanwhile must stop working even if we never see the new set.
pub const JWKS_STALE_MAX: Duration = Duration::from_secs(3600);

/// When the cached keys are fetched again. The constants in production; tests shorten them.
#[derive(Clone, Copy, Debug)]
pub struct JwksTiming {
    pub ttl: Duration,
    pub refetch_min: Duration,
    pub stale_max: Duration,
}

impl Default for JwksTiming {
    fn default() -> Self {
        Self {
            ttl: JWKS_TTL,
            refetch_min: JWKS_REFETCH_MIN,
            stale_max: JWKS_STALE_MAX,
        }
    }
}

#[derive(Default)]
struct State {
    /// The last set fetched, and when.
    good: Option<(JwkSet, Instant)>,
    /// The issuer's last answer, good or not.
    last_try: Option<Attempt>,
    /// Fetches attempted so far: a request that waited for the fetch in flight sees it moved
    /// and takes that fetch's outcome instead of asking again.
    attempts: u64,
}

#[derive(Clone, Copy)]
struct Attempt {
    at: Instant,
    ok: bool,
}

/// What the cache alone can say about a token's key.
enum Look {
    Answer(Result<DecodingKey, Error>),
    /// Ask the issuer; `stale` is what the expired keys say meanwhile, if they may still.
    Fetch {
        attempts: u64,
        stale: Option<Result<DecodingKey, Error>>,
    },
}

pub(crate) struct JwksCache {
    url: String,
    pub(crate) timing: JwksTiming,
    /// Built by the first fetch: building it loads the system's root certificates, a cost a
    /// Lambda's cold start should not pay for requests that never fetch keys.
    http: OnceLock<reqwest::Client>,
    /// Never held across an await.
    state: Mutex<State>,
    /// Held for the whole of a fetch: the single flight.
    flight: tokio::sync::Mutex<()>,
}

fn no_key() -> Error {
    invalid("no key of the issuer matches this token")
}

fn unavailable() -> Error {
    Error::unavailable("the token issuer's keys could not be fetched")
}

impl JwksCache {
    pub(crate) fn new(url: String) -> Self {
        Self {
            url,
            timing: JwksTiming::default(),
            http: OnceLock::new(),
            state: Mutex::default(),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    /// The key that verifies a token with this `kid`, for the pinned algorithm.
    pub(crate) async fn key(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, Error> {
        let (seen, stale) = match self.look(kid, alg) {
            Look::Answer(key) => return key,
            Look::Fetch { attempts, stale } => (attempts, stale),
        };
        let _flight = match (self.flight.try_lock(), stale) {
            (Ok(flight), _) => flight,
            // Being refreshed: the keys that still verify this token need not wait for it.
            (Err(_), Some(Ok(key))) => return Ok(key),
            (Err(_), _) => self.flight.lock().await,
        };
        if self.state().attempts == seen {
            let fetched = self.fetch().await;
            let mut state = self.state();
            state.attempts += 1;
            state.last_try = Some(Attempt {
                at: Instant::now(),
                ok: fetched.is_ok(),
            });
            if let Ok(set) = fetched {
                state.good = Some((set, Instant::now()));
            }
        }
        self.after_fetch(kid, alg)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain data, whole after every write: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn look(&self, kid: Option<&str>, alg: Algorithm) -> Look {
        let state = self.state();
        let t = &self.timing;
        let lately = state.last_try.filter(|a| a.at.elapsed() < t.refetch_min);
        let asked_lately = lately.is_some();
        let failed_lately = lately.is_some_and(|a| !a.ok);
        let fetch = |stale| Look::Fetch {
            attempts: state.attempts,
            stale,
        };
        match &state.good {
            Some((set, at)) if at.elapsed() < t.ttl => match find_key(set, kid, alg) {
                Some(key) => Look::Answer(key),
                // Asked a moment ago: the key is not there, or (if that failed) may be.
                None if failed_lately => Look::Answer(Err(unavailable())),
                None if asked_lately => Look::Answer(Err(no_key())),
                None => fetch(None),
            },
            Some((set, at)) if at.elapsed() < t.stale_max => {
                let key = find_key(set, kid, alg);
                if failed_lately {
                    // The issuer failed a moment ago: the old keys answer until it is asked
                    // again.
                    Look::Answer(key.unwrap_or_else(|| Err(unavailable())))
                } else {
                    fetch(key)
                }
            }
            _ => fetch(None),
        }
    }

    /// The key after a fetch (this request's or the one it waited for).
    fn after_fetch(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, Error> {
        let state = self.state();
        let failed = state.last_try.is_some_and(|a| !a.ok);
        let usable = state
            .good
            .as_ref()
            .filter(|(_, at)| at.elapsed() < self.timing.stale_max);
        match usable.and_then(|(set, _)| find_key(set, kid, alg)) {
            Some(key) => key,
            // The set we could not fetch may hold the key: retry later, the token may be fine.
            None if failed => Err(unavailable()),
            None => Err(no_key()),
        }
    }

    async fn fetch(&self) -> Result<JwkSet, Error> {
        let failed = |e: reqwest::Error| {
            tracing::warn!(error = %e, "JWKS fetch failed");
            unavailable()
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
            .map_err(failed)?
            .json::<JwkSet>()
            .await
            .map_err(failed)
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
