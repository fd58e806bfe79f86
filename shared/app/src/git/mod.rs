//! The git connection endpoint group: the GitHub App install flow (install/start → GitHub →
//! register or complete with a one-time state token), the agent's direct connect, reading,
//! retargeting and removing the connection, and the installation picker (accounts and
//! repositories). Push webhooks are in [`webhook`] (received and queued), `push` (what the
//! worker does with them) and [`pending`] (a push kept while its app was busy).
//!
//! Every write of a connection is one unit of work with its `GitConnected` /
//! `GitDisconnected` event.

mod delivery_work;
pub mod pending;
mod push;
mod state_token;
pub mod webhook;
pub mod wire;

use axhub_domain::{Access, Error, ErrorCode, EventKind, GitConnection, Principal, validate};
use axhub_ports::GitHub;
use axhub_ports::github::RepositoryPage;
use uuid::Uuid;

use crate::state::apps::AppContext;
use crate::state::{Guard, Refused, UnitOfWork, tenants};
use crate::{Deps, access, events};

pub use state_token::STATE_TTL_SECONDS;
pub use wire::*;

/// The only provider there is.
pub const PROVIDER: &str = "github";

/// The GitHub port, or 503 when this deployment has no GitHub App configured.
pub fn github(deps: &Deps) -> Result<&dyn GitHub, Error> {
    deps.github.as_deref().ok_or_else(|| {
        Error::unimplemented(
            "the GitHub integration is not configured on this deployment (GitHub App id, key \
             and secrets)",
        )
    })
}

/// Removes a connection with its `GitDisconnected` event, if it is still the one read.
/// False when it was replaced or removed meanwhile.
pub(crate) async fn remove(
    deps: &Deps,
    tenant: Uuid,
    g: &GitConnection,
    reason: &str,
    by: &str,
) -> Result<bool, Error> {
    let mut work = UnitOfWork::new();
    work.remove_connection(g);
    work.emit(events::git_connection(
        EventKind::GitDisconnected,
        tenant,
        g,
        reason,
        by,
        deps.now(),
    ))?;
    match work.commit(deps).await {
        Ok(()) => {
            tracing::info!(app_id = %g.app_id, reason, "git disconnected");
            Ok(true)
        }
        Err(Refused::Lost { .. }) => Ok(false),
        Err(Refused::Failed(e)) => Err(e),
    }
}

/// Writes the connection (replacing any), with its event when something changed, consuming
/// the state token when there is one, in one unit of work. A state token that another request
/// consumed first is a 400.
async fn upsert(
    deps: &Deps,
    ctx: &AppContext,
    g: &GitConnection,
    by: &str,
    state: Option<&state_token::Checked>,
) -> Result<(), Error> {
    let changed = ctx.git.as_ref() != Some(g);
    if !changed && state.is_none() {
        return Ok(());
    }
    let mut work = UnitOfWork::new();
    if let Some(state) = state {
        state.consume(&mut work);
    }
    write_connection(&mut work, deps, ctx, g, by)?;
    match work.commit(deps).await {
        Ok(()) => {
            tracing::info!(app_id = %g.app_id, repo = %g.repo_full_name, branch = %g.branch, "git connected");
            Ok(())
        }
        Err(refused) if refused.lost(Guard::StateToken) => Err(state_token::invalid()),
        Err(refused) => Err(refused.into_error()),
    }
}

/// Adds to `work` what every connect writes: the connection (replacing any) and, when it
/// changes what the app had, its `GitConnected` event. The bootstrap saga's connect step
/// writes it this way too, with its own move in the same unit.
pub(crate) fn write_connection(
    work: &mut UnitOfWork,
    deps: &Deps,
    ctx: &AppContext,
    g: &GitConnection,
    by: &str,
) -> Result<(), Error> {
    if ctx.git.as_ref() == Some(g) {
        return Ok(());
    }
    work.put_connection(g)?;
    work.emit(events::git_connection(
        EventKind::GitConnected,
        ctx.app.tenant_id,
        g,
        "connected",
        by,
        deps.now(),
    ))
}

