//! `GitHubRepos`: what the app-bootstrap saga needs: the installation's account, creating,
//! reading, writing (one commit by the Git Data API, then a fast-forward) and deleting a
//! repository, and reading a template's files.
//!
//! An organisation's repository is acted on with the installation's token, a user's with the
//! user's stored token (GitHub lets only the user create in their own account). A 401 on a
//! user token means the authorization was revoked: 428 `github_relogin_required`.

use async_trait::async_trait;
use axhub_domain::{Error, ErrorCode, validate};
use axhub_ports::github::{
    BranchHead, GitHubRepos, InstallationAccount, NewCommit, NewRepository, RepoActor, RepoFile,
    RepositoryFacts, TEMPLATE_MAX_BYTES, TEMPLATE_MAX_FILES, TemplateSource,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::transport::{Answer, bad_gateway, relogin};
use crate::wire::{
    GhBlob, GhBranch, GhCommit, GhError, GhInstallation, GhRepository, GhTree, GhTreeEntry,
};
use crate::{GitHubClient, encode_path};

/// A token to act with, and whether it is a user's (a 401 then means: sign in again).
struct Acting {
    token: String,
    user: bool,
}

fn facts(r: GhRepository) -> RepositoryFacts {
    RepositoryFacts {
        id: r.id,
        full_name: r.full_name,
        default_branch: r.default_branch,
        private: r.private,
        description: r.description.unwrap_or_default(),
    }
}

/// A 502 for an answer GitHub refused, with GitHub's message logged and kept.
fn refused(what: &str, answer: &Answer) -> Error {
    let message = answer.message();
    tracing::warn!(what, status = %answer.status, github = %message, "GitHub refused a request");
    if message.is_empty() {
        bad_gateway(format!("GitHub refused {what} ({})", answer.status))
    } else {
        bad_gateway(format!(
            "GitHub refused {what} ({}): {message}",
            answer.status
        ))
    }
}

/// Whether a 422 of repository creation says the name is taken.
fn name_exists(answer: &Answer) -> bool {
    let e: GhError = serde_json::from_slice(&answer.body).unwrap_or_default();
    let says = |m: &str| m.to_ascii_lowercase().contains("already exists");
    says(&e.message)
        || e.errors.iter().any(|x| {
            x.get("message").and_then(Value::as_str).is_some_and(says)
                || x.as_str().is_some_and(says)
        })
}

fn commit_id(sha: &str) -> Result<String, Error> {
    validate::commit_sha(sha).map_err(|_| bad_gateway("GitHub answered a malformed object id"))
}

impl GitHubClient {
    async fn installation(&self, installation: i64) -> Result<String, Error> {
        self.app
            .installation_token(&self.api, installation)
            .await?
            .ok_or_else(|| {
                Error::precondition(
                    ErrorCode::GithubInstallationMissing,
                    format!(
                        "the GitHub App is not installed (any more) as installation \
                         {installation}; install it again"
                    ),
                )
            })
    }

    async fn acting(&self, actor: &RepoActor) -> Result<Acting, Error> {
        Ok(match actor {
            RepoActor::Installation(id) => Acting {
                token: self.installation(*id).await?,
                user: false,
            },
            RepoActor::User(user) => Acting {
                token: self.users.user_token(&self.api, user).await?,
                user: true,
            },
        })
    }

    async fn act(
        &self,
        acting: &Acting,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, Error> {
        let answer = self.api.call(method, path, &acting.token, body).await?;
        if acting.user && answer.status == StatusCode::UNAUTHORIZED {
            return Err(relogin(
                "sign in with GitHub again: GitHub no longer accepts your authorization",
            ));
        }
        Ok(answer)
    }

    /// `POST` of one Git object; the id GitHub gives it.
    async fn create_object(
        &self,
        acting: &Acting,
        path: &str,
        body: &Value,
        what: &str,
    ) -> Result<String, Error> {
        let answer = self.act(acting, Method::POST, path, Some(body)).await?;
        if !answer.ok() {
            return Err(refused(what, &answer));
        }
        let c: GhCommit = answer.json(what)?;
        commit_id(&c.sha)
    }

    /// The blobs of a template folder, checked against the template bounds.
    fn template_entries(source: &TemplateSource, tree: GhTree) -> Result<Vec<GhTreeEntry>, Error> {
        let too_large = || {
            bad_gateway(format!(
                "the template {} of {} is too large (at most {TEMPLATE_MAX_FILES} files and \
                 {TEMPLATE_MAX_BYTES} bytes)",
                source.folder, source.repo_full_name
            ))
        };
        if tree.truncated {
            return Err(too_large());
        }
        let folder = source.folder.trim_matches('/');
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        let mut entries = Vec::new();
        let mut bytes = 0u64;
        for mut e in tree.tree {
            if e.kind != "blob" {
                continue;
            }
            let Some(relative) = e.path.strip_prefix(&prefix) else {
                continue;
            };
            if relative.is_empty() {
                continue;
            }
            e.path = relative.to_owned();
            bytes += e.size.unwrap_or(0);
            entries.push(e);
            if entries.len() > TEMPLATE_MAX_FILES || bytes > TEMPLATE_MAX_BYTES as u64 {
                return Err(too_large());
            }
        }
        if entries.is_empty() {
            return Err(bad_gateway(format!(
                "the template folder {folder} of {} at {} has no files",
                source.repo_full_name, source.git_ref
            )));
        }
        Ok(entries)
    }
}

#[async_trait]
impl GitHubRepos for GitHubClient {
    async fn installation_account(
        &self,
        installation: i64,
    ) -> Result<Option<InstallationAccount>, Error> {
        let jwt = self.app.app_jwt()?;
        let path = format!("/app/installations/{installation}");
        let answer = self.api.get(&path, &jwt, &[]).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if answer.status == StatusCode::UNAUTHORIZED {
            tracing::error!("GitHub refused the App's JWT: check the App id and private key");
            return Err(bad_gateway("GitHub refused the App's credentials"));
        }
        let i: GhInstallation = answer
            .expect_ok("the installation")?
            .json("the installation")?;
        let Some(account) = i.account else {
            return Err(bad_gateway(
                "GitHub answered an installation without account",
            ));
        };
        Ok(Some(InstallationAccount {
            is_organization: account.kind == "Organization",
            login: account.login,
            id: account.id,
        }))
    }

    async fn repository(
        &self,
        actor: &RepoActor,
        full_name: &str,
    ) -> Result<Option<RepositoryFacts>, Error> {
        let acting = self.acting(actor).await?;
        let path = format!("/repos/{}", encode_path(full_name));
        let answer = self.act(&acting, Method::GET, &path, None).await?;
        if matches!(answer.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) {
            return Ok(None);
        }
        let r: GhRepository = answer.expect_ok("the repository")?.json("the repository")?;
        Ok(Some(facts(r)))
    }

    async fn create_repository(
        &self,
        actor: &RepoActor,
        owner_is_organization: bool,
        repo: &NewRepository,
    ) -> Result<Option<RepositoryFacts>, Error> {
        let acting = self.acting(actor).await?;
        let path = if owner_is_organization {
            format!("/orgs/{}/repos", encode_path(&repo.owner))
        } else {
            "/user/repos".to_owned()
        };
        let body = json!({
            "name": repo.name,
            "private": repo.private,
            "description": repo.description,
            "auto_init": true,
        });
        let answer = self.act(&acting, Method::POST, &path, Some(&body)).await?;
        let what = format!("creating the repository {}/{}", repo.owner, repo.name);
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY && name_exists(&answer) {
            return Ok(None);
        }
        if !answer.ok() {
            return Err(refused(&what, &answer));
        }
        let r: GhRepository = answer.json("the created repository")?;
        Ok(Some(facts(r)))
    }

    async fn branches(&self, actor: &RepoActor, full_name: &str) -> Result<Vec<BranchHead>, Error> {
        let acting = self.acting(actor).await?;
        let path = format!("/repos/{}/branches", encode_path(full_name));
        let q = [("per_page", "100".to_owned())];
        let answer = self.api.get(&path, &acting.token, &q).await?;
        if acting.user && answer.status == StatusCode::UNAUTHORIZED {
            return Err(relogin(
                "sign in with GitHub again: GitHub no longer accepts your authorization",
            ));
        }
        if !answer.ok() {
            return Err(refused(
                &format!("listing the branches of {full_name}"),
                &answer,
            ));
        }
        let list: Vec<GhBranch> = answer.json("the branches")?;
        list.into_iter()
            .map(|b| {
                Ok(BranchHead {
                    sha: commit_id(&b.commit.sha)?,
                    name: b.name,
                })
            })
            .collect()
    }

    async fn create_commit(
        &self,
        actor: &RepoActor,
        full_name: &str,
        commit: &NewCommit,
    ) -> Result<String, Error> {
        let acting = self.acting(actor).await?;
        let base = format!("/repos/{}/git", encode_path(full_name));
        let mut tree = Vec::with_capacity(commit.files.len());
        for f in &commit.files {
            let body = json!({"content": B64.encode(&f.content), "encoding": "base64"});
            let what = format!("writing {} to {full_name}", f.path);
            let sha = self
                .create_object(&acting, &format!("{base}/blobs"), &body, &what)
                .await?;
            let mode = if f.executable { "100755" } else { "100644" };
            tree.push(json!({"path": f.path, "mode": mode, "type": "blob", "sha": sha}));
        }
        let what = format!("writing the tree of a commit to {full_name}");
        let tree = self
            .create_object(
                &acting,
                &format!("{base}/trees"),
                &json!({"tree": tree}),
                &what,
            )
            .await?;
        let who = json!({
            "name": commit.author_name,
            "email": commit.author_email,
            "date": commit.date,
        });
        let body = json!({
            "message": commit.message,
            "tree": tree,
            "parents": [commit.parent],
            "author": who,
            "committer": who,
        });
        let what = format!("writing a commit to {full_name}");
        self.create_object(&acting, &format!("{base}/commits"), &body, &what)
            .await
    }

    async fn fast_forward(
        &self,
        actor: &RepoActor,
        full_name: &str,
        branch: &str,
        sha: &str,
    ) -> Result<bool, Error> {
        let acting = self.acting(actor).await?;
        let path = format!(
            "/repos/{}/git/refs/heads/{}",
            encode_path(full_name),
            encode_path(branch)
        );
        let body = json!({"sha": sha, "force": false});
        let answer = self.act(&acting, Method::PATCH, &path, Some(&body)).await?;
        match answer.status {
            s if s.is_success() => Ok(true),
            StatusCode::UNPROCESSABLE_ENTITY => {
                tracing::info!(github = %answer.message(), "GitHub refused a fast-forward");
                Ok(false)
            }
            _ => Err(refused(&format!("moving {branch} of {full_name}"), &answer)),
        }
    }

    async fn delete_repository(&self, actor: &RepoActor, full_name: &str) -> Result<(), Error> {
        let acting = self.acting(actor).await?;
        let path = format!("/repos/{}", encode_path(full_name));
        let answer = self.act(&acting, Method::DELETE, &path, None).await?;
        if answer.ok() || answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(refused(&format!("deleting {full_name}"), &answer))
    }

    async fn template_files(
        &self,
        installation: i64,
        source: &TemplateSource,
    ) -> Result<Vec<RepoFile>, Error> {
        let token = self.installation(installation).await?;
        let repo = encode_path(&source.repo_full_name);
        let path = format!("/repos/{repo}/git/trees/{}", encode_path(&source.git_ref));
        let answer = self
            .api
            .get(&path, &token, &[("recursive", "1".to_owned())])
            .await?;
        let what = format!(
            "reading the template repository {} at {}",
            source.repo_full_name, source.git_ref
        );
        if !answer.ok() {
            return Err(refused(&what, &answer));
        }
        let tree: GhTree = answer.json("the template's tree")?;
        let entries = Self::template_entries(source, tree)?;
        let mut files = Vec::with_capacity(entries.len());
        let mut bytes = 0usize;
        for e in entries {
            let path = format!("/repos/{repo}/git/blobs/{}", encode_path(&e.sha));
            let answer = self.api.get(&path, &token, &[]).await?;
            if !answer.ok() {
                return Err(refused(
                    &format!("reading the template file {}", e.path),
                    &answer,
                ));
            }
            let blob: GhBlob = answer.json("a template file")?;
            if blob.encoding != "base64" {
                return Err(bad_gateway(format!(
                    "GitHub answered the template file {} as {:?}, not base64",
                    e.path, blob.encoding
                )));
            }
            let packed: String = blob.content.split_ascii_whitespace().collect();
            let content = B64.decode(packed.as_bytes()).map_err(|_| {
                bad_gateway(format!(
                    "GitHub answered the template file {} badly",
                    e.path
                ))
            })?;
            bytes += content.len();
            if bytes > TEMPLATE_MAX_BYTES {
                return Err(bad_gateway(format!(
                    "the template {} of {} is too large (at most {TEMPLATE_MAX_BYTES} bytes)",
                    source.folder, source.repo_full_name
                )));
            }
            files.push(RepoFile {
                executable: e.mode == "100755",
                path: e.path,
                content,
            });
        }
        Ok(files)
    }
}
