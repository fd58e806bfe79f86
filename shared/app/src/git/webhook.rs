//! GitHub webhooks (`POST /webhooks/github`), made durable: GitHub never redelivers a failed
//! delivery by itself, so once a delivery's signature and id check out it is recorded with
//! the compact work it asks for ([`Work`]) and its job is queued, in one unit of work, and
//! answered `queued` (202) at once. The deploy worker then does the work ([`process`]): a push
//! to a connected branch deploys it, an uninstalled App or a repository removed from an
//! installation disconnects the apps that used it; a transient failure leaves the job to the
//! queue's retries. A delivery that asks for nothing (another event, a tag, a deleted branch,
//! an action not acted on) is answered `ignored` (also 202) and neither recorded nor queued.
//!
//! The record is written only if the id is not remembered (for
//! [`deliveries::TTL_SECONDS`]): a redelivery answers `duplicate` and queues nothing. Every
//! deployment a push makes carries an idempotency record keyed by the delivery, in the
//! deployment's own transaction, so a retried job never deploys a push twice.

use axhub_domain::{Error, ErrorCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::delivery_work::{self, Parsed, Work};
use super::{github, push};
use crate::Deps;
use crate::jobs::{DEPLOY_QUEUE, Job, Next};
use crate::state::deliveries::{self, DeliveryRecord};
use crate::state::{Guard, UnitOfWork, git};

pub use delivery_work::PushWork;

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

/// An app a push did not deploy, and why (`superseded` by a newer push, `not_found`,
/// `connection_changed`, or the 412 precondition's code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkippedApp {
    pub app_id: Uuid,
    pub code: String,
    pub message: String,
}

/// The answer to a delivery (`queued`, `ignored`, `duplicate`), and what the worker records
/// of it once done (`deployed`, `pending`, `skipped`, `disconnected`, `ignored`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookOutcome {
    pub delivery_id: String,
    pub event: String,
    /// `queued` (the worker acts on it), `ignored` or `duplicate` for a redelivery; once
    /// processed: `deployed`, `pending` (kept until the app's deployment in progress ends),
    /// `skipped`, `disconnected` or `ignored`.
    pub outcome: String,
    /// Why nothing happened, for `ignored` and `duplicate`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Deployments started (trigger_source `webhook`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<Uuid>,
    /// Apps whose slot was held: the push is kept and deploys when the slot frees, unless a
    /// newer push replaces it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedApp>,
    /// Apps whose connection was removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disconnected: Vec<Uuid>,
}

impl WebhookOutcome {
    pub(super) fn ignored(reason: impl Into<String>) -> Self {
        Self {
            outcome: "ignored".into(),
            reason: reason.into(),
            ..Self::default()
        }
    }

    fn answer(delivery_id: &str, event: &str, outcome: &str, reason: String) -> Self {
        Self {
            delivery_id: delivery_id.to_owned(),
            event: event.to_owned(),
            outcome: outcome.to_owned(),
            reason,
            ..Self::default()
        }
    }
}

fn invalid_signature() -> Error {
    Error::unauthenticated(
        ErrorCode::InvalidSignature,
        "X-Hub-Signature-256 is missing or does not match the webhook secret",
    )
}

fn checked_delivery_id<'a>(d: &Delivery<'a>) -> Result<&'a str, Error> {
    let id = d.delivery_id.map(str::trim).unwrap_or_default();
    if id.is_empty() || id.len() > 200 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::field(
            "X-GitHub-Delivery",
            ErrorCode::InvalidFormat,
            "must be GitHub's delivery id",
        ));
    }
    Ok(id)
}

