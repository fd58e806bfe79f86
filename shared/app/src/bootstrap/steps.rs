//! The saga's steps. Each first looks at what exists (the app, the repository, the commit, the
//! connection, the deployment), acts only on what is missing, and says what it produced; the
//! saga (`saga::settle`) writes that with the move to the next step.

use std::time::Duration;

use axhub_domain::{
    App, Bootstrap, BootstrapFailure, DeploymentStatus, Error, ErrorCode, GitConnection,
    TriggerSource,
};
use axhub_ports::GitHubRepos;
use axhub_ports::github::{NewCommit, NewRepository, RepoActor, RepositoryFacts};
use serde_json::json;

use super::saga::Outcome;
use crate::idempotency::IdempotencyKey;
use crate::state::{UnitOfWork, apps, deployments};
use crate::trigger::{self, Trigger};
use crate::{Deps, events, git};

/// How often the deploy step looks at its deployment.
const DEPLOY_POLL: Duration = Duration::from_secs(3);
/// How long the push step waits for GitHub to make a new repository's first commit.
const FIRST_COMMIT_WAIT: Duration = Duration::from_secs(2);
/// Who the template's commit is by.
const AUTHOR_NAME: &str = "axhub";
const AUTHOR_EMAIL: &str = "bootstrap@axhub.ai";

pub(super) fn repos(deps: &Deps) -> Result<&dyn GitHubRepos, Error> {
    deps.github_repos
        .as_deref()
        .ok_or_else(|| Error::unimplemented("the GitHub App is not configured on this deployment"))
}

/// Whose token acts on the repository: the installation for an organisation, the asking
/// user's own for a user account (GitHub lets an installation create only in organisations).
pub(super) fn actor(b: &Bootstrap) -> RepoActor {
    if b.owner_is_organization {
        RepoActor::Installation(b.installation_id)
    } else {
        RepoActor::User(b.created_by.clone())
    }
}

/// app: the app's read model, announced for the apps service to adopt. The slug and
/// subdomain were free when the saga was asked for and are held by it since; an app that took
/// one meanwhile through the apps service fails the step.
pub(super) async fn app(deps: &Deps, b: &Bootstrap) -> Result<Outcome, Error> {
    let (slug_owner, subdomain_owner) =
        apps::name_owners(deps, b.tenant_id, &b.slug, &b.subdomain, b.app_id).await?;
    if let Some(other) = slug_owner.or(subdomain_owner) {
        return Ok(Outcome::fail(
            b,
            BootstrapFailure::AppFailed,
            format!(
                "app {other} took the slug {} or the subdomain {} meanwhile",
                b.slug, b.subdomain
            ),
        ));
    }
    let mut work = UnitOfWork::new();
    if apps::load(deps, b.app_id).await?.is_none() {
        work.create_app(&App {
            id: b.app_id,
            tenant_id: b.tenant_id,
            owner_id: b.created_by.clone(),
            slug: b.slug.clone(),
            subdomain: Some(b.subdomain.clone()),
            approved: false,
            staging_enabled: false,
            production_deployment_id: None,
            staging_deployment_id: None,
        })?;
        work.emit(events::app_registered(b, deps.now()))?;
    }
    let mut next = b.clone();
    next.app_created = true;
    Ok(Outcome::Advance { next, work })
}

/// Whether a repository that exists is the one this saga created (its description carries
/// the saga's marker: a crash between creating it and recording it leaves it so).
fn is_ours(b: &Bootstrap, facts: &RepositoryFacts) -> bool {
    facts.description.contains(&b.repo_marker())
}

/// repo: the repository under `github_owner`; a name that exists and is not this saga's is
/// `repo_exists`, and the saga never touches it.
pub(super) async fn repo(deps: &Deps, b: &Bootstrap) -> Result<Outcome, Error> {
    let gh = repos(deps)?;
    let actor = actor(b);
    let target = b.target_repo();
    let found = match gh.repository(&actor, &target).await? {
        Some(facts) => Some(facts),
        None => {
            let template = deps
                .templates
                .get(b.template_id)
                .map_or("a template", |t| t.name.as_str());
            let new = NewRepository {
                owner: b.github_owner.clone(),
                name: b.repo_name.clone(),
                private: b.repo_private,
                description: format!("{} — from {template} ({})", b.name, b.repo_marker()),
            };
            match gh
                .create_repository(&actor, b.owner_is_organization, &new)
                .await?
            {
                Some(created) => {
                    tracing::info!(bootstrap_id = %b.id, repo = %created.full_name, "repository created");
                    return recorded_repo(deps, b, &actor, created).await;
                }
                // Made meanwhile (by someone, or by a retry of our own request).
                None => gh.repository(&actor, &target).await?,
            }
        }
    };
    match found {
        Some(facts) if is_ours(b, &facts) => recorded_repo(deps, b, &actor, facts).await,
        _ => Ok(Outcome::fail(
            b,
            BootstrapFailure::RepoExists,
            format!(
                "a repository named {target} already exists; choose another repo_name (it was \
                 left as it is)"
            ),
        )),
    }
}

