//! The simulated GitHub's world: accounts, installations, repositories and the tokens it
//! issued, and who may read what.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

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
    pub default_branch: String,
    /// Branch → its commits, oldest first (the last is the head).
    pub branches: BTreeMap<String, Vec<String>>,
    /// Path → the commit that last wrote it (contents are not kept).
    pub files: BTreeMap<String, String>,
}

impl Repository {
    pub fn owner(&self) -> &str {
        self.full_name.split('/').next().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.full_name.split('/').nth(1).unwrap_or_default()
    }
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
    next_id: i64,
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

    fn new_commit(&mut self, full_name: &str, branch: &str, message: &str) -> String {
        self.commits += 1;
        let seed = format!("{full_name}\n{branch}\n{message}\n{}", self.commits);
        let mut sha = hex::encode(Sha256::digest(seed.as_bytes()));
        sha.truncate(40);
        sha
    }

    pub fn add_repo(&mut self, full_name: &str, branch: &str, private: bool) -> String {
        let head = self.new_commit(full_name, branch, "Initial commit");
        let id = self.id();
        self.repos.insert(
            full_name.to_owned(),
            Repository {
                id,
                full_name: full_name.to_owned(),
                private,
                default_branch: branch.to_owned(),
                branches: BTreeMap::from([(branch.to_owned(), vec![head.clone()])]),
                files: BTreeMap::new(),
            },
        );
        head
    }

    pub fn commit(&mut self, full_name: &str, branch: &str, message: &str) -> Option<String> {
        let base = {
            let repo = self.repos.get(full_name)?;
            repo.branches
                .get(branch)
                .or_else(|| repo.branches.get(&repo.default_branch))
                .cloned()
                .unwrap_or_default()
        };
        let sha = self.new_commit(full_name, branch, message);
        let repo = self.repos.get_mut(full_name)?;
        let commits = repo.branches.entry(branch.to_owned()).or_insert(base);
        commits.push(sha.clone());
        Some(sha)
    }

    /// Creates an empty repository (no branch until its first file) for `token` under
    /// `owner`: an installation token of that account, or a user token of that very user.
    pub fn create_repo(
        &mut self,
        token: &str,
        owner: &str,
        name: &str,
        private: bool,
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
        let full_name = format!("{owner}/{name}");
        if self.repos.contains_key(&full_name) {
            return Err(CreateRefused::Exists);
        }
        let id = self.id();
        let repo = Repository {
            id,
            full_name: full_name.clone(),
            private,
            default_branch: "main".into(),
            branches: BTreeMap::new(),
            files: BTreeMap::new(),
        };
        self.repos.insert(full_name, repo.clone());
        Ok(repo)
    }

    /// Writes one file as a commit on `branch` (the contents API); the commit, or None when
    /// the token may not write there.
    pub fn put_file(
        &mut self,
        token: &str,
        full_name: &str,
        path: &str,
        branch: Option<&str>,
        message: &str,
    ) -> Option<String> {
        // Reading is not writing: a user writes only where they belong.
        let user_may_write = match self.user_tokens.get(token) {
            Some(login) => self
                .repos
                .get(full_name)
                .is_some_and(|r| self.belongs(login, r.owner())),
            None => true,
        };
        if !self.can_read(token, full_name) || !user_may_write {
            return None;
        }
        let branch = branch
            .map(str::to_owned)
            .unwrap_or_else(|| self.repos[full_name].default_branch.clone());
        let sha = self.commit(full_name, &branch, &format!("{message} ({path})"))?;
        let repo = self.repos.get_mut(full_name)?;
        repo.files.insert(path.to_owned(), sha.clone());
        Some(sha)
    }

    pub fn head(&self, full_name: &str, branch: &str) -> Option<String> {
        self.repos
            .get(full_name)?
            .branches
            .get(branch)?
            .last()
            .cloned()
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
        let new = w.create_repo(&all, "acme", "site", true).unwrap();
        assert!(new.branches.is_empty(), "empty until its first file");
        assert_eq!(
            w.create_repo(&all, "acme", "site", true),
            Err(CreateRefused::Exists)
        );
        assert_eq!(
            w.create_repo(&one, "acme", "x", true),
            Err(CreateRefused::Forbidden)
        );
        assert_eq!(
            w.create_repo(&all, "bob", "x", true),
            Err(CreateRefused::Forbidden)
        );
        assert!(w.create_repo(&bob, "bob", "mine", false).is_ok());
        assert_eq!(
            w.create_repo(&bob, "acme", "x", true),
            Err(CreateRefused::Forbidden)
        );
        let first = w
            .put_file(&all, "acme/site", "README.md", None, "init")
            .unwrap();
        assert_eq!(w.head("acme/site", "main"), Some(first.clone()));
        let second = w
            .put_file(&all, "acme/site", "Dockerfile", None, "init")
            .unwrap();
        assert_eq!(w.repos["acme/site"].branches["main"], vec![first, second]);
        assert_eq!(w.put_file(&bob, "acme/site", "x", None, "no"), None);
    }
}
