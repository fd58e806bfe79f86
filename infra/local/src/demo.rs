//! `--demo`: a tenant with an admin, an app owner and a plain member, an outsider in another
//! tenant, a platform admin, and an app with a subdomain and a git connection; a bearer token
//! for each person, printed and written to `<data dir>/demo.json`. Re-running keeps the ids.

use std::path::Path;

use axhub_app::{Deps, directory};
use axhub_auth::{Claims, mint_hs256};
use axhub_domain::{App, GitConnection, Membership, Tenant, TenantRole};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Serialize, Deserialize, Clone)]
pub struct DemoUser {
    pub user_id: String,
    pub token: String,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct DemoFile {
    pub base_url: String,
    pub tenant_id: Uuid,
    pub app_id: Uuid,
    /// An app of the same tenant with a subdomain but no git connection (412 to deploy).
    pub unconnected_app_id: Uuid,
    pub users: BTreeMap<String, DemoUser>,
}

#[derive(Serialize, Deserialize)]
struct DemoIds {
    tenant_id: Uuid,
    other_tenant_id: Uuid,
    app_id: Uuid,
    unconnected_app_id: Uuid,
}

/// Tokens minted for the demo live this long.
const TOKEN_DAYS: i64 = 30;

pub async fn seed(
    deps: &Deps,
    data_dir: &Path,
    jwt_secret: &[u8],
    base_url: &str,
) -> anyhow::Result<DemoFile> {
    let ids_path = data_dir.join("demo-ids.json");
    let ids: DemoIds = match std::fs::read(&ids_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(ids) => ids,
        None => {
            let ids = DemoIds {
                tenant_id: Uuid::now_v7(),
                other_tenant_id: Uuid::now_v7(),
                app_id: Uuid::now_v7(),
                unconnected_app_id: Uuid::now_v7(),
            };
            crate::files::write_private(&ids_path, &serde_json::to_vec_pretty(&ids)?)?;
            ids
        }
    };
    let people = [
        (
            "admin",
            "demo-admin",
            ids.tenant_id,
            TenantRole::TenantAdmin,
        ),
        (
            "owner",
            "demo-owner",
            ids.tenant_id,
            TenantRole::TenantMember,
        ),
        (
            "member",
            "demo-member",
            ids.tenant_id,
            TenantRole::TenantMember,
        ),
        (
            "outsider",
            "demo-outsider",
            ids.other_tenant_id,
            TenantRole::TenantAdmin,
        ),
    ];
    directory::put_tenant(
        deps,
        &Tenant {
            id: ids.tenant_id,
            slug: "demo".into(),
        },
    )
    .await?;
    directory::put_tenant(
        deps,
        &Tenant {
            id: ids.other_tenant_id,
            slug: "elsewhere".into(),
        },
    )
    .await?;
    for (_, user, tenant, role) in &people {
        directory::put_membership(
            deps,
            &Membership {
                tenant_id: *tenant,
                user_id: (*user).into(),
                role: *role,
            },
        )
        .await?;
    }
    directory::put_app(
        deps,
        &App {
            id: ids.app_id,
            tenant_id: ids.tenant_id,
            owner_id: "demo-owner".into(),
            slug: "hello".into(),
            subdomain: Some("hello".into()),
            approved: false,
            staging_enabled: false,
            production_deployment_id: None,
            staging_deployment_id: None,
        },
    )
    .await?;
    directory::put_app(
        deps,
        &App {
            id: ids.unconnected_app_id,
            tenant_id: ids.tenant_id,
            owner_id: "demo-owner".into(),
            slug: "unconnected".into(),
            subdomain: Some("unconnected".into()),
            approved: false,
            staging_enabled: false,
            production_deployment_id: None,
            staging_deployment_id: None,
        },
    )
    .await?;
    directory::put_git_connection(
        deps,
        &GitConnection {
            app_id: ids.app_id,
            provider: "github".into(),
            repo_full_name: "axhub-demo/hello".into(),
            branch: "main".into(),
            installation_id: 1,
        },
    )
    .await?;
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + TOKEN_DAYS * 86_400;
    let mut users = BTreeMap::new();
    // The platform admin is no member of any tenant: the token's claim makes them one.
    let everyone = people
        .iter()
        .map(|(name, user, _, _)| (*name, *user, false))
        .chain([("platform_admin", "demo-platform-admin", true)]);
    for (name, user, platform_admin) in everyone {
        let claims = Claims {
            sub: user.into(),
            exp,
            platform_admin,
            ..Claims::default()
        };
        users.insert(
            name.to_owned(),
            DemoUser {
                user_id: user.into(),
                token: mint_hs256(jwt_secret, &claims)?,
            },
        );
    }
    let file = DemoFile {
        base_url: base_url.to_owned(),
        tenant_id: ids.tenant_id,
        app_id: ids.app_id,
        unconnected_app_id: ids.unconnected_app_id,
        users,
    };
    let path = data_dir.join("demo.json");
    // Its tokens are the people's credentials, a platform admin's among them.
    crate::files::write_private(&path, &serde_json::to_vec_pretty(&file)?)?;
    Ok(file)
}
