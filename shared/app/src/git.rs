//! The git connection endpoint group: the GitHub App install flow (install/start → GitHub →
//! register or complete with a one-time state token), the agent's direct connect, reading,
//! retargeting and removing the connection, and the installation picker (accounts and
//! repositories). Push webhooks are in [`webhook`].
//!
//! Every write of a connection goes through [`connection_item`] (so its repository and
//! installation lookup keys are always there) and is committed with its `GitConnected` /
//! `GitDisconnected` event in one transaction.

pub mod webhook;

use axhub_domain::ErrorCode;
use axhub_domain::{DomainEvent, Error, EventKind, GitConnection, Principal, validate};
use axhub_store::{Cond, Item, StoreError, TxOp, Update};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::outbox::Outbox;
use crate::repo::{self, AppContext};
use crate::{Deps, directory, keys, store_error};
use axhub_ports::github::{Account, GitHub, RepositoryPage};

/// How long an install state token is valid.
pub const STATE_TTL_SECONDS: i64 = 600;
/// The only provider there is.
pub const PROVIDER: &str = "github";
/// The branch a connection deploys when none is named.
pub const DEFAULT_BRANCH: &str = "main";
/// Largest page of an installation's repositories (GitHub's own limit).
pub const MAX_PER_PAGE: u32 = 100;

/// The GitHub port, or 503 when this deployment has no GitHub App configured.
pub fn github(deps: &Deps) -> Result<&dyn GitHub, Error> {
    deps.github.as_deref().ok_or_else(|| {
        Error::unimplemented(
            "the GitHub integration is not configured on this deployment (GitHub App id, key \
             and secrets)",
        )
    })
}

// --- wire shapes ----------------------------------------------------------------------------

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

// --- input rules ----------------------------------------------------------------------------

/// `owner/repo` as GitHub allows them: an owner of 1–39 letters, digits and hyphens, a
/// repository of 1–100 letters, digits, `.`, `-`, `_` (not `.` or `..`).
pub fn repo_full_name(raw: Option<&str>) -> Result<String, Error> {
    let value = raw.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(Error::field(
            "repo_full_name",
            ErrorCode::Required,
            "must name the repository as owner/repo",
        ));
    }
    let ok = match value.split_once('/') {
        Some((owner, name)) => {
            (1..=39).contains(&owner.len())
                && owner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (1..=100).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && name != "."
                && name != ".."
        }
        None => false,
    };
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::field(
            "repo_full_name",
            ErrorCode::InvalidFormat,
            "must be owner/repo as GitHub names repositories",
        ))
    }
}

/// A GitHub installation id: a positive integer.
pub fn installation_id(raw: Option<i64>, name: &str) -> Result<i64, Error> {
    match raw {
        Some(n) if n > 0 => Ok(n),
        Some(_) => Err(Error::field(
            name,
            ErrorCode::InvalidValue,
            "must be a positive integer",
        )),
        None => Err(Error::field(name, ErrorCode::Required, "must be given")),
    }
}

/// The branch to deploy: empty means [`DEFAULT_BRANCH`]; otherwise as git accepts it.
pub fn branch_or_default(raw: Option<&str>) -> Result<String, Error> {
    match raw {
        None | Some("") => Ok(DEFAULT_BRANCH.to_owned()),
        Some(b) => validate::branch_name(b).map(str::to_owned),
    }
}

/// A page number of the repository picker (1-based, default 1).
pub fn page(raw: Option<&str>) -> Result<u32, Error> {
    let Some(raw) = raw else { return Ok(1) };
    match raw.parse::<i64>() {
        Ok(n) if (1..=i64::from(u32::MAX)).contains(&n) => Ok(n as u32),
        _ => Err(Error::field(
            "page",
            ErrorCode::InvalidValue,
            "must be an integer of 1 or more",
        )),
    }
}

/// A page size of the repository picker (1–100, default 30).
pub fn per_page(raw: Option<&str>) -> Result<u32, Error> {
    let Some(raw) = raw else { return Ok(30) };
    match raw.parse::<i64>() {
        Ok(n) if (1..=i64::from(MAX_PER_PAGE)).contains(&n) => Ok(n as u32),
        _ => Err(Error::field(
            "per_page",
            ErrorCode::InvalidValue,
            format!("must be an integer between 1 and {MAX_PER_PAGE}"),
        )),
    }
}

