//! What an operator of a single-node install does without the platform's other services:
//! add tenants, members and apps, mint tokens for people, create and revoke personal access
//! tokens. The same actions are `axhub-local admin …` subcommands (on the data directory) and
//! `POST /local/admin/{action}` routes (platform admins only); each prints or answers JSON.
//!
//! Tenants, members and apps are written as their owners' events (`TenantUpserted`,
//! `MembershipUpserted`, `AppUpserted`, versioned by the time in milliseconds) through
//! `ingest::apply_delivered`, so they land in the read model exactly as the events feed it;
//! an app's git connection is this service's own record, written as `connect` writes it.

use axhub_app::state::credentials::{StoredCredentials, hash_token};
use axhub_app::{Deps, directory, ingest};
use axhub_auth::{Claims, PAT_PREFIX, mint_hs256};
use axhub_domain::{Error, ErrorCode, GitConnection, Principal, validate};
use axhub_store::Key;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// What the operator asks for.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Tenants.
    #[command(subcommand)]
    Tenant(TenantAction),
    /// People's memberships of tenants.
    #[command(subcommand)]
    Member(MemberAction),
    /// Apps.
    #[command(subcommand)]
    App(AppAction),
    /// A bearer token (HS256 JWT) for a person.
    Token(TokenFor),
    /// Personal access tokens (`X-Api-Key: axhub_pat_…`).
    #[command(subcommand)]
    Pat(PatAction),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TenantAction {
    /// Add a tenant, or rename one (same --id).
    Add(TenantAdd),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum MemberAction {
    /// Make a person a member (or admin) of a tenant.
    Add(MemberAdd),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AppAction {
    /// Add an app to a tenant, with its subdomain and, optionally, its repository.
    Add(AppAdd),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum PatAction {
    /// Create a personal access token: printed once, kept only as its SHA-256.
    Create(PatCreate),
    /// Revoke a personal access token by the id `create` printed.
    Revoke(PatRevoke),
}

#[derive(Debug, Clone, Deserialize, clap::Args)]
pub struct TenantAdd {
    /// The tenant's slug (a DNS label: apps are served under it).
    #[arg(long)]
    pub slug: String,
    /// Its id (default: a new one).
    #[arg(long)]
    #[serde(default)]
    pub id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

#[derive(Debug, Clone, Deserialize, clap::Args)]
pub struct MemberAdd {
    #[arg(long)]
    pub tenant: Uuid,
    /// The person's user id (the `sub` of their tokens).
    #[arg(long)]
    pub user: String,
    #[arg(long, value_enum, default_value = "member")]
    #[serde(default = "member")]
    pub role: Role,
}

fn member() -> Role {
    Role::Member
}

#[derive(Debug, Clone, Deserialize, clap::Args)]
pub struct AppAdd {
    #[arg(long)]
    pub tenant: Uuid,
    /// The app's slug (a DNS label).
    #[arg(long)]
    pub slug: String,
    /// Where it is served: `{subdomain}.{tenant slug}.{domain}` (a DNS label).
    #[arg(long)]
    pub subdomain: String,
    /// The user id of its owner (a member of the tenant).
    #[arg(long)]
    pub owner: String,
    /// The GitHub repository it deploys (`owner/name`), if any.
    #[arg(long)]
    #[serde(default)]
    pub repo: Option<String>,
    /// The branch it deploys.
    #[arg(long, default_value = "main")]
    #[serde(default = "main_branch")]
    pub branch: String,
    /// The GitHub App installation that reads the repository.
    #[arg(long, default_value_t = 1)]
    #[serde(default = "first_installation")]
    pub installation: i64,
    /// Its id (default: a new one).
    #[arg(long)]
    #[serde(default)]
    pub id: Option<Uuid>,
}

fn main_branch() -> String {
    "main".into()
}

fn first_installation() -> i64 {
    1
}

#[derive(Debug, Clone, Deserialize, clap::Args)]
pub struct TokenFor {
    #[arg(long)]
    pub user: String,
    /// The token makes its holder a platform admin.
    #[arg(long)]
    #[serde(default)]
    pub platform_admin: bool,
    /// How many days it is valid.
    #[arg(long, default_value_t = 30)]
    #[serde(default = "thirty")]
    pub days: i64,
}

fn thirty() -> i64 {
    30
}

#[derive(Debug, Clone, Deserialize, clap::Args)]
pub struct PatCreate {
    #[arg(long)]
    pub user: String,
    /// Scopes it is limited to (`deploy:read`, `deploy:write`); none: what the person may do.
    #[arg(long = "scope")]
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, clap::Args)]
pub struct PatRevoke {
    /// The id `pat create` printed (the token's SHA-256).
    #[arg(long)]
    pub id: String,
}

/// The longest a token minted here may live.
const MAX_TOKEN_DAYS: i64 = 365;
const SCOPES: [&str; 2] = ["deploy:read", "deploy:write"];

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

async fn deliver(deps: &Deps, source: &str, kind: &str, detail: Value) -> Result<(), Error> {
    ingest::apply_delivered(deps, source, kind, &detail)
        .await
        .map(drop)
}

async fn tenant_exists(deps: &Deps, id: Uuid) -> Result<(), Error> {
    match directory::get_tenant(deps, id).await? {
        Some(_) => Ok(()),
        None => Err(Error::field(
            "tenant",
            ErrorCode::NotFound,
            format!("no tenant {id}: add it first"),
        )),
    }
}

fn user_id(field: &str, user: &str) -> Result<String, Error> {
    let user = user.trim();
    if user.is_empty() || user.len() > 200 || user.chars().any(char::is_control) {
        return Err(Error::field(
            field,
            ErrorCode::InvalidFormat,
            "must be a user id of 1–200 printable characters",
        ));
    }
    Ok(user.to_owned())
}

/// Carries out one action; what it made, as JSON.
pub async fn run(deps: &Deps, jwt_secret: &[u8], action: Action) -> Result<Value, Error> {
    match action {
        Action::Tenant(TenantAction::Add(t)) => {
            let slug = validate::dns_label("slug", &t.slug)?;
            let id = t.id.unwrap_or_else(Uuid::now_v7);
            let detail = json!({"id": id, "slug": slug, "version": now_ms()});
            deliver(deps, "axhub.tenants", "TenantUpserted", detail).await?;
            Ok(json!({"tenant_id": id, "slug": slug}))
        }
        Action::Member(MemberAction::Add(m)) => {
            tenant_exists(deps, m.tenant).await?;
            let user = user_id("user", &m.user)?;
            let role = match m.role {
                Role::Admin => "tenant_admin",
                Role::Member => "tenant_member",
            };
            let detail =
                json!({"tenant_id": m.tenant, "user_id": user, "role": role, "version": now_ms()});
            deliver(deps, "axhub.tenants", "MembershipUpserted", detail).await?;
            Ok(json!({"tenant_id": m.tenant, "user_id": user, "role": role}))
        }
        Action::App(AppAction::Add(a)) => add_app(deps, a).await,
        Action::Token(t) => {
            let user = user_id("user", &t.user)?;
            if !(1..=MAX_TOKEN_DAYS).contains(&t.days) {
                return Err(Error::field(
                    "days",
                    ErrorCode::InvalidFormat,
                    format!("must be 1–{MAX_TOKEN_DAYS}"),
                ));
            }
            let exp = time::OffsetDateTime::now_utc().unix_timestamp() + t.days * 86_400;
            let claims = Claims {
                sub: user.clone(),
                exp,
                platform_admin: t.platform_admin,
                ..Claims::default()
            };
            let token = mint_hs256(jwt_secret, &claims)
                .map_err(|e| Error::internal(format!("minting the token failed: {e}")))?;
            Ok(json!({"user_id": user, "token": token, "expires_at": exp}))
        }
        Action::Pat(PatAction::Create(p)) => {
            let user = user_id("user", &p.user)?;
            if let Some(bad) = p.scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
                return Err(Error::field(
                    "scope",
                    ErrorCode::InvalidFormat,
                    format!("{bad:?} is not one of {}", SCOPES.join(", ")),
                ));
            }
            let token = format!("{PAT_PREFIX}{}", hex::encode(rand::random::<[u8; 24]>()));
            let principal = Principal {
                user_id: user.clone(),
                platform_admin: false,
                scopes: (!p.scopes.is_empty()).then_some(p.scopes),
            };
            StoredCredentials::new(deps.store.clone())
                .put_personal_access_token(&token, &principal)
                .await?;
            Ok(json!({"id": hash_token(&token), "user_id": user, "token": token}))
        }
        Action::Pat(PatAction::Revoke(r)) => {
            let id = r.id.trim().to_ascii_lowercase();
            if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::field(
                    "id",
                    ErrorCode::InvalidFormat,
                    "must be the 64 hex digits `pat create` printed",
                ));
            }
            let key = Key::new(format!("PAT#{id}"), "PAT");
            deps.store
                .delete(&key, None)
                .await
                .map_err(axhub_app::store_error)?;
            Ok(json!({"id": id, "revoked": true}))
        }
    }
}

