//! The GitHub port: what the use cases need from GitHub, whatever client implements it.
//! `axhub_github::GitHubClient` is the real one (reqwest, App JWT, installation and user
//! tokens); nothing here sees HTTP types.
//!
//! Errors every method may return: 428 `github_relogin_required` when a user token is needed
//! and none is stored or its refresh is refused; 429 `rate_limited` (with `retry_after_ms`)
//! when GitHub's rate limit is hit; 502 `bad_gateway` when GitHub fails or times out after
//! bounded retries.

use async_trait::async_trait;
use axhub_domain::{Error, GitConnection};
use serde::{Deserialize, Serialize};

/// The GitHub App as the use cases see it: no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSettings {
    /// The App's slug, as in `https://github.com/apps/{slug}`.
    pub app_slug: String,
    /// GitHub's web base URL (`https://github.com`, or a GitHub Enterprise host).
    pub web_url: String,
}

impl AppSettings {
    /// The App's installation page with a state token attached.
    pub fn install_url(&self, state: &str) -> String {
        format!(
            "{}/apps/{}/installations/new?state={state}",
            self.web_url.trim_end_matches('/'),
            self.app_slug
        )
    }

    /// The App's install page for one account (GitHub's `target_id`): where a person installs
    /// the App on that user or organisation, or changes which repositories it may read. The
    /// connection flow for an app goes through `install/start`, which adds a state token.
    pub fn install_url_for(&self, account_id: i64) -> String {
        format!(
            "{}/apps/{}/installations/new/permissions?target_id={account_id}",
            self.web_url.trim_end_matches('/'),
            self.app_slug
        )
    }
}

/// One entry of the installation picker: the user, then their organizations, then any other
/// account the App is installed on that the user can reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub login: String,
    pub id: i64,
    /// `User` or `Organization`, as GitHub names them.
    #[serde(rename = "type")]
    pub kind: String,
    pub avatar_url: String,
    /// The App's installation on this account, if it is installed there.
    pub installation_id: Option<i64>,
    /// Whether the App is installed on this account (the picker dims the others).
    pub installed: bool,
    /// The App's install page for this account (`AppSettings::install_url_for`); the official
    /// CLI's account type requires it.
    pub install_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Repository {
    pub id: i64,
    pub name: String,
    /// `owner/repo`.
    pub full_name: String,
    pub private: bool,
    pub default_branch: String,
    pub html_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RepositoryPage {
    /// The repositories of the requested page.
    pub repositories: Vec<Repository>,
    /// How many repositories the installation gives access to, over all pages.
    pub total_count: u64,
}

/// A user's GitHub OAuth tokens as GitHub granted them (on the user's GitHub login, which the
/// identity service runs; axhub-local has a route for it). Stored encrypted.
#[derive(Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct UserTokenGrant {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the access token lives (GitHub: 28800); absent when it does not expire.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Seconds the refresh token lives.
    #[serde(default)]
    pub refresh_token_expires_in: Option<i64>,
}

impl std::fmt::Debug for UserTokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTokenGrant")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_in", &self.expires_in)
            .field("refresh_token_expires_in", &self.refresh_token_expires_in)
            .finish()
    }
}

#[async_trait]
pub trait GitHub: Send + Sync + 'static {
    fn settings(&self) -> &AppSettings;

    /// Whether `signature` (the `X-Hub-Signature-256` header, `sha256=<hex>`) is the HMAC of
    /// `body` under the webhook secret; compared in constant time.
    fn verify_webhook(&self, body: &[u8], signature: Option<&str>) -> bool;

    /// A short-lived token that may only read the connection's repository (an installation
    /// token minted for this one repository with `contents: read`, for this one build, valid
    /// for an hour); None when the App is no longer installed or no longer reaches it.
    async fn clone_token(&self, git: &GitConnection) -> Result<Option<String>, Error>;

    /// The commit at the head of the connection's branch, read with the App's installation
    /// token. A missing branch or repository is a 412; GitHub failing is a 502.
    async fn branch_head(&self, git: &GitConnection) -> Result<String, Error>;

    /// Whether the installation is among the user's own (`/user/installations`, read with
    /// the user's stored GitHub token).
    async fn user_has_installation(
        &self,
        user_id: &str,
        installation_id: i64,
    ) -> Result<bool, Error>;

    /// Whether the App, through this installation's token, can read the repository.
    async fn installation_can_read(
        &self,
        installation_id: i64,
        repo_full_name: &str,
    ) -> Result<bool, Error>;

    /// Whether the user's own GitHub token can read the repository. With a GitHub App's user
    /// token that is what both the user and the App may see: an installation that reaches a
    /// repository does not mean every person who can use the installation may.
    async fn user_can_read(&self, user_id: &str, repo_full_name: &str) -> Result<bool, Error>;

    /// Keeps the user's GitHub tokens (encrypted), replacing any.
    async fn store_user_token(&self, user_id: &str, grant: UserTokenGrant) -> Result<(), Error>;

    /// The user, their active organizations and the App's installations, merged (user first).
    async fn accounts(&self, user_id: &str) -> Result<Vec<Account>, Error>;

    /// One page (1-based) of the repositories an installation of the user gives access to.
    async fn installation_repositories(
        &self,
        user_id: &str,
        installation_id: i64,
        page: u32,
        per_page: u32,
    ) -> Result<RepositoryPage, Error>;
}
