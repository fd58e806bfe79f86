//! The Git Data API of the simulated GitHub (blobs, trees, commits, moving a branch, reading
//! a tree and its blobs) and the App's view of one installation: what pushing a template as
//! one commit and reading a template repository take.

// A refusal is the answer to send (`Answer`), built once per refused request of a test
// double: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimGitHub;
use crate::api::{app_jwt_ok, bearer, error, not_found, unauthorized};
use crate::git::{Commit, Entry, Missing, Tree};
use crate::model::{RefRefused, Repository, World};

pub(crate) fn routes() -> Router<SimGitHub> {
    Router::new()
        .route("/app/installations/{installation}", get(installation))
        .route("/repos/{owner}/{repo}/git/blobs", post(create_blob))
        .route("/repos/{owner}/{repo}/git/blobs/{sha}", get(blob))
        .route("/repos/{owner}/{repo}/git/trees", post(create_tree))
        .route("/repos/{owner}/{repo}/git/trees/{tree}", get(tree))
        .route("/repos/{owner}/{repo}/git/commits", post(create_commit))
        .route(
            "/repos/{owner}/{repo}/git/refs/heads/{*branch}",
            patch(move_branch),
        )
}

/// Base64 as GitHub sends and takes it: line breaks allowed.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let packed: String = text.split_ascii_whitespace().collect();
    B64.decode(packed.as_bytes()).ok()
}

/// Base64 in lines of 60, as GitHub answers blobs.
fn encode_base64(bytes: &[u8]) -> String {
    let text = B64.encode(bytes);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(60)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    lines.join("\n") + "\n"
}

fn unprocessable(message: &str) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// A handler's answer: the refusal is an answer too, so `?` sends it.
type Answer = Result<Response, Response>;

/// `GET /app/installations/{id}` (App JWT): the installation and its account.
async fn installation(
    State(sim): State<SimGitHub>,
    Path(installation): Path<i64>,
    headers: HeaderMap,
) -> Response {
    if !app_jwt_ok(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    }
    sim.with(|w| {
        let account = w
            .installations
            .get(&installation)
            .and_then(|login| w.accounts.get(login));
        match account {
            Some(a) => Json(json!({"id": installation, "account": a, "app_slug": crate::APP_SLUG}))
                .into_response(),
            None => not_found(),
        }
    })
}

/// The repository a token may write Git objects to: 401 without a token, 404 when it cannot
/// read it, 403 when it may only read, 409 while it is empty (GitHub's "Git Repository is
/// empty": the Git Data API needs a first commit).
fn writable<'w>(
    w: &'w mut World,
    headers: &HeaderMap,
    full_name: &str,
) -> Result<&'w mut Repository, Response> {
    let token = bearer(headers).ok_or_else(unauthorized)?;
    if !w.can_read(&token, full_name) {
        return Err(not_found());
    }
    if !w.can_write(&token, full_name) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ));
    }
    let repo = w.repos.get_mut(full_name).ok_or_else(not_found)?;
    if repo.branches.is_empty() {
        return Err(error(StatusCode::CONFLICT, "Git Repository is empty."));
    }
    Ok(repo)
}

fn readable<'w>(
    w: &'w World,
    headers: &HeaderMap,
    full_name: &str,
) -> Result<&'w Repository, Response> {
    let token = bearer(headers).ok_or_else(unauthorized)?;
    if !w.can_read_git(&token, full_name) {
        return Err(not_found());
    }
    let repo = w.repos.get(full_name).ok_or_else(not_found)?;
    if repo.branches.is_empty() {
        return Err(error(StatusCode::CONFLICT, "Git Repository is empty."));
    }
    Ok(repo)
}

fn created(sha: &str, more: Value) -> Response {
    let mut body = json!({"sha": sha});
    if let (Some(b), Value::Object(m)) = (body.as_object_mut(), more) {
        b.extend(m);
    }
    (StatusCode::CREATED, Json(body)).into_response()
}

#[derive(Deserialize)]
struct NewBlob {
    content: String,
    #[serde(default)]
    encoding: Option<String>,
}

async fn create_blob(
    State(sim): State<SimGitHub>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<NewBlob>,
) -> Answer {
    let content = match body.encoding.as_deref().unwrap_or("utf-8") {
        "base64" => decode_base64(&body.content)
            .ok_or_else(|| unprocessable("content is not valid Base64"))?,
        "utf-8" => body.content.into_bytes(),
        other => return Err(unprocessable(&format!("encoding {other} is not supported"))),
    };
    sim.with(|w| {
        let r = writable(w, &headers, &format!("{owner}/{repo}"))?;
        Ok(created(&r.objects.put_blob(content), json!({})))
    })
}

