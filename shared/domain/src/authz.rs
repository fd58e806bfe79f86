//! Who may do what (DESIGN §3). Outsiders never learn that an app or tenant exists: they get
//! the same 404 as for a missing id. Members lacking the role get 403.

use serde::{Deserialize, Serialize};

use crate::Error;

/// The authenticated caller, from a JWT or a personal access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub platform_admin: bool,
    /// Scopes of a delegated token (agents, PATs with limits); `None` is a full user session.
    pub scopes: Option<Vec<String>>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        match &self.scopes {
            None => true,
            Some(s) => s.iter().any(|x| x == scope),
        }
    }

    /// Delegated tokens must carry `scope` where the spec names delegation.
    pub fn require_scope(&self, scope: &str) -> Result<(), Error> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(Error::new(
                crate::ErrorCode::InsufficientScope,
                format!("this token lacks the {scope} scope"),
            ))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantRole {
    TenantAdmin,
    TenantMember,
}

/// What the caller is to one app, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AppRole {
    Outsider,
    Member,
    Owner,
    TenantAdmin,
    PlatformAdmin,
}

impl AppRole {
    pub fn of(principal: &Principal, owner_id: &str, membership: Option<TenantRole>) -> Self {
        if principal.platform_admin {
            return AppRole::PlatformAdmin;
        }
        match membership {
            None => AppRole::Outsider,
            Some(TenantRole::TenantAdmin) => AppRole::TenantAdmin,
            Some(TenantRole::TenantMember) if principal.user_id == owner_id => AppRole::Owner,
            Some(TenantRole::TenantMember) => AppRole::Member,
        }
    }

    /// Tenant members (and platform admins) may read; anyone else sees nothing.
    pub fn require_reader(self, what: &str) -> Result<(), Error> {
        if self >= AppRole::Member {
            Ok(())
        } else {
            Err(Error::not_found(what))
        }
    }

    /// RequireAppOwnerOrAdmin: owner, tenant admin or platform admin.
    pub fn require_owner_or_admin(self, what: &str) -> Result<(), Error> {
        self.require_reader(what)?;
        if self >= AppRole::Owner {
            Ok(())
        } else {
            Err(Error::forbidden(
                "only the app's owner or a tenant admin may do this",
            ))
        }
    }

    pub fn is_owner_or_admin(self) -> bool {
        self >= AppRole::Owner
    }
}

/// RequireTenantMemberOnPath: members of the path tenant and platform admins; others get 404.
pub fn require_tenant_member(
    principal: &Principal,
    membership: Option<TenantRole>,
) -> Result<(), Error> {
    if principal.platform_admin || membership.is_some() {
        Ok(())
    } else {
        Err(Error::not_found("tenant"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Category;

    fn p(id: &str) -> Principal {
        Principal {
            user_id: id.into(),
            platform_admin: false,
            scopes: None,
        }
    }

    #[test]
    fn roles_and_gates() {
        let owner = AppRole::of(&p("o"), "o", Some(TenantRole::TenantMember));
        let member = AppRole::of(&p("m"), "o", Some(TenantRole::TenantMember));
        let admin = AppRole::of(&p("a"), "o", Some(TenantRole::TenantAdmin));
        let outsider = AppRole::of(&p("x"), "o", None);
        // An owner who left the tenant is an outsider.
        assert_eq!(AppRole::of(&p("o"), "o", None), AppRole::Outsider);
        assert!(owner.require_owner_or_admin("app").is_ok());
        assert!(admin.require_owner_or_admin("app").is_ok());
        assert_eq!(
            member.require_owner_or_admin("app").unwrap_err().category,
            Category::PermissionDenied
        );
        assert_eq!(
            outsider.require_reader("app").unwrap_err().category,
            Category::NotFound
        );
        assert_eq!(
            outsider.require_owner_or_admin("app").unwrap_err().category,
            Category::NotFound
        );
        let padmin = Principal {
            platform_admin: true,
            ..p("z")
        };
        assert!(
            AppRole::of(&padmin, "o", None)
                .require_owner_or_admin("app")
                .is_ok()
        );
    }

    #[test]
    fn scopes_bind_only_delegated_tokens() {
        assert!(p("u").require_scope("deploy:write").is_ok());
        let delegated = Principal {
            scopes: Some(vec!["deploy:read".into()]),
            ..p("u")
        };
        assert_eq!(
            delegated.require_scope("deploy:write").unwrap_err().code,
            crate::ErrorCode::InsufficientScope
        );
    }
}