async fn add_app(deps: &Deps, a: AppAdd) -> Result<Value, Error> {
    tenant_exists(deps, a.tenant).await?;
    let slug = validate::dns_label("slug", &a.slug)?;
    let subdomain = validate::dns_label("subdomain", &a.subdomain)?;
    let owner = user_id("owner", &a.owner)?;
    let git = match &a.repo {
        Some(repo) => Some((
            validate::repo_full_name(Some(repo))?,
            validate::branch_or_default(Some(&a.branch))?,
        )),
        None => None,
    };
    let id = a.id.unwrap_or_else(Uuid::now_v7);
    let detail = json!({
        "id": id, "tenant_id": a.tenant, "owner_id": owner, "slug": slug,
        "subdomain": subdomain, "approved": false, "version": now_ms(),
    });
    deliver(deps, "axhub.apps", "AppUpserted", detail).await?;
    if let Some((repo_full_name, branch)) = &git {
        directory::put_git_connection(
            deps,
            &GitConnection {
                app_id: id,
                provider: "github".into(),
                repo_full_name: repo_full_name.clone(),
                branch: branch.clone(),
                installation_id: a.installation,
            },
        )
        .await?;
    }
    Ok(json!({
        "app_id": id, "tenant_id": a.tenant, "slug": slug, "subdomain": subdomain,
        "owner_id": owner,
        "repo_full_name": git.as_ref().map(|g| g.0.clone()),
        "branch": git.as_ref().map(|g| g.1.clone()),
    }))
}