/// The repository as the saga records it, with the first commit GitHub made (if it is
/// there yet).
async fn recorded_repo(
    deps: &Deps,
    b: &Bootstrap,
    actor: &RepoActor,
    facts: RepositoryFacts,
) -> Result<Outcome, Error> {
    let heads = repos(deps)?.branches(actor, &facts.full_name).await?;
    let mut next = b.clone();
    next.initial_commit = heads
        .iter()
        .find(|h| h.name == facts.default_branch)
        .map(|h| h.sha.clone());
    next.repo_created = true;
    next.repo_full_name = Some(facts.full_name);
    next.default_branch = Some(facts.default_branch);
    Ok(Outcome::Advance {
        next,
        work: UnitOfWork::new(),
    })
}

/// push: the template's files as one commit on the default branch, after GitHub's first
/// commit. Git names a commit by its content, and this one's parent, tree, message and dates
/// are fixed, so writing it again gives the same commit; the branch is only fast-forwarded,
/// so nothing anyone else pushed is ever overwritten.
pub(super) async fn push(deps: &Deps, b: &Bootstrap) -> Result<Outcome, Error> {
    let gh = repos(deps)?;
    let actor = actor(b);
    let (Some(repo), Some(branch)) = (b.repo_full_name.as_deref(), b.default_branch.as_deref())
    else {
        return Err(Error::internal("the repo step recorded no repository"));
    };
    let Some(template) = deps.templates.get(b.template_id) else {
        return Ok(Outcome::fail(
            b,
            BootstrapFailure::PushFailed,
            format!("template {} is no longer in the catalog", b.template_id),
        ));
    };
    let heads = gh.branches(&actor, repo).await?;
    let Some(head) = heads
        .iter()
        .find(|h| h.name == branch)
        .map(|h| h.sha.clone())
    else {
        // GitHub makes a new repository's first commit shortly after creating it.
        return Ok(wait_for_first_commit(b));
    };
    let mut next = b.clone();
    let initial = next.initial_commit.get_or_insert(head.clone()).clone();
    let files = gh
        .template_files(b.installation_id, &deps.templates.source(template))
        .await?;
    let commit = NewCommit {
        parent: initial.clone(),
        message: format!(
            "Create {} from the {} template\n\n{}",
            b.name,
            template.name,
            b.repo_marker()
        ),
        author_name: AUTHOR_NAME.to_owned(),
        author_email: AUTHOR_EMAIL.to_owned(),
        date: axhub_domain::deployment::rfc3339(b.created_at),
        files,
    };
    let sha = gh.create_commit(&actor, repo, &commit).await?;
    if head != sha {
        let moved = head == initial && gh.fast_forward(&actor, repo, branch, &sha).await?;
        if !moved {
            return Ok(Outcome::Fail {
                with: next,
                code: BootstrapFailure::PushFailed,
                message: format!(
                    "someone pushed to {repo} while it was being set up; the template was not \
                     pushed and nothing was overwritten"
                ),
            });
        }
    }
    tracing::info!(bootstrap_id = %b.id, repo, commit = %sha, "template pushed");
    next.commit_sha = Some(sha);
    Ok(Outcome::Advance {
        next,
        work: UnitOfWork::new(),
    })
}

fn wait_for_first_commit(b: &Bootstrap) -> Outcome {
    if b.attempts + 1 >= super::saga::MAX_ATTEMPTS {
        return Outcome::fail(
            b,
            BootstrapFailure::PushFailed,
            "GitHub did not make the new repository's first commit in time",
        );
    }
    let mut next = b.clone();
    next.attempts += 1;
    Outcome::Progress {
        next,
        after: FIRST_COMMIT_WAIT,
    }
}

