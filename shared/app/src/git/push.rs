//! What the worker does for a delivery: a push deploys to every app following its branch
//! (or is kept for an app whose slot is held), an uninstall or a removed repository
//! disconnects the apps that used it. The deployment of a kept push ([`super::pending`])
//! goes through [`deploy_push`] too, so both deploy under the same idempotency record.

use axhub_domain::{Category, Error, GitConnection, TriggerSource};
use serde_json::{Value, json};
use uuid::Uuid;

use super::remove;
use super::webhook::{PushWork, SkippedApp, WebhookOutcome};
use crate::Deps;
use crate::idempotency::IdempotencyKey;
use crate::state::apps::{self, AppContext};
use crate::state::pending_pushes::{self, PendingPush};
use crate::state::{Guard, Refused, UnitOfWork, git};
use crate::trigger::{self, MAX_ATTEMPTS, Trigger, too_busy};

/// Where a push went for one app.
pub(super) enum Placed {
    /// Deployed (now, or by an earlier attempt of the same delivery).
    Deployed(Option<Uuid>),
    /// The slot is held: kept as the app's pending push.
    Kept,
    /// A newer push deployed already, or is kept while the slot is held.
    Superseded,
    /// The slot is held and keeping was not asked for (the pending push's own job).
    Busy,
    /// A precondition of the trigger refused it (412): its code and message.
    Refused(String, String),
}

/// The idempotency record a push's deployment carries: one per delivery and app, whether it
/// deploys at once or later as the app's pending push.
fn idempotency(p: &PendingPush) -> Result<IdempotencyKey, Error> {
    IdempotencyKey::parse(
        &p.delivery_id,
        "github-webhook",
        &format!("webhook:{}", p.app_id),
        &json!({"commit_sha": p.commit_sha, "branch": p.branch}),
    )
}

fn deployment_id(body: &Value) -> Option<Uuid> {
    body.get("id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// Deploys `p` to its app through the trigger, unless a newer push deployed already. When the
/// app's slot is held and `keep` says so, `p` is kept as the app's pending push instead
/// (unless a newer one is). A push that deploys drops the app's older pending push and is
/// remembered as the newest deployed: no older push may deploy over it later.
pub(super) async fn deploy_push(
    deps: &Deps,
    ctx: AppContext,
    p: &PendingPush,
    keep: bool,
) -> Result<Placed, Error> {
    let idem = idempotency(p)?;
    let mut ctx = ctx;
    for _ in 0..MAX_ATTEMPTS {
        if let Some(first) = idem.lookup(deps).await? {
            deployed(deps, p).await?;
            return Ok(Placed::Deployed(deployment_id(&first.body)));
        }
        if pending_pushes::newer_deployed(deps, p.app_id, p.received_at).await? {
            return Ok(Placed::Superseded);
        }
        let trigger = Trigger {
            commit_sha: p.commit_sha.clone(),
            source: TriggerSource::Webhook,
            by: p.by.clone(),
            force_rebuild: false,
        };
        match trigger::start(deps, ctx.clone(), trigger, Some(&idem)).await {
            Ok(created) => {
                deployed(deps, p).await?;
                return Ok(Placed::Deployed(deployment_id(&created.body)));
            }
            Err(err) if err.category == Category::Conflict => {
                if !keep {
                    return Ok(Placed::Busy);
                }
                let mut unit = UnitOfWork::new();
                unit.keep_pending_push(p)?;
                match unit.commit(deps).await {
                    Ok(()) => {
                        tracing::info!(app_id = %p.app_id, delivery_id = %p.delivery_id, "push kept until the app's slot frees");
                        return Ok(Placed::Kept);
                    }
                    Err(refused) if refused.lost(Guard::PendingPush) => {
                        return Ok(Placed::Superseded);
                    }
                    // The slot was freed meanwhile: try to deploy again.
                    Err(Refused::Lost { .. }) => {}
                    Err(Refused::Failed(e)) => return Err(e),
                }
            }
            Err(err) if err.category == Category::PreconditionFailed => {
                return Ok(Placed::Refused(err.code.as_str().to_owned(), err.message));
            }
            Err(err) => return Err(err),
        }
        ctx = apps::existing(deps, p.app_id).await?;
    }
    Err(too_busy())
}

/// What follows a push's deployment: an older kept push is dropped, and this one is the
/// newest deployed. A failure fails the job, whose retry finds the deployment by its
/// idempotency record and comes here again.
async fn deployed(deps: &Deps, p: &PendingPush) -> Result<(), Error> {
    pending_pushes::drop_up_to(deps, p.app_id, p.received_at).await?;
    pending_pushes::mark_deployed(deps, p.app_id, p.received_at).await
}

/// Deploys a push to every app following its repository and branch (through its
/// installation, when GitHub named one).
pub(super) async fn deploy(
    deps: &Deps,
    delivery_id: &str,
    received_at: i64,
    w: &PushWork,
) -> Result<WebhookOutcome, Error> {
    let found: Vec<GitConnection> = git::connections_to_repo(deps, &w.repo_full_name)
        .await?
        .into_iter()
        .filter(|g| {
            g.branch == w.branch && w.installation_id.is_none_or(|i| i == g.installation_id)
        })
        .collect();
    if found.is_empty() {
        return Ok(WebhookOutcome::ignored(format!(
            "no app deploys {}@{}",
            w.repo_full_name, w.branch
        )));
    }
    let by = match &w.sender {
        Some(login) => format!("github:{login}"),
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
        let p = PendingPush {
            app_id,
            delivery_id: delivery_id.to_owned(),
            received_at,
            repo_full_name: g.repo_full_name.clone(),
            branch: w.branch.clone(),
            commit_sha: w.commit_sha.clone(),
            installation_id: w.installation_id,
            by: by.clone(),
        };
        match deploy_push(deps, ctx, &p, true).await? {
            Placed::Deployed(id) => outcome.deployments.extend(id),
            Placed::Kept => outcome.pending.push(app_id),
            Placed::Superseded => outcome.skipped.push(skip(
                "superseded",
                "a newer push to this branch deployed or waits for the app's slot".into(),
            )),
            Placed::Busy => outcome.pending.push(app_id),
            Placed::Refused(code, message) => outcome.skipped.push(skip(&code, message)),
        }
    }
    outcome.outcome = if !outcome.deployments.is_empty() {
        "deployed"
    } else if !outcome.pending.is_empty() {
        "pending"
    } else {
        "skipped"
    }
    .into();
    Ok(outcome)
}

/// Removes every connection found, each if it is still the one read.
pub(super) async fn disconnect_all(
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