// --- connection items and their events ------------------------------------------------------

/// The connection as stored: `APP#{id}`/`GIT`, findable by repository (GSI1
/// `REPO#{owner/repo lowercase}`) and by installation (GSI2 `GHINST#{id}`), both sorted by
/// app id.
pub fn connection_item(g: &GitConnection) -> Result<Item, Error> {
    let mut item = repo::to_item(&keys::git_connection(g.app_id), g)?;
    let app = Value::String(g.app_id.to_string());
    item.insert(
        "gsi1pk".into(),
        Value::String(keys::repo_connections_gsi(&g.repo_full_name)),
    );
    item.insert("gsi1sk".into(), app.clone());
    item.insert(
        "gsi2pk".into(),
        Value::String(keys::installation_connections_gsi(g.installation_id)),
    );
    item.insert("gsi2sk".into(), app);
    Ok(item)
}

fn connection_detail(g: &GitConnection, reason: &str, by: &str) -> Value {
    json!({
        "provider": g.provider,
        "repo_full_name": g.repo_full_name,
        "branch": g.branch,
        "installation_id": g.installation_id,
        "reason": reason,
        "by": by,
    })
}

fn connected_event(
    deps: &Deps,
    tenant: Uuid,
    g: &GitConnection,
    reason: &str,
    by: &str,
) -> DomainEvent {
    DomainEvent::new(
        EventKind::GitConnected,
        tenant,
        g.app_id,
        deps.now(),
        connection_detail(g, reason, by),
    )
}

/// The operations that remove a connection and record why: the delete holds only if the
/// connection is still the one that was read (same repository and installation). The event
/// goes into `outbox`, to be published once the transaction committed.
pub(crate) fn disconnect_ops(
    deps: &Deps,
    outbox: &mut Outbox,
    tenant: Uuid,
    g: &GitConnection,
    reason: &str,
    by: &str,
) -> Result<Vec<TxOp>, Error> {
    Ok(vec![
        TxOp::Delete {
            key: keys::git_connection(g.app_id),
            cond: Some(Cond::And(vec![
                Cond::eq("installation_id", g.installation_id),
                Cond::eq("repo_full_name", g.repo_full_name.clone()),
            ])),
        },
        outbox.event(DomainEvent::new(
            EventKind::GitDisconnected,
            tenant,
            g.app_id,
            deps.now(),
            connection_detail(g, reason, by),
        ))?,
    ])
}

/// Writes the connection (replacing any), with its event when something changed, and the
/// extra operations (a state token's consumption) in one transaction. A state token that
/// another request consumed first is a 400.
async fn upsert(
    deps: &Deps,
    ctx: &AppContext,
    g: &GitConnection,
    by: &str,
    consume: Option<TxOp>,
) -> Result<(), Error> {
    let changed = ctx.git.as_ref() != Some(g);
    if !changed && consume.is_none() {
        return Ok(());
    }
    let mut outbox = Outbox::new();
    let mut ops = Vec::with_capacity(3);
    let state_index = consume.as_ref().map(|_| 0);
    ops.extend(consume);
    ops.push(TxOp::Put {
        item: connection_item(g)?,
        cond: None,
    });
    if changed {
        ops.push(outbox.event(connected_event(deps, ctx.app.tenant_id, g, "connected", by))?);
    }
    match deps.store.transact(ops).await {
        Ok(()) => {
            tracing::info!(app_id = %g.app_id, repo = %g.repo_full_name, branch = %g.branch, "git connected");
            outbox.publish(deps).await;
            Ok(())
        }
        Err(StoreError::TransactionCancelled { failed })
            if state_index.is_some_and(|i| failed.contains(&i)) =>
        {
            Err(state_invalid())
        }
        Err(e) => Err(store_error(e)),
    }
}

// --- state tokens ---------------------------------------------------------------------------

/// What a state token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StateRecord {
    app_id: Uuid,
    tenant_id: Uuid,
    user_id: String,
    ttl: i64,
}

fn state_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn state_invalid() -> Error {
    Error::field(
        "state",
        ErrorCode::InvalidOauthState,
        "is unknown, expired or already used; start the GitHub installation again",
    )
}

