//! The serde types of GitHub's JSON answers: only the fields the client reads.

use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct AccessToken {
    pub(crate) token: String,
    pub(crate) expires_at: String,
}

#[derive(Deserialize)]
pub(crate) struct GhAccount {
    pub(crate) login: String,
    pub(crate) id: i64,
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) avatar_url: String,
}

#[derive(Deserialize)]
pub(crate) struct GhInstallation {
    pub(crate) id: i64,
    #[serde(default)]
    pub(crate) account: Option<GhAccount>,
}

#[derive(Deserialize)]
pub(crate) struct GhInstallations {
    #[serde(default)]
    pub(crate) total_count: u64,
    #[serde(default)]
    pub(crate) installations: Vec<GhInstallation>,
}

#[derive(Deserialize)]
pub(crate) struct GhMembership {
    pub(crate) organization: GhAccount,
}

#[derive(Deserialize)]
pub(crate) struct GhRepository {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) full_name: String,
    #[serde(default)]
    pub(crate) private: bool,
    #[serde(default)]
    pub(crate) default_branch: String,
    #[serde(default)]
    pub(crate) html_url: String,
}

#[derive(Deserialize)]
pub(crate) struct GhRepositories {
    #[serde(default)]
    pub(crate) total_count: u64,
    #[serde(default)]
    pub(crate) repositories: Vec<GhRepository>,
}

#[derive(Deserialize)]
pub(crate) struct GhBranch {
    pub(crate) commit: GhCommit,
}

#[derive(Deserialize)]
pub(crate) struct GhCommit {
    pub(crate) sha: String,
}

/// GitHub's answer to a token refresh: tokens, or `error` (with status 200).
#[derive(Deserialize)]
pub(crate) struct RefreshAnswer {
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default)]
    pub(crate) expires_in: Option<i64>,
    #[serde(default)]
    pub(crate) refresh_token_expires_in: Option<i64>,
    #[serde(default)]
    pub(crate) error: Option<String>,
}
