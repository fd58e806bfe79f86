//! Trigger, inspect, list, cancel and the tenant feed, rule by rule.

use axhub_store::{Index, Query};
use axhub_tests::*;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::json;

fn id(r: &Resp) -> String {
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_new_deployment_is_pending_and_holds_the_slot() {
    let t = sqlite_app().await;
    let w = &t.world;
    let r = t.deploy(w.app, &w.owner, &SHA.to_uppercase()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let b = &r.body;
    assert_eq!(b["status"], "pending");
    assert_eq!(b["current_stage"], "pending");
    assert_eq!(b["trigger_source"], "manual");
    assert_eq!(b["commit_sha"], SHA, "normalized to lowercase");
    assert_eq!(b["app_id"], w.app.to_string());
    assert_eq!(b["branch"], "main");
    assert_eq!(b["environment"], "production");
    assert!(
        b["completed_at"].is_null() && b["failure_reason"].is_null() && b["image_uri"].is_null()
    );
    assert!(
        time::OffsetDateTime::parse(
            b["started_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );

    let again = t.deploy(w.app, &w.admin, SHA).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.category(), "conflict");
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&id(&r))
    );
    // Another app of the tenant is not blocked.
    assert_eq!(
        t.deploy(w.app2, &w.owner, SHA).await.status,
        StatusCode::ACCEPTED
    );

    let got = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments/{}", w.app, id(&r)),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["id"], r.body["id"]);
    assert_eq!(got.body["status"], "pending");
}

#[tokio::test]
async fn the_trigger_writes_its_event_and_build_job_in_the_same_transaction() {
    let t = sqlite_app().await;
    let r = t.deploy(t.world.app, &t.world.owner, SHA).await;
    let page = t
        .deps
        .store
        .query(Query::new(Index::Gsi1, axhub_app::state::outbox::PENDING).limit(100))
        .await
        .unwrap();
    let mine: Vec<serde_json::Value> = page
        .items
        .into_iter()
        .map(serde_json::Value::Object)
        .filter(|i| {
            i["event"]["detail"]["deployment_id"] == r.body["id"]
                || i["body"]["deployment_id"] == r.body["id"]
        })
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(
        mine.iter()
            .any(|i| i["channel"] == "event" && i["event"]["kind"] == "DeploymentStarted")
    );
    assert!(
        mine.iter()
            .any(|i| i["channel"] == "job" && i["queue"] == "deploy")
    );
}

#[tokio::test]
async fn preconditions_answer_412_with_their_codes() {
    let t = sqlite_app().await;
    let w = &t.world;
    let r = t.deploy(w.no_subdomain_app, &w.admin, SHA).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (412, "subdomain_not_configured")
    );
    let r = t.deploy(w.unconnected_app, &w.admin, SHA).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (412, "git_connection_required")
    );
    assert_eq!(r.category(), "precondition_failed");
    let r = t.deploy(w.approved_app, &w.admin, SHA).await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "staging_required"));
    // With staging on, an approved app deploys to staging.
    axhub_app::directory::set_staging_enabled(&t.deps, w.approved_app, true)
        .await
        .unwrap();
    let r = t.deploy(w.approved_app, &w.admin, SHA).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["environment"], "staging");
}

