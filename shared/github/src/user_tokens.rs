//! Users' tokens (for `/user…`): kept encrypted in the store ([`crate::vault`]) and refreshed
//! with their refresh token when stale; none, or a refused refresh, is 428
//! `github_relogin_required`.

use axhub_domain::{Error, ErrorCode};
use axhub_ports::github::UserTokenGrant;
use reqwest::StatusCode;

use crate::transport::{Answer, Api, bad_gateway, now, relogin, send};
use crate::vault::{self, TokenVault, UserTokens};
use crate::wire::RefreshAnswer;

/// User tokens are refreshed when they expire within this.
const USER_TOKEN_MARGIN_SECONDS: i64 = 60;

/// The vault of users' tokens and the App's OAuth client that refreshes them.
pub(crate) struct UserAuth {
    pub(crate) vault: TokenVault,
    /// Web base without a trailing `/`: the OAuth token endpoint is below it.
    pub(crate) web_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

impl UserAuth {
    /// The user's access token, refreshed first when stale. None stored, one that no longer
    /// decrypts, or a refused refresh → 428.
    pub(crate) async fn user_token(&self, api: &Api, user: &str) -> Result<String, Error> {
        let Some(stored) = self.vault.get(user).await? else {
            return Err(relogin(
                "sign in with GitHub again: no GitHub authorization is stored for you",
            ));
        };
        match stored.tokens.expires_at {
            Some(at) if at - USER_TOKEN_MARGIN_SECONDS <= now() => {
                self.refresh(api, user, stored).await
            }
            _ => Ok(stored.tokens.access_token),
        }
    }

    async fn refresh(&self, api: &Api, user: &str, stored: vault::Stored) -> Result<String, Error> {
        let Some(refresh_token) = stored.tokens.refresh_token.clone() else {
            return Err(relogin(
                "sign in with GitHub again: your GitHub authorization expired",
            ));
        };
        if stored
            .tokens
            .refresh_token_expires_at
            .is_some_and(|at| at <= now())
        {
            return Err(relogin(
                "sign in with GitHub again: your GitHub authorization expired",
            ));
        }
        let url = format!("{}/login/oauth/access_token", self.web_url);
        let body = serde_json::json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        });
        let answer = send(api.retry, "token refresh", || {
            api.http
                .post(&url)
                .header("accept", "application/json")
                .json(&body)
        })
        .await?;
        let r: RefreshAnswer = answer.json("the token refresh")?;
        let access = match (r.error.as_deref(), r.access_token) {
            (None, Some(access)) if !access.is_empty() => access,
            (Some("bad_refresh_token" | "invalid_grant" | "unauthorized_client"), _)
            | (None, _) => {
                // Another request may have refreshed it first (refresh tokens are single-use).
                if let Some(now_stored) = self.vault.get(user).await?
                    && now_stored.ciphertext != stored.ciphertext
                    && now_stored
                        .tokens
                        .expires_at
                        .is_none_or(|at| at - USER_TOKEN_MARGIN_SECONDS > now())
                {
                    return Ok(now_stored.tokens.access_token);
                }
                tracing::info!("GitHub refused a user token refresh");
                return Err(relogin(
                    "sign in with GitHub again: GitHub refused to renew your authorization",
                ));
            }
            (Some(other), _) => {
                tracing::error!(error = other, "GitHub token refresh failed");
                return Err(bad_gateway(
                    "GitHub could not renew the user's authorization",
                ));
            }
        };
        let now = now();
        let tokens = UserTokens {
            access_token: access.clone(),
            refresh_token: r.refresh_token.or(Some(refresh_token)),
            expires_at: r.expires_in.map(|s| now + s),
            refresh_token_expires_at: r
                .refresh_token_expires_in
                .map(|s| now + s)
                .or(stored.tokens.refresh_token_expires_at),
        };
        self.vault.put(user, &tokens, Some(&stored)).await?;
        tracing::info!("GitHub user token refreshed");
        Ok(access)
    }

    /// Keeps the tokens a user has just been granted, expiries turned into epoch seconds.
    pub(crate) async fn store_user_token(
        &self,
        user: &str,
        grant: UserTokenGrant,
    ) -> Result<(), Error> {
        if grant.access_token.trim().is_empty() {
            return Err(Error::field(
                "access_token",
                ErrorCode::Required,
                "must not be empty",
            ));
        }
        let now = now();
        let tokens = UserTokens {
            access_token: grant.access_token,
            refresh_token: grant.refresh_token.filter(|t| !t.is_empty()),
            expires_at: grant.expires_in.map(|s| now + s),
            refresh_token_expires_at: grant.refresh_token_expires_in.map(|s| now + s),
        };
        self.vault.put(user, &tokens, None).await.map(|_| ())
    }
}

/// A GET with the user's token; a 401 means the authorization was revoked → 428.
pub(crate) async fn user_get(
    api: &Api,
    token: &str,
    path: &str,
    query: &[(&str, String)],
) -> Result<Answer, Error> {
    let answer = api.get(path, token, query).await?;
    if answer.status == StatusCode::UNAUTHORIZED {
        return Err(relogin(
            "sign in with GitHub again: GitHub no longer accepts your authorization",
        ));
    }
    Ok(answer)
}