async fn blob(
    State(sim): State<SimGitHub>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Answer {
    sim.with(|w| {
        let r = readable(w, &headers, &format!("{owner}/{repo}"))?;
        let bytes = r.objects.blob(&sha).ok_or_else(not_found)?;
        Ok(Json(json!({
            "sha": sha,
            "size": bytes.len(),
            "encoding": "base64",
            "content": encode_base64(bytes),
        }))
        .into_response())
    })
}

#[derive(Deserialize)]
struct NewTreeEntry {
    path: String,
    #[serde(default)]
    mode: String,
    #[serde(rename = "type", default)]
    kind: String,
    /// A blob; null removes the path from `base_tree`.
    #[serde(default)]
    sha: Option<String>,
    /// A file's content, written as a blob.
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct NewTree {
    tree: Vec<NewTreeEntry>,
    #[serde(default)]
    base_tree: Option<String>,
}

async fn create_tree(
    State(sim): State<SimGitHub>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<NewTree>,
) -> Answer {
    sim.with(|w| {
        let r = writable(w, &headers, &format!("{owner}/{repo}"))?;
        let mut tree = match &body.base_tree {
            Some(base) => r
                .objects
                .tree(base)
                .cloned()
                .ok_or_else(|| unprocessable("base_tree is not a valid tree"))?,
            None => Tree::new(),
        };
        for e in body.tree {
            if e.kind != "blob" || !matches!(e.mode.as_str(), "100644" | "100755") {
                return Err(unprocessable(&format!(
                    "tree.path {} must be a blob of mode 100644 or 100755",
                    e.path
                )));
            }
            let blob = match (e.sha, e.content) {
                (Some(sha), None) => sha,
                (None, Some(content)) => r.objects.put_blob(content.into_bytes()),
                (None, None) => {
                    tree.remove(&e.path);
                    continue;
                }
                (Some(_), Some(_)) => {
                    return Err(unprocessable("tree entries take either sha or content"));
                }
            };
            tree.insert(e.path, Entry { mode: e.mode, blob });
        }
        let sha = r.objects.put_tree(tree).map_err(|Missing(sha)| {
            unprocessable(&format!("tree.sha {sha} is not a valid blob"))
        })?;
        Ok(created(&sha, json!({"truncated": false})))
    })
}

/// `GET …/git/trees/{tree}`: a tree by its id, a commit's or a branch head's tree. The sim's
/// trees are flat: it always answers as `recursive=1` does.
async fn tree(
    State(sim): State<SimGitHub>,
    Path((owner, repo, wanted)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Answer {
    sim.with(|w| {
        let r = readable(w, &headers, &format!("{owner}/{repo}"))?;
        let found = match r.resolve(&wanted) {
            Some(commit) => r.objects.commit(&commit).map(|c| c.tree.clone()),
            None => r.objects.tree(&wanted).map(|_| wanted.clone()),
        };
        let (sha, t) = found
            .and_then(|sha| Some((sha.clone(), r.objects.tree(&sha)?)))
            .ok_or_else(not_found)?;
        let entries: Vec<Value> = t
            .iter()
            .map(|(path, e)| {
                let size = r.objects.blob(&e.blob).map_or(0, <[u8]>::len);
                json!({"path": path, "mode": e.mode, "type": "blob", "sha": e.blob, "size": size})
            })
            .collect();
        Ok(Json(json!({"sha": sha, "tree": entries, "truncated": false})).into_response())
    })
}

#[derive(Deserialize, Default)]
struct Person {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    date: Option<String>,
}

#[derive(Deserialize)]
struct NewCommit {
    message: String,
    tree: String,
    #[serde(default)]
    parents: Vec<String>,
    #[serde(default)]
    author: Option<Person>,
    #[serde(default)]
    committer: Option<Person>,
}

fn signed(p: Option<Person>) -> String {
    let p = p.unwrap_or_default();
    // Without a date GitHub takes the time of the request, as the sim does.
    let date = p.date.unwrap_or_else(|| {
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    });
    format!("{} <{}> {date}", p.name, p.email)
}

async fn create_commit(
    State(sim): State<SimGitHub>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<NewCommit>,
) -> Answer {
    if body.message.is_empty() {
        return Err(unprocessable("message is required"));
    }
    // The committer is the author unless given, as on GitHub.
    let author = signed(body.author);
    let committer = body
        .committer
        .map_or_else(|| author.clone(), |c| signed(Some(c)));
    let signature = format!("{author}\n{committer}");
    sim.with(|w| {
        let r = writable(w, &headers, &format!("{owner}/{repo}"))?;
        let commit = Commit {
            tree: body.tree.clone(),
            parents: body.parents.clone(),
            message: body.message,
            signature,
        };
        let sha = r.objects.put_commit(commit).map_err(|Missing(sha)| {
            unprocessable(&format!("{sha} is not a valid tree or parent"))
        })?;
        let parents: Vec<Value> = body.parents.iter().map(|p| json!({"sha": p})).collect();
        Ok(created(
            &sha,
            json!({"tree": {"sha": body.tree}, "parents": parents}),
        ))
    })
}

#[derive(Deserialize)]
struct MoveRef {
    sha: String,
    #[serde(default)]
    force: bool,
}

async fn move_branch(
    State(sim): State<SimGitHub>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<MoveRef>,
) -> Answer {
    let full_name = format!("{owner}/{repo}");
    sim.with(|w| {
        writable(w, &headers, &full_name)?;
        w.move_branch(&full_name, &branch, &body.sha, body.force)
            .map_err(|refused| match refused {
                RefRefused::Missing => unprocessable("Reference does not exist"),
                RefRefused::NotFastForward => unprocessable("Update is not a fast forward"),
            })?;
        Ok(Json(json!({
            "ref": format!("refs/heads/{branch}"),
            "object": {"type": "commit", "sha": body.sha},
        }))
        .into_response())
    })
}
