//! 50 concurrent triggers for one app: exactly one 202 and 49 × 409, on both stores. The
//! guarantee is the conditional transaction on the app's slot, not a read.

use axhub_tests::*;
use http::StatusCode;

async fn fifty_concurrent_posts(t: TestApp) {
    let mut tasks = Vec::new();
    for n in 0..50u64 {
        let router = t.router.clone();
        let token = t.token(&t.world.owner);
        let app = t.world.app;
        tasks.push(tokio::spawn(async move {
            let req = http::Request::post(format!("/api/v1/apps/{app}/deployments"))
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::from(
                    serde_json::json!({"commit_sha": sha(n)}).to_string(),
                ))
                .unwrap();
            send(&router, req).await
        }));
    }
    let (mut accepted, mut conflicts) = (0, 0);
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::CONFLICT => {
                assert_eq!(r.category(), "conflict");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    assert_eq!((accepted, conflicts), (1, 49));
    let list = t
        .call(
            http::Method::GET,
            &format!("/api/v1/apps/{}/deployments", t.world.app),
            Some(&t.world.owner),
            None,
        )
        .await;
    assert_eq!(list.body["total"], 1);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_posts_on_sqlite() {
    fifty_concurrent_posts(sqlite_app().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_posts_on_dynamodb() {
    fifty_concurrent_posts(app_on(dynamo_store().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_deployment_flow_on_dynamodb() {
    let t = app_on(dynamo_store().await).await;
    let w = &t.world;
    let r = t.deploy(w.app, &w.owner, SHA).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let did = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.deploy(w.app, &w.owner, SHA).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        t.cancel(w.app, &did, &w.owner).await.status,
        StatusCode::NO_CONTENT
    );
    let r2 = t.deploy(w.app, &w.owner, &sha(2)).await;
    assert_eq!(r2.status, StatusCode::ACCEPTED);
    let feed = t
        .call(
            http::Method::GET,
            &format!("/api/v1/tenants/{}/deployments?limit=1", w.tenant),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(feed.body["total"], 2);
    assert_eq!(feed.body["items"][0]["id"], r2.body["id"]);
    let c = feed.body["next_cursor"].as_str().unwrap();
    let next = t
        .call(
            http::Method::GET,
            &format!(
                "/api/v1/tenants/{}/deployments?limit=1&cursor={c}",
                w.tenant
            ),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(next.body["items"][0]["id"], did.as_str());
    let hist = t
        .call(
            http::Method::GET,
            &format!("/api/v1/apps/{}/deployments?offset=1", w.app),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(hist.body["items"][0]["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pipeline_runs_on_dynamodb_too() {
    let s = stack_on(dynamo_store().await, StackOptions::default()).await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let did = r.body["id"].as_str().unwrap().to_owned();
    let d = s
        .wait_for(w.app, &did, |b| {
            matches!(
                b["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            )
        })
        .await;
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["release_version"], "v1");
    assert_eq!(s.wait_events(&did, 6).await.len(), 6);
}
