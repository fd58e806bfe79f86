//! The releases list: every succeeded deployment as a version, newest first, from its own
//! index, with where it runs and whether a review approved it.

use std::time::Duration;

use axhub_tests::*;
use http::{Method, StatusCode};
use serde_json::json;

async fn releases(s: &Stack, query: &str, who: &str) -> Resp {
    let uri = format!("/api/v1/apps/{}/releases{query}", s.app.world.app);
    s.app.call(Method::GET, &uri, Some(who), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn succeeded_deployments_are_versions_newest_first_with_where_they_run() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let empty = releases(&s, "", &w.member).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(
        empty.body,
        json!({"items": [], "next_cursor": "", "total": 0})
    );

    let mut made = Vec::new();
    for (i, commit) in [sha(1), format!("fa11b0{}", &sha(2)[6..]), sha(3)]
        .iter()
        .enumerate()
    {
        let r = s.app.deploy(w.app, &w.owner, commit).await;
        let d = s.wait_for(w.app, &did(&r), terminal).await;
        assert_eq!(d["status"] == "succeeded", i != 1, "{d}");
        made.push(d);
    }
    let all = releases(&s, "", &w.member).await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    assert_eq!(all.body["total"], 2, "the failed build made no release");
    let items = all.body["items"].as_array().unwrap();
    let versions: Vec<_> = items.iter().map(|r| r["version"].clone()).collect();
    assert_eq!(versions, vec!["v2", "v1"]);
    let newest = &items[0];
    assert_eq!(newest["deployment_id"], made[2]["id"]);
    assert_eq!(newest["commit_sha"], made[2]["commit_sha"]);
    assert_eq!(newest["image_uri"], made[2]["image_uri"]);
    assert_eq!(newest["environment"], "production");
    assert!(newest["created_at"].is_string());
    assert_eq!(
        (
            newest["active_prod"].as_bool(),
            newest["active_staging"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(items[1]["active_prod"], false);
    assert_eq!(items[1]["approved"], false);

    // Paging: limit and cursor, or offset; not both.
    let first = releases(&s, "?limit=1", &w.owner).await;
    assert_eq!(first.body["items"][0]["version"], "v2");
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    assert!(!cursor.is_empty());
    let second = releases(&s, &format!("?limit=1&cursor={cursor}"), &w.owner).await;
    assert_eq!(second.body["items"][0]["version"], "v1");
    assert_eq!(second.body["next_cursor"], "");
    let offset = releases(&s, "?offset=1", &w.owner).await;
    assert_eq!(offset.body["items"][0]["version"], "v1");
    let both = releases(&s, &format!("?offset=1&cursor={cursor}"), &w.owner).await;
    assert_eq!((both.status.as_u16(), both.code()), (400, "invalid_value"));
    // A deployments cursor does not page releases.
    let deployments = s
        .app
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments?limit=1", w.app),
            Some(&w.owner),
            None,
        )
        .await;
    let foreign = deployments.body["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(
        releases(&s, &format!("?cursor={foreign}"), &w.owner)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let outsider = releases(&s, "", &w.outsider).await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);

    // A rollback moves `active_prod`; an approval marks the version it names.
    let to = made[0]["id"].as_str().unwrap();
    let r = s
        .app
        .call(
            Method::POST,
            &format!("/api/v1/apps/{}/deployments/{to}/rollback", w.app),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let mut now = releases(&s, "", &w.owner).await;
    for _ in 0..200 {
        if now.body["items"][1]["active_prod"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        now = releases(&s, "", &w.owner).await;
    }
    assert_eq!(now.body["items"][1]["active_prod"], true);
    assert_eq!(now.body["items"][0]["active_prod"], false);
    axhub_app::ingest::apply_delivered(
        &s.app.deps,
        "axhub.review",
        "ReviewApproved",
        &json!({"request_id": uuid::Uuid::now_v7(), "app_id": w.app, "deployment_id": to, "cursor_seq": 0, "version": 1}),
    )
    .await
    .unwrap();
    let approved = releases(&s, "", &w.owner).await;
    assert_eq!(approved.body["items"][1]["approved"], true);
    assert_eq!(approved.body["items"][0]["approved"], false);
}
