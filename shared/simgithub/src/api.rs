//! The REST endpoints of the simulated GitHub, as GitHub answers them (only the fields the
//! adapter reads, and a few a person would expect to see).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{CreateRefused, NewRepo, Repository, World};
use crate::{API_PREFIX, APP_ID, APP_PUBLIC_KEY_PEM, SimGitHub, faults, gitdata};

/// The sim's routes, under [`API_PREFIX`], for any router state.
pub fn router<S: Clone + Send + Sync + 'static>(sim: SimGitHub) -> Router<S> {
    let api = Router::new()
        .route(
            "/app/installations/{installation}/access_tokens",
            post(installation_token),
        )
        .route("/user", get(user))
        .route("/user/memberships/orgs", get(memberships))
        .route("/user/installations", get(installations))
        .route(
            "/user/installations/{installation}/repositories",
            get(installation_repositories),
        )
        .route(
            "/repos/{owner}/{repo}",
            get(repository).delete(delete_repository),
        )
        .route("/repos/{owner}/{repo}/branches", get(branches))
        .route("/repos/{owner}/{repo}/branches/{branch}", get(branch))
        .route("/orgs/{org}/repos", post(create_org_repo))
        .route("/user/repos", post(create_user_repo))
        .route("/repos/{owner}/{repo}/contents/{*path}", put(put_contents))
        .merge(gitdata::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            faults::inject,
        ))
        .with_state(sim);
    Router::new().nest(API_PREFIX, api)
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("token "))?;
    Some(token.trim().to_owned())
}

/// GitHub's error body.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"message": message, "documentation_url": "https://docs.github.com/rest"})),
    )
        .into_response()
}

pub(crate) fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "Bad credentials")
}

pub(crate) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// The App JWT of `Authorization`, checked as GitHub checks it: RS256 with the App's key, the
/// App's id as issuer, not expired.
pub(crate) fn app_jwt_ok(headers: &HeaderMap) -> bool {
    let Some(jwt) = bearer(headers) else {
        return false;
    };
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(APP_PUBLIC_KEY_PEM.as_bytes()) else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[APP_ID]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    jsonwebtoken::decode::<Value>(&jwt, &key, &validation).is_ok()
}

#[derive(Deserialize, Default)]
struct TokenRequest {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

async fn installation_token(
    State(sim): State<SimGitHub>,
    Path(installation): Path<i64>,
    headers: HeaderMap,
    body: Option<Json<TokenRequest>>,
) -> Response {
    if !app_jwt_ok(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    }
    let repositories = body.and_then(|Json(b)| b.repositories);
    sim.with(|w| {
        if !w.installations.contains_key(&installation) {
            return not_found();
        }
        // A token for repositories outside the installation is refused, as GitHub does.
        if let Some(only) = &repositories {
            let held = w.installation_repos(installation);
            let unknown = only
                .iter()
                .any(|r| !held.iter().any(|h| h.name() == r || h.full_name == *r));
            if unknown {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "There is at least one repository that does not exist or is not accessible to the parent installation.",
                );
            }
        }
        let token = w.issue_installation_token(installation, repositories);
        let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let expires_at = expires
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        (
            StatusCode::CREATED,
            Json(json!({"token": token, "expires_at": expires_at})),
        )
            .into_response()
    })
}

/// The login of the user token of `headers`.
fn user_of(w: &World, headers: &HeaderMap) -> Option<String> {
    w.user_tokens.get(&bearer(headers)?).cloned()
}

async fn user(State(sim): State<SimGitHub>, headers: HeaderMap) -> Response {
    sim.with(
        |w| match user_of(w, &headers).and_then(|l| w.accounts.get(&l)) {
            Some(account) => Json(json!(account)).into_response(),
            None => unauthorized(),
        },
    )
}

async fn memberships(State(sim): State<SimGitHub>, headers: HeaderMap) -> Response {
    sim.with(|w| {
        let Some(login) = user_of(w, &headers) else {
            return unauthorized();
        };
        let orgs: Vec<Value> = w
            .accounts
            .values()
            .filter(|a| a.members.contains(&login))
            .map(|org| json!({"state": "active", "role": "member", "organization": org}))
            .collect();
        Json(json!(orgs)).into_response()
    })
}

async fn installations(State(sim): State<SimGitHub>, headers: HeaderMap) -> Response {
    sim.with(|w| {
        let Some(login) = user_of(w, &headers) else {
            return unauthorized();
        };
        let list: Vec<Value> = w
            .installations_of(&login)
            .into_iter()
            .map(|(id, account)| json!({"id": id, "account": account, "app_slug": crate::APP_SLUG}))
            .collect();
        Json(json!({"total_count": list.len(), "installations": list})).into_response()
    })
}

pub(crate) fn repository_json(r: &Repository) -> Value {
    json!({
        "id": r.id,
        "name": r.name(),
        "full_name": r.full_name,
        "private": r.private,
        "description": (!r.description.is_empty()).then_some(&r.description),
        "default_branch": r.default_branch,
        "html_url": format!("https://github.example/{}", r.full_name),
        "owner": {"login": r.owner()},
    })
}

