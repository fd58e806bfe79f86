//! The simulated GitHub in axhub-local (`--sim-github`, on with `--demo` unless a real GitHub
//! App is configured): the GitHub adapter pointed at the sim's endpoints on this very process
//! (its base URLs), the demo's people, organisation, installation and repository in it, and
//! `POST /local/github/push`, which makes a commit there and delivers its signed push webhook
//! to the real `/webhooks/github` route. The sim's world lives in memory: a restart seeds the
//! demo again, commits made before it are gone.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axhub_app::Deps;
use axhub_domain::{Error, ErrorCode};
use axhub_github::{GitHubClient, GitHubConfig};
use axhub_http::{AppState, Caller, JsonBody};
use axhub_ports::github::UserTokenGrant;
use axhub_simgithub::{API_PREFIX, SimGitHub, WEB_PREFIX};
use axhub_store::Store;
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

/// The sim and what delivering its webhooks takes.
#[derive(Clone)]
pub struct SimGitHubSetup {
    pub sim: SimGitHub,
    pub webhook_secret: Vec<u8>,
    /// This process's own base URL (`http://127.0.0.1:PORT`).
    pub base_url: String,
}

/// The GitHub adapter on the sim served by this process at `base_url`.
pub fn client(
    data_dir: &Path,
    store: Arc<dyn Store>,
    base_url: &str,
) -> anyhow::Result<(Arc<GitHubClient>, SimGitHubSetup)> {
    let mut config = GitHubConfig::new(
        axhub_simgithub::APP_ID,
        axhub_simgithub::APP_SLUG,
        axhub_simgithub::APP_PRIVATE_KEY_PEM,
    );
    config.api_url = format!("{base_url}{API_PREFIX}");
    config.web_url = format!("{base_url}{WEB_PREFIX}");
    config.client_id = "sim-client".into();
    config.client_secret = "sim-client-secret".into();
    let webhook_secret = crate::files::persistent_secret(
        data_dir,
        "sim-webhook-secret",
        "the simulated GitHub's webhook signatures",
    )?;
    config.webhook_secret = hex::encode(&webhook_secret);
    config.token_key = crate::files::persistent_secret(
        data_dir,
        "token-key",
        "every stored GitHub token (they are encrypted with it)",
    )?;
    let client = GitHubClient::new(
        config,
        Arc::new(axhub_app::state::credentials::StoredCredentials::new(store)),
    )
    .context("the simulated GitHub's client")?;
    let sim = SimGitHub::new();
    sim.set_setup_url(&format!("{base_url}/local/github/setup"));
    let setup = SimGitHubSetup {
        sim,
        webhook_secret: hex::encode(&webhook_secret).into_bytes(),
        base_url: base_url.to_owned(),
    };
    Ok((Arc::new(client), setup))
}

/// The demo's GitHub: its people as GitHub users (their user tokens stored as signing in
/// stores them), the organisation `axhub-demo` of the tenant's people with the App installed
/// (installation 1, as the demo app's connection names it) and its private repositories
/// `hello` (the demo app's) and `site`.
pub async fn seed_demo(setup: &SimGitHubSetup, deps: &Deps, people: &[&str]) -> anyhow::Result<()> {
    let gh = deps.github.as_ref().context("no GitHub client")?;
    for person in people {
        let token = setup.sim.add_user(person);
        let grant = UserTokenGrant {
            access_token: token,
            refresh_token: None,
            expires_in: None,
            refresh_token_expires_in: None,
        };
        gh.store_user_token(person, grant)
            .await
            .map_err(|e| anyhow::anyhow!("storing {person}'s GitHub token: {}", e.message))?;
    }
    let members: Vec<&str> = people
        .iter()
        .copied()
        .filter(|p| *p != "demo-outsider")
        .collect();
    setup.sim.add_org("axhub-demo", &members);
    setup.sim.install("axhub-demo");
    setup.sim.add_repo("axhub-demo/hello", "main", true);
    setup.sim.add_repo("axhub-demo/site", "main", true);
    // The outsider has an organisation of their own, with the App installed too.
    setup.sim.add_org("elsewhere-inc", &["demo-outsider"]);
    setup.sim.install("elsewhere-inc");
    setup.sim.add_repo("elsewhere-inc/secret", "main", true);
    Ok(())
}

/// The sim's REST API and the push route.
pub fn routes(setup: SimGitHubSetup) -> Router<AppState> {
    let sim = setup.sim.clone();
    let setup = Arc::new(setup);
    let push_route = move |Caller(who): Caller, JsonBody(req): JsonBody<PushRequest>| {
        let setup = setup.clone();
        async move { push(&setup, who, req).await.map(Json) }
    };
    Router::<AppState>::new()
        .route("/local/github/push", post(push_route))
        .merge(axhub_simgithub::router(sim))
}

#[derive(Debug, Default, Deserialize)]
struct PushRequest {
    #[serde(default)]
    repo_full_name: String,
    #[serde(default)]
    branch: String,
    #[serde(default)]
    message: String,
}

/// `POST /local/github/push` (platform admins): a commit on the simulated repository's branch,
/// delivered as GitHub delivers it: a signed `push` to `/webhooks/github` over HTTP.
async fn push(
    setup: &SimGitHubSetup,
    who: axhub_domain::Principal,
    req: PushRequest,
) -> Result<Value, axhub_http::ApiError> {
    if !who.platform_admin {
        return Err(Error::new(ErrorCode::NotAdmin, "only a platform admin may push").into());
    }
    let branch = axhub_domain::validate::branch_name(&req.branch)?.to_owned();
    let message = if req.message.trim().is_empty() {
        "A simulated push".to_owned()
    } else {
        req.message.clone()
    };
    let Some((_, installation)) = setup.sim.repository(&req.repo_full_name) else {
        return Err(Error::field(
            "repo_full_name",
            ErrorCode::NotFound,
            "no such repository in the simulated GitHub",
        )
        .into());
    };
    let before = setup.sim.head(&req.repo_full_name, &branch);
    let after = setup
        .sim
        .commit(&req.repo_full_name, &branch, &message)
        .ok_or_else(|| Error::internal("the simulated commit failed"))?;
    let payload = json!({
        "ref": format!("refs/heads/{branch}"),
        "before": before.unwrap_or_else(|| "0".repeat(40)),
        "after": after,
        "deleted": false,
        "repository": {"full_name": req.repo_full_name},
        "installation": installation.map(|id| json!({"id": id})),
        "sender": {"login": who.user_id},
        "head_commit": {"id": after, "message": message},
    })
    .to_string();
    let delivery = uuid::Uuid::new_v4().to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(&setup.webhook_secret)
        .map_err(|_| Error::internal("the webhook secret is unusable"))?;
    mac.update(payload.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let answer = reqwest::Client::new()
        .post(format!("{}/webhooks/github", setup.base_url))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", &delivery)
        .header("x-hub-signature-256", signature)
        .body(payload)
        .send()
        .await
        .map_err(|e| Error::unavailable(format!("delivering the webhook failed: {e}")))?;
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    Ok(json!({
        "commit_sha": after,
        "delivery_id": delivery,
        "webhook": {"status": status, "body": body},
    }))
}
