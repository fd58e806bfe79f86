//! The simulated GitHub's world: accounts, installations, repositories and the tokens it
//! issued, and who may read what.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::git::{Commit, Entry, Objects, Tree};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub login: String,
    pub id: i64,
    /// `User` or `Organization`.
    #[serde(rename = "type")]
    pub kind: String,
    pub avatar_url: String,
    /// An organisation's members (logins); empty for a user.
    #[serde(skip)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub id: i64,
    pub full_name: String,
    pub private: bool,
    pub description: String,
    pub default_branch: String,
    /// Branch → its commits along first parents, oldest first (the last is the head).
    pub branches: BTreeMap<String, Vec<String>>,
    /// Its blobs, trees and commits.
    pub objects: Objects,
}

impl Repository {
    pub fn owner(&self) -> &str {
        self.full_name.split('/').next().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.full_name.split('/').nth(1).unwrap_or_default()
    }

    pub fn head(&self, branch: &str) -> Option<&str> {
        self.branches.get(branch)?.last().map(String::as_str)
    }

    /// A branch's head, else a commit id as given.
    pub fn resolve(&self, git_ref: &str) -> Option<String> {
        match self.head(git_ref) {
            Some(sha) => Some(sha.to_owned()),
            None => self.objects.commit(git_ref).map(|_| git_ref.to_owned()),
        }
    }

    /// Commits `files` (added to, or replacing, those of the branch's head) on `branch`,
    /// which starts at the default branch's head if it is new; the new head.
    fn commit_files(
        &mut self,
        branch: &str,
        files: Tree,
        message: &str,
        signature: String,
    ) -> String {
        let base = self
            .branches
            .get(branch)
            .or_else(|| self.branches.get(&self.default_branch))
            .cloned()
            .unwrap_or_default();
        let mut tree = base
            .last()
            .and_then(|head| self.objects.tree_of(head))
            .cloned()
            .unwrap_or_default();
        tree.extend(files);
        let Ok(tree) = self.objects.put_tree(tree) else {
            unreachable!("the tree's blobs were written before it");
        };
        let commit = Commit {
            tree,
            parents: base.last().cloned().into_iter().collect(),
            message: message.to_owned(),
            signature,
        };
        let Ok(sha) = self.objects.put_commit(commit) else {
            unreachable!("the parent is the branch's head");
        };
        let mut line = base;
        line.push(sha.clone());
        self.branches.insert(branch.to_owned(), line);
        sha
    }

    /// Writes these files as blobs: a tree's entries.
    fn blobs(&mut self, files: &[(&str, &[u8])]) -> Tree {
        files
            .iter()
            .map(|(path, content)| {
                let entry = Entry {
                    mode: "100644".into(),
                    blob: self.objects.put_blob(content.to_vec()),
                };
                ((*path).to_owned(), entry)
            })
            .collect()
    }
}

/// How a repository is created.
#[derive(Debug, Clone, Default)]
pub struct NewRepo<'a> {
    pub name: &'a str,
    pub private: bool,
    pub description: &'a str,
    /// GitHub's `auto_init`: a first commit with a README on `main`.
    pub auto_init: bool,
}

/// Why a branch cannot be moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefRefused {
    /// No such branch, or no such commit.
    Missing,
    /// The commit does not descend from the branch's head.
    NotFastForward,
}

/// Why a repository cannot be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRefused {
    /// GitHub's 422 "name already exists on this account".
    Exists,
    /// No such account, or the token may not create there.
    Forbidden,
}

/// What an installation token may read: the installation's repositories, or the listed ones.
#[derive(Debug, Clone)]
pub(crate) struct InstallationToken {
    pub installation: i64,
    pub repositories: Option<Vec<String>>,
}

#[derive(Default)]
pub(crate) struct World {
    pub accounts: BTreeMap<String, Account>,
    /// Installation id → the account it is on.
    pub installations: BTreeMap<i64, String>,
    pub repos: BTreeMap<String, Repository>,
    pub user_tokens: BTreeMap<String, String>,
    pub installation_tokens: BTreeMap<String, InstallationToken>,
    /// The App's Setup URL.
    pub setup_url: Option<String>,
    pub faults: crate::faults::Faults,
    next_id: i64,
    /// Commits the sim made itself: each is told apart by its number.
    commits: u64,
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

impl World {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        1000 + self.next_id
    }

