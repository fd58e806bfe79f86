//! GitHub webhooks on the asynchronous contract: a delivery is verified, recorded and queued
//! (202 `queued`); the deploy worker's job then deploys a push to the connected branch or
//! disconnects the apps of an uninstalled App or removed repository, and records what it
//! did on the delivery. Deliveries that ask for nothing are answered `ignored` at once.

use axhub_tests::*;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::github::{WEBHOOK_SECRET, reg, setup, sign};

pub(super) fn push_body(repo: &str, branch: &str, after: &str) -> Value {
    json!({
        "ref": format!("refs/heads/{branch}"),
        "before": "0000000000000000000000000000000000000001",
        "after": after,
        "created": false, "deleted": false, "forced": false,
        "repository": {"id": 1, "name": repo.split('/').nth(1), "full_name": repo,
                       "owner": {"login": repo.split('/').next(), "name": repo.split('/').next()}},
        "pusher": {"name": "octo", "email": "octo@example.com"},
        "sender": {"login": "octo", "id": 5},
        "installation": {"id": 7, "node_id": "MDIz"},
        "head_commit": {"id": after, "message": "change"}
    })
}

#[tokio::test]
async fn a_forged_or_missing_signature_is_401_and_does_nothing() {
    let g = setup().await;
    let body = push_body("acme/site", "main", &sha(1)).to_string();
    for sig in [
        Some(sign("wrong-secret", body.as_bytes())),
        Some(sign(WEBHOOK_SECRET, b"another body")),
        Some("sha256=".to_owned()),
        None,
    ] {
        let mut req = Request::post("/webhooks/github")
            .header("x-github-event", "push")
            .header("x-github-delivery", Uuid::new_v4().to_string());
        if let Some(s) = sig {
            req = req.header("x-hub-signature-256", s);
        }
        let r = send(&g.t.router, req.body(Body::from(body.clone())).unwrap()).await;
        assert_eq!((r.status.as_u16(), r.code()), (401, "invalid_signature"));
    }
    assert!(g.queued("github_delivery").await.is_empty());
    assert_eq!(g.deployments(g.w().app).await["total"], 0);
}

#[tokio::test]
async fn a_push_to_the_connected_branch_is_queued_then_deploys_that_commit_once() {
    let g = setup().await;
    let w = g.w().clone();
    let delivery = Uuid::new_v4().to_string();
    let after = sha(0xabc);
    let r = g
        .webhook("push", &delivery, &push_body("Acme/Site", "main", &after))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"delivery_id": delivery, "event": "push", "outcome": "queued"})
    );
    // Nothing is deployed until the worker runs the job.
    assert_eq!(g.deployments(w.app).await["total"], 0);
    assert_eq!(g.queued("github_delivery").await.len(), 1);
    assert!(g.work().await.is_empty());
    let done = g.processed(&delivery).await;
    assert_eq!(done["outcome"], "deployed");
    assert_eq!(done["delivery_id"], delivery.as_str());
    // app and app2 deploy; the app without subdomain and the approved one are skipped (412).
    assert_eq!(done["deployments"].as_array().unwrap().len(), 2);
    let skipped: Vec<&str> = done["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(skipped.len(), 2);
    assert!(skipped.contains(&"subdomain_not_configured") && skipped.contains(&"staging_required"));
    let list = g.deployments(w.app).await;
    assert_eq!(list["total"], 1);
    let d = &list["items"][0];
    assert_eq!(d["trigger_source"], "webhook");
    assert_eq!(d["commit_sha"], after);
    assert_eq!(d["branch"], "main");
    assert_eq!(d["triggered_by"], "github:octo");
    // Redelivered: nothing twice.
    let again = g
        .webhook("push", &delivery, &push_body("acme/site", "main", &after))
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["outcome"], "duplicate");
    assert!(again.body["reason"].as_str().unwrap().contains("deployed"));
    assert!(g.work().await.is_empty());
    assert_eq!(g.deployments(w.app).await["total"], 1);
    assert_eq!(g.deployments(w.app2).await["total"], 1);
    let item =
        g.t.deps
            .store
            .get(&axhub_app::state::deliveries::key(&delivery))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(item["state"], "done");
    assert_eq!(item["work"]["kind"], "push");
    assert_eq!(item["work"]["commit_sha"], after);
    assert!(
        item["ttl"].as_i64().unwrap() > time::OffsetDateTime::now_utc().unix_timestamp() + 86_400
    );
}

