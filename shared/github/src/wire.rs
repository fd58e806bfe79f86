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
    #[serde(default)]
    pub(crate) description: Option<String>,
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
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) commit: GhCommit,
}

#[derive(Deserialize)]
pub(crate) struct GhCommit {
    pub(crate) sha: String,
}

/// `GET /repos/{o}/{r}/git/trees/{ref}?recursive=1`.
#[derive(Deserialize)]
pub(crate) struct GhTree {
    #[serde(default)]
    pub(crate) truncated: bool,
    #[serde(default)]
    pub(crate) tree: Vec<GhTreeEntry>,
}

#[derive(Deserialize)]
pub(crate) struct GhTreeEntry {
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) mode: String,
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) sha: String,
    #[serde(default)]
    pub(crate) size: Option<u64>,
}

/// `GET /repos/{o}/{r}/git/blobs/{sha}`.
#[derive(Deserialize)]
pub(crate) struct GhBlob {
    #[serde(default)]
    pub(crate) content: String,
    #[serde(default)]
    pub(crate) encoding: String,
}

/// GitHub's error body; a 422's `errors` say what failed.
#[derive(Deserialize, Default)]
pub(crate) struct GhError {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) errors: Vec<serde_json::Value>,
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
