//! Runs the bootstrap saga one step per job. A step looks at what already exists before it
//! acts (so a job delivered twice, or run again after a crash, does no harm), and its result
//! is written in the one unit of work that moves the saga to the next step and queues that
//! step's job: every write is conditioned on the saga's `version`, so of two runs of one step
//! only one moves it.
//!
//! - GitHub's rate limit makes a step wait for its `retry_after` (never failing the saga).
//!   A saga whose job was lost is found by the watchdog (`watchdog`).
//! - Other transient failures (GitHub or the store unreachable) are retried with backoff,
//!   [`MAX_ATTEMPTS`] times per step, then fail the saga with the step's code.
//! - A refusal (the repository exists, the App cannot read it, the trigger's 412) fails it
//!   at once. A failure is recorded first; the clean-up (`cleanup`) then runs as a job of its
//!   own, so it resumes after a crash too.

use std::time::Duration;

use axhub_domain::{Bootstrap, BootstrapFailure, BootstrapStage, BootstrapStatus, Category, Error};
use uuid::Uuid;

use super::{cleanup, steps};
use crate::jobs::{BOOTSTRAP_QUEUE, Job, Next};
use crate::state::{Guard, Refused, UnitOfWork, bootstraps};
use crate::{Deps, events};

/// Transient failures of one step before the saga gives up on it.
pub const MAX_ATTEMPTS: u32 = 6;
/// The longest a rate-limited step waits before trying again (the queue's longest delay).
const MAX_WAIT: Duration = Duration::from_secs(900);

/// What a step found or did.
pub(super) enum Outcome {
    /// The step's work is done: `next` holds what it produced, `work` what it writes with
    /// the move to the next stage.
    Advance { next: Bootstrap, work: UnitOfWork },
    /// Progress within the step worth recording (the deploy step's deployment), then a look
    /// again after the delay.
    Progress { next: Bootstrap, after: Duration },
    /// Nothing to record: look again after the delay (a rollout running, a rate limit).
    Wait(Duration),
    /// The saga cannot go on; `with` is the saga with what the step learned (for the
    /// clean-up).
    Fail {
        with: Bootstrap,
        code: BootstrapFailure,
        message: String,
    },
}

impl Outcome {
    pub(super) fn fail(b: &Bootstrap, code: BootstrapFailure, message: impl Into<String>) -> Self {
        Outcome::Fail {
            with: b.clone(),
            code,
            message: message.into(),
        }
    }
}

/// The job that runs the saga's next step.
pub(super) fn job(id: Uuid) -> serde_json::Value {
    Job::Bootstrap { bootstrap_id: id }.body()
}

/// Runs the saga's current step (or its clean-up, once it failed).
pub async fn run(deps: &Deps, id: Uuid) -> Result<Next, Error> {
    let Some(b) = bootstraps::get(deps, id).await? else {
        tracing::warn!(bootstrap_id = %id, "job for an unknown bootstrap dropped");
        return Ok(Next::Done);
    };
    if !b.is_running() {
        return Ok(Next::Done);
    }
    if b.error_code.is_some() {
        return cleanup::run(deps, &b).await;
    }
    let outcome = match b.stage {
        BootstrapStage::App => steps::app(deps, &b).await,
        BootstrapStage::Repo => steps::repo(deps, &b).await,
        BootstrapStage::Push => steps::push(deps, &b).await,
        BootstrapStage::Connect => steps::connect(deps, &b).await,
        BootstrapStage::Deploy => steps::deploy(deps, &b).await,
        BootstrapStage::Done => return Ok(Next::Done),
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => on_error(&b, e),
    };
    settle(deps, &b, outcome).await
}