#[tokio::test]
async fn pushes_elsewhere_and_other_events_are_acknowledged_and_ignored() {
    let g = setup().await;
    let w = g.w().clone();
    // Told apart from the payload alone: answered at once, nothing recorded or queued.
    let at_once = [
        ("push", {
            let mut b = push_body("acme/site", "main", &sha(3));
            b["ref"] = json!("refs/tags/v1.0.0");
            b
        }),
        ("push", {
            let mut b = push_body(
                "acme/site",
                "main",
                "0000000000000000000000000000000000000000",
            );
            b["deleted"] = json!(true);
            b
        }),
        ("ping", json!({"zen": "Design for failure.", "hook_id": 1})),
        ("issues", json!({"action": "opened"})),
        (
            "installation",
            json!({"action": "created", "installation": {"id": 7}}),
        ),
    ];
    for (event, body) in at_once {
        let delivery = Uuid::new_v4().to_string();
        let r = g.webhook(event, &delivery, &body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{event} {body}");
        assert_eq!(r.body["outcome"], "ignored", "{event} {body}");
        assert_eq!(g.processed(&delivery).await, Value::Null);
    }
    assert!(g.queued("github_delivery").await.is_empty());
    // Only the connections tell: queued, and the worker finds nobody to deploy.
    let found_by_the_worker = [
        push_body("acme/site", "develop", &sha(3)),
        push_body("acme/unknown", "main", &sha(3)),
        {
            // Another installation pushing the same repository name.
            let mut b = push_body("acme/site", "main", &sha(3));
            b["installation"]["id"] = json!(99);
            b
        },
    ];
    for body in found_by_the_worker {
        let done = g.deliver("push", &Uuid::new_v4().to_string(), &body).await;
        assert_eq!(done["outcome"], "ignored", "{body}");
    }
    assert_eq!(g.deployments(w.app).await["total"], 0);
    assert_eq!(g.status(w.app, &w.owner).await.body["connected"], true);
}

#[tokio::test]
async fn an_uninstalled_app_or_removed_repository_disconnects_the_apps_using_it() {
    let g = setup().await;
    let w = g.w().clone();
    // unconnected_app gets acme/web through installation 7; another tenant-less app uses
    // admin-org through installation 8 (kept).
    let state = g.start(w.unconnected_app, &w.owner).await;
    let r = g
        .register(w.unconnected_app, &w.owner, reg(&state, 7, "acme/web", ""))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let removed = json!({
        "action": "removed",
        "installation": {"id": 7},
        "repository_selection": "selected",
        "repositories_added": [],
        "repositories_removed": [
            {"id": 2, "name": "web", "full_name": "acme/web", "private": true},
            {"id": 3, "name": "nobody", "full_name": "acme/nobody", "private": true}
        ]
    });
    let delivery = Uuid::new_v4().to_string();
    let done = g
        .deliver("installation_repositories", &delivery, &removed)
        .await;
    assert_eq!(done["outcome"], "disconnected");
    assert_eq!(done["disconnected"], json!([w.unconnected_app]));
    // Only the removed repositories some app used are recorded.
    let item =
        g.t.deps
            .store
            .get(&axhub_app::state::deliveries::key(&delivery))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(item["work"]["repositories"], json!(["acme/web"]));
    assert_eq!(
        g.status(w.unconnected_app, &w.owner).await.body["connected"],
        false
    );
    assert_eq!(g.status(w.app, &w.owner).await.body["connected"], true);
    let ev = g.events("GitDisconnected", w.unconnected_app).await;
    assert_eq!(ev[0]["detail"]["reason"], "repository_removed");
    // A removal of repositories nobody uses asks for nothing.
    let r = g
        .webhook(
            "installation_repositories",
            &Uuid::new_v4().to_string(),
            &removed,
        )
        .await;
    assert_eq!(r.body["outcome"], "ignored");

    let deleted =
        json!({"action": "deleted", "installation": {"id": 7, "account": {"login": "acme"}}});
    let done = g
        .deliver("installation", &Uuid::new_v4().to_string(), &deleted)
        .await;
    assert_eq!(done["outcome"], "disconnected");
    let mut gone: Vec<String> = done["disconnected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    gone.sort();
    let mut expected: Vec<String> = [w.app, w.app2, w.no_subdomain_app, w.approved_app]
        .iter()
        .map(Uuid::to_string)
        .collect();
    expected.sort();
    assert_eq!(gone, expected);
    for app in [w.app, w.app2, w.no_subdomain_app, w.approved_app] {
        assert_eq!(g.status(app, &w.owner).await.body["connected"], false);
        assert_eq!(
            g.events("GitDisconnected", app).await[0]["detail"]["reason"],
            "installation_deleted"
        );
    }
    // A push now finds nobody.
    let done = g
        .deliver(
            "push",
            &Uuid::new_v4().to_string(),
            &push_body("acme/site", "main", &sha(4)),
        )
        .await;
    assert_eq!(done["outcome"], "ignored");
}
