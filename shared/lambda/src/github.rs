//! GitHub, built on first use. The App's settings and the webhook signature check need no
//! client, so they answer from the configuration. Everything that calls GitHub builds the
//! client (HTTP client with its TLS roots, the App's signing key) the first time.
//!
//! The webhook function checks signatures and calls nothing on GitHub, so it is given only
//! the webhook secret (`signatures_only`): no App key, OAuth secret or token key to leak.

use std::sync::Arc;

use async_trait::async_trait;
use axhub_domain::Error;
use axhub_domain::GitConnection;
use axhub_github::{GitHubClient, GitHubConfig};
use axhub_ports::SealedTokens;
use axhub_ports::github::{
    Account, AppSettings, BranchHead, GitHub, GitHubRepos, InstallationAccount, NewCommit,
    NewRepository, RepoActor, RepoFile, RepositoryFacts, RepositoryPage, TemplateSource,
    UserTokenGrant,
};

use crate::lazy::Lazy;

pub struct LazyGitHub {
    settings: AppSettings,
    webhook_secret: Vec<u8>,
    /// None for `signatures_only`.
    client: Option<Lazy<GitHubClient>>,
}

impl LazyGitHub {
    pub fn new(config: GitHubConfig, tokens: Arc<dyn SealedTokens>) -> Self {
        let settings = AppSettings {
            app_slug: config.app_slug.clone(),
            web_url: config.web_url.trim_end_matches('/').to_owned(),
        };
        let webhook_secret = config.webhook_secret.clone().into_bytes();
        let client = Lazy::new("the GitHub client", move || {
            let (config, tokens) = (config.clone(), tokens.clone());
            async move { Ok(Arc::new(GitHubClient::new(config, tokens)?)) }
        });
        Self {
            settings,
            webhook_secret,
            client: Some(client),
        }
    }

    /// Verifies deliveries with `webhook_secret`; every call to GitHub (`GitHub`'s and
    /// `GitHubRepos`') answers 503
    /// `backend_unimplemented`.
    pub fn signatures_only(webhook_secret: String) -> Self {
        Self {
            settings: AppSettings {
                app_slug: String::new(),
                web_url: "https://github.com".to_owned(),
            },
            webhook_secret: webhook_secret.into_bytes(),
            client: None,
        }
    }

    async fn client(&self) -> Result<&Arc<GitHubClient>, Error> {
        let Some(client) = &self.client else {
            return Err(Error::unimplemented(
                "this function only verifies GitHub's webhook signatures",
            ));
        };
        client.get().await.map_err(Error::unavailable)
    }
}

#[async_trait]
impl GitHub for LazyGitHub {
    fn settings(&self) -> &AppSettings {
        &self.settings
    }

    fn verify_webhook(&self, body: &[u8], signature: Option<&str>) -> bool {
        axhub_github::verify_signature(&self.webhook_secret, body, signature)
    }

    async fn clone_token(&self, git: &GitConnection) -> Result<Option<String>, Error> {
        self.client().await?.clone_token(git).await
    }

    async fn branch_head(&self, git: &GitConnection) -> Result<String, Error> {
        self.client().await?.branch_head(git).await
    }

    async fn user_has_installation(
        &self,
        user_id: &str,
        installation_id: i64,
    ) -> Result<bool, Error> {
        self.client()
            .await?
            .user_has_installation(user_id, installation_id)
            .await
    }

    async fn installation_can_read(
        &self,
        installation_id: i64,
        repo_full_name: &str,
    ) -> Result<bool, Error> {
        self.client()
            .await?
            .installation_can_read(installation_id, repo_full_name)
            .await
    }

    async fn user_can_read(&self, user_id: &str, repo_full_name: &str) -> Result<bool, Error> {
        self.client()
            .await?
            .user_can_read(user_id, repo_full_name)
            .await
    }

    async fn store_user_token(&self, user_id: &str, grant: UserTokenGrant) -> Result<(), Error> {
        self.client().await?.store_user_token(user_id, grant).await
    }

    async fn accounts(&self, user_id: &str) -> Result<Vec<Account>, Error> {
        self.client().await?.accounts(user_id).await
    }

    async fn installation_repositories(
        &self,
        user_id: &str,
        installation_id: i64,
        page: u32,
        per_page: u32,
    ) -> Result<RepositoryPage, Error> {
        self.client()
            .await?
            .installation_repositories(user_id, installation_id, page, per_page)
            .await
    }
}

#[async_trait]
impl GitHubRepos for LazyGitHub {
    async fn installation_account(
        &self,
        installation_id: i64,
    ) -> Result<Option<InstallationAccount>, Error> {
        self.client()
            .await?
            .installation_account(installation_id)
            .await
    }

    async fn repository(
        &self,
        actor: &RepoActor,
        full_name: &str,
    ) -> Result<Option<RepositoryFacts>, Error> {
        self.client().await?.repository(actor, full_name).await
    }

    async fn create_repository(
        &self,
        actor: &RepoActor,
        owner_is_organization: bool,
        repo: &NewRepository,
    ) -> Result<Option<RepositoryFacts>, Error> {
        self.client()
            .await?
            .create_repository(actor, owner_is_organization, repo)
            .await
    }

    async fn branches(&self, actor: &RepoActor, full_name: &str) -> Result<Vec<BranchHead>, Error> {
        self.client().await?.branches(actor, full_name).await
    }

    async fn create_commit(
        &self,
        actor: &RepoActor,
        full_name: &str,
        commit: &NewCommit,
    ) -> Result<String, Error> {
        self.client()
            .await?
            .create_commit(actor, full_name, commit)
            .await
    }

    async fn fast_forward(
        &self,
        actor: &RepoActor,
        full_name: &str,
        branch: &str,
        sha: &str,
    ) -> Result<bool, Error> {
        self.client()
            .await?
            .fast_forward(actor, full_name, branch, sha)
            .await
    }

    async fn delete_repository(&self, actor: &RepoActor, full_name: &str) -> Result<(), Error> {
        self.client()
            .await?
            .delete_repository(actor, full_name)
            .await
    }

    async fn template_files(
        &self,
        installation_id: i64,
        source: &TemplateSource,
    ) -> Result<Vec<RepoFile>, Error> {
        self.client()
            .await?
            .template_files(installation_id, source)
            .await
    }
}
