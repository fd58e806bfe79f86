//! One-time install state tokens: issued by install/start (and the unconnected status), bound
//! to an app and a user, checked before anything else and consumed only in the unit of work
//! that writes the connection (verify before consume).

use axhub_domain::{Error, ErrorCode};
use sha2::{Digest, Sha256};

use crate::Deps;
use crate::state::UnitOfWork;
use crate::state::apps::AppContext;
use crate::state::git::{self, StateRecord};

/// How long an install state token is valid.
pub const STATE_TTL_SECONDS: i64 = 600;

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(super) fn invalid() -> Error {
    Error::field(
        "state",
        ErrorCode::InvalidOauthState,
        "is unknown, expired or already used; start the GitHub installation again",
    )
}

/// A state token that was read and is still valid; [`Checked::consume`] spends it.
pub(super) struct Checked {
    pub record: StateRecord,
    hash: String,
    now: i64,
}

impl Checked {
    /// Adds the token's consumption to the unit of work (which then fails if another request
    /// spent it first).
    pub fn consume(&self, work: &mut UnitOfWork) {
        work.consume_state_token(&self.hash, self.now);
    }
}

/// Issues a one-time state token for `user` on `app`: 32 random bytes as hex, stored only as
/// its hash, expiring after [`STATE_TTL_SECONDS`].
pub(super) async fn issue(deps: &Deps, ctx: &AppContext, user: &str) -> Result<String, Error> {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let record = StateRecord {
        app_id: ctx.app.id,
        tenant_id: ctx.app.tenant_id,
        user_id: user.to_owned(),
        ttl: deps.now().unix_timestamp() + STATE_TTL_SECONDS,
    };
    git::put_state_token(deps, &hash(&token), &record).await?;
    Ok(token)
}

/// Reads a state token without consuming it: unknown, malformed, used or expired → 400.
pub(super) async fn check(deps: &Deps, raw: Option<&str>) -> Result<Checked, Error> {
    let token = raw.map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err(Error::field(
            "state",
            ErrorCode::Required,
            "must be the state token of the installation",
        ));
    }
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let hash = hash(&token.to_ascii_lowercase());
    let Some(record) = git::state_token(deps, &hash).await? else {
        return Err(invalid());
    };
    let now = deps.now().unix_timestamp();
    if record.ttl <= now {
        return Err(invalid());
    }
    Ok(Checked { record, hash, now })
}
