//! Nothing is lost, and nothing stalls (issue #9): background work keeps moving past what
//! cannot be done.

use std::time::Duration;

use axhub_app::Deps;
use axhub_app::state::UnitOfWork;
use axhub_app::state::outbox::{MAX_PUBLISH_ATTEMPTS, parked};
use axhub_domain::{DomainEvent, EventKind};
use axhub_tests::*;
use serde_json::json;

#[tokio::test]
async fn an_entry_that_never_publishes_is_parked_and_the_sweeper_moves_past_it() {
    let s = idle_stack().await;
    let w = s.app.world.clone();
    // Written by a process that died before publishing: three jobs for a queue no publisher
    // serves, then an event that publishes fine.
    let writer = Deps::new(s.app.deps.store.clone(), b"cursor-secret");
    let mut work = UnitOfWork::new();
    for n in 0..3 {
        work.enqueue("nowhere", json!({"n": n}), Duration::ZERO)
            .unwrap();
    }
    let event = DomainEvent::new(
        EventKind::StagingEnabled,
        w.tenant,
        w.app,
        time::OffsetDateTime::now_utc(),
        json!({"marker": "behind the stuck ones"}),
    );
    work.emit(event.clone()).unwrap();
    work.commit(&writer).await.ok().unwrap();

    let mut sweeps = 0;
    while !s.bus.history().iter().any(|e| e.id == event.id) {
        sweeps += 1;
        assert!(sweeps <= MAX_PUBLISH_ATTEMPTS + 1, "the sweeper stalled");
        axhub_app::outbox::sweep(&s.app.deps, Duration::ZERO, 3)
            .await
            .unwrap();
    }
    assert_eq!(sweeps, MAX_PUBLISH_ATTEMPTS + 1);
    assert_eq!(parked(&s.app.deps, 10).await.unwrap().len(), 3);
    // Parked entries are out of the way for good.
    assert_eq!(
        axhub_app::outbox::sweep(&s.app.deps, Duration::ZERO, 3)
            .await
            .unwrap(),
        0
    );
}
