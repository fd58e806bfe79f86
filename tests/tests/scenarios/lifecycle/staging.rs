//! Staging on and off: their refusals, and an enable that fails at its last step.

use std::time::Duration;

use axhub_app::state::apps;
use axhub_domain::Environment;
use axhub_ports::appdb::AppDbError;
use axhub_tests::*;
use http::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staging_on_and_off_refuse_what_they_must() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let put = |app: Uuid, who: String| {
        let s = &s;
        async move {
            let uri = format!("/api/v1/apps/{app}/staging");
            s.app.call(Method::PUT, &uri, Some(&who), None).await
        }
    };
    let r = put(w.app, w.owner.clone()).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "prod_deploy_required"));
    deployed(&s, w.app, 1).await;
    let r = put(w.app, w.member.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = put(w.app, w.outsider.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = put(Uuid::now_v7(), w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Staging off: preflight and disable say so.
    let some = Uuid::now_v7();
    let p = s
        .app
        .call(
            Method::GET,
            &format!(
                "/api/v1/apps/{}/releases/promote-preflight?deployment_id={some}",
                w.app
            ),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!((p.status.as_u16(), p.code()), (412, "staging_not_enabled"));
    let r = s
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/apps/{}/staging", w.app),
            Some(&w.admin),
            Some(json!({"confirm_discard_ops": true})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "staging_not_enabled"));

    // Staging on (by a tenant admin); preflight's own refusals.
    assert_eq!(
        put(w.app, w.admin.clone()).await.status,
        StatusCode::ACCEPTED
    );
    let preflight = |q: String, who: String| {
        let s = &s;
        async move {
            let uri = format!("/api/v1/apps/{}/releases/promote-preflight{q}", w.app);
            s.app.call(Method::GET, &uri, Some(&who), None).await
        }
    };
    let r = preflight(String::new(), w.owner.clone()).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "required"));
    let r = preflight("?deployment_id=nope".into(), w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = preflight(format!("?deployment_id={some}"), w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let v2 = deployed(&s, w.app, 2).await;
    let q = format!("?deployment_id={}", v2["id"].as_str().unwrap());
    let r = preflight(q.clone(), w.member.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "env keys and ops are not for every member"
    );
    // The image gone from the registry: not promotable.
    s.sim.delete_image(v2["image_uri"].as_str().unwrap());
    let r = preflight(q, w.owner.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["missing_images"], json!([v2["image_uri"]]));
    assert_eq!(r.body["promotable"], false);

    // A deployment on staging holds the slot: disabling waits for it.
    let running = s.app.deploy(w.app, &w.owner, &sha(3)).await;
    let r = s
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/apps/{}/staging", w.app),
            Some(&w.owner),
            Some(json!({"confirm_discard_ops": true})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "conflict"));
    s.wait_for(w.app, &did(&running), terminal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staging_enable_failing_at_its_last_step_leaves_nothing_behind() {
    let faulty = std::sync::Arc::new(FaultyStore::new(sqlite_store().await));
    let s = stack_on(faulty.clone(), StackOptions::default()).await;
    let w = s.app.world.clone();
    let db = s.app.deps.app_db().unwrap().clone();
    production_schema(db.as_ref(), w.app).await;
    deployed(&s, w.app, 1).await;
    let uri = format!("/api/v1/apps/{}/staging", w.app);

    // The claim commits, the fork is made, the opt-in fails.
    faulty.fail_transaction(2);
    let r = s.app.call(Method::PUT, &uri, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert!(!faulty.armed(), "the failure hit the opt-in");
    assert!(
        matches!(
            db.describe(w.app, Environment::Staging).await,
            Err(AppDbError::NoSchema { .. })
        ),
        "the fork was dropped"
    );
    let ctx = apps::existing(&s.app.deps, w.app).await.unwrap();
    assert!(!ctx.app.staging_enabled);
    assert_eq!(ctx.app.staging_deployment_id, None);
    assert!(
        ctx.state.staging_claim.is_none(),
        "the claim was given back"
    );
    assert!(
        !lifecycle_events(&s, w.app)
            .iter()
            .any(|(t, _)| t == "StagingEnabled")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(image_in(&s, w.app, Environment::Staging).await, None);

    // Nothing blocks the next attempt.
    let r = s.app.call(Method::PUT, &uri, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert!(db.describe(w.app, Environment::Staging).await.is_ok());
}
