//! GitHub in axhub-local: the App's configuration from flags (or `AXHUB_GITHUB_*`), and a
//! local-only route that keeps the caller's own GitHub OAuth tokens (in production the
//! identity service stores them when a user signs in with GitHub).
//!
//! Without `--github-app-id`, `--demo` (or `--sim-github`) uses the simulated GitHub
//! (`crate::simgithub`); otherwise every GitHub operation answers 503 `backend_unimplemented`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axhub_app::git;
use axhub_github::{GitHubClient, GitHubConfig};
use axhub_http::{ApiResult, AppState, Caller, JsonBody};
use axhub_ports::github::UserTokenGrant;
use axhub_store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;

#[derive(clap::Args, Clone, Debug)]
pub struct GitHubArgs {
    /// GitHub's REST API base URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(
        long,
        env = "AXHUB_GITHUB_API_URL",
        default_value = "https://api.github.com"
    )]
    pub github_api_url: String,
    /// GitHub's web base URL (install pages, OAuth token refresh).
    #[arg(
        long,
        env = "AXHUB_GITHUB_WEB_URL",
        default_value = "https://github.com"
    )]
    pub github_web_url: String,
    /// The GitHub App's id; enables the GitHub operations.
    #[arg(long, env = "AXHUB_GITHUB_APP_ID")]
    pub github_app_id: Option<String>,
    /// The GitHub App's slug (https://github.com/apps/SLUG).
    #[arg(long, env = "AXHUB_GITHUB_APP_SLUG")]
    pub github_app_slug: Option<String>,
    /// The GitHub App's private key (PEM file).
    #[arg(long, env = "AXHUB_GITHUB_PRIVATE_KEY_FILE")]
    pub github_private_key_file: Option<PathBuf>,
    /// The GitHub App's OAuth client id (refreshing users' tokens).
    #[arg(long, env = "AXHUB_GITHUB_CLIENT_ID")]
    pub github_client_id: Option<String>,
    /// The GitHub App's OAuth client secret.
    #[arg(long, env = "AXHUB_GITHUB_CLIENT_SECRET", hide_env_values = true)]
    pub github_client_secret: Option<String>,
    /// The secret GitHub signs webhook deliveries with.
    #[arg(long, env = "AXHUB_GITHUB_WEBHOOK_SECRET", hide_env_values = true)]
    pub github_webhook_secret: Option<String>,
    /// AES-256 key (64 hex characters) of the stored GitHub user tokens (default: one kept
    /// in the data directory).
    #[arg(long, env = "AXHUB_TOKEN_KEY", hide_env_values = true)]
    pub token_key: Option<String>,
}

impl GitHubArgs {
    /// No GitHub App: the GitHub operations answer 503.
    pub fn none() -> Self {
        Self {
            github_api_url: "https://api.github.com".into(),
            github_web_url: "https://github.com".into(),
            github_app_id: None,
            github_app_slug: None,
            github_private_key_file: None,
            github_client_id: None,
            github_client_secret: None,
            github_webhook_secret: None,
            token_key: None,
        }
    }

    /// The GitHub client, when an App id is configured.
    pub fn client(
        &self,
        data_dir: &Path,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Option<Arc<GitHubClient>>> {
        let Some(app_id) = &self.github_app_id else {
            return Ok(None);
        };
        let need = |v: &Option<String>, flag: &str| {
            v.clone()
                .with_context(|| format!("--{flag} is required with --github-app-id"))
        };
        let key_file = self
            .github_private_key_file
            .as_ref()
            .context("--github-private-key-file is required with --github-app-id")?;
        let pem = std::fs::read_to_string(key_file)
            .with_context(|| format!("reading {}", key_file.display()))?;
        let mut config = GitHubConfig::new(
            app_id.clone(),
            need(&self.github_app_slug, "github-app-slug")?,
            pem,
        );
        config.api_url = self.github_api_url.clone();
        config.web_url = self.github_web_url.clone();
        config.client_id = self.github_client_id.clone().unwrap_or_default();
        config.client_secret = self.github_client_secret.clone().unwrap_or_default();
        config.webhook_secret = need(&self.github_webhook_secret, "github-webhook-secret")?;
        config.token_key = match &self.token_key {
            Some(hexkey) => hex::decode(hexkey.trim()).context("--token-key must be hex")?,
            None => crate::files::persistent_secret(
                data_dir,
                "token-key",
                "every stored GitHub token (they are encrypted with it)",
            )?,
        };
        Ok(Some(Arc::new(GitHubClient::new(
            config,
            Arc::new(axhub_app::state::credentials::StoredCredentials::new(store)),
        )?)))
    }
}

/// Local-only routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/local/github/user-token", post(store_user_token))
}

/// Keeps the caller's GitHub OAuth tokens (as GitHub's token endpoint granted them),
/// encrypted: what signing in with GitHub does in production.
async fn store_user_token(
    State(s): State<AppState>,
    Caller(who): Caller,
    JsonBody(grant): JsonBody<UserTokenGrant>,
) -> ApiResult<StatusCode> {
    git::github(&s.deps)?
        .store_user_token(&who.user_id, grant)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