/// Issues a one-time state token for `user` on `app`: 32 random bytes as hex, stored only as
/// its hash, expiring after [`STATE_TTL_SECONDS`].
async fn issue_state(deps: &Deps, ctx: &AppContext, user: &str) -> Result<String, Error> {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let record = StateRecord {
        app_id: ctx.app.id,
        tenant_id: ctx.app.tenant_id,
        user_id: user.to_owned(),
        ttl: deps.now().unix_timestamp() + STATE_TTL_SECONDS,
    };
    let item = repo::to_item(&keys::github_state(&state_hash(&token)), &record)?;
    deps.store
        .put(item, Some(Cond::NotExists))
        .await
        .map_err(store_error)?;
    Ok(token)
}

/// Reads a state token without consuming it: unknown, malformed, used or expired → 400.
async fn peek_state(deps: &Deps, raw: Option<&str>) -> Result<(StateRecord, TxOp), Error> {
    let token = raw.map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err(Error::field(
            "state",
            ErrorCode::Required,
            "must be the state token of the installation",
        ));
    }
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(state_invalid());
    }
    let key = keys::github_state(&state_hash(&token.to_ascii_lowercase()));
    let item = deps.store.get(&key).await.map_err(store_error)?;
    let Some(record) = item.map(repo::from_item::<StateRecord>).transpose()? else {
        return Err(state_invalid());
    };
    let now = deps.now().unix_timestamp();
    if record.ttl <= now {
        return Err(state_invalid());
    }
    // Consumed by a conditional delete, in the transaction that makes the connection.
    let consume = TxOp::Delete {
        key,
        cond: Some(Cond::And(vec![Cond::Exists, Cond::gt("ttl", now)])),
    };
    Ok((record, consume))
}

// --- use cases ------------------------------------------------------------------------------

/// `GET …/git-connection`. Members see whether the app is connected; owners and admins of an
/// unconnected app also get an install URL with a fresh state token.
pub async fn status(deps: &Deps, who: &Principal, app_id: Uuid) -> Result<ConnectionStatus, Error> {
    let (ctx, role) = repo::app_for(deps, who, app_id).await?;
    if let Some(g) = &ctx.git {
        return Ok(ConnectionStatus {
            connected: true,
            provider: Some(g.provider.clone()),
            repo_full_name: Some(g.repo_full_name.clone()),
            branch: Some(g.branch.clone()),
            installation_id: Some(g.installation_id),
            install_url: None,
        });
    }
    let install_url = match (&deps.github, role.is_owner_or_admin()) {
        (Some(gh), true) => Some(
            gh.settings()
                .install_url(&issue_state(deps, &ctx, &who.user_id).await?),
        ),
        _ => None,
    };
    Ok(ConnectionStatus {
        connected: false,
        install_url,
        ..ConnectionStatus::default()
    })
}

/// `GET …/git/github/install/start`: the GitHub App's installation URL with a fresh state.
pub async fn install_start(deps: &Deps, who: &Principal, app_id: Uuid) -> Result<String, Error> {
    let (ctx, role) = repo::app_for(deps, who, app_id).await?;
    role.require_owner_or_admin("app")?;
    let gh = github(deps)?;
    let state = issue_state(deps, &ctx, &who.user_id).await?;
    Ok(gh.settings().install_url(&state))
}

/// Checks ① the installation is the caller's own ② the App can read the repository.
async fn verify_installation(
    gh: &dyn GitHub,
    user: &str,
    installation: i64,
    repo_full_name: &str,
) -> Result<(), Error> {
    if !gh.user_has_installation(user, installation).await? {
        return Err(Error::forbidden(format!(
            "GitHub installation {installation} is not one of yours"
        )));
    }
    if !gh
        .installation_can_read(installation, repo_full_name)
        .await?
    {
        let mut e = Error::field(
            "repo_full_name",
            ErrorCode::InstallationVerificationFailed,
            format!("the GitHub App installation {installation} cannot read {repo_full_name}"),
        );
        e.message = format!(
            "the GitHub App installation {installation} cannot read {repo_full_name}: add the \
             repository to the installation"
        );
        return Err(e);
    }
    Ok(())
}

struct Target {
    installation_id: i64,
    repo_full_name: String,
    branch: String,
}

