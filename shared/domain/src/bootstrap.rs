//! The app bootstrap saga's record: from a template to a running first deployment, in the
//! steps app → repo → push → connect → deploy → done. Pure: what a step may move to, and the
//! checks of a request's fields.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, ErrorCode, validate};

/// Where the saga is: the step it runs next (or ran last, once it ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootstrapStage {
    App,
    Repo,
    Push,
    Connect,
    Deploy,
    Done,
}

impl BootstrapStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Repo => "repo",
            Self::Push => "push",
            Self::Connect => "connect",
            Self::Deploy => "deploy",
            Self::Done => "done",
        }
    }

    /// The step after this one.
    pub fn next(self) -> Self {
        match self {
            Self::App => Self::Repo,
            Self::Repo => Self::Push,
            Self::Push => Self::Connect,
            Self::Connect => Self::Deploy,
            Self::Deploy | Self::Done => Self::Done,
        }
    }

    /// The failure code of this step.
    pub fn failure(self) -> BootstrapFailure {
        match self {
            Self::App => BootstrapFailure::AppFailed,
            Self::Repo => BootstrapFailure::RepoFailed,
            Self::Push => BootstrapFailure::PushFailed,
            Self::Connect => BootstrapFailure::ConnectFailed,
            Self::Deploy | Self::Done => BootstrapFailure::DeployFailed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootstrapStatus {
    Running,
    Done,
    Failed,
}

impl BootstrapStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// Why a saga failed (`error_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootstrapFailure {
    /// A repository of that name exists on the account (the saga never touches it).
    RepoExists,
    AppFailed,
    RepoFailed,
    PushFailed,
    ConnectFailed,
    DeployFailed,
}

impl BootstrapFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RepoExists => "repo_exists",
            Self::AppFailed => "app_failed",
            Self::RepoFailed => "repo_failed",
            Self::PushFailed => "push_failed",
            Self::ConnectFailed => "connect_failed",
            Self::DeployFailed => "deploy_failed",
        }
    }
}

/// One saga, as stored. Results of the steps are set by the step that produced them, in the
/// transaction that moves the saga on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bootstrap {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The user who asked: the app's owner, whose GitHub token creates a user's repository.
    pub created_by: String,
    pub name: String,
    pub slug: String,
    pub subdomain: String,
    pub repo_name: String,
    pub github_owner: String,
    pub repo_private: bool,
    pub template_id: Uuid,
    pub installation_id: i64,
    /// Whether `github_owner` is an organisation (the installation's account, read when the
    /// saga was asked for).
    pub owner_is_organization: bool,
    /// Chosen when the saga is asked for, so the app step writes the same app however often
    /// it runs.
    pub app_id: Uuid,
    pub stage: BootstrapStage,
    pub status: BootstrapStatus,
    /// Whether the app step wrote the app (so a failure withdraws it).
    #[serde(default)]
    pub app_created: bool,
    /// `owner/repo`, once the repo step found or made it.
    #[serde(default)]
    pub repo_full_name: Option<String>,
    /// Whether this saga created the repository (only then may a failure delete it).
    #[serde(default)]
    pub repo_created: bool,
    #[serde(default)]
    pub default_branch: Option<String>,
    /// The commit GitHub made when it created the repository.
    #[serde(default)]
    pub initial_commit: Option<String>,
    /// The template's commit, once pushed.
    #[serde(default)]
    pub commit_sha: Option<String>,
    #[serde(default)]
    pub deployment_id: Option<Uuid>,
    #[serde(default)]
    pub error_code: Option<BootstrapFailure>,
    #[serde(default)]
    pub error_message: Option<String>,
    /// Transient failures of the current step so far (reset when the saga moves on).
    #[serde(default)]
    pub attempts: u32,
    /// Grows with every write: each write is conditioned on the one read.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Bootstrap {
    pub fn is_running(&self) -> bool {
        self.status == BootstrapStatus::Running
    }

    /// The marker written into the repository's description: after a crash between creating
    /// the repository and recording it, the saga knows the repository is its own.
    pub fn repo_marker(&self) -> String {
        format!("axhub bootstrap {}", self.id)
    }

    /// The repository the saga creates, `owner/repo`.
    pub fn target_repo(&self) -> String {
        format!("{}/{}", self.github_owner, self.repo_name)
    }
}