/// Verifies a delivery, and records and queues the work it asks for.
pub async fn receive(deps: &Deps, d: Delivery<'_>) -> Result<WebhookOutcome, Error> {
    let gh = github(deps)?;
    if !gh.verify_webhook(d.body, d.signature) {
        return Err(invalid_signature());
    }
    let delivery_id = checked_delivery_id(&d)?;
    let event = d.event.map(str::trim).unwrap_or_default();
    let work = match delivery_work::parse(deps, event, d.body).await? {
        Parsed::Ignored(reason) => {
            tracing::info!(delivery_id, event, %reason, "webhook ignored");
            return Ok(WebhookOutcome::answer(
                delivery_id,
                event,
                "ignored",
                reason,
            ));
        }
        Parsed::Work(work) => work,
    };
    let now = deps.now();
    let record = DeliveryRecord::<Work, ()> {
        delivery_id: delivery_id.to_owned(),
        event: event.to_owned(),
        state: deliveries::QUEUED.into(),
        received_at: (now.unix_timestamp_nanos() / 1000) as i64,
        work,
        outcome: None,
        ttl: now.unix_timestamp() + deliveries::TTL_SECONDS,
    };
    let mut unit = UnitOfWork::new();
    unit.record_delivery(&record, now.unix_timestamp())?;
    let job = Job::GithubDelivery {
        delivery_id: delivery_id.to_owned(),
    };
    unit.enqueue(DEPLOY_QUEUE, job.body(), std::time::Duration::ZERO)?;
    match unit.commit(deps).await {
        Ok(()) => {
            tracing::info!(delivery_id, event, "webhook queued");
            Ok(WebhookOutcome::answer(
                delivery_id,
                event,
                "queued",
                String::new(),
            ))
        }
        Err(refused) if refused.lost(Guard::Delivery) => {
            let reason = match deliveries::outcome::<WebhookOutcome>(deps, delivery_id).await? {
                Some(o) => format!("delivery already processed: {}", o.outcome),
                None => "delivery is queued".to_owned(),
            };
            tracing::info!(delivery_id, event, "duplicate webhook delivery");
            Ok(WebhookOutcome::answer(
                delivery_id,
                event,
                "duplicate",
                reason,
            ))
        }
        Err(refused) => Err(refused.into_error()),
    }
}

/// The worker's half: does the recorded work of a delivery and records what it did. An error
/// (the store or GitHub unavailable) leaves the job to the queue's retries; what the failed
/// attempt deployed is found again by its idempotency records.
pub async fn process(deps: &Deps, delivery_id: &str) -> Result<Next, Error> {
    let Some(record) = deliveries::get::<Work, WebhookOutcome>(deps, delivery_id).await? else {
        tracing::warn!(
            delivery_id,
            "job for an unknown or expired webhook delivery dropped"
        );
        return Ok(Next::Done);
    };
    if record.state == deliveries::DONE {
        return Ok(Next::Done);
    }
    let mut outcome = match &record.work {
        Work::Push(p) => push::deploy(deps, delivery_id, record.received_at, p).await?,
        Work::Uninstall { installation_id } => {
            let found = git::connections_through_installation(deps, *installation_id).await?;
            push::disconnect_all(deps, found, "installation_deleted").await?
        }
        Work::RemoveRepositories {
            installation_id,
            repositories,
        } => {
            let mut found = Vec::new();
            for r in repositories {
                found.extend(
                    git::connections_to_repo(deps, r)
                        .await?
                        .into_iter()
                        .filter(|g| g.installation_id == *installation_id),
                );
            }
            push::disconnect_all(deps, found, "repository_removed").await?
        }
    };
    outcome.delivery_id = record.delivery_id.clone();
    outcome.event = record.event.clone();
    let mut unit = UnitOfWork::new();
    unit.finish_delivery(delivery_id, &outcome)?;
    match unit.commit(deps).await {
        Ok(()) => {}
        // Expired meanwhile: the work is done and idempotent.
        Err(refused) if refused.lost(Guard::Delivery) => {
            tracing::warn!(delivery_id, "the webhook delivery's record is gone")
        }
        Err(refused) => return Err(refused.into_error()),
    }
    tracing::info!(delivery_id, event = %outcome.event, outcome = %outcome.outcome, "webhook processed");
    Ok(Next::Done)
}