fn target(
    installation: Option<i64>,
    repo: Option<&str>,
    branch: Option<&str>,
) -> Result<Target, Error> {
    Ok(Target {
        installation_id: installation_id(installation, "installation_id")?,
        repo_full_name: repo_full_name(repo)?,
        branch: branch_or_default(branch)?,
    })
}

fn connection(app_id: Uuid, t: Target) -> GitConnection {
    GitConnection {
        app_id,
        provider: PROVIDER.to_owned(),
        repo_full_name: t.repo_full_name,
        branch: t.branch,
        installation_id: t.installation_id,
    }
}

/// `POST …/git-connection`: the SPA registers the installation GitHub called back with.
/// Verify before consume: the state (this app's, this user's, not expired), the installation
/// (the caller's), the repository (readable by the App); only then is the state consumed,
/// in the transaction that writes the connection.
pub async fn register(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    input: RegisterConnection,
) -> Result<ConnectionView, Error> {
    let (ctx, role) = repo::app_for(deps, who, app_id).await?;
    role.require_owner_or_admin("app")?;
    let t = target(
        input.installation_id,
        input.repo_full_name.as_deref(),
        input.branch.as_deref(),
    )?;
    let gh = github(deps)?;
    let (state, consume) = peek_state(deps, input.state.as_deref()).await?;
    if state.app_id != app_id {
        return Err(Error::forbidden(
            "this state token was issued for another app",
        ));
    }
    if state.user_id != who.user_id {
        return Err(Error::forbidden(
            "this state token was issued to another user",
        ));
    }
    verify_installation(gh, &who.user_id, t.installation_id, &t.repo_full_name).await?;
    let g = connection(app_id, t);
    upsert(deps, &ctx, &g, &who.user_id, Some(consume)).await?;
    Ok(ConnectionView::from(&g))
}

/// `POST /git/github/complete`: like register, but the app comes from the state token, so a
/// leaked state cannot be redirected to another app.
pub async fn complete(
    deps: &Deps,
    who: &Principal,
    input: RegisterConnection,
) -> Result<CompletedConnection, Error> {
    let t = target(
        input.installation_id,
        input.repo_full_name.as_deref(),
        input.branch.as_deref(),
    )?;
    let gh = github(deps)?;
    let (state, consume) = peek_state(deps, input.state.as_deref()).await?;
    if state.user_id != who.user_id {
        return Err(Error::forbidden(
            "this state token was issued to another user",
        ));
    }
    // The caller must still be allowed to connect the app the state was issued for.
    let (ctx, role) = repo::app_for(deps, who, state.app_id).await?;
    role.require_owner_or_admin("app")?;
    verify_installation(gh, &who.user_id, t.installation_id, &t.repo_full_name).await?;
    let g = connection(state.app_id, t);
    upsert(deps, &ctx, &g, &who.user_id, Some(consume)).await?;
    let tenant_slug = match directory::get_tenant(deps, ctx.app.tenant_id).await {
        Ok(Some(t)) => t.slug,
        _ => String::new(),
    };
    Ok(CompletedConnection {
        app_id: g.app_id,
        tenant_slug,
        provider: g.provider,
        repo_full_name: g.repo_full_name,
        branch: g.branch,
        installation_id: g.installation_id,
    })
}

/// `POST …/git/github/connect`: an agent connects without a browser; the installation is
/// verified with the caller's stored GitHub token instead of a state token.
pub async fn connect(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    input: ConnectRepository,
) -> Result<ConnectionView, Error> {
    let (ctx, role) = repo::app_for(deps, who, app_id).await?;
    role.require_owner_or_admin("app")?;
    who.require_scope("deploy:write")?;
    let t = target(
        input.installation_id,
        input.repo_full_name.as_deref(),
        input.branch.as_deref(),
    )?;
    let gh = github(deps)?;
    verify_installation(gh, &who.user_id, t.installation_id, &t.repo_full_name).await?;
    let g = connection(app_id, t);
    upsert(deps, &ctx, &g, &who.user_id, None).await?;
    Ok(ConnectionView::from(&g))
}

