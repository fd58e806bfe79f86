//! GitHub webhooks (`POST /webhooks/github`): a push to a connected branch deploys it; an
//! uninstalled App or a repository removed from an installation disconnects the apps that
//! used it. Everything else is acknowledged and ignored.
//!
//! Each delivery (`X-GitHub-Delivery`) is claimed with a conditional put before any work and
//! remembered for [`DELIVERY_TTL_SECONDS`]: a redelivered event does nothing twice. A claim
//! whose processing failed is released so that a manual redelivery can try again, and every
//! deployment is created with an idempotency record keyed by the delivery, in the
//! deployment's own transaction, so even a released claim never deploys a push twice.

use axhub_domain::ErrorCode;
use axhub_domain::{Category, Error, GitConnection, TriggerSource, validate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{github, remove};
use crate::Deps;
use crate::idempotency::IdempotencyKey;
use crate::state::{apps, git};
use crate::trigger::{self, Trigger};

/// How long a delivery id is remembered.
pub const DELIVERY_TTL_SECONDS: i64 = 7 * 24 * 3600;
/// How long a claim lasts while its delivery is processed (longer than any request).
const CLAIM_SECONDS: i64 = 120;

/// One delivery as GitHub sent it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// `X-GitHub-Event`.
    pub event: Option<&'a str>,
    /// `X-GitHub-Delivery`.
    pub delivery_id: Option<&'a str>,
    /// `X-Hub-Signature-256`.
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// An app a push did not deploy, and why (`in_progress`, or the 412 precondition's code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkippedApp {
    pub app_id: Uuid,
    pub code: String,
    pub message: String,
}

/// What a delivery did; also what is remembered of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookOutcome {
    pub delivery_id: String,
    pub event: String,
    /// `deployed`, `skipped`, `disconnected`, `ignored`, or `duplicate` for a redelivery.
    pub outcome: String,
    /// Why nothing happened, for `ignored` and `duplicate`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Deployments started (trigger_source `webhook`).
    #[serde(default)]
    pub deployments: Vec<Uuid>,
    #[serde(default)]
    pub skipped: Vec<SkippedApp>,
    /// Apps whose connection was removed.
    #[serde(default)]
    pub disconnected: Vec<Uuid>,
}

impl WebhookOutcome {
    fn ignored(reason: impl Into<String>) -> Self {
        Self {
            outcome: "ignored".into(),
            reason: reason.into(),
            ..Self::default()
        }
    }
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

fn invalid_signature() -> Error {
    Error::unauthenticated(
        ErrorCode::InvalidSignature,
        "X-Hub-Signature-256 is missing or does not match the webhook secret",
    )
}

/// Verifies, deduplicates and acts on one delivery.
pub async fn receive(deps: &Deps, d: Delivery<'_>) -> Result<WebhookOutcome, Error> {
    let gh = github(deps)?;
    if !gh.verify_webhook(d.body, d.signature) {
        return Err(invalid_signature());
    }
    let delivery_id = d.delivery_id.map(str::trim).unwrap_or_default();
    if delivery_id.is_empty()
        || delivery_id.len() > 200
        || !delivery_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::field(
            "X-GitHub-Delivery",
            ErrorCode::InvalidFormat,
            "must be GitHub's delivery id",
        ));
    }
    let event = d.event.map(str::trim).unwrap_or_default().to_owned();
    let now = deps.now().unix_timestamp();
    if let Err(first) =
        git::claim_delivery::<WebhookOutcome>(deps, delivery_id, &event, now, CLAIM_SECONDS).await?
    {
        let reason = match first {
            Some(o) => format!("delivery already processed: {}", o.outcome),
            None => "delivery is being processed".to_owned(),
        };
        tracing::info!(delivery_id, event = %event, "duplicate webhook delivery");
        return Ok(WebhookOutcome {
            delivery_id: delivery_id.to_owned(),
            event,
            outcome: "duplicate".into(),
            reason,
            ..WebhookOutcome::default()
        });
    }
    let result = dispatch(deps, &event, delivery_id, d.body).await;
    match result {
        Ok(mut outcome) => {
            outcome.delivery_id = delivery_id.to_owned();
            outcome.event = event.clone();
            let expires = now + DELIVERY_TTL_SECONDS;
            if let Err(e) = git::record_delivery(deps, delivery_id, &event, &outcome, expires).await
            {
                // The work is done and idempotent; the claim still guards for a while.
                tracing::warn!(delivery_id, error = %e, "could not record the webhook delivery");
            }
            tracing::info!(delivery_id, event = %outcome.event, outcome = %outcome.outcome, "webhook processed");
            Ok(outcome)
        }
        Err(e) => {
            // Let a redelivery try again; deployments it made are guarded by idempotency.
            if let Err(release) = git::release_delivery(deps, delivery_id).await {
                tracing::warn!(delivery_id, error = %release, "could not release a webhook claim");
            }
            Err(e)
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(format!("the webhook payload is not understood: {e}")))
}

