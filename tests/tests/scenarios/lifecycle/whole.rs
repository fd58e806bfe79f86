//! The whole path, from a production release to staging off.

use axhub_app::state::promotions;
use axhub_domain::{Environment, PromoteStatus};
use axhub_ports::appdb::{AppDbError, SchemaDescription};
use axhub_tests::*;
use http::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_lifecycle_from_production_through_staging_promotion_and_rollback() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let app = w.app;
    let db = s.app.deps.app_db().unwrap().clone();
    production_schema(db.as_ref(), app).await;

    // Production first.
    let v1 = deployed(&s, app, 1).await;
    let v1_id = v1["id"].as_str().unwrap().to_owned();
    let staging_uri = format!("/api/v1/apps/{app}/staging");

    // Enable staging: the schema forked (structure, no rows), the seed rolled out.
    let r = s
        .app
        .call(Method::PUT, &staging_uri, Some(&w.owner), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let prod: SchemaDescription = db.describe(app, Environment::Production).await.unwrap();
    assert_eq!(db.describe(app, Environment::Staging).await.unwrap(), prod);
    assert_eq!(
        db.row_count(app, Environment::Staging, &ident(USERS))
            .await
            .unwrap(),
        0
    );
    let r = s
        .app
        .call(Method::PUT, &staging_uri, Some(&w.owner), None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "staging_already_enabled")
    );
    let v1_image = v1["image_uri"].as_str().map(str::to_owned);
    eventually("staging seeded with production's release", || async {
        image_in(&s, app, Environment::Staging).await == v1_image
    })
    .await;

    // A trigger lands on staging; production keeps v1.
    let v2 = deployed(&s, app, 2).await;
    let v2_id = v2["id"].as_str().unwrap().to_owned();
    assert_eq!(v2["environment"], "staging");
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v1_id));
    assert_eq!(image_in(&s, app, Environment::Production).await, v1_image);
    assert_eq!(
        image_in(&s, app, Environment::Staging).await.as_deref(),
        v2["image_uri"].as_str()
    );
    let releases = s
        .app
        .call(
            Method::GET,
            &format!("/api/v1/apps/{app}/releases"),
            Some(&w.member),
            None,
        )
        .await;
    let items = releases.body["items"].as_array().unwrap();
    assert_eq!(
        (
            items[0]["active_staging"].as_bool(),
            items[1]["active_prod"].as_bool()
        ),
        (Some(true), Some(true)),
        "{items:?}"
    );

    // Schema ops and environment hashes by event; preflight shows them.
    for detail in staging_ops(app) {
        event(&s, "axhub.nocode-db", "SchemaOpRecorded", detail).await;
    }
    for (env, hashes) in [
        ("production", json!({"A": "h1", "B": "h2"})),
        ("staging", json!({"A": "h1", "B": "h3", "C": "h4"})),
    ] {
        let detail = json!({"app_id": app, "environment": env, "hashes": hashes, "version": 1});
        event(&s, "axhub.apps", "AppEnvChanged", detail).await;
    }
    let preflight_uri =
        format!("/api/v1/apps/{app}/releases/promote-preflight?deployment_id={v2_id}");
    let p = s
        .app
        .call(Method::GET, &preflight_uri, Some(&w.owner), None)
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["cursor_seq"], 3);
    assert_eq!(p.body["diff_keys"], json!(["B", "C"]));
    assert_eq!(p.body["missing_images"], json!([]));
    assert_eq!(p.body["promotable"], true);
    let ops: Vec<(u64, bool)> = p.body["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["seq"].as_u64().unwrap(),
                o["destructive"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(ops, vec![(2, false), (3, true)]);

    // A review is requested: staging cannot go while it is pending.
    let request = Uuid::now_v7();
    event(
        &s,
        "axhub.review",
        "ReviewRequested",
        review(request, app, &v2_id, 3, 1),
    )
    .await;
    let off = json!({"confirm_discard_ops": true});
    let r = s
        .app
        .call(
            Method::DELETE,
            &staging_uri,
            Some(&w.owner),
            Some(off.clone()),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (412, "pending_review_exists")
    );

    // Approved: promoted, ops applied once, workload swapped, pointer moved, events in order.
    approve(&s, request, app, &v2_id, 3, 2).await;
    eventually("promoted", || async {
        promotions::get(&s.app.deps, request)
            .await
            .unwrap()
            .is_some_and(|p| p.status == PromoteStatus::Promoted)
    })
    .await;
    eventually("the promoted event published", || async {
        lifecycle_events(&s, app).contains(&("PromoteStatusChanged".into(), "promoted".into()))
    })
    .await;
    // A repeated approval changes nothing.
    approve(&s, request, app, &v2_id, 3, 2).await;
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v2_id));
    assert_eq!(
        image_in(&s, app, Environment::Production).await.as_deref(),
        v2["image_uri"].as_str()
    );
    assert_eq!(
        db.applied_through(app, Environment::Production)
            .await
            .unwrap(),
        Some(3)
    );
    let users = db.describe(app, Environment::Production).await.unwrap();
    let columns: Vec<String> = users.tables[USERS]
        .columns
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(columns, vec!["id", "email"]);
    let promotion = promotions::get(&s.app.deps, request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(promotion.applied_ops, vec![2, 3]);
    assert_eq!(
        lifecycle_events(&s, app),
        pairs(&[
            ("ProductionPointerMoved", "deployment"),
            ("StagingEnabled", ""),
            // v2 on staging: the staging pointer.
            ("ProductionPointerMoved", "deployment"),
            ("PromoteStatusChanged", "promoting"),
            ("ProductionPointerMoved", "promotion"),
            ("PromoteStatusChanged", "promoted"),
        ])
    );
    let retry = format!("/api/v1/apps/{app}/promotions/{request}/retry");
    let r = s.app.call(Method::POST, &retry, Some(&w.owner), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "already_promoted"));

    // Rollbacks: to an unapproved version refused; to an approved one accepted, with and
    // without schema skew.
    let v3 = deployed(&s, app, 3).await;
    let v3_id = v3["id"].as_str().unwrap();
    let r = rollback(&s, app, v3_id, false).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "version_not_approved"));
    let r = rollback(&s, app, &v1_id, false).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "version_not_approved"));
    // v1 approved against the schema before the ops (cursor 1): the drop at 3 came after.
    let request_v1 = Uuid::now_v7();
    approve(&s, request_v1, app, &v1_id, 1, 1).await;
    eventually("v1 promoted", || async {
        promotions::get(&s.app.deps, request_v1)
            .await
            .unwrap()
            .is_some_and(|p| p.status == PromoteStatus::Promoted)
    })
    .await;
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v1_id));
    let r = rollback(&s, app, &v2_id, false).await;
    assert_eq!(
        r.status,
        StatusCode::ACCEPTED,
        "no skew for v2: {:?}",
        r.body
    );
    wait_rollback(&s, app, 1).await;
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v2_id));
    let r = rollback(&s, app, &v1_id, false).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "confirm_required"));
    assert!(r.body["error"]["message"].as_str().unwrap().contains("[3]"));
    let r = rollback(&s, app, &v1_id, true).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    wait_rollback(&s, app, 2).await;
    assert_eq!(production_pointer(&s, app).await.as_deref(), Some(&*v1_id));

    // Staging off: workload and database gone, ops discarded; the app (approved) needs it.
    let r = s
        .app
        .call(Method::DELETE, &staging_uri, Some(&w.owner), None)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "confirm_required"));
    let r = s
        .app
        .call(
            Method::DELETE,
            &staging_uri,
            Some(&w.owner),
            Some(off.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert!(matches!(
        db.describe(app, Environment::Staging).await,
        Err(AppDbError::NoSchema { .. })
    ));
    eventually("the staging workload removed", || async {
        image_in(&s, app, Environment::Staging).await.is_none()
    })
    .await;
    assert_eq!(image_in(&s, app, Environment::Production).await, v1_image);
    let r = s
        .app
        .call(Method::DELETE, &staging_uri, Some(&w.owner), Some(off))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "staging_not_enabled"));
    let r = s.app.deploy(app, &w.owner, &sha(9)).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "staging_required"));
    assert_eq!(
        lifecycle_events(&s, app).last(),
        Some(&("StagingDisabled".to_owned(), String::new()))
    );
}
