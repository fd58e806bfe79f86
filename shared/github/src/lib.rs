//! The GitHub adapter: implements `axhub_ports::github::GitHub` and `GitHubRepos` (creating,
//! writing and deleting a bootstrapped app's repository, reading templates: `repos`) over
//! GitHub's REST API with reqwest.
//!
//! - The App authenticates with an RS256 JWT (`iat` 60 s in the past, 9 minutes valid) and
//!   exchanges it for installation access tokens, cached until a few minutes before they
//!   expire (`app_auth`).
//! - Users' tokens (for `/user…`) are kept encrypted in the store ([`vault`]) and refreshed
//!   with their refresh token when stale; none, or a refused refresh, is 428
//!   `github_relogin_required` (`user_tokens`).
//! - 5xx, timeouts and broken connections are retried a bounded number of times with
//!   backoff, then 502 `bad_gateway`; rate-limit answers are 429 `rate_limited`
//!   (`transport`).
//! - Base URLs are configurable (GitHub Enterprise, tests): [`GitHubConfig`].
//! - GitHub's answers are read into the serde types of `wire`.

mod app_auth;
mod config;
mod repos;
mod transport;
mod user_tokens;
pub mod vault;
mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use axhub_domain::{Error, ErrorCode, GitConnection, validate};
use axhub_ports::SealedTokens;
use axhub_ports::github::{
    Account, AppSettings, GitHub, Repository, RepositoryPage, UserTokenGrant,
};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use sha2::Sha256;

use app_auth::AppAuth;
use transport::{Api, Retry, bad_gateway};
use user_tokens::{UserAuth, user_get};
use wire::{GhAccount, GhBranch, GhInstallation, GhInstallations, GhMembership, GhRepositories};

pub use config::{ConfigError, GitHubConfig};
pub use vault::{TokenVault, UserTokens};

/// At most this many pages of `/user/installations` are read (100 each).
const MAX_INSTALLATION_PAGES: u32 = 10;

pub struct GitHubClient {
    api: Api,
    webhook_secret: Vec<u8>,
    settings: AppSettings,
    app: AppAuth,
    users: UserAuth,
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
        config.validate()?;
        let app = AppAuth::new(&config.app_id, &config.private_key_pem)?;
        let vault = TokenVault::new(tokens, &config.token_key)?;
        let http = reqwest::Client::builder()
            .user_agent("axhub-deploy")
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let trim = |s: &str| s.trim_end_matches('/').to_owned();
        let client = Self {
            api: Api {
                http,
                url: trim(&config.api_url),
                retry: Retry {
                    attempts: config.attempts,
                    backoff: config.backoff,
                },
            },
            webhook_secret: config.webhook_secret.into_bytes(),
            settings: AppSettings {
                app_slug: config.app_slug,
                web_url: trim(&config.web_url),
            },
            app,
            users: UserAuth {
                vault,
                web_url: trim(&config.web_url),
                client_id: config.client_id,
                client_secret: config.client_secret,
            },
        };
        // Fail at startup, not on the first request, if the key cannot sign.
        client.app.app_jwt().map_err(|_| ConfigError::PrivateKey)?;
        Ok(client)
    }

    pub fn vault(&self) -> &TokenVault {
        &self.users.vault
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
            let p: GhInstallations = user_get(&self.api, token, "/user/installations", &q)
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
        let name = git
            .repo_full_name
            .split_once('/')
            .map_or(git.repo_full_name.as_str(), |(_, name)| name);
        self.app
            .repository_token(&self.api, git.installation_id, name)
            .await
    }

    async fn branch_head(&self, git: &GitConnection) -> Result<String, Error> {
        let Some(token) = self
            .app
            .installation_token(&self.api, git.installation_id)
            .await?
        else {
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
        let answer = self.api.get(&path, &token, &[]).await?;
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
        let token = self.users.user_token(&self.api, user).await?;
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
        let Some(token) = self.app.installation_token(&self.api, installation).await? else {
            return Ok(false);
        };
        let path = format!("/repos/{}", encode_path(repo_full_name));
        let answer = self.api.get(&path, &token, &[]).await?;
        match answer.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => Ok(false),
            _ => answer.expect_ok("the repository").map(|_| false),
        }
    }

    async fn user_can_read(&self, user: &str, repo_full_name: &str) -> Result<bool, Error> {
        let token = self.users.user_token(&self.api, user).await?;
        let path = format!("/repos/{}", encode_path(repo_full_name));
        let answer = user_get(&self.api, &token, &path, &[]).await?;
        match answer.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => Ok(false),
            _ => answer.expect_ok("the repository").map(|_| false),
        }
    }

    async fn store_user_token(&self, user: &str, grant: UserTokenGrant) -> Result<(), Error> {
        self.users.store_user_token(user, grant).await
    }

    async fn accounts(&self, user: &str) -> Result<Vec<Account>, Error> {
        let token = self.users.user_token(&self.api, user).await?;
        let orgs_query = [
            ("state", "active".to_owned()),
            ("per_page", "100".to_owned()),
        ];
        let (me, orgs, installations) = tokio::join!(
            user_get(&self.api, &token, "/user", &[]),
            user_get(&self.api, &token, "/user/memberships/orgs", &orgs_query),
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
                install_url: self.settings.install_url_for(a.id),
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
        let token = self.users.user_token(&self.api, user).await?;
        let path = format!("/user/installations/{installation}/repositories");
        let q = [
            ("page", page.to_string()),
            ("per_page", per_page.to_string()),
        ];
        let answer = user_get(&self.api, &token, &path, &q).await?;
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