    fn add_account(&mut self, login: &str, kind: &str, members: &[&str]) {
        let id = self.id();
        self.accounts.insert(
            login.to_owned(),
            Account {
                login: login.to_owned(),
                id,
                kind: kind.to_owned(),
                avatar_url: format!("https://avatars.example/{login}"),
                members: members.iter().map(|m| (*m).to_owned()).collect(),
            },
        );
    }

    pub fn add_user(&mut self, login: &str) -> String {
        if !self.accounts.contains_key(login) {
            self.add_account(login, "User", &[]);
        }
        let token = format!("gho_sim{}", random_hex(16));
        self.user_tokens.insert(token.clone(), login.to_owned());
        token
    }

    pub fn add_org(&mut self, login: &str, members: &[&str]) {
        self.add_account(login, "Organization", members);
    }

    pub fn install(&mut self, account: &str) -> i64 {
        if let Some((id, _)) = self.installations.iter().find(|(_, a)| *a == account) {
            return *id;
        }
        let id = self.installations.len() as i64 + 1;
        self.installations.insert(id, account.to_owned());
        id
    }

    /// What tells the sim's own commits apart: who made them, and when (a counter).
    fn signature(&mut self) -> String {
        self.commits += 1;
        format!("Sim <sim@github.example> {}", self.commits)
    }

    pub fn add_repo(&mut self, full_name: &str, branch: &str, private: bool) -> String {
        let id = self.id();
        let signature = self.signature();
        let mut repo = Repository {
            id,
            full_name: full_name.to_owned(),
            private,
            description: String::new(),
            default_branch: branch.to_owned(),
            branches: BTreeMap::new(),
            objects: Objects::default(),
        };
        let head = repo.commit_files(branch, Tree::new(), "Initial commit", signature);
        self.repos.insert(full_name.to_owned(), repo);
        head
    }

    pub fn commit(&mut self, full_name: &str, branch: &str, message: &str) -> Option<String> {
        self.add_files(full_name, branch, &[], message)
    }

    /// Commits these files on `branch` (starting it from the default branch if new).
    pub fn add_files(
        &mut self,
        full_name: &str,
        branch: &str,
        files: &[(&str, &[u8])],
        message: &str,
    ) -> Option<String> {
        let signature = self.signature();
        let repo = self.repos.get_mut(full_name)?;
        let tree = repo.blobs(files);
        Some(repo.commit_files(branch, tree, message, signature))
    }

    /// Creates a repository for `token` under `owner` (an installation token of that
    /// account, or a user token of that very user): empty (no branch until its first file),
    /// or with GitHub's first commit when `auto_init`.
    pub fn create_repo(
        &mut self,
        token: &str,
        owner: &str,
        new: &NewRepo<'_>,
    ) -> Result<Repository, CreateRefused> {
        let may = match (
            self.user_tokens.get(token),
            self.installation_tokens.get(token),
        ) {
            (Some(login), _) => login == owner,
            (None, Some(t)) => {
                t.repositories.is_none()
                    && self.installations.get(&t.installation).map(String::as_str) == Some(owner)
            }
            (None, None) => false,
        };
        if !may || !self.accounts.contains_key(owner) {
            return Err(CreateRefused::Forbidden);
        }
        let full_name = format!("{owner}/{}", new.name);
        if self.repos.contains_key(&full_name) {
            return Err(CreateRefused::Exists);
        }
        let id = self.id();
        let signature = self.signature();
        let mut repo = Repository {
            id,
            full_name: full_name.clone(),
            private: new.private,
            description: new.description.to_owned(),
            default_branch: "main".into(),
            branches: BTreeMap::new(),
            objects: Objects::default(),
        };
        if new.auto_init {
            let readme = format!("# {}\n\n{}\n", new.name, new.description);
            let tree = repo.blobs(&[("README.md", readme.as_bytes())]);
            repo.commit_files("main", tree, "Initial commit", signature);
        }
        self.repos.insert(full_name, repo.clone());
        Ok(repo)
    }

    /// Whether a token may write to a repository (push, move a branch, delete it): an
    /// installation token of its account (for all repositories, or this one), or a person
    /// who belongs to its account.
    pub fn can_write(&self, token: &str, full_name: &str) -> bool {
        let Some(repo) = self.repos.get(full_name) else {
            return false;
        };
        match self.user_tokens.get(token) {
            Some(login) => self.belongs(login, repo.owner()),
            None => self.can_read(token, full_name),
        }
    }

