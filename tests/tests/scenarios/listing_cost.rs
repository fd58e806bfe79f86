//! A list costs its page, whatever the history: the same store calls and the same items read
//! for an app with 100,000 deployments as for one with 10, at the head and deep in the history.

use std::sync::Arc;

use axhub_domain::deployment::NewDeployment;
use axhub_domain::{Deployment, Environment, TriggerSource};
use axhub_store::{Store, TxOp, Update};
use axhub_tests::*;
use http::{Method, StatusCode};
use uuid::Uuid;

/// A deployment of the app as the trigger makes it, number `seq`.
fn seeded(tenant: Uuid, app: Uuid, seq: u64, now: time::OffsetDateTime) -> Deployment {
    Deployment::new(NewDeployment {
        id: Uuid::now_v7(),
        app_id: app,
        tenant_id: tenant,
        seq,
        commit_sha: sha(seq),
        branch: Some("main".into()),
        trigger_source: TriggerSource::Manual,
        environment: Environment::Production,
        force_rebuild: false,
        triggered_by: "seed".into(),
        now,
    })
}

/// Writes `n` finished deployments the way the trigger does (dense seq, counters).
async fn seed_history(store: &dyn Store, tenant: Uuid, app: Uuid, n: u64) {
    let now = time::OffsetDateTime::now_utc();
    let mut seq = 0;
    while seq < n {
        let mut ops = Vec::new();
        while ops.len() < 99 && seq < n {
            seq += 1;
            let mut d = seeded(tenant, app, seq, now);
            d.cancel(now).unwrap();
            ops.push(TxOp::Put {
                item: axhub_app::state::deployments::item(&d).unwrap(),
                cond: None,
            });
        }
        ops.push(TxOp::Update {
            key: axhub_app::state::apps::state_key(app),
            update: Update::new().set("deployments_total", seq),
            cond: None,
        });
        store.transact(ops).await.unwrap();
    }
}

/// What the first page and an offset page of `list` cost on the big app, then on the small
/// one: (store calls, items read) each.
async fn page_costs(t: &TestApp, counting: &CountingStore, list: &str) -> Vec<(u64, u64)> {
    let w = &t.world;
    let mut costs = Vec::new();
    for (app, query) in [
        (w.app, "limit=10"),
        (w.app2, "limit=10"),
        (w.app, "limit=5&offset=5"),
        (w.app2, "limit=5&offset=5"),
    ] {
        counting.reset();
        let uri = format!("/api/v1/apps/{app}/{list}?{query}");
        let r = t.call(Method::GET, &uri, Some(&w.member), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        costs.push(counting.snapshot());
    }
    costs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_costs_the_page_not_the_history() {
    let counting = Arc::new(CountingStore::new(sqlite_store().await));
    let t = app_on(counting.clone()).await;
    let w = &t.world;
    seed_history(counting.as_ref(), w.tenant, w.app, 100_000).await;
    seed_history(counting.as_ref(), w.tenant, w.app2, 10).await;

    let costs = page_costs(&t, &counting, "deployments").await;
    // (store calls, items read): the big history costs exactly what the small one does.
    assert_eq!(costs[0], costs[1], "first page: {costs:?}");
    assert_eq!(costs[2], costs[3], "offset page: {costs:?}");

    // Deep in the history: offset 99,990 reads one page too, and total is not counted.
    counting.reset();
    let deep = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments?limit=10&offset=99990", w.app),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(deep.body["total"], 100_000);
    assert_eq!(deep.body["items"][0]["seq"], 10);
    assert_eq!(deep.body["items"][9]["seq"], 1);
    assert_eq!(counting.snapshot(), costs[1]);
    println!("list cost (store calls, items read) with 100,000 vs 10 deployments: {costs:?}");
}

/// Writes `n` releases the way a success does (its index item, the counter).
async fn seed_releases(t: &TestApp, app: Uuid, n: u64) {
    let now = time::OffsetDateTime::now_utc();
    let mut number = 0;
    while number < n {
        let mut work = axhub_app::state::UnitOfWork::new();
        for _ in 0..99 {
            if number == n {
                break;
            }
            number += 1;
            let mut d = seeded(t.world.tenant, app, number, now);
            d.image_uri = Some(format!("registry.test/app:{}", sha(number)));
            work.record_release(&d, number).unwrap();
        }
        work.commit(&t.deps).await.unwrap();
    }
    t.deps
        .store
        .update(
            &axhub_app::state::apps::state_key(app),
            Update::new().set("releases_total", n),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_releases_list_costs_the_page_not_the_history() {
    let counting = Arc::new(CountingStore::new(sqlite_store().await));
    let t = app_on(counting.clone()).await;
    let w = t.world.clone();
    seed_releases(&t, w.app, 20_000).await;
    seed_releases(&t, w.app2, 10).await;
    let costs = page_costs(&t, &counting, "releases").await;
    assert_eq!(costs[0], costs[1], "first page: {costs:?}");
    assert_eq!(costs[2], costs[3], "offset page: {costs:?}");
    counting.reset();
    let deep = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/releases?limit=10&offset=19990", w.app),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(deep.body["total"], 20_000);
    assert_eq!(deep.body["items"][0]["version"], "v10");
    assert_eq!(deep.body["items"][9]["version"], "v1");
    assert_eq!(counting.snapshot(), costs[1]);
    println!("releases cost (store calls, items read) with 20,000 vs 10 releases: {costs:?}");
}
