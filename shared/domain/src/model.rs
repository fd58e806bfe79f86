//! Read models of neighbouring services (tenants, memberships, apps) and the git connection.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::TenantRole;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub tenant_id: Uuid,
    pub user_id: String,
    pub role: TenantRole,
}

/// The app as this service knows it. Identity, owner, slug and subdomain come from the apps
/// service; `approved` from review; staging and the pointers are this service's own state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub owner_id: String,
    pub slug: String,
    pub subdomain: Option<String>,
    /// Approved (made public) by review at least once: production then moves only by promote.
    pub approved: bool,
    #[serde(default)]
    pub staging_enabled: bool,
    #[serde(default)]
    pub production_deployment_id: Option<Uuid>,
    #[serde(default)]
    pub staging_deployment_id: Option<Uuid>,
}

impl App {
    pub fn has_subdomain(&self) -> bool {
        self.subdomain
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitConnection {
    pub app_id: Uuid,
    pub provider: String,
    pub repo_full_name: String,
    pub branch: String,
    pub installation_id: i64,
}
