//! The bootstrap group's request and answers, as the SDKs send and read them.

use axhub_domain::Bootstrap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `createBootstrapRequest`. Every field is optional on the wire so that a missing one is a
/// 400 naming it, not a body the JSON reader refuses.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CreateBootstrap {
    /// The app's display name, 1–100 characters.
    pub name: Option<String>,
    /// The app's identifier in axhub: 2–64 of `[a-z0-9-]`, free in the tenant.
    pub slug: Option<String>,
    /// `{subdomain}.{tenant}.axhub.ai`: a DNS label of 2–32 characters, free in the tenant.
    pub subdomain: Option<String>,
    /// The repository to create (unique on the owner's account).
    pub repo_name: Option<String>,
    /// The GitHub user or organisation the repository is created in.
    pub github_owner: Option<String>,
    /// Defaults to private.
    pub repo_private: Option<bool>,
    /// A template id of `GET /api/v1/templates`.
    pub template_id: Option<String>,
    /// The axhub GitHub App's installation on `github_owner`.
    pub github_installation_id: Option<i64>,
}

/// 202: the saga started.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    pub bootstrap_id: Uuid,
    /// Where to poll: `GET` it until `status` is `done` or `failed`.
    pub status_url: String,
    /// Whether this repeats the first answer of its `Idempotency-Key`.
    #[serde(skip)]
    #[schema(ignore)]
    pub replayed: bool,
}

/// The saga's progress. Ids and names a stage has not produced yet are empty strings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BootstrapView {
    pub id: Uuid,
    /// `app`, `repo`, `push`, `connect`, `deploy`, `done`.
    pub stage: String,
    /// `running`, `done`, `failed`.
    pub status: String,
    pub app_id: String,
    pub repo_full_name: String,
    pub deployment_id: String,
    /// `repo_exists`, `app_failed`, `repo_failed`, `push_failed`, `connect_failed`,
    /// `deploy_failed` once failed; empty otherwise.
    pub error_code: String,
    pub error_message: String,
    pub tenant_id: Uuid,
    pub template_id: Uuid,
    /// The template's commit once pushed.
    pub commit_sha: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Bootstrap> for BootstrapView {
    fn from(b: &Bootstrap) -> Self {
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        // An error recorded while the clean-up still runs shows once the saga has failed.
        let failed = b.status == axhub_domain::BootstrapStatus::Failed;
        Self {
            id: b.id,
            stage: b.stage.as_str().to_owned(),
            status: b.status.as_str().to_owned(),
            app_id: if b.app_created {
                b.app_id.to_string()
            } else {
                String::new()
            },
            repo_full_name: text(&b.repo_full_name),
            deployment_id: b.deployment_id.map(|d| d.to_string()).unwrap_or_default(),
            error_code: match (failed, b.error_code) {
                (true, Some(c)) => c.as_str().to_owned(),
                _ => String::new(),
            },
            error_message: if failed {
                text(&b.error_message)
            } else {
                String::new()
            },
            tenant_id: b.tenant_id,
            template_id: b.template_id,
            commit_sha: text(&b.commit_sha),
            created_at: axhub_domain::deployment::rfc3339(b.created_at),
            updated_at: axhub_domain::deployment::rfc3339(b.updated_at),
        }
    }
}
