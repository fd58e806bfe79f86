//! The clean-up of a failed saga, run as a job after the failure was recorded, and the write
//! that ends the saga `failed` with its `BootstrapFinished` event.
//!
//! What is undone, where it is safe:
//! - the repository, only if this saga created it and every branch of it still points at a
//!   commit the saga knows (GitHub's first commit, or the template's): a repository anyone
//!   pushed to is kept, one the saga did not create is never touched;
//! - the app, if the saga wrote it and nobody adopted it yet (`AppWithdrawn` tells the apps
//!   service).
//!
//! A failed first deployment (`deploy_failed`) undoes nothing: the app is connected to a
//! repository holding the template, and a push of a fix deploys it.

use std::time::Duration;

use axhub_domain::{Bootstrap, BootstrapFailure, BootstrapStatus, Category, Error};

use super::saga::{self, MAX_ATTEMPTS};
use super::steps::{actor, repos};
use crate::jobs::Next;
use crate::state::UnitOfWork;
use crate::{Deps, events};

/// What happened to the repository.
enum RepoFate {
    /// Nothing to do: not created by the saga, or kept on purpose.
    Untouched,
    Deleted(String),
    /// Created by the saga but changed by someone else since.
    KeptChanged(String),
    /// Deleting failed too often.
    KeptUndeletable(String),
}

/// Runs the clean-up of a saga whose failure is recorded, then ends it.
pub(super) async fn run(deps: &Deps, b: &Bootstrap) -> Result<Next, Error> {
    let fate = match undo_repo(deps, b).await {
        Ok(fate) => fate,
        Err(e) if e.category == Category::RateLimited => {
            return Ok(Next::Again(Duration::from_millis(
                e.retry_after_ms.unwrap_or(60_000),
            )));
        }
        Err(e) if e.code.retryable() && b.attempts + 1 < MAX_ATTEMPTS => {
            tracing::warn!(bootstrap_id = %b.id, error = %e.message, "bootstrap clean-up failed; retrying");
            let mut next = saga::moved(deps, b, b.clone());
            next.attempts += 1;
            let mut work = UnitOfWork::new();
            work.replace_bootstrap(b, &next)?;
            return saga::commit(deps, work, Next::Again(saga::backoff(next.attempts))).await;
        }
        Err(e) => {
            tracing::error!(bootstrap_id = %b.id, error = %e.message, "bootstrap clean-up gave up on the repository");
            RepoFate::KeptUndeletable(b.repo_full_name.clone().unwrap_or_default())
        }
    };
    finish(deps, b, fate).await
}

/// Deletes the repository if the saga created it and nobody else pushed to it.
async fn undo_repo(deps: &Deps, b: &Bootstrap) -> Result<RepoFate, Error> {
    let Some(repo) = b.repo_full_name.clone().filter(|_| b.repo_created) else {
        return Ok(RepoFate::Untouched);
    };
    if b.error_code == Some(BootstrapFailure::DeployFailed) {
        return Ok(RepoFate::Untouched);
    }
    let gh = repos(deps)?;
    let actor = actor(b);
    let known: Vec<&str> = [b.initial_commit.as_deref(), b.commit_sha.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let heads = gh.branches(&actor, &repo).await?;
    if heads.iter().any(|h| !known.contains(&h.sha.as_str())) {
        return Ok(RepoFate::KeptChanged(repo));
    }
    gh.delete_repository(&actor, &repo).await?;
    tracing::info!(bootstrap_id = %b.id, repo, "repository of a failed bootstrap deleted");
    Ok(RepoFate::Deleted(repo))
}

/// Ends the saga failed: the app withdrawn (unless the first deployment is what failed), the
/// names given back, `BootstrapFinished`.
async fn finish(deps: &Deps, b: &Bootstrap, fate: RepoFate) -> Result<Next, Error> {
    let mut next = saga::moved(deps, b, b.clone());
    next.status = BootstrapStatus::Failed;
    next.attempts = 0;
    let mut message = b.error_message.clone().unwrap_or_default();
    match &fate {
        RepoFate::Untouched => {}
        RepoFate::Deleted(repo) => {
            message.push_str(&format!(
                "; the repository {repo} it had created was deleted"
            ));
            next.repo_full_name = None;
            next.repo_created = false;
        }
        RepoFate::KeptChanged(repo) => message.push_str(&format!(
            "; the repository {repo} was kept: someone else pushed to it"
        )),
        RepoFate::KeptUndeletable(repo) => message.push_str(&format!(
            "; the repository {repo} could not be deleted: delete it on GitHub"
        )),
    }
    next.error_message = Some(message);
    let mut work = UnitOfWork::new();
    let keep_app = b.error_code == Some(BootstrapFailure::DeployFailed);
    if b.app_created && !keep_app {
        work.withdraw_app(b.app_id);
        work.emit(events::app_withdrawn(&next, deps.now()))?;
        next.app_created = false;
    }
    work.release_names(&next);
    work.emit(events::bootstrap_finished(&next))?;
    work.replace_bootstrap(b, &next)?;
    tracing::warn!(bootstrap_id = %b.id, code = b.error_code.map(|c| c.as_str()), "bootstrap failed");
    saga::commit(deps, work, Next::Done).await
}
