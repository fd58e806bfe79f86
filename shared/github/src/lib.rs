//! The GitHub adapter: implements `axhub_ports::github::GitHub` over GitHub's REST API with
//! reqwest.
//!
//! - The App authenticates with an RS256 JWT (`iss` = App id, `iat` 60 s in the past, `exp`
//!   9 minutes on) and exchanges it for installation access tokens, cached until a few minutes
//!   before they expire.
//! - Users' tokens (for `/user…`) are kept encrypted in the store ([`vault`]) and refreshed
//!   with their refresh token when stale; none, or a refused refresh, is 428
//!   `github_relogin_required`.
//! - 5xx, timeouts and broken connections are retried a bounded number of times with
//!   backoff, then 502 `bad_gateway`; rate-limit answers are 429 `rate_limited`.
//! - Base URLs are configurable (GitHub Enterprise, tests).

mod transport;
pub mod vault;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axhub_domain::ErrorCode;
use axhub_domain::{Error, GitConnection, validate};
use axhub_ports::SealedTokens;
use axhub_ports::github::{
    Account, AppSettings, GitHub, Repository, RepositoryPage, UserTokenGrant,
};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use transport::{Answer, Retry, bad_gateway, relogin, send};
pub use vault::{TokenVault, UserTokens};

/// Everything the client needs; secrets included, so no `Debug`.
#[derive(Clone)]
pub struct GitHubConfig {
    /// REST API base, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`.
    pub api_url: String,
    /// Web base, e.g. `https://github.com`: install pages and the OAuth token endpoint.
    pub web_url: String,
    pub app_id: String,
    pub app_slug: String,
    /// The App's private key (PEM, PKCS#1 as GitHub hands it out, or PKCS#8).
    pub private_key_pem: String,
    /// The App's OAuth client id and secret (refreshing user tokens).
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
    /// AES-256 key of the user token vault (32 bytes).
    pub token_key: Vec<u8>,
    /// Per request, whole answer included.
    pub timeout: Duration,
    /// Tries per request (5xx, timeouts, broken connections).
    pub attempts: u32,
    /// Pause before the second try; doubled each time.
    pub backoff: Duration,
}