/// connect: the app's git connection to the new repository, written exactly as a connect
/// writes it (with its `GitConnected` event), once the App can read the repository.
pub(super) async fn connect(deps: &Deps, b: &Bootstrap) -> Result<Outcome, Error> {
    let gh = git::github(deps)?;
    let (Some(repo), Some(branch)) = (b.repo_full_name.clone(), b.default_branch.clone()) else {
        return Err(Error::internal("the repo step recorded no repository"));
    };
    let g = GitConnection {
        app_id: b.app_id,
        provider: git::PROVIDER.to_owned(),
        repo_full_name: repo,
        branch,
        installation_id: b.installation_id,
    };
    let Some(ctx) = apps::load(deps, b.app_id).await? else {
        return Ok(Outcome::fail(
            b,
            BootstrapFailure::ConnectFailed,
            "the app was deleted while it was being set up",
        ));
    };
    if ctx.git.as_ref() != Some(&g)
        && !gh
            .installation_can_read(b.installation_id, &g.repo_full_name)
            .await?
    {
        return Ok(Outcome::fail(
            b,
            BootstrapFailure::ConnectFailed,
            format!(
                "the GitHub App installation {} cannot read {}: add the repository to the \
                 installation",
                b.installation_id, g.repo_full_name
            ),
        ));
    }
    let mut work = UnitOfWork::new();
    git::write_connection(&mut work, deps, &ctx, &g, &b.created_by)?;
    Ok(Outcome::Advance {
        next: b.clone(),
        work,
    })
}

/// The deploy step's deployment is keyed by the saga: a run after a crash finds the one made.
fn deployment_key(b: &Bootstrap) -> Result<IdempotencyKey, Error> {
    IdempotencyKey::parse(
        &format!("bootstrap-{}", b.id),
        &b.created_by,
        &format!("bootstrap-deploy:{}", b.app_id),
        &json!({ "bootstrap_id": b.id }),
    )
}

/// deploy: the first deployment, through the trigger a manual deployment goes through, then
/// its end: the saga is done when the deployment succeeded.
pub(super) async fn deploy(deps: &Deps, b: &Bootstrap) -> Result<Outcome, Error> {
    let Some(id) = b.deployment_id else {
        return start_deployment(deps, b).await;
    };
    let Some(d) = deployments::get(deps, id).await? else {
        return Err(Error::internal("the bootstrap's deployment is missing"));
    };
    match d.status {
        DeploymentStatus::Succeeded => Ok(Outcome::Advance {
            next: b.clone(),
            work: UnitOfWork::new(),
        }),
        DeploymentStatus::Failed | DeploymentStatus::Cancelled => {
            let why = d
                .failure_reason
                .map(|r| format!("{} ({})", r.message, r.code))
                .unwrap_or_else(|| "it was cancelled".to_owned());
            Ok(Outcome::fail(
                b,
                BootstrapFailure::DeployFailed,
                format!(
                    "the first deployment {id} did not succeed: {why}; the app, its repository \
                     and its connection are kept: push a fix to deploy again"
                ),
            ))
        }
        _ => Ok(Outcome::Wait(DEPLOY_POLL)),
    }
}

async fn start_deployment(deps: &Deps, b: &Bootstrap) -> Result<Outcome, Error> {
    let Some(commit_sha) = b.commit_sha.clone() else {
        return Err(Error::internal("the push step recorded no commit"));
    };
    let idem = deployment_key(b)?;
    let created = match trigger::replay(deps, Some(&idem)).await? {
        Some(first) => first,
        None => {
            let ctx = apps::existing(deps, b.app_id).await?;
            let trigger = Trigger {
                commit_sha,
                source: TriggerSource::Manual,
                by: b.created_by.clone(),
                force_rebuild: false,
            };
            match trigger::start(deps, ctx, trigger, Some(&idem)).await {
                Ok(created) => created,
                // Another change holds the app's slot (a push, say): wait for it to end.
                Err(e) if e.code == ErrorCode::Conflict => return Ok(Outcome::Wait(DEPLOY_POLL)),
                Err(e) if e.category == axhub_domain::Category::PreconditionFailed => {
                    return Ok(Outcome::fail(b, BootstrapFailure::DeployFailed, e.message));
                }
                Err(e) => return Err(e),
            }
        }
    };
    let id = created
        .body
        .get("id")
        .and_then(|v| v.as_str())
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(|| Error::internal("the trigger answered without a deployment id"))?;
    tracing::info!(bootstrap_id = %b.id, deployment_id = %id, "first deployment started");
    let mut next = b.clone();
    next.deployment_id = Some(id);
    Ok(Outcome::Progress {
        next,
        after: DEPLOY_POLL,
    })
}
