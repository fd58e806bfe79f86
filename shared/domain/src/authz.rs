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

/// The scope that lets a delegated token read an app's deployments, releases, diagnosis and
/// git connection.
pub const DEPLOY_READ: &str = "deploy:read";
/// The scope that lets a delegated token change them (and read them).
pub const DEPLOY_WRITE: &str = "deploy:write";

/// What a request does, as far as a delegated token's scopes are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Principal {
    fn has_scope(&self, scope: &str) -> bool {
        match &self.scopes {
            None => true,
            Some(s) => s.iter().any(|x| x == scope),
        }
    }

    /// Delegated tokens read with `deploy:read` or `deploy:write` and write with
    /// `deploy:write`; a user session (no scopes) may both, as far as scopes go. 403
    /// `insufficient_scope` otherwise.
    pub fn require(&self, access: Access) -> Result<(), Error> {
        let ok = match access {
            Access::Read => self.has_scope(DEPLOY_READ) || self.has_scope(DEPLOY_WRITE),
            Access::Write => self.has_scope(DEPLOY_WRITE),
        };
        if ok {
            return Ok(());
        }
        let needed = match access {
            Access::Read => "deploy:read (or deploy:write)",
            Access::Write => "deploy:write",
        };
        Err(Error::new(
            crate::ErrorCode::InsufficientScope,
            format!("this token lacks the {needed} scope"),
        ))
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
        let with = |scopes: &[&str]| Principal {
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            ..p("u")
        };
        let may = |who: &Principal, access| match who.require(access) {
            Ok(()) => true,
            Err(e) => {
                assert_eq!(e.code, crate::ErrorCode::InsufficientScope);
                false
            }
        };
        use Access::*;
        for (who, read, write) in [
            (p("u"), true, true),
            (with(&["deploy:read"]), true, false),
            (with(&["deploy:write"]), true, true),
            (with(&["deploy:read", "deploy:write"]), true, true),
            (with(&["profile"]), false, false),
            (with(&[]), false, false),
        ] {
            assert_eq!(
                (may(&who, Read), may(&who, Write)),
                (read, write),
                "{who:?}"
            );
        }
    }
}