/// How a step's error is handled: a rate limit waits, a transient failure is retried a few
/// times, anything else fails the saga.
pub(super) fn on_error(b: &Bootstrap, e: Error) -> Outcome {
    match e.category {
        Category::RateLimited => {
            let after = Duration::from_millis(e.retry_after_ms.unwrap_or(60_000)).min(MAX_WAIT);
            tracing::info!(bootstrap_id = %b.id, stage = b.stage.as_str(), wait_ms = after.as_millis() as u64, "GitHub rate limit: the step waits");
            // Written (attempts unchanged), so that a long spell of rate limits reads as a
            // saga waiting, never as one that stalled (the watchdog's business).
            Outcome::Progress {
                next: b.clone(),
                after,
            }
        }
        _ if e.code.retryable() && b.attempts + 1 < MAX_ATTEMPTS => {
            tracing::warn!(bootstrap_id = %b.id, stage = b.stage.as_str(), attempt = b.attempts + 1, error = %e.message, "bootstrap step failed; retrying");
            let mut next = b.clone();
            next.attempts += 1;
            Outcome::Progress {
                next,
                after: backoff(b.attempts + 1),
            }
        }
        _ => {
            tracing::warn!(bootstrap_id = %b.id, stage = b.stage.as_str(), error = %e.message, "bootstrap step refused");
            Outcome::fail(b, b.stage.failure(), e.message)
        }
    }
}

/// 2 s, 4 s, 8 s … per failed attempt.
pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1 << attempt.min(8))
}

/// Writes what the step's outcome says.
async fn settle(deps: &Deps, old: &Bootstrap, outcome: Outcome) -> Result<Next, Error> {
    match outcome {
        Outcome::Wait(after) => Ok(Next::Again(after)),
        Outcome::Progress { next, after } => {
            let next = moved(deps, old, next);
            let mut work = UnitOfWork::new();
            work.replace_bootstrap(old, &next)?;
            commit(deps, work, Next::Again(after)).await
        }
        Outcome::Advance { next, mut work } => {
            let mut next = moved(deps, old, next);
            next.stage = old.stage.next();
            next.attempts = 0;
            if next.stage == BootstrapStage::Done {
                next.status = BootstrapStatus::Done;
                work.release_names(&next);
                work.emit(events::bootstrap_finished(&next))?;
                tracing::info!(bootstrap_id = %next.id, app_id = %next.app_id, "bootstrap done");
            } else {
                work.enqueue(BOOTSTRAP_QUEUE, job(next.id), Duration::ZERO)?;
            }
            work.replace_bootstrap(old, &next)?;
            commit(deps, work, Next::Done).await
        }
        Outcome::Fail {
            with,
            code,
            message,
        } => {
            let mut next = moved(deps, old, with);
            next.error_code = Some(code);
            next.error_message = Some(message);
            next.attempts = 0;
            tracing::warn!(bootstrap_id = %next.id, code = code.as_str(), "bootstrap failing; cleaning up");
            let mut work = UnitOfWork::new();
            work.replace_bootstrap(old, &next)?;
            work.enqueue(BOOTSTRAP_QUEUE, job(next.id), Duration::ZERO)?;
            commit(deps, work, Next::Done).await
        }
    }
}

/// `next` as the write after `old`.
pub(super) fn moved(deps: &Deps, old: &Bootstrap, mut next: Bootstrap) -> Bootstrap {
    next.version = old.version + 1;
    next.updated_at = deps.now();
    next
}

/// Commits a move of the saga. Another run of the same step that moved it first (a job
/// delivered twice) is not an error: that run queued what comes next.
pub(super) async fn commit(deps: &Deps, work: UnitOfWork, then: Next) -> Result<Next, Error> {
    match work.commit(deps).await {
        Ok(()) => Ok(then),
        Err(refused) if refused.lost(Guard::Bootstrap) => {
            tracing::info!("bootstrap moved by another run of its step; this one stops");
            Ok(Next::Done)
        }
        Err(Refused::Lost { .. }) => Err(Error::unavailable(
            "the bootstrap's state changed while it was written; the step runs again",
        )),
        Err(Refused::Failed(e)) => Err(e),
    }
}