/// The longest display name.
pub const MAX_NAME_CHARS: usize = 100;
pub const SLUG_LEN: std::ops::RangeInclusive<usize> = 2..=64;
pub const SUBDOMAIN_LEN: std::ops::RangeInclusive<usize> = 2..=32;

/// `name`: 1–100 characters, no control characters.
pub fn name(raw: Option<&str>) -> Result<String, Error> {
    let value = raw.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(Error::field("name", ErrorCode::Required, "must be given"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(Error::field(
            "name",
            ErrorCode::TooLong,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::field(
            "name",
            ErrorCode::InvalidFormat,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A DNS label of `len` characters named `field` (slug, subdomain).
pub fn label(
    field: &str,
    raw: Option<&str>,
    len: std::ops::RangeInclusive<usize>,
) -> Result<String, Error> {
    let value = raw.unwrap_or_default();
    let label = validate::dns_label(field, value)?;
    if !len.contains(&label.len()) {
        let code = if label.len() > *len.end() {
            ErrorCode::TooLong
        } else {
            ErrorCode::InvalidValue
        };
        return Err(Error::field(
            field,
            code,
            format!("must be {}–{} characters", len.start(), len.end()),
        ));
    }
    Ok(label.to_owned())
}

/// `repo_name`: 1–100 of letters, digits, `.`, `-`, `_`, not `.` or `..` (GitHub's rule).
pub fn repo_name(raw: Option<&str>) -> Result<String, Error> {
    let value = raw.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(Error::field(
            "repo_name",
            ErrorCode::Required,
            "must be given",
        ));
    }
    let ok = value.len() <= 100
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && value != "."
        && value != ".."
        && !value.to_ascii_lowercase().ends_with(".git");
    if !ok {
        return Err(Error::field(
            "repo_name",
            ErrorCode::InvalidFormat,
            "must be 1–100 letters, digits, '.', '-' or '_', as GitHub names repositories",
        ));
    }
    Ok(value.to_owned())
}

/// `github_owner`: a GitHub login (1–39 letters, digits, inner single hyphens).
pub fn github_owner(raw: Option<&str>) -> Result<String, Error> {
    let value = raw.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(Error::field(
            "github_owner",
            ErrorCode::Required,
            "must name the GitHub user or organisation",
        ));
    }
    let ok = value.len() <= 39
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
        && !value.contains("--");
    if !ok {
        return Err(Error::field(
            "github_owner",
            ErrorCode::InvalidFormat,
            "must be a GitHub login",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stages_run_in_order_and_fail_with_their_code() {
        let mut s = BootstrapStage::App;
        let mut seen = vec![s.as_str()];
        while s != BootstrapStage::Done {
            s = s.next();
            seen.push(s.as_str());
        }
        assert_eq!(seen, ["app", "repo", "push", "connect", "deploy", "done"]);
        assert_eq!(BootstrapStage::Push.failure().as_str(), "push_failed");
    }

    #[test]
    fn fields_are_checked_with_their_names() {
        assert_eq!(name(Some(" Shop ")).unwrap(), "Shop");
        assert_eq!(name(None).unwrap_err().fields[0].name, "name");
        assert_eq!(
            name(Some(&"x".repeat(101))).unwrap_err().code,
            ErrorCode::TooLong
        );
        assert!(
            name(Some(&"가".repeat(100))).is_ok(),
            "characters, not bytes"
        );
        assert!(label("slug", Some("ab"), SLUG_LEN).is_ok());
        assert_eq!(
            label("slug", Some("a"), SLUG_LEN).unwrap_err().fields[0].name,
            "slug"
        );
        assert!(label("slug", Some("Ab"), SLUG_LEN).is_err());
        assert_eq!(
            label("subdomain", Some(&"a".repeat(33)), SUBDOMAIN_LEN)
                .unwrap_err()
                .code,
            ErrorCode::TooLong
        );
        assert!(repo_name(Some("my.site_1-x")).is_ok());
        assert!(repo_name(Some("..")).is_err());
        assert!(repo_name(Some("a/b")).is_err());
        assert!(repo_name(Some("x.git")).is_err());
        assert!(github_owner(Some("acme-inc")).is_ok());
        assert!(github_owner(Some("-acme")).is_err());
        assert!(github_owner(Some("a--b")).is_err());
    }
}