    /// Whether a token may read a repository's Git data: as [`World::can_read`], and any
    /// token the sim issued for a public repository (templates are read so).
    pub fn can_read_git(&self, token: &str, full_name: &str) -> bool {
        let known =
            self.user_tokens.contains_key(token) || self.installation_tokens.contains_key(token);
        self.can_read(token, full_name)
            || (known && self.repos.get(full_name).is_some_and(|r| !r.private))
    }

    /// Moves a branch to a commit that descends from its head (or to any, with `force`).
    pub fn move_branch(
        &mut self,
        full_name: &str,
        branch: &str,
        sha: &str,
        force: bool,
    ) -> Result<(), RefRefused> {
        let repo = self.repos.get_mut(full_name).ok_or(RefRefused::Missing)?;
        let head = repo.head(branch).ok_or(RefRefused::Missing)?.to_owned();
        if repo.objects.commit(sha).is_none() {
            return Err(RefRefused::Missing);
        }
        let line = match repo.objects.since(sha, &head) {
            Some(newer) => {
                let mut line = repo.branches[branch].clone();
                line.extend(newer);
                line
            }
            None if force => repo.objects.line(sha),
            None => return Err(RefRefused::NotFastForward),
        };
        repo.branches.insert(branch.to_owned(), line);
        Ok(())
    }

    /// Writes one file as a commit on `branch` (the contents API); the commit, or None when
    /// the token may not write there.
    pub fn put_file(
        &mut self,
        token: &str,
        full_name: &str,
        path: &str,
        content: &[u8],
        branch: Option<&str>,
        message: &str,
    ) -> Option<String> {
        if !self.can_write(token, full_name) {
            return None;
        }
        let branch = branch
            .map(str::to_owned)
            .unwrap_or_else(|| self.repos[full_name].default_branch.clone());
        self.add_files(full_name, &branch, &[(path, content)], message)
    }

    pub fn head(&self, full_name: &str, branch: &str) -> Option<String> {
        self.repos.get(full_name)?.head(branch).map(str::to_owned)
    }

    pub fn repository(&self, full_name: &str) -> Option<(Repository, Option<i64>)> {
        let repo = self.repos.get(full_name)?.clone();
        let installation = self
            .installations
            .iter()
            .find(|(_, account)| account.as_str() == repo.owner())
            .map(|(id, _)| *id);
        Some((repo, installation))
    }

    pub fn issue_installation_token(
        &mut self,
        installation: i64,
        repositories: Option<Vec<String>>,
    ) -> String {
        let token = format!("ghs_sim{}", random_hex(16));
        self.installation_tokens.insert(
            token.clone(),
            InstallationToken {
                installation,
                repositories,
            },
        );
        token
    }

    /// Whether `login` is the account or one of its organisation's members.
    pub fn belongs(&self, login: &str, account: &str) -> bool {
        login == account
            || self
                .accounts
                .get(account)
                .is_some_and(|a| a.members.iter().any(|m| m == login))
    }

    /// The installations a person may use: on their own account or an organisation of theirs.
    pub fn installations_of(&self, login: &str) -> Vec<(i64, Account)> {
        self.installations
            .iter()
            .filter(|(_, account)| self.belongs(login, account))
            .filter_map(|(id, account)| Some((*id, self.accounts.get(account)?.clone())))
            .collect()
    }

    /// The repositories of an installation (every repository of its account).
    pub fn installation_repos(&self, installation: i64) -> Vec<Repository> {
        let Some(account) = self.installations.get(&installation) else {
            return Vec::new();
        };
        self.repos
            .values()
            .filter(|r| r.owner() == account)
            .cloned()
            .collect()
    }

