//! The HTTP edge, rule by rule: path ids in one spelling, JSON bodies that are objects of the
//! right types and say they are JSON, 401 challenges, and the one OpenAPI document every
//! function serves.

use axhub_http::AppState;
use axhub_tests::*;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use uuid::Uuid;

fn state(t: &TestApp) -> AppState {
    AppState {
        deps: t.deps.clone(),
        auth: test_auth(&t.deps),
    }
}

fn field(r: &Resp) -> (&str, &str) {
    (
        r.body["error"]["fields"][0]["name"].as_str().unwrap_or(""),
        r.body["error"]["fields"][0]["code"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn path_ids_are_accepted_only_in_their_hyphenated_form() {
    let t = sqlite_app().await;
    let w = &t.world;
    let owner = Some(w.owner.as_str());
    let canonical = w.app.to_string();
    for ok in [canonical.clone(), canonical.to_uppercase()] {
        let r = t
            .call(
                Method::GET,
                &format!("/api/v1/apps/{ok}/deployments"),
                owner,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{ok}: {:?}", r.body);
    }
    let forms = [
        format!("{{{canonical}}}"),
        format!("urn:uuid:{canonical}"),
        w.app.simple().to_string(),
    ];
    for bad in &forms {
        let r = t
            .call(
                Method::GET,
                &format!("/api/v1/apps/{bad}/deployments"),
                owner,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(field(&r), ("appID", "invalid_format"), "{bad}");
    }
    let did = Uuid::now_v7().simple();
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{canonical}/deployments/{did}"),
            owner,
            None,
        )
        .await;
    assert_eq!(field(&r), ("did", "invalid_format"));
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/tenants/urn:uuid:{}/deployments", w.tenant),
            owner,
            None,
        )
        .await;
    assert_eq!(field(&r), ("tenantID", "invalid_format"));
    // Installation ids: plain positive integers.
    let git = git_fn::router(state(&t));
    for bad in ["0", "-3", "+3", "03", "3.0", "x"] {
        let req = Request::get(format!("/api/v1/github/installations/{bad}/repositories"))
            .header("authorization", format!("Bearer {}", t.token(&w.owner)))
            .body(Body::empty())
            .unwrap();
        let r = send(&git, req).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(field(&r), ("installationID", "invalid_value"), "{bad}");
    }
}