/// `GET …/git-connection`. Members see whether the app is connected; owners and admins of an
/// unconnected app also get an install URL with a fresh state token, unless their token may
/// only read (the state is good only for a write).
pub async fn status(deps: &Deps, who: &Principal, app_id: Uuid) -> Result<ConnectionStatus, Error> {
    let (ctx, role) = access::app_for(deps, who, app_id).await?;
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
    let may_connect = role.is_owner_or_admin() && access::may_write(who);
    let install_url = match (&deps.github, may_connect) {
        (Some(gh), true) => Some(
            gh.settings()
                .install_url(&state_token::issue(deps, &ctx, &who.user_id).await?),
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
    let ctx = access::app_to_manage(deps, who, app_id).await?;
    let gh = github(deps)?;
    let state = state_token::issue(deps, &ctx, &who.user_id).await?;
    Ok(gh.settings().install_url(&state))
}

/// Checks ① the installation is the caller's own ② the App can read the repository (the
/// spec's order and codes) ③ the caller's own GitHub account can read it too: an
/// organisation's installation may reach repositories a member of it may not, and the App's
/// reach is not the person's.
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
    if !gh.user_can_read(user, repo_full_name).await? {
        return Err(Error::forbidden(format!(
            "your GitHub account cannot read {repo_full_name}"
        )));
    }
    Ok(())
}

/// The validated target of a connection, attached to an app.
fn connection(app_id: Uuid, target: &ConnectRepository) -> Result<GitConnection, Error> {
    Ok(GitConnection {
        app_id,
        provider: PROVIDER.to_owned(),
        installation_id: validate::installation_id(target.installation_id, "installation_id")?,
        repo_full_name: validate::repo_full_name(target.repo_full_name.as_deref())?,
        branch: validate::branch_or_default(target.branch.as_deref())?,
    })
}

/// The last checks of every connect (the installation is the caller's, the App can read the
/// repository), then the write.
async fn verify_and_write(
    deps: &Deps,
    who: &Principal,
    ctx: &AppContext,
    g: &GitConnection,
    state: Option<&state_token::Checked>,
) -> Result<(), Error> {
    let gh = github(deps)?;
    verify_installation(gh, &who.user_id, g.installation_id, &g.repo_full_name).await?;
    upsert(deps, ctx, g, &who.user_id, state).await
}

fn issued_to(state: &state_token::Checked, who: &Principal) -> Result<(), Error> {
    if state.record.user_id != who.user_id {
        return Err(Error::forbidden(
            "this state token was issued to another user",
        ));
    }
    Ok(())
}

/// `POST …/git-connection`: the SPA registers the installation GitHub called back with.
/// Verify before consume: the state (this app's, this user's, not expired), the installation
/// (the caller's), the repository (readable by the App); only then is the state consumed,
/// in the unit of work that writes the connection.
pub async fn register(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    input: RegisterConnection,
) -> Result<ConnectionView, Error> {
    let ctx = access::app_to_manage(deps, who, app_id).await?;
    let g = connection(app_id, &input.target())?;
    github(deps)?;
    let state = state_token::check(deps, input.state.as_deref()).await?;
    if state.record.app_id != app_id {
        return Err(Error::forbidden(
            "this state token was issued for another app",
        ));
    }
    issued_to(&state, who)?;
    verify_and_write(deps, who, &ctx, &g, Some(&state)).await?;
    Ok(ConnectionView::from(&g))
}

/// `POST /git/github/complete`: like register, but the app comes from the state token, so a
/// leaked state cannot be redirected to another app.
pub async fn complete(
    deps: &Deps,
    who: &Principal,
    input: RegisterConnection,
) -> Result<CompletedConnection, Error> {
    // The app is known only from the state; the token's scopes are not.
    access::caller_may(who, Access::Write)?;
    // Validated before the state is read, with a placeholder app the state then names.
    let target = connection(Uuid::nil(), &input.target())?;
    github(deps)?;
    let state = state_token::check(deps, input.state.as_deref()).await?;
    issued_to(&state, who)?;
    // The caller must still be allowed to connect the app the state was issued for.
    let ctx = access::app_to_manage(deps, who, state.record.app_id).await?;
    let g = GitConnection {
        app_id: state.record.app_id,
        ..target
    };
    verify_and_write(deps, who, &ctx, &g, Some(&state)).await?;
    let tenant_slug = match tenants::get(deps, ctx.app.tenant_id).await {
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
    let ctx = access::app_to_manage(deps, who, app_id).await?;
    let g = connection(app_id, &input)?;
    verify_and_write(deps, who, &ctx, &g, None).await?;
    Ok(ConnectionView::from(&g))
}

/// `PATCH …/git-connection`: the branch a push deploys.
pub async fn update_branch(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    input: UpdateBranch,
) -> Result<ConnectionView, Error> {
    let ctx = access::app_to_manage(deps, who, app_id).await?;
    let branch = validate::branch_name(input.branch.as_deref().unwrap_or_default())?.to_owned();
    let Some(current) = ctx.git.clone() else {
        return Err(Error::not_found("git connection"));
    };
    if current.branch == branch {
        return Ok(ConnectionView::from(&current));
    }
    let g = GitConnection { branch, ..current };
    let mut work = UnitOfWork::new();
    work.retarget_branch(&g);
    work.emit(events::git_connection(
        EventKind::GitConnected,
        ctx.app.tenant_id,
        &g,
        "branch_changed",
        &who.user_id,
        deps.now(),
    ))?;
    match work.commit(deps).await {
        Ok(()) => Ok(ConnectionView::from(&g)),
        // Disconnected or reconnected meanwhile: the caller retargets what is there now.
        Err(refused) if refused.lost(Guard::Connection) => Err(Error::conflict(
            ErrorCode::Conflict,
            "the git connection changed meanwhile; read it again",
        )),
        Err(refused) => Err(refused.into_error()),
    }
}

/// `DELETE …/git-connection`: idempotent; deployment history stays.
pub async fn disconnect(deps: &Deps, who: &Principal, app_id: Uuid) -> Result<(), Error> {
    let ctx = access::app_to_manage(deps, who, app_id).await?;
    let Some(g) = &ctx.git else { return Ok(()) };
    // Already gone (or replaced meanwhile, which this request did not see): nothing to do.
    remove(deps, ctx.app.tenant_id, g, "disconnected", &who.user_id).await?;
    Ok(())
}

/// `GET /github/accounts`.
pub async fn accounts(deps: &Deps, who: &Principal) -> Result<AccountList, Error> {
    access::caller_may(who, Access::Read)?;
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
    access::caller_may(who, Access::Read)?;
    let gh = github(deps)?;
    if !gh.user_has_installation(&who.user_id, installation).await? {
        return Err(Error::forbidden(format!(
            "GitHub installation {installation} is not one of yours"
        )));
    }
    gh.installation_repositories(&who.user_id, installation, page, per_page)
        .await
}