#[tokio::test]
async fn bad_input_is_400_naming_the_field_and_nothing_is_created() {
    let t = sqlite_app().await;
    let w = &t.world;
    for bad in ["abc", &"g".repeat(40), &"a".repeat(41)] {
        let r = t.deploy(w.app, &w.owner, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.body["error"]["fields"][0]["name"], "commit_sha");
        assert_eq!(r.category(), "validation");
    }
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/apps/{}/deployments", w.app),
            Some(&w.owner),
            Some(json!({"force_rebuild": "yes"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let raw = Request::post(format!("/api/v1/apps/{}/deployments", w.app))
        .header("authorization", format!("Bearer {}", t.token(&w.owner)))
        .body(Body::from("{not json"))
        .unwrap();
    let r = send(&t.router, raw).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "bad_request"));
    let r = t
        .call(
            Method::GET,
            "/api/v1/apps/not-a-uuid/deployments",
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["fields"][0]["name"], "appID");
    for q in ["limit=0", "limit=101", "limit=x", "offset=-1"] {
        let r = t
            .call(
                Method::GET,
                &format!("/api/v1/apps/{}/deployments?{q}", w.app),
                Some(&w.owner),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(
            r.body["error"]["fields"][0]["name"],
            q.split('=').next().unwrap()
        );
    }
    let list = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments", w.app),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(list.body["total"], 0);
}

#[tokio::test]
async fn an_empty_commit_needs_github_and_says_so() {
    let t = sqlite_app().await;
    // No body at all: Content-Length 0 and no Content-Type.
    let req = Request::post(format!("/api/v1/apps/{}/deployments", t.world.app))
        .header(
            "authorization",
            format!("Bearer {}", t.token(&t.world.owner)),
        )
        .header("content-length", "0")
        .body(Body::empty())
        .unwrap();
    let r = send(&t.router, req).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (503, "backend_unimplemented")
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("commit_sha")
    );
    assert_eq!(r.body["error"]["retryable"], false);
}

#[tokio::test]
async fn history_is_newest_first_with_offset_cursor_and_total() {
    let t = sqlite_app().await;
    let w = &t.world;
    let mut ids = Vec::new();
    for n in 0..7u64 {
        let r = t.deploy(w.app, &w.owner, &sha(n)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        ids.push(id(&r));
        t.finish(w.app, &id(&r), "succeeded").await;
    }
    ids.reverse();
    let base = format!("/api/v1/apps/{}/deployments", w.app);
    let all = t.call(Method::GET, &base, Some(&w.member), None).await;
    assert_eq!(all.body["total"], 7);
    let got: Vec<_> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids);
    assert_eq!(all.body["next_cursor"], "");

    let page = t
        .call(
            Method::GET,
            &format!("{base}?limit=2&offset=3"),
            Some(&w.member),
            None,
        )
        .await;
    let got: Vec<_> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids[3..5].to_vec());
    assert_eq!(
        t.call(
            Method::GET,
            &format!("{base}?offset=7"),
            Some(&w.member),
            None
        )
        .await
        .body["items"],
        json!([])
    );

    // Walk with the cursor.
    let mut seen = Vec::new();
    let mut uri = format!("{base}?limit=3");
    loop {
        let p = t.call(Method::GET, &uri, Some(&w.member), None).await;
        assert_eq!(p.status, StatusCode::OK);
        for d in p.body["items"].as_array().unwrap() {
            seen.push(d["id"].as_str().unwrap().to_owned());
        }
        let c = p.body["next_cursor"].as_str().unwrap();
        if c.is_empty() {
            break;
        }
        uri = format!("{base}?limit=3&cursor={c}");
    }
    assert_eq!(seen, ids);

    // A cursor is bound to its list and cannot be forged.
    let p = t
        .call(
            Method::GET,
            &format!("{base}?limit=3"),
            Some(&w.member),
            None,
        )
        .await;
    let c = p.body["next_cursor"].as_str().unwrap();
    let other = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments?cursor={c}", w.app2),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    let forged = format!("x{}", &c[1..]);
    assert_eq!(
        t.call(
            Method::GET,
            &format!("{base}?cursor={forged}"),
            Some(&w.member),
            None
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn cancel_frees_the_slot_and_respects_terminal_states() {
    let t = sqlite_app().await;
    let w = &t.world;
    let r = t.deploy(w.app, &w.owner, SHA).await;
    let did = id(&r);
    assert_eq!(
        t.cancel(w.app, &did, &w.owner).await.status,
        StatusCode::NO_CONTENT
    );
    let got = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments/{did}", w.app),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(got.body["status"], "cancelled");
    assert!(got.body["current_stage"].is_null());
    assert!(got.body["completed_at"].is_string());
    assert!(got.body["cancel_requested_at"].is_string());
    // Again: idempotent 204.
    assert_eq!(
        t.cancel(w.app, &did, &w.admin).await.status,
        StatusCode::NO_CONTENT
    );
    // The slot is free at once.
    let next = t.deploy(w.app, &w.owner, SHA).await;
    assert_eq!(next.status, StatusCode::ACCEPTED);
    for terminal in ["succeeded", "failed"] {
        t.finish(w.app, &id(&next), terminal).await;
        let r = t.cancel(w.app, &id(&next), &w.owner).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{terminal}");
        assert_eq!(r.code(), "invalid_state_transition");
    }
    // Another app's deployment id under this app does not exist.
    let r = t.cancel(w.app2, &did, &w.owner).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .cancel(w.app, &uuid::Uuid::now_v7().to_string(), &w.owner)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_tenant_feed_spans_apps_newest_first() {
    let t = sqlite_app().await;
    let w = &t.world;
    let mut ids = Vec::new();
    for n in 0..5u64 {
        let app = if n % 2 == 0 { w.app } else { w.app2 };
        let r = t.deploy(app, &w.admin, &sha(n)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        ids.push(id(&r));
        t.finish(app, &id(&r), "succeeded").await;
    }
    ids.reverse();
    let base = format!("/api/v1/tenants/{}/deployments", w.tenant);
    let p1 = t
        .call(
            Method::GET,
            &format!("{base}?limit=3"),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(p1.status, StatusCode::OK);
    assert_eq!(p1.body["total"], 5);
    let c = p1.body["next_cursor"].as_str().unwrap().to_owned();
    assert!(!c.is_empty());
    let p2 = t
        .call(
            Method::GET,
            &format!("{base}?limit=3&cursor={c}"),
            Some(&w.member),
            None,
        )
        .await;
    let got: Vec<_> = p1.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2.body["items"].as_array().unwrap())
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids);
    assert_eq!(p2.body["next_cursor"], "");
    assert!(p1.body["items"][0]["app_id"].is_string());
    let r = t
        .call(
            Method::GET,
            &format!("{base}?limit=200"),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let t = sqlite_app().await;
    let w = &t.world;
    let post = |key: &str, sha: &str| {
        Request::post(format!("/api/v1/apps/{}/deployments", w.app))
            .header("authorization", format!("Bearer {}", t.token(&w.owner)))
            .header("idempotency-key", key)
            .body(Body::from(json!({"commit_sha": sha}).to_string()))
            .unwrap()
    };
    let first = send(&t.router, post("k-1", SHA)).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let again = send(&t.router, post("k-1", SHA)).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "a retry is not a 409");
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other_body = send(&t.router, post("k-1", &sha(9))).await;
    assert_eq!(other_body.status, StatusCode::BAD_REQUEST);
    assert_eq!(other_body.code(), "idempotency_key_reused");
    let other_key = send(&t.router, post("k-2", SHA)).await;
    assert_eq!(other_key.status, StatusCode::CONFLICT);
    let list = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments", w.app),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(list.body["total"], 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_deployment() {
    let t = sqlite_app().await;
    let w = t.world.clone();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let router = t.router.clone();
        let token = t.token(&w.owner);
        let app = w.app;
        tasks.push(tokio::spawn(async move {
            let req = Request::post(format!("/api/v1/apps/{app}/deployments"))
                .header("authorization", format!("Bearer {token}"))
                .header("idempotency-key", "same")
                .body(Body::from(json!({"commit_sha": SHA}).to_string()))
                .unwrap();
            send(&router, req).await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let r = task.await.unwrap();
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        ids.insert(id(&r));
    }
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn errors_carry_the_request_id_and_the_envelope() {
    let t = sqlite_app().await;
    let req = Request::get(format!("/api/v1/apps/{}/deployments", t.world.app))
        .header("x-request-id", "req-123")
        .body(Body::empty())
        .unwrap();
    let r = send(&t.router, req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["x-request-id"], "req-123");
    let e = &r.body["error"];
    assert_eq!(e["request_id"], "req-123");
    assert_eq!(e["category"], "unauthenticated");
    assert_eq!(e["code"], "token_missing");
    assert_eq!(e["retryable"], false);
    assert!(e["message"].is_string());
    // Unknown routes and methods answer in the same envelope, with a minted id.
    let r = t
        .call(Method::GET, "/api/v1/nowhere", Some(&t.world.owner), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["error"]["request_id"],
        r.headers["x-request-id"].to_str().unwrap()
    );
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/apps/{}/deployments", t.world.app),
            Some(&t.world.owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.category(), "validation");
    let r = t.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_describes_the_five_operations() {
    let t = sqlite_app().await;
    let r = t
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.body["paths"].as_object().unwrap();
    let ops: Vec<&str> = paths
        .values()
        .flat_map(|p| {
            p.as_object()
                .unwrap()
                .values()
                .filter_map(|o| o["operationId"].as_str())
        })
        .collect();
    for op in [
        "deployGetApiV1AppsByAppIDDeployments",
        "deployPostApiV1AppsByAppIDDeployments",
        "deployGetApiV1AppsByAppIDDeploymentsByDid",
        "deployPostApiV1AppsByAppIDDeploymentsByDidCancel",
        "deployGetApiV1TenantsByTenantIDDeployments",
    ] {
        assert!(ops.contains(&op), "{op} missing from {ops:?}");
    }
    assert!(r.body["components"]["schemas"]["Deployment"].is_object());
}
