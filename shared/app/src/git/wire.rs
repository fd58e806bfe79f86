//! The git connection group's wire shapes: request bodies and answers.

use axhub_domain::GitConnection;
use axhub_ports::github::Account;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A registered connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    /// Always `github`.
    pub provider: String,
    /// `owner/repo`.
    pub repo_full_name: String,
    /// The branch a push deploys.
    pub branch: String,
    pub installation_id: i64,
}

impl From<&GitConnection> for ConnectionView {
    fn from(g: &GitConnection) -> Self {
        Self {
            provider: g.provider.clone(),
            repo_full_name: g.repo_full_name.clone(),
            branch: g.branch.clone(),
            installation_id: g.installation_id,
        }
    }
}

/// The connection state, discriminated by `connected`: the connection's fields when true;
/// `install_url` (owner and admins only, a fresh state token each time) when false.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct ConnectionStatus {
    pub connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_url: Option<String>,
}

/// A connection made by `complete`: which app it was attached to (from the state token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CompletedConnection {
    pub app_id: Uuid,
    /// The app's tenant slug; empty when it cannot be read.
    pub tenant_slug: String,
    pub provider: String,
    pub repo_full_name: String,
    pub branch: String,
    pub installation_id: i64,
}

/// Body of register (`POST …/git-connection`) and complete (`POST /git/github/complete`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct RegisterConnection {
    /// The one-time token issued by install/start (64 hex characters).
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub installation_id: Option<i64>,
    /// `owner/repo`.
    #[serde(default)]
    pub repo_full_name: Option<String>,
    /// Empty means `main`.
    #[serde(default)]
    pub branch: Option<String>,
}

impl RegisterConnection {
    /// What to connect, without the state token.
    pub fn target(&self) -> ConnectRepository {
        ConnectRepository {
            installation_id: self.installation_id,
            repo_full_name: self.repo_full_name.clone(),
            branch: self.branch.clone(),
        }
    }
}

/// Body of the agent's connect (`POST …/git/github/connect`): no state token.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ConnectRepository {
    #[serde(default)]
    pub installation_id: Option<i64>,
    #[serde(default)]
    pub repo_full_name: Option<String>,
    /// Empty means `main`.
    #[serde(default)]
    pub branch: Option<String>,
}

/// Body of `PATCH …/git-connection`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct UpdateBranch {
    #[serde(default)]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccountList {
    pub accounts: Vec<Account>,
}
