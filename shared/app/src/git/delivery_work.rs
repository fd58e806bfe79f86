//! What a GitHub delivery asks of this service, read from its payload when it is received and
//! recorded with the delivery in place of the payload (which may be megabytes; a record holds
//! at most 400 KB). Deliveries that ask for nothing are told apart here, from the payload
//! alone, and answered `ignored` without being recorded or queued.

use axhub_domain::{Error, ErrorCode, validate};
use serde::{Deserialize, Serialize};

use crate::Deps;
use crate::state::git;

/// The compact work of one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Work {
    /// A push to a branch: deploy it to the apps that follow that branch.
    Push(PushWork),
    /// The App was uninstalled: disconnect every app connected through the installation.
    Uninstall { installation_id: i64 },
    /// Repositories were removed from an installation: disconnect the apps using them. Only
    /// the removed repositories some app was connected to when it was received are kept.
    RemoveRepositories {
        installation_id: i64,
        repositories: Vec<String>,
    },
}

/// A push, as much of it as a deployment needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushWork {
    pub repo_full_name: String,
    pub branch: String,
    pub commit_sha: String,
    /// The installation that sent it, when the payload says.
    pub installation_id: Option<i64>,
    /// The pusher's GitHub login, when the payload says.
    pub sender: Option<String>,
}

/// A payload read: work to queue, or why there is none.
pub enum Parsed {
    Work(Work),
    Ignored(String),
}

#[derive(Deserialize)]
struct Named {
    full_name: String,
}

#[derive(Deserialize)]
struct Installation {
    id: i64,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    repository: Named,
    #[serde(default)]
    installation: Option<Installation>,
    #[serde(default)]
    sender: Option<Login>,
}

#[derive(Deserialize)]
struct InstallationEvent {
    action: String,
    installation: Installation,
}

#[derive(Deserialize)]
struct InstallationRepositoriesEvent {
    action: String,
    installation: Installation,
    #[serde(default)]
    repositories_removed: Vec<Named>,
}

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(format!("the webhook payload is not understood: {e}")))
}

/// Reads the work of a delivery of `event`.
pub async fn parse(deps: &Deps, event: &str, body: &[u8]) -> Result<Parsed, Error> {
    match event {
        "push" => push(decode(body)?),
        "installation" => {
            let e: InstallationEvent = decode(body)?;
            if e.action != "deleted" {
                return Ok(Parsed::Ignored(format!(
                    "installation {} is not acted on",
                    e.action
                )));
            }
            Ok(Parsed::Work(Work::Uninstall {
                installation_id: e.installation.id,
            }))
        }
        "installation_repositories" => removed(deps, decode(body)?).await,
        "" => Err(Error::field(
            "X-GitHub-Event",
            ErrorCode::Required,
            "must name the event",
        )),
        other => Ok(Parsed::Ignored(format!("{other} events are not acted on"))),
    }
}

fn push(e: PushEvent) -> Result<Parsed, Error> {
    let Some(branch) = e.git_ref.strip_prefix("refs/heads/") else {
        return Ok(Parsed::Ignored(format!("{} is not a branch", e.git_ref)));
    };
    if e.deleted || e.after == ZERO_SHA {
        return Ok(Parsed::Ignored(format!("branch {branch} was deleted")));
    }
    Ok(Parsed::Work(Work::Push(PushWork {
        repo_full_name: e.repository.full_name,
        branch: branch.to_owned(),
        commit_sha: validate::commit_sha(&e.after)?,
        installation_id: e.installation.map(|i| i.id),
        sender: e.sender.map(|s| s.login),
    })))
}

/// An installation may lose thousands of repositories at once (all → selected); only the
/// ones an app is connected to through it are worth keeping, found with one keyed query.
async fn removed(deps: &Deps, e: InstallationRepositoriesEvent) -> Result<Parsed, Error> {
    if e.action != "removed" {
        return Ok(Parsed::Ignored(format!(
            "installation_repositories {} is not acted on",
            e.action
        )));
    }
    let connected = git::connections_through_installation(deps, e.installation.id).await?;
    let mut repositories: Vec<String> = e
        .repositories_removed
        .into_iter()
        .map(|r| r.full_name)
        .filter(|name| {
            connected
                .iter()
                .any(|g| g.repo_full_name.eq_ignore_ascii_case(name))
        })
        .collect();
    repositories.sort();
    repositories.dedup();
    if repositories.is_empty() {
        return Ok(Parsed::Ignored("no app is connected through it".into()));
    }
    Ok(Parsed::Work(Work::RemoveRepositories {
        installation_id: e.installation.id,
        repositories,
    }))
}
