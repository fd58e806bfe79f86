//! The watchdog: a saga whose job was lost (dead-lettered, dropped) is not left running.
//! Nothing moved it for `STALL_AFTER`: its step is queued again and it ends done; lost every
//! time, it fails with the step's code, cleans up and says so.

use axhub_app::bootstrap::watchdog::resume_stalled;
use axhub_app::state::bootstraps::STALL_AFTER;

use super::*;

fn stall_secs() -> i64 {
    STALL_AFTER.as_secs() as i64
}

#[tokio::test]
async fn a_saga_whose_job_was_lost_is_resumed_and_ends_done_once() {
    let b = setup().await;
    let id = b.start(b.request()).await;
    b.run_until(id, |s| s.stage.as_str() == "push").await;
    b.take_step().await;
    assert_eq!(
        resume_stalled(b.deps(), 100).await.unwrap(),
        0,
        "not stalled yet"
    );

    b.clock.set_secs(stall_secs() + 60);
    assert_eq!(resume_stalled(b.deps(), 100).await.unwrap(), 1);
    assert_eq!(
        resume_stalled(b.deps(), 100).await.unwrap(),
        0,
        "resuming moved its watch"
    );
    let drained = b.drain().await;
    assert!(drained.errors.is_empty(), "{drained:?}");
    let v = b.view(id).await;
    assert_eq!(v["status"], "done", "{v}");
    assert_eq!(b.sim.calls("POST /orgs/{org}/repos"), 1);
    assert_eq!(b.sim.commits("acme/shop", "main").len(), 2);
    // An ended saga has no watch left.
    b.clock.set_secs(10 * stall_secs());
    assert_eq!(resume_stalled(b.deps(), 100).await.unwrap(), 0);
}

#[tokio::test]
async fn a_saga_that_keeps_stalling_fails_with_its_steps_code_and_cleans_up() {
    let b = setup().await;
    let id = b.start(b.request()).await;
    b.run_until(id, |s| s.stage.as_str() == "push").await;
    let mut shift = 0;
    for round in 1..=saga_attempts() {
        b.take_step().await;
        shift += stall_secs() + 60;
        b.clock.set_secs(shift);
        assert_eq!(
            resume_stalled(b.deps(), 100).await.unwrap(),
            1,
            "round {round}"
        );
    }
    // The last round recorded the failure and queued the clean-up.
    let rec = b.record(id).await;
    assert_eq!(rec.error_code.map(|c| c.as_str()), Some("push_failed"));
    let drained = b.drain().await;
    assert!(drained.errors.is_empty(), "{drained:?}");
    let v = b.view(id).await;
    assert_eq!(
        (v["status"].as_str(), v["error_code"].as_str()),
        (Some("failed"), Some("push_failed"))
    );
    assert!(
        v["error_message"].as_str().unwrap().contains("no progress"),
        "{v}"
    );
    assert!(
        b.sim.repository("acme/shop").is_none(),
        "its own empty repository is deleted"
    );
    assert_eq!(b.count(rec.app_id, "BootstrapFinished"), 1);
    assert_eq!(b.count(rec.app_id, "AppWithdrawn"), 1);
}

fn saga_attempts() -> u32 {
    axhub_app::bootstrap::saga::MAX_ATTEMPTS
}