/// `PATCH …/git-connection`: the branch a push deploys.
pub async fn update_branch(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    input: UpdateBranch,
) -> Result<ConnectionView, Error> {
    let (ctx, role) = repo::app_for(deps, who, app_id).await?;
    role.require_owner_or_admin("app")?;
    let branch = validate::branch_name(input.branch.as_deref().unwrap_or_default())?.to_owned();
    let Some(current) = ctx.git.clone() else {
        return Err(Error::not_found("git connection"));
    };
    if current.branch == branch {
        return Ok(ConnectionView::from(&current));
    }
    let g = GitConnection { branch, ..current };
    let mut outbox = Outbox::new();
    let ops = vec![
        TxOp::Update {
            key: keys::git_connection(app_id),
            update: Update::new().set("branch", g.branch.clone()),
            cond: Some(Cond::And(vec![
                Cond::eq("installation_id", g.installation_id),
                Cond::eq("repo_full_name", g.repo_full_name.clone()),
            ])),
        },
        outbox.event(connected_event(
            deps,
            ctx.app.tenant_id,
            &g,
            "branch_changed",
            &who.user_id,
        ))?,
    ];
    match deps.store.transact(ops).await {
        Ok(()) => {
            outbox.publish(deps).await;
            Ok(ConnectionView::from(&g))
        }
        // Disconnected or reconnected meanwhile: the caller retargets what is there now.
        Err(StoreError::TransactionCancelled { .. }) => Err(Error::conflict(
            ErrorCode::Conflict,
            "the git connection changed meanwhile; read it again",
        )),
        Err(e) => Err(store_error(e)),
    }
}

/// `DELETE …/git-connection`: idempotent; deployment history stays.
pub async fn disconnect(deps: &Deps, who: &Principal, app_id: Uuid) -> Result<(), Error> {
    let (ctx, role) = repo::app_for(deps, who, app_id).await?;
    role.require_owner_or_admin("app")?;
    let Some(g) = &ctx.git else { return Ok(()) };
    let mut outbox = Outbox::new();
    let ops = disconnect_ops(
        deps,
        &mut outbox,
        ctx.app.tenant_id,
        g,
        "disconnected",
        &who.user_id,
    )?;
    match deps.store.transact(ops).await {
        Ok(()) => {
            tracing::info!(app_id = %app_id, "git disconnected");
            outbox.publish(deps).await;
            Ok(())
        }
        // Already gone (or replaced meanwhile, which this request did not see): nothing to do.
        Err(StoreError::TransactionCancelled { .. }) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

/// `GET /github/accounts`.
pub async fn accounts(deps: &Deps, who: &Principal) -> Result<AccountList, Error> {
    let gh = github(deps)?;
    Ok(AccountList {
        accounts: gh.accounts(&who.user_id).await?,
    })
}

/// `GET /github/installations/{id}/repositories`: only for the caller's own installations.
pub async fn repositories(
    deps: &Deps,
    who: &Principal,
    installation: i64,
    page: u32,
    per_page: u32,
) -> Result<RepositoryPage, Error> {
    let gh = github(deps)?;
    if !gh.user_has_installation(&who.user_id, installation).await? {
        return Err(Error::forbidden(format!(
            "GitHub installation {installation} is not one of yours"
        )));
    }
    gh.installation_repositories(&who.user_id, installation, page, per_page)
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn repo_names() {
        assert_eq!(repo_full_name(Some(" acme/site ")).unwrap(), "acme/site");
        assert!(repo_full_name(Some("acme/my.site_v-2")).is_ok());
        for bad in [
            "acme",
            "acme/",
            "/site",
            "a/b/c",
            "acme/..",
            "ac me/site",
            "-",
        ] {
            assert!(repo_full_name(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(repo_full_name(None).unwrap_err().code, ErrorCode::Required);
    }

    #[test]
    fn pages() {
        assert_eq!(page(None).unwrap(), 1);
        assert_eq!(per_page(None).unwrap(), 30);
        assert_eq!(per_page(Some("100")).unwrap(), 100);
        assert_eq!(
            per_page(Some("101")).unwrap_err().fields[0].name,
            "per_page"
        );
        assert_eq!(page(Some("0")).unwrap_err().fields[0].name, "page");
        assert_eq!(branch_or_default(None).unwrap(), "main");
        assert_eq!(branch_or_default(Some("")).unwrap(), "main");
        assert!(branch_or_default(Some("a..b")).is_err());
    }
}