async fn installation_repositories(
    State(sim): State<SimGitHub>,
    Path(installation): Path<i64>,
    headers: HeaderMap,
) -> Response {
    sim.with(|w| {
        let Some(login) = user_of(w, &headers) else {
            return unauthorized();
        };
        if !w
            .installations_of(&login)
            .iter()
            .any(|(id, _)| *id == installation)
        {
            return not_found();
        }
        let repos: Vec<Value> = w
            .installation_repos(installation)
            .iter()
            .map(repository_json)
            .collect();
        Json(json!({"total_count": repos.len(), "repositories": repos})).into_response()
    })
}

async fn repository(
    State(sim): State<SimGitHub>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let full_name = format!("{owner}/{repo}");
    sim.with(|w| {
        let Some(token) = bearer(&headers) else {
            return unauthorized();
        };
        match w.repos.get(&full_name) {
            Some(r) if w.can_read(&token, &full_name) => Json(repository_json(r)).into_response(),
            _ => not_found(),
        }
    })
}

async fn branch(
    State(sim): State<SimGitHub>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let full_name = format!("{owner}/{repo}");
    sim.with(|w| {
        let Some(token) = bearer(&headers) else {
            return unauthorized();
        };
        if !w.can_read(&token, &full_name) {
            return not_found();
        }
        match w.head(&full_name, &branch) {
            Some(sha) => Json(json!({"name": branch, "commit": {"sha": sha}})).into_response(),
            None => error(StatusCode::NOT_FOUND, "Branch not found"),
        }
    })
}

async fn delete_repository(
    State(sim): State<SimGitHub>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let full_name = format!("{owner}/{repo}");
    sim.with(|w| {
        let Some(token) = bearer(&headers) else {
            return unauthorized();
        };
        if !w.can_read(&token, &full_name) {
            return not_found();
        }
        // Deleting takes the administration permission: the account's own people, or an
        // installation on it (the sim's App holds the permission).
        if !w.can_write(&token, &full_name) {
            return error(
                StatusCode::FORBIDDEN,
                "Must have admin rights to Repository.",
            );
        }
        w.repos.remove(&full_name);
        StatusCode::NO_CONTENT.into_response()
    })
}

async fn branches(
    State(sim): State<SimGitHub>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let full_name = format!("{owner}/{repo}");
    sim.with(|w| {
        let Some(token) = bearer(&headers) else {
            return unauthorized();
        };
        match w.repos.get(&full_name) {
            Some(r) if w.can_read_git(&token, &full_name) => {
                let list: Vec<Value> = r
                    .branches
                    .iter()
                    .filter_map(|(name, line)| {
                        Some(json!({"name": name, "commit": {"sha": line.last()?}}))
                    })
                    .collect();
                Json(json!(list)).into_response()
            }
            _ => not_found(),
        }
    })
}

#[derive(Deserialize, Default)]
struct CreateRepo {
    #[serde(default)]
    name: String,
    #[serde(default = "private_by_default")]
    private: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    auto_init: bool,
}

fn private_by_default() -> bool {
    true
}

fn created(w: &mut World, token: &str, owner: &str, body: CreateRepo) -> Response {
    let new = NewRepo {
        name: &body.name,
        private: body.private,
        description: body.description.as_deref().unwrap_or_default(),
        auto_init: body.auto_init,
    };
    match w.create_repo(token, owner, &new) {
        Ok(r) => (StatusCode::CREATED, Json(repository_json(&r))).into_response(),
        // GitHub's answer for a taken name.
        Err(CreateRefused::Exists) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Repository creation failed.",
                "errors": [{"resource": "Repository", "code": "custom", "field": "name",
                    "message": "name already exists on this account"}]})),
        )
            .into_response(),
        Err(CreateRefused::Forbidden) => error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ),
    }
}

/// `POST /orgs/{org}/repos` (an installation token of the organisation).
async fn create_org_repo(
    State(sim): State<SimGitHub>,
    Path(org): Path<String>,
    headers: HeaderMap,
    Json(body): Json<CreateRepo>,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    sim.with(|w| created(w, &token, &org, body))
}

/// `POST /user/repos` (a user token: the repository is the user's own).
async fn create_user_repo(
    State(sim): State<SimGitHub>,
    headers: HeaderMap,
    Json(body): Json<CreateRepo>,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    sim.with(|w| match w.user_tokens.get(&token).cloned() {
        Some(login) => created(w, &token, &login, body),
        None => unauthorized(),
    })
}

#[derive(Deserialize, Default)]
struct PutContents {
    #[serde(default)]
    message: String,
    /// Base64 of the file.
    #[serde(default)]
    content: String,
    #[serde(default)]
    branch: Option<String>,
}

/// `PUT /repos/{owner}/{repo}/contents/{path}`: one file, one commit.
async fn put_contents(
    State(sim): State<SimGitHub>,
    Path((owner, repo, file)): Path<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<PutContents>,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    let Some(content) = gitdata::decode_base64(&body.content) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "content is not valid Base64",
        );
    };
    let full_name = format!("{owner}/{repo}");
    sim.with(|w| {
        match w.put_file(
            &token,
            &full_name,
            &file,
            &content,
            body.branch.as_deref(),
            &body.message,
        ) {
            Some(sha) => (
                StatusCode::CREATED,
                Json(json!({"content": {"path": file}, "commit": {"sha": sha}})),
            )
                .into_response(),
            None => not_found(),
        }
    })
}
