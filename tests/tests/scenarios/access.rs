//! Who may do what: every caller against each of the five operations (spec + DESIGN §3).

use axhub_tests::*;
use http::{Method, StatusCode};

#[derive(Clone, Copy, Debug)]
enum Who {
    Admin,
    Owner,
    Member,
    Outsider,
    PlatformAdmin,
    Nobody,
}

fn user(t: &TestApp, who: Who) -> Option<String> {
    let w = &t.world;
    match who {
        Who::Admin => Some(w.admin.clone()),
        Who::Owner => Some(w.owner.clone()),
        Who::Member => Some(w.member.clone()),
        Who::Outsider => Some(w.outsider.clone()),
        Who::PlatformAdmin => Some(w.platform_admin.clone()),
        Who::Nobody => None,
    }
}

#[tokio::test]
async fn each_caller_gets_what_the_spec_says_on_each_operation() {
    use Who::*;
    let t = sqlite_app().await;
    let app = t.world.app;
    let tenant = t.world.tenant;
    // One deployment to read and, later, fresh ones to cancel.
    let first = t.deploy(app, &t.world.owner, SHA).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let did = first.body["id"].as_str().unwrap().to_owned();

    // (operation, caller, expected status, expected error code)
    let reads = [
        (Admin, 200, ""),
        (Owner, 200, ""),
        (Member, 200, ""),
        (PlatformAdmin, 200, ""),
        (Outsider, 404, "not_found"),
        (Nobody, 401, "token_missing"),
    ];
    for (who, status, code) in reads {
        let u = user(&t, who);
        for uri in [
            format!("/api/v1/apps/{app}/deployments"),
            format!("/api/v1/apps/{app}/deployments/{did}"),
            format!("/api/v1/tenants/{tenant}/deployments"),
        ] {
            let r = t.call(Method::GET, &uri, u.as_deref(), None).await;
            assert_eq!(r.status.as_u16(), status, "{who:?} GET {uri}: {:?}", r.body);
            assert_eq!(r.code(), code, "{who:?} GET {uri}");
        }
    }
    t.finish(app, &did, "succeeded").await;

    let writes = [
        (Admin, 202, 204, ""),
        (Owner, 202, 204, ""),
        (PlatformAdmin, 202, 204, ""),
        (Member, 403, 403, "forbidden"),
        (Outsider, 404, 404, "not_found"),
        (Nobody, 401, 401, "token_missing"),
    ];
    for (who, create_status, cancel_status, code) in writes {
        let u = user(&t, who);
        let r = t
            .call(
                Method::POST,
                &format!("/api/v1/apps/{app}/deployments"),
                u.as_deref(),
                Some(serde_json::json!({"commit_sha": SHA})),
            )
            .await;
        assert_eq!(
            r.status.as_u16(),
            create_status,
            "{who:?} create: {:?}",
            r.body
        );
        assert_eq!(r.code(), code, "{who:?} create");
        // A deployment in progress for the cancel row, made by the owner when needed.
        let target = if r.status == StatusCode::ACCEPTED {
            r.body["id"].as_str().unwrap().to_owned()
        } else {
            let mine = t.deploy(app, &t.world.owner, SHA).await;
            assert_eq!(mine.status, StatusCode::ACCEPTED, "{:?}", mine.body);
            mine.body["id"].as_str().unwrap().to_owned()
        };
        let r = t
            .call(
                Method::POST,
                &format!("/api/v1/apps/{app}/deployments/{target}/cancel"),
                u.as_deref(),
                None,
            )
            .await;
        assert_eq!(
            r.status.as_u16(),
            cancel_status,
            "{who:?} cancel: {:?}",
            r.body
        );
        assert_eq!(r.code(), code, "{who:?} cancel");
        if r.status != StatusCode::NO_CONTENT {
            assert_eq!(
                t.cancel(app, &target, &t.world.admin).await.status,
                StatusCode::NO_CONTENT
            );
        }
    }
}

#[tokio::test]
async fn outsiders_cannot_tell_a_foreign_app_from_a_missing_one() {
    let t = sqlite_app().await;
    let foreign = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments", t.world.app),
            Some(&t.world.outsider),
            None,
        )
        .await;
    let missing = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/deployments", uuid::Uuid::now_v7()),
            Some(&t.world.outsider),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let strip = |mut v: serde_json::Value| {
        v["error"]["request_id"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip(foreign.body), strip(missing.body));
    // A member of another tenant cannot read this tenant's feed either.
    let feed = t
        .call(
            Method::GET,
            &format!("/api/v1/tenants/{}/deployments", t.world.tenant),
            Some(&t.world.outsider),
            None,
        )
        .await;
    assert_eq!(feed.status, StatusCode::NOT_FOUND);
}