async fn dispatch(
    deps: &Deps,
    event: &str,
    delivery_id: &str,
    body: &[u8],
) -> Result<WebhookOutcome, Error> {
    match event {
        "push" => push(deps, delivery_id, parse(body)?).await,
        "installation" => {
            let e: InstallationEvent = parse(body)?;
            if e.action != "deleted" {
                return Ok(WebhookOutcome::ignored(format!(
                    "installation {} is not acted on",
                    e.action
                )));
            }
            let found = git::connections_through_installation(deps, e.installation.id).await?;
            disconnect_all(deps, found, "installation_deleted").await
        }
        "installation_repositories" => {
            let e: InstallationRepositoriesEvent = parse(body)?;
            if e.action != "removed" {
                return Ok(WebhookOutcome::ignored(format!(
                    "installation_repositories {} is not acted on",
                    e.action
                )));
            }
            let mut found = Vec::new();
            for r in &e.repositories_removed {
                found.extend(
                    git::connections_to_repo(deps, &r.full_name)
                        .await?
                        .into_iter()
                        .filter(|g| g.installation_id == e.installation.id),
                );
            }
            disconnect_all(deps, found, "repository_removed").await
        }
        "" => Err(Error::field(
            "X-GitHub-Event",
            ErrorCode::Required,
            "must name the event",
        )),
        other => Ok(WebhookOutcome::ignored(format!(
            "{other} events are not acted on"
        ))),
    }
}

async fn disconnect_all(
    deps: &Deps,
    found: Vec<GitConnection>,
    reason: &str,
) -> Result<WebhookOutcome, Error> {
    if found.is_empty() {
        return Ok(WebhookOutcome::ignored("no app is connected through it"));
    }
    let mut disconnected = Vec::new();
    for g in found {
        let tenant = match apps::load(deps, g.app_id).await? {
            Some(ctx) => ctx.app.tenant_id,
            None => Uuid::nil(),
        };
        // Reconnected elsewhere or already gone meanwhile: leave it.
        if remove(deps, tenant, &g, reason, "github").await? {
            disconnected.push(g.app_id);
        }
    }
    Ok(WebhookOutcome {
        outcome: "disconnected".into(),
        disconnected,
        ..WebhookOutcome::default()
    })
}

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

async fn push(deps: &Deps, delivery_id: &str, e: PushEvent) -> Result<WebhookOutcome, Error> {
    let Some(branch) = e.git_ref.strip_prefix("refs/heads/") else {
        return Ok(WebhookOutcome::ignored(format!(
            "{} is not a branch",
            e.git_ref
        )));
    };
    if e.deleted || e.after == ZERO_SHA {
        return Ok(WebhookOutcome::ignored(format!(
            "branch {branch} was deleted"
        )));
    }
    let sha = validate::commit_sha(&e.after)?;
    let found: Vec<GitConnection> = git::connections_to_repo(deps, &e.repository.full_name)
        .await?
        .into_iter()
        .filter(|g| {
            g.branch == branch
                && e.installation
                    .as_ref()
                    .is_none_or(|i| i.id == g.installation_id)
        })
        .collect();
    if found.is_empty() {
        return Ok(WebhookOutcome::ignored(format!(
            "no app deploys {}@{branch}",
            e.repository.full_name
        )));
    }
    let by = match &e.sender {
        Some(s) => format!("github:{}", s.login),
        None => "github".to_owned(),
    };
    let mut outcome = WebhookOutcome::default();
    for g in found {
        let app_id = g.app_id;
        let skip = |code: &str, message: String| SkippedApp {
            app_id,
            code: code.to_owned(),
            message,
        };
        // Read the app afresh: the connection may have moved since the index was read.
        let Some(ctx) = apps::load(deps, app_id).await? else {
            outcome
                .skipped
                .push(skip("not_found", "the app no longer exists".into()));
            continue;
        };
        if ctx.git.as_ref() != Some(&g) {
            outcome.skipped.push(skip(
                "connection_changed",
                "the app's git connection changed".into(),
            ));
            continue;
        }
        let idem = IdempotencyKey::parse(
            delivery_id,
            "github-webhook",
            &format!("webhook:{app_id}"),
            &json!({"commit_sha": sha, "branch": branch}),
        )?;
        if let Some(first) = idem.lookup(deps).await? {
            outcome.deployments.extend(deployment_id(&first.body));
            continue;
        }
        let trigger = Trigger {
            commit_sha: sha.clone(),
            source: TriggerSource::Webhook,
            by: by.clone(),
            force_rebuild: false,
        };
        match trigger::start(deps, ctx, trigger, Some(&idem)).await {
            Ok(created) => outcome.deployments.extend(deployment_id(&created.body)),
            Err(err) if err.category == Category::Conflict => {
                outcome.skipped.push(skip("in_progress", err.message));
            }
            Err(err) if err.category == Category::PreconditionFailed => {
                let code = err.code.as_str();
                outcome.skipped.push(skip(code, err.message));
            }
            Err(err) => return Err(err),
        }
    }
    outcome.outcome = if !outcome.deployments.is_empty() {
        "deployed"
    } else {
        "skipped"
    }
    .into();
    Ok(outcome)
}

fn deployment_id(body: &Value) -> Option<Uuid> {
    body.get("id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}