impl GitHubConfig {
    /// github.com's URLs and the default timeouts: 8 s per try, 3 tries, 200 ms backoff.
    pub fn new(
        app_id: impl Into<String>,
        app_slug: impl Into<String>,
        private_key_pem: impl Into<String>,
    ) -> Self {
        Self {
            api_url: "https://api.github.com".into(),
            web_url: "https://github.com".into(),
            app_id: app_id.into(),
            app_slug: app_slug.into(),
            private_key_pem: private_key_pem.into(),
            client_id: String::new(),
            client_secret: String::new(),
            webhook_secret: String::new(),
            token_key: Vec::new(),
            timeout: Duration::from_secs(8),
            attempts: 3,
            backoff: Duration::from_millis(200),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the GitHub App private key is not a valid RSA PEM key")]
    PrivateKey,
    #[error(transparent)]
    TokenKey(#[from] vault::BadKey),
    #[error("the GitHub App id must not be empty")]
    AppId,
    #[error("the webhook secret must not be empty")]
    WebhookSecret,
    #[error("could not build the HTTP client: {0}")]
    Http(String),
}

/// Installation tokens are used until this long before they expire.
const TOKEN_MARGIN_SECONDS: i64 = 5 * 60;
/// User tokens are refreshed when they expire within this.
const USER_TOKEN_MARGIN_SECONDS: i64 = 60;
/// At most this many pages of `/user/installations` are read (100 each).
const MAX_INSTALLATION_PAGES: u32 = 10;

#[derive(Serialize)]
struct AppClaims<'a> {
    iat: i64,
    exp: i64,
    iss: &'a str,
}

pub struct GitHubClient {
    http: reqwest::Client,
    api_url: String,
    web_url: String,
    app_id: String,
    client_id: String,
    client_secret: String,
    webhook_secret: Vec<u8>,
    app_key: EncodingKey,
    settings: AppSettings,
    retry: Retry,
    vault: TokenVault,
    /// installation id → (token, expires at, epoch seconds).
    installation_tokens: Mutex<HashMap<i64, (String, i64)>>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[derive(Deserialize)]
struct AccessToken {
    token: String,
    expires_at: String,
}

#[derive(Deserialize)]
struct GhAccount {
    login: String,
    id: i64,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    avatar_url: String,
}

#[derive(Deserialize)]
struct GhInstallation {
    id: i64,
    #[serde(default)]
    account: Option<GhAccount>,
}

#[derive(Deserialize)]
struct GhInstallations {
    #[serde(default)]
    total_count: u64,
    #[serde(default)]
    installations: Vec<GhInstallation>,
}

#[derive(Deserialize)]
struct GhMembership {
    organization: GhAccount,
}

#[derive(Deserialize)]
struct GhRepository {
    id: i64,
    name: String,
    full_name: String,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    default_branch: String,
    #[serde(default)]
    html_url: String,
}

#[derive(Deserialize)]
struct GhRepositories {
    #[serde(default)]
    total_count: u64,
    #[serde(default)]
    repositories: Vec<GhRepository>,
}

#[derive(Deserialize)]
struct GhBranch {
    commit: GhCommit,
}

#[derive(Deserialize)]
struct GhCommit {
    sha: String,
}

/// GitHub's answer to a token refresh: tokens, or `error` (with status 200).
#[derive(Deserialize)]
struct RefreshAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token_expires_in: Option<i64>,
    #[serde(default)]
    error: Option<String>,
}

/// Percent-encodes a path, keeping `/` (branch names such as `feature/x`).
fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`,
/// compared in constant time.
pub fn verify_signature(secret: &[u8], body: &[u8], signature: Option<&str>) -> bool {
    let Some(hex_sig) = signature.and_then(|s| s.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

impl GitHubClient {
    pub fn new(config: GitHubConfig, tokens: Arc<dyn SealedTokens>) -> Result<Self, ConfigError> {
        if config.app_id.trim().is_empty() {
            return Err(ConfigError::AppId);
        }
        if config.webhook_secret.is_empty() {
            return Err(ConfigError::WebhookSecret);
        }
        let app_key = EncodingKey::from_rsa_pem(config.private_key_pem.as_bytes())
            .map_err(|_| ConfigError::PrivateKey)?;
        let vault = TokenVault::new(tokens, &config.token_key)?;
        let http = reqwest::Client::builder()
            .user_agent("axhub-deploy")
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let trim = |s: &str| s.trim_end_matches('/').to_owned();
        let client = Self {
            http,
            api_url: trim(&config.api_url),
            web_url: trim(&config.web_url),
            app_id: config.app_id.trim().to_owned(),
            client_id: config.client_id,
            client_secret: config.client_secret,
            webhook_secret: config.webhook_secret.into_bytes(),
            app_key,
            settings: AppSettings {
                app_slug: config.app_slug,
                web_url: trim(&config.web_url),
            },
            retry: Retry {
                attempts: config.attempts,
                backoff: config.backoff,
            },
            vault,
            installation_tokens: Mutex::new(HashMap::new()),
        };
        // Fail at startup, not on the first request, if the key cannot sign.
        client.app_jwt().map_err(|_| ConfigError::PrivateKey)?;
        Ok(client)
    }

    pub fn vault(&self) -> &TokenVault {
        &self.vault
    }

    /// The App's own JWT: RS256, `iat` 60 s in the past against clock drift, 9 minutes valid.
    fn app_jwt(&self) -> Result<String, Error> {
        let now = now();
        let claims = AppClaims {
            iat: now - 60,
            exp: now + 9 * 60,
            iss: &self.app_id,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.app_key)
            .map_err(|_| Error::internal("could not sign the GitHub App JWT"))
    }

    fn api(&self, method: Method, path: &str, bearer: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api_url))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .bearer_auth(bearer)
    }

    async fn get(
        &self,
        path: &str,
        bearer: &str,
        query: &[(&str, String)],
    ) -> Result<Answer, Error> {
        send(self.retry, path, || {
            self.api(Method::GET, path, bearer).query(query)
        })
        .await
    }

    /// An installation access token: cached, or asked for with the App JWT. `None` when the
    /// installation does not exist (any more) or is suspended.
    async fn installation_token(&self, installation: i64) -> Result<Option<String>, Error> {
        if let Ok(cache) = self.installation_tokens.lock()
            && let Some((token, expires)) = cache.get(&installation)
            && *expires - TOKEN_MARGIN_SECONDS > now()
        {
            return Ok(Some(token.clone()));
        }
        let jwt = self.app_jwt()?;
        let path = format!("/app/installations/{installation}/access_tokens");
        let answer = send(self.retry, "installation token", || {
            self.api(Method::POST, &path, &jwt)
        })
        .await?;
        match answer.status {
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => return Ok(None),
            StatusCode::UNAUTHORIZED => {
                tracing::error!("GitHub refused the App's JWT: check the App id and private key");
                return Err(bad_gateway("GitHub refused the App's credentials"));
            }
            _ => {}
        }
        let t: AccessToken = answer
            .expect_ok("the installation token request")?
            .json("the installation token request")?;
        let expires = time::OffsetDateTime::parse(
            &t.expires_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map(|d| d.unix_timestamp())
        .unwrap_or_else(|_| now() + 3600);
        if let Ok(mut cache) = self.installation_tokens.lock() {
            cache.insert(installation, (t.token.clone(), expires));
        }
        Ok(Some(t.token))
    }

    /// The user's access token, refreshed first when stale. None stored, one that no longer
    /// decrypts, or a refused refresh → 428.
    async fn user_token(&self, user: &str) -> Result<String, Error> {
        let Some(stored) = self.vault.get(user).await? else {
            return Err(relogin(
                "sign in with GitHub again: no GitHub authorization is stored for you",
            ));
        };
        match stored.tokens.expires_at {
            Some(at) if at - USER_TOKEN_MARGIN_SECONDS <= now() => self.refresh(user, stored).await,
            _ => Ok(stored.tokens.access_token),
        }
    }

    async fn refresh(&self, user: &str, stored: vault::Stored) -> Result<String, Error> {
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
        let answer = send(self.retry, "token refresh", || {
            self.http
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

    /// A GET with the user's token; a 401 means the authorization was revoked → 428.
    async fn user_get(
        &self,
        token: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Answer, Error> {
        let answer = self.get(path, token, query).await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            return Err(relogin(
                "sign in with GitHub again: GitHub no longer accepts your authorization",
            ));
        }
        Ok(answer)
    }

    /// Pages of `/user/installations` until `stop` says so or they run out.
    async fn scan_installations(
        &self,
        token: &str,
        mut stop: impl FnMut(&GhInstallation) -> bool,
    ) -> Result<Vec<GhInstallation>, Error> {
        let mut all = Vec::new();
        for page in 1..=MAX_INSTALLATION_PAGES {
            let q = [("per_page", "100".to_owned()), ("page", page.to_string())];
            let p: GhInstallations = self
                .user_get(token, "/user/installations", &q)
                .await?
                .expect_ok("/user/installations")?
                .json("/user/installations")?;
            let n = p.installations.len();
            let mut done = false;
            for i in p.installations {
                done |= stop(&i);
                all.push(i);
            }
            if done || n < 100 || all.len() as u64 >= p.total_count {
                break;
            }
        }
        Ok(all)
    }
}

#[async_trait]
impl GitHub for GitHubClient {
    fn settings(&self) -> &AppSettings {
        &self.settings
    }

    fn verify_webhook(&self, body: &[u8], signature: Option<&str>) -> bool {
        verify_signature(&self.webhook_secret, body, signature)
    }

    async fn clone_token(&self, git: &GitConnection) -> Result<Option<String>, Error> {
        self.installation_token(git.installation_id).await
    }

    async fn branch_head(&self, git: &GitConnection) -> Result<String, Error> {
        let Some(token) = self.installation_token(git.installation_id).await? else {
            return Err(Error::precondition(
                ErrorCode::GithubInstallationMissing,
                format!(
                    "the GitHub App is no longer installed for {}; connect the app again",
                    git.repo_full_name
                ),
            ));
        };
        let path = format!(
            "/repos/{}/branches/{}",
            encode_path(&git.repo_full_name),
            encode_path(&git.branch)
        );
        let answer = self.get(&path, &token, &[]).await?;
        if matches!(answer.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) {
            return Err(Error::precondition(
                ErrorCode::BranchNotFound,
                format!(
                    "branch {} of {} does not exist or cannot be read",
                    git.branch, git.repo_full_name
                ),
            ));
        }
        let b: GhBranch = answer.expect_ok("the branch")?.json("the branch")?;
        validate::commit_sha(&b.commit.sha)
            .map_err(|_| bad_gateway("GitHub answered a malformed commit id"))
    }

    async fn user_has_installation(&self, user: &str, installation: i64) -> Result<bool, Error> {
        let token = self.user_token(user).await?;
        let found = self
            .scan_installations(&token, |i| i.id == installation)
            .await?;
        Ok(found.iter().any(|i| i.id == installation))
    }

    async fn installation_can_read(
        &self,
        installation: i64,
        repo_full_name: &str,
    ) -> Result<bool, Error> {
        let Some(token) = self.installation_token(installation).await? else {
            return Ok(false);
        };
        let path = format!("/repos/{}", encode_path(repo_full_name));
        let answer = self.get(&path, &token, &[]).await?;
        match answer.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => Ok(false),
            _ => answer.expect_ok("the repository").map(|_| false),
        }
    }

    async fn store_user_token(&self, user: &str, grant: UserTokenGrant) -> Result<(), Error> {
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

    async fn accounts(&self, user: &str) -> Result<Vec<Account>, Error> {
        let token = self.user_token(user).await?;
        let orgs_query = [
            ("state", "active".to_owned()),
            ("per_page", "100".to_owned()),
        ];
        let (me, orgs, installations) = tokio::join!(
            self.user_get(&token, "/user", &[]),
            self.user_get(&token, "/user/memberships/orgs", &orgs_query),
            self.scan_installations(&token, |_| false),
        );
        let me: GhAccount = me?.expect_ok("/user")?.json("/user")?;
        let orgs: Vec<GhMembership> = orgs?
            .expect_ok("/user/memberships/orgs")?
            .json("/user/memberships/orgs")?;
        let installations = installations?;
        let installed = |id: i64| {
            installations
                .iter()
                .find(|i| i.account.as_ref().is_some_and(|a| a.id == id))
                .map(|i| i.id)
        };
        let entry = |a: &GhAccount, kind: &str| {
            let installation_id = installed(a.id);
            Account {
                login: a.login.clone(),
                id: a.id,
                kind: kind.to_owned(),
                avatar_url: a.avatar_url.clone(),
                installation_id,
                installed: installation_id.is_some(),
            }
        };
        let mut accounts = vec![entry(&me, "User")];
        for m in &orgs {
            if accounts.iter().all(|a| a.id != m.organization.id) {
                accounts.push(entry(&m.organization, "Organization"));
            }
        }
        // Installations on accounts that are neither the user nor one of their orgs.
        for i in &installations {
            if let Some(a) = &i.account
                && accounts.iter().all(|x| x.id != a.id)
            {
                let kind = if a.kind.is_empty() {
                    "Organization"
                } else {
                    a.kind.as_str()
                };
                accounts.push(entry(a, kind));
            }
        }
        Ok(accounts)
    }

    async fn installation_repositories(
        &self,
        user: &str,
        installation: i64,
        page: u32,
        per_page: u32,
    ) -> Result<RepositoryPage, Error> {
        let token = self.user_token(user).await?;
        let path = format!("/user/installations/{installation}/repositories");
        let q = [
            ("page", page.to_string()),
            ("per_page", per_page.to_string()),
        ];
        let answer = self.user_get(&token, &path, &q).await?;
        if matches!(answer.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) {
            return Err(Error::forbidden(format!(
                "GitHub installation {installation} is not one of yours"
            )));
        }
        let p: GhRepositories = answer.expect_ok(&path)?.json(&path)?;
        Ok(RepositoryPage {
            total_count: p.total_count,
            repositories: p
                .repositories
                .into_iter()
                .map(|r| Repository {
                    id: r.id,
                    name: r.name,
                    full_name: r.full_name,
                    private: r.private,
                    default_branch: r.default_branch,
                    html_url: r.html_url,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn webhook_signatures() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let good = sign(b"s3cret", body);
        assert!(verify_signature(b"s3cret", body, Some(&good)));
        assert!(
            !verify_signature(b"other", body, Some(&good)),
            "another secret"
        );
        assert!(
            !verify_signature(b"s3cret", b"{}", Some(&good)),
            "another body"
        );
        assert!(!verify_signature(b"s3cret", body, None), "missing");
        assert!(
            !verify_signature(b"s3cret", body, Some("sha1=abc")),
            "old header"
        );
        assert!(
            !verify_signature(b"s3cret", body, Some("sha256=zz")),
            "not hex"
        );
        let truncated = &good[..good.len() - 2];
        assert!(!verify_signature(b"s3cret", body, Some(truncated)));
    }

    #[test]
    fn paths_are_encoded_but_keep_slashes() {
        assert_eq!(encode_path("acme/site"), "acme/site");
        assert_eq!(encode_path("feature/a b#c"), "feature/a%20b%23c");
        assert_eq!(encode_path("한"), "%ED%95%9C");
    }
}
