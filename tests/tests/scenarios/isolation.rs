//! One tenant's names never reach another's objects, and the platform's insides never reach
//! a tenant (issue #9): labels are checked before any Kubernetes name or host is built from
//! them, and the cluster's own error text stays in the log.

use axhub_tests::*;
use http::{Method, StatusCode};
use serde_json::json;

async fn rename(t: &TestApp, slug: &str, subdomain: &str, version: i64) {
    let w = &t.world;
    let app = json!({"id": w.app, "tenant_id": w.tenant, "owner_id": w.owner, "slug": slug,
                     "subdomain": subdomain, "approved": false, "version": version});
    axhub_app::ingest::apply_delivered(&t.deps, "axhub.apps", "AppUpserted", &app)
        .await
        .unwrap();
}

#[tokio::test]
async fn slugs_and_subdomains_that_are_not_dns_labels_or_name_a_staging_set_do_not_deploy() {
    let t = sqlite_app().await;
    let w = t.world.clone();
    let mut version = 1_900_000_000_000;
    for (slug, subdomain, field) in [
        ("foo-staging", "foo", "slug"),
        ("foo", "foo-staging", "subdomain"),
        ("Foo", "foo", "slug"),
        ("foo", "foo.bar", "subdomain"),
        ("foo", "-foo", "subdomain"),
        ("foo_bar", "foo", "slug"),
    ] {
        version += 1;
        rename(&t, slug, subdomain, version).await;
        let r = t.deploy(w.app, &w.owner, SHA).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (412, "subdomain_not_configured"),
            "{slug}/{subdomain}: {:?}",
            r.body
        );
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{slug}/{subdomain}: {message}");
    }
    rename(&t, "foo", "foo", version + 1).await;
    assert_eq!(
        t.deploy(w.app, &w.owner, SHA).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_clusters_own_error_text_never_reaches_the_tenant() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let rbac = "deployments.apps is forbidden: User \"system:serviceaccount:axhub:deployer\" \
                cannot create resource \"deployments\" in namespace \"tenant-x\"";
    s.sim.refuse_apply(Some(rbac));
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    let d = s.wait_for(w.app, &did(&r), terminal).await;
    assert_eq!(d["status"], "failed");
    let reason = &d["failure_reason"];
    assert_eq!(reason["code"], "platform.cluster_refused");
    let message = reason["message"].as_str().unwrap();
    assert!(
        !message.contains("forbidden") && !message.contains("serviceaccount"),
        "{message}"
    );

    // Diagnosis of an unreachable cluster: 503 in the platform's words.
    s.sim.refuse_apply(None);
    s.sim.set_unavailable(true);
    let r = s
        .app
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/diagnosis", w.app),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        !r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("simulated outage"),
        "{:?}",
        r.body
    );
    s.sim.set_unavailable(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rollback_worker_never_rolls_out_another_apps_release() {
    use axhub_app::state::UnitOfWork;
    use axhub_app::state::apps::ActiveChange;
    use axhub_domain::{Rollback, RollbackStatus};
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let mine = s.app.deploy(w.app, &w.owner, &sha(1)).await;
    let mine = s.wait_for(w.app, &did(&mine), terminal).await;
    let theirs = s.app.deploy(w.app2, &w.owner, &sha(2)).await;
    let theirs = s.wait_for(w.app2, &did(&theirs), terminal).await;
    s.stop_worker();
    // A forged (or corrupted) rollback record: this app, the other app's release and image.
    let now = time::OffsetDateTime::now_utc();
    let r = Rollback {
        id: uuid::Uuid::now_v7(),
        app_id: w.app,
        tenant_id: w.tenant,
        deployment_id: theirs["id"].as_str().unwrap().parse().unwrap(),
        release_version: Some("v1".into()),
        image_uri: theirs["image_uri"].as_str().unwrap().to_owned(),
        previous_deployment_id: mine["id"].as_str().unwrap().parse().ok(),
        status: RollbackStatus::Deploying,
        failure_reason: None,
        requested_by: w.owner.clone(),
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    let mut work = UnitOfWork::new();
    work.claim_slot(w.app, ActiveChange::Rollback(r.id), None);
    work.insert_rollback(&r).unwrap();
    work.commit(&s.app.deps).await.ok().unwrap();
    let job = axhub_app::jobs::Job::Rollback { rollback_id: r.id };
    assert_eq!(
        axhub_app::worker::run(&s.app.deps, &job).await.unwrap(),
        axhub_app::jobs::Next::Done
    );
    let ended = axhub_app::state::rollbacks::get(&s.app.deps, r.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, RollbackStatus::Failed);
    let ctx = axhub_app::state::apps::existing(&s.app.deps, w.app)
        .await
        .unwrap();
    assert_eq!(
        ctx.app
            .production_deployment_id
            .map(|d| d.to_string())
            .as_deref(),
        mine["id"].as_str()
    );
    let workload =
        axhub_app::pipeline::workload(&s.app.deps, &ctx, axhub_domain::Environment::Production)
            .await
            .unwrap();
    assert_eq!(
        s.sim.running_image(&workload).as_deref(),
        mine["image_uri"].as_str()
    );
    assert_eq!(ctx.state.active, None);
}
