//! A simulated GitHub for axhub-local and tests: a GitHub App with installations, people with
//! user tokens, organisations, repositories with branches, commits and files, served as the
//! REST endpoints the GitHub adapter (`axhub_github::GitHubClient`) calls, under one base URL.
//! The adapter is pointed at it through its base URLs, so the code that runs against
//! github.com is the code the demo exercises.
//!
//! What it serves (paths below [`API_PREFIX`]):
//! - the App: `POST /app/installations/{id}/access_tokens` and `GET /app/installations/{id}`
//!   (App JWT, RS256, checked against the sim App's key);
//! - a person: `GET /user`, `GET /user/memberships/orgs`, `GET /user/installations`,
//!   `GET /user/installations/{id}/repositories`;
//! - repositories: `GET` and `DELETE /repos/{owner}/{repo}`, `GET …/branches` and
//!   `…/branches/{branch}`, `POST /orgs/{org}/repos` and `POST /user/repos` (with
//!   `auto_init`), `PUT …/contents/{path}` (one file, one commit);
//! - the Git Data API: `POST …/git/blobs`, `…/git/trees`, `…/git/commits`,
//!   `PATCH …/git/refs/heads/{branch}` (fast-forward unless `force`), `GET …/git/trees/{ref}`
//!   and `GET …/git/blobs/{sha}`: objects are named by what they hold (module `git`);
//!
//! and below [`WEB_PREFIX`] the App's install screen, which installs on the account chosen and
//! redirects to the App's Setup URL. A token that is not one the sim issued is 401; a
//! repository the token cannot read is 404, as GitHub answers. Tests make any route fail
//! ([`SimGitHub::fail`], [`Fault`]) and count its calls ([`SimGitHub::calls`]).
//!
//! The sim App's private key ([`APP_PRIVATE_KEY_PEM`]) is committed on purpose: it signs
//! nothing but requests to this simulation and opens nothing real.

mod api;
mod faults;
mod git;
mod gitdata;
mod model;
mod web;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The sim's REST API and web pages, for any router state.
pub fn router<S: Clone + Send + Sync + 'static>(sim: SimGitHub) -> axum::Router<S> {
    api::router(sim.clone()).merge(web::router(sim))
}
pub use faults::Fault;
pub use model::{Account, Repository};

/// Where the REST API is served, below the process's base URL.
pub const API_PREFIX: &str = "/sim/github/api";
/// Where GitHub's web pages are simulated (the App's install screen).
pub const WEB_PREFIX: &str = "/sim/github/web";

/// The simulated App's key: the adapter signs its App JWTs with it.
pub const APP_PRIVATE_KEY_PEM: &str = include_str!("sim-app-key.pem");
const APP_PUBLIC_KEY_PEM: &str = include_str!("sim-app-key.pub.pem");
/// The simulated App's id (the `iss` of its JWTs) and slug.
pub const APP_ID: &str = "424242";
pub const APP_SLUG: &str = "axhub-sim";

/// The simulated GitHub; clones share one state.
#[derive(Clone, Default)]
pub struct SimGitHub {
    state: Arc<Mutex<model::World>>,
}

impl SimGitHub {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut model::World) -> T) -> T {
        let mut world = match self.state.lock() {
            Ok(w) => w,
            // A panic while holding the lock left the world as it was mid-change; the sim
            // carries on with it rather than failing every request after.
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut world)
    }

    /// Adds a person (`User` account) and returns the user token they sign in with.
    pub fn add_user(&self, login: &str) -> String {
        self.with(|w| w.add_user(login))
    }

    /// Adds an organisation with these members.
    pub fn add_org(&self, login: &str, members: &[&str]) {
        self.with(|w| w.add_org(login, members))
    }

    /// Installs the App on an account; the installation id.
    pub fn install(&self, account: &str) -> i64 {
        self.with(|w| w.install(account))
    }

    /// Creates a repository with one commit on `branch` (its default); its head commit.
    pub fn add_repo(&self, full_name: &str, branch: &str, private: bool) -> String {
        self.with(|w| w.add_repo(full_name, branch, private))
    }

    /// Makes a commit on `branch` of `full_name` (creating the branch from the default
    /// branch's head if needed); the new head, or None if there is no such repository.
    pub fn commit(&self, full_name: &str, branch: &str, message: &str) -> Option<String> {
        self.with(|w| w.commit(full_name, branch, message))
    }

    /// Commits these files (added to those of the branch's head) on `branch`, which starts
    /// at the default branch's head if new; the new head, or None without such a repository.
    pub fn add_files(
        &self,
        full_name: &str,
        branch: &str,
        files: &[(&str, &[u8])],
        message: &str,
    ) -> Option<String> {
        self.with(|w| w.add_files(full_name, branch, files, message))
    }

    /// Every file at a branch's head or a commit, with its content.
    pub fn files(&self, full_name: &str, git_ref: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        self.with(|w| {
            let repo = w.repos.get(full_name)?;
            repo.objects.files(&repo.resolve(git_ref)?)
        })
    }

    /// A branch's commits along first parents, oldest first (empty without such a branch).
    pub fn commits(&self, full_name: &str, branch: &str) -> Vec<String> {
        self.with(|w| {
            w.repos
                .get(full_name)
                .and_then(|r| r.branches.get(branch).cloned())
                .unwrap_or_default()
        })
    }

    /// Makes the next `times` calls of `route` (`"POST /orgs/{org}/repos"`: the method and
    /// the route's template below [`API_PREFIX`]) answer `fault` instead.
    pub fn fail(&self, route: &str, fault: Fault, times: u32) {
        self.faults(|f| f.arm(route, fault, times))
    }

    /// How often `route` was called (faulted calls included).
    pub fn calls(&self, route: &str) -> u32 {
        self.faults(|f| f.calls(route))
    }

    fn faults<T>(&self, f: impl FnOnce(&mut faults::Faults) -> T) -> T {
        self.with(|w| f(&mut w.faults))
    }

    /// The head commit of a branch.
    pub fn head(&self, full_name: &str, branch: &str) -> Option<String> {
        self.with(|w| w.head(full_name, branch))
    }

    /// The account (and installation) a repository belongs to: what a push webhook names.
    pub fn repository(&self, full_name: &str) -> Option<(Repository, Option<i64>)> {
        self.with(|w| w.repository(full_name))
    }

    /// A token of the installation for all its repositories, as `access_tokens` issues one.
    pub fn installation_token(&self, installation: i64) -> String {
        self.with(|w| w.issue_installation_token(installation, None))
    }

    /// The login a user token belongs to.
    pub fn login_of(&self, user_token: &str) -> Option<String> {
        self.with(|w| w.user_tokens.get(user_token).cloned())
    }

    /// Where the install screen sends the browser after an install (the App's Setup URL).
    pub fn set_setup_url(&self, url: &str) {
        self.with(|w| w.setup_url = Some(url.to_owned()))
    }

    pub fn setup_url(&self) -> Option<String> {
        self.with(|w| w.setup_url.clone())
    }

    /// Every account the sim knows, by login.
    pub fn accounts(&self) -> BTreeMap<String, Account> {
        self.with(|w| w.accounts.clone())
    }
}
