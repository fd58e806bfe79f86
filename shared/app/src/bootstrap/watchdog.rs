//! The watchdog of running sagas. Every step's job is written with the move that queues it,
//! so a saga can only stall when a job is lost after that: dead-lettered after failing on
//! every delivery (the store unreachable each time), or a delayed re-run the queue dropped.
//! A running saga that no write has moved for [`bootstraps::STALL_AFTER`] has its step queued
//! again (steps are idempotent: a job that was not lost after all does no harm); the
//! [`MAX_ATTEMPTS`]th time in one step, the saga fails with the step's code instead and its
//! clean-up runs, so every saga ends and publishes `BootstrapFinished`.

use std::time::Duration;

use axhub_domain::Error;

use super::saga::{self, MAX_ATTEMPTS};
use crate::Deps;
use crate::jobs::{BOOTSTRAP_QUEUE, Next};
use crate::state::{UnitOfWork, bootstraps};

/// Queues again the steps of the sagas that stalled (at most `max`); how many.
pub async fn resume_stalled(deps: &Deps, max: u32) -> Result<usize, Error> {
    let mut resumed = 0;
    for watch in bootstraps::stalled(deps, deps.now(), max).await? {
        let b = bootstraps::get(deps, watch.bootstrap_id).await?;
        let Some(b) = b.filter(|b| b.is_running() && watch.is_current(b)) else {
            // A watch its saga moved past.
            bootstraps::drop_watch(deps, &watch).await;
            continue;
        };
        let mut next = saga::moved(deps, &b, b.clone());
        let minutes = bootstraps::STALL_AFTER.as_secs() / 60;
        if b.attempts + 1 >= MAX_ATTEMPTS && b.error_code.is_none() {
            tracing::error!(bootstrap_id = %b.id, stage = b.stage.as_str(), "bootstrap stalled too often; failing it");
            next.error_code = Some(b.stage.failure());
            next.error_message = Some(format!(
                "the {} step made no progress for {minutes} minutes, {MAX_ATTEMPTS} times",
                b.stage.as_str()
            ));
            next.attempts = 0;
        } else {
            tracing::warn!(bootstrap_id = %b.id, stage = b.stage.as_str(), "bootstrap stalled; its step is queued again");
            next.attempts += 1;
        }
        let mut work = UnitOfWork::new();
        work.replace_bootstrap(&b, &next)?;
        work.enqueue(BOOTSTRAP_QUEUE, saga::job(b.id), Duration::ZERO)?;
        match saga::commit(deps, work, Next::Done).await {
            Ok(_) => resumed += 1,
            Err(e) => {
                tracing::warn!(bootstrap_id = %b.id, error = %e.message, "could not resume a stalled bootstrap")
            }
        }
    }
    Ok(resumed)
}
