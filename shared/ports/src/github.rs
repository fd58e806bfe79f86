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

/// The account an installation of the App is on (`GET /app/installations/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationAccount {
    pub login: String,
    pub id: i64,
    /// Whether the account is an organisation (`Organization`), not a user (`User`).
    pub is_organization: bool,
}

/// Whose token acts on a repository the bootstrap saga creates. GitHub lets an installation
/// create repositories in an organisation only; in a user's own account only the user's token
/// may (`POST /user/repos`), so for those the saga acts with the user's stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoActor {
    /// The App's installation on the organisation.
    Installation(i64),
    /// The user (our user id) whose GitHub token is stored.
    User(String),
}

/// A repository to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRepository {
    /// The account (user or organisation) the repository is created in.
    pub owner: String,
    pub name: String,
    pub private: bool,
    /// Shown on GitHub; the saga writes its bootstrap id here so that, after a crash, it can
    /// tell a repository it created from one that was there before.
    pub description: String,
}

/// What this service reads of a repository it creates or finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryFacts {
    pub id: i64,
    /// `owner/repo`.
    pub full_name: String,
    pub default_branch: String,
    pub private: bool,
    /// Empty when GitHub has none.
    pub description: String,
}

/// One branch and the commit at its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchHead {
    pub name: String,
    pub sha: String,
}

/// One file of a template, or of a commit to write.
#[derive(Clone, PartialEq, Eq)]
pub struct RepoFile {
    /// Relative to the repository's root (for a template: to its folder), `/`-separated.
    pub path: String,
    pub content: Vec<u8>,
    /// Git mode `100755` instead of `100644`.
    pub executable: bool,
}

impl std::fmt::Debug for RepoFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoFile")
            .field("path", &self.path)
            .field("bytes", &self.content.len())
            .field("executable", &self.executable)
            .finish()
    }
}

/// A commit to write with the Git Data API (blobs, one tree holding exactly `files`, the
/// commit). Author and committer are both `author` at `date`, so writing the same commit
/// twice gives the same commit id: git names a commit by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommit {
    /// The commit it follows (the repository's first commit, made by GitHub on creation).
    pub parent: String,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    /// RFC 3339.
    pub date: String,
    pub files: Vec<RepoFile>,
}

/// Where the template catalog's files are read from: a folder of a (public) repository at a
/// ref, read with an installation token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSource {
    pub repo_full_name: String,
    pub git_ref: String,
    pub folder: String,
}

/// Bounds of one template read: more is a configuration error, not something to push.
pub const TEMPLATE_MAX_FILES: usize = 500;
pub const TEMPLATE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// What the bootstrap saga needs from GitHub: the installation's account, creating,
/// reading, writing and deleting a repository, reading a template. Same errors as [`GitHub`]
/// (428, 429 with `retry_after_ms`, 502).
#[async_trait]
pub trait GitHubRepos: Send + Sync + 'static {
    /// The account the installation is on; None when the App is not installed there (any
    /// more).
    async fn installation_account(
        &self,
        installation_id: i64,
    ) -> Result<Option<InstallationAccount>, Error>;

    /// The repository, if it exists and `actor` can read it.
    async fn repository(
        &self,
        actor: &RepoActor,
        full_name: &str,
    ) -> Result<Option<RepositoryFacts>, Error>;

    /// Creates the repository with a first commit made by GitHub (`auto_init`, so the Git
    /// Data API can write to it); an organisation's through the installation, a user's with
    /// the user's token. None when the name exists on that account (GitHub's 422).
    async fn create_repository(
        &self,
        actor: &RepoActor,
        owner_is_organization: bool,
        repo: &NewRepository,
    ) -> Result<Option<RepositoryFacts>, Error>;

    /// Every branch of the repository with its head (at most 100: a repository the saga
    /// created has one).
    async fn branches(&self, actor: &RepoActor, full_name: &str) -> Result<Vec<BranchHead>, Error>;

    /// Writes the commit's objects (no branch moves) and gives its id.
    async fn create_commit(
        &self,
        actor: &RepoActor,
        full_name: &str,
        commit: &NewCommit,
    ) -> Result<String, Error>;

    /// Moves the branch to `sha` if that is a fast-forward; false when GitHub refuses because
    /// the branch moved elsewhere meanwhile (nothing is overwritten).
    async fn fast_forward(
        &self,
        actor: &RepoActor,
        full_name: &str,
        branch: &str,
        sha: &str,
    ) -> Result<bool, Error>;

    /// Deletes the repository; one that is already gone is fine.
    async fn delete_repository(&self, actor: &RepoActor, full_name: &str) -> Result<(), Error>;

    /// The files under the source's folder (paths relative to it), read with the
    /// installation's token; a missing folder is a 502 naming it. At most
    /// [`TEMPLATE_MAX_FILES`] files and [`TEMPLATE_MAX_BYTES`] bytes.
    async fn template_files(
        &self,
        installation_id: i64,
        source: &TemplateSource,
    ) -> Result<Vec<RepoFile>, Error>;
}