    /// Whether a token (a user's or an installation's) may read the repository.
    pub fn can_read(&self, token: &str, full_name: &str) -> bool {
        let Some(repo) = self.repos.get(full_name) else {
            return false;
        };
        if let Some(login) = self.user_tokens.get(token) {
            return !repo.private || self.belongs(login, repo.owner());
        }
        match self.installation_tokens.get(token) {
            Some(t) => {
                self.installations.get(&t.installation).map(String::as_str) == Some(repo.owner())
                    && t.repositories.as_ref().is_none_or(|only| {
                        only.iter()
                            .any(|r| r == repo.name() || *r == repo.full_name)
                    })
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_read_a_repository() {
        let mut w = World::default();
        let alice = w.add_user("alice");
        let bob = w.add_user("bob");
        w.add_org("acme", &["alice"]);
        let acme = w.install("acme");
        assert_eq!(w.install("acme"), acme, "one installation per account");
        w.add_repo("acme/web", "main", true);
        w.add_repo("acme/api", "main", true);
        w.add_repo("bob/public", "main", false);

        assert!(
            w.can_read(&alice, "acme/web"),
            "a member reads the org's private repos"
        );
        assert!(!w.can_read(&bob, "acme/web"), "an outsider does not");
        assert!(w.can_read(&bob, "bob/public") && w.can_read(&alice, "bob/public"));

        let all = w.issue_installation_token(acme, None);
        let one = w.issue_installation_token(acme, Some(vec!["web".into()]));
        assert!(w.can_read(&all, "acme/api") && w.can_read(&one, "acme/web"));
        assert!(
            !w.can_read(&one, "acme/api"),
            "a repository token reads its one repository"
        );
        assert!(
            !w.can_read(&all, "bob/public"),
            "nor anything outside its installation"
        );
        assert!(!w.can_read("ghs_forged", "acme/web"));

        let first = w.head("acme/web", "main").unwrap();
        let second = w.commit("acme/web", "main", "change").unwrap();
        assert_ne!(first, second);
        assert_eq!(w.head("acme/web", "main"), Some(second.clone()));
        let feature = w.commit("acme/web", "feature", "branch off").unwrap();
        assert_eq!(
            w.repos["acme/web"].branches["feature"],
            vec![first, second, feature],
            "a new branch starts at the default branch's head"
        );
        assert_eq!(w.installations_of("alice").len(), 1);
        assert!(w.installations_of("bob").is_empty());

        // Creating repositories: the installation on its account, a user for themself.
        let named = |name| NewRepo {
            name,
            private: true,
            ..NewRepo::default()
        };
        let new = w.create_repo(&all, "acme", &named("site")).unwrap();
        assert!(new.branches.is_empty(), "empty until its first file");
        assert_eq!(
            w.create_repo(&all, "acme", &named("site")).err(),
            Some(CreateRefused::Exists)
        );
        for (token, owner) in [(&one, "acme"), (&all, "bob"), (&bob, "acme")] {
            assert_eq!(
                w.create_repo(token, owner, &named("x")).err(),
                Some(CreateRefused::Forbidden),
                "{owner}"
            );
        }
        assert!(w.create_repo(&bob, "bob", &named("mine")).is_ok());
        let first = w
            .put_file(&all, "acme/site", "README.md", b"hi", None, "init")
            .unwrap();
        assert_eq!(w.head("acme/site", "main"), Some(first.clone()));
        let second = w
            .put_file(&all, "acme/site", "Dockerfile", b"FROM x", None, "init")
            .unwrap();
        assert_eq!(
            w.repos["acme/site"].branches["main"],
            vec![first, second.clone()]
        );
        assert_eq!(w.put_file(&bob, "acme/site", "x", b"", None, "no"), None);
        let files = w.repos["acme/site"].objects.files(&second).unwrap();
        assert_eq!(files.len(), 2, "a commit holds its parent's files too");

        // GitHub's first commit, and moving a branch forward only.
        let init = NewRepo {
            auto_init: true,
            description: "a shop",
            ..named("shop")
        };
        let shop = w.create_repo(&all, "acme", &init).unwrap();
        let root = shop.head("main").unwrap().to_owned();
        assert!(shop.objects.files(&root).unwrap()["README.md"].starts_with(b"# shop"));
        let elsewhere = w.add_repo("acme/other", "main", true);
        assert_eq!(
            w.move_branch("acme/shop", "main", &elsewhere, false),
            Err(RefRefused::Missing),
            "a commit of another repository"
        );
        let next = w.commit("acme/shop", "work", "on a branch").unwrap();
        assert_eq!(w.move_branch("acme/shop", "main", &next, false), Ok(()));
        assert_eq!(w.head("acme/shop", "main"), Some(next.clone()));
        let stale = w.commit("acme/shop", "main", "ahead").unwrap();
        assert_eq!(
            w.move_branch("acme/shop", "main", &next, false),
            Err(RefRefused::NotFastForward)
        );
        assert_eq!(w.head("acme/shop", "main"), Some(stale));
        assert_eq!(w.move_branch("acme/shop", "main", &next, true), Ok(()));
        assert_eq!(w.repos["acme/shop"].branches["main"], vec![root, next]);
    }
}
