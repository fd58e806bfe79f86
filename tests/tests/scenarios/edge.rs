//! The HTTP edge, rule by rule: path ids in one spelling, JSON bodies that are objects of the
//! right types and say they are JSON, 401 challenges, and the one OpenAPI document every
//! function serves.

use axhub_http::AppState;
use axhub_tests::*;
use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use serde_json::json;
use uuid::Uuid;

fn state(t: &TestApp) -> AppState {
    AppState {
        deps: t.deps.clone(),
        auth: test_auth(&t.deps),
    }
}

/// A request with a raw body and the content type given (none when `None`).
async fn raw_post(t: &TestApp, uri: &str, content_type: Option<&str>, body: &str) -> Resp {
    let mut b = Request::post(uri).header(
        "authorization",
        format!("Bearer {}", t.token(&t.world.owner)),
    );
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    send(&t.router, b.body(Body::from(body.to_owned())).unwrap()).await
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

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused() {
    let t = sqlite_app().await;
    let uri = format!("/api/v1/apps/{}/deployments", t.world.app);
    // serde would read a struct from an array by position.
    for body in [format!(r#"["{SHA}", false]"#), "\"x\"".into(), "42".into()] {
        let r = raw_post(&t, &uri, Some("application/json"), &body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{body}"
        );
    }
    let list = t.call(Method::GET, &uri, Some(&t.world.owner), None).await;
    assert_eq!(list.body["total"], 0, "nothing was created");
    let r = raw_post(&t, &uri, Some("application/json"), "{\"commit_sha\": ").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
}

#[tokio::test]
async fn a_wrong_type_names_the_field() {
    let t = sqlite_app().await;
    let uri = format!("/api/v1/apps/{}/deployments", t.world.app);
    let r = raw_post(&t, &uri, Some("application/json"), r#"{"commit_sha": 5}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.category(), "validation");
    assert_eq!(field(&r), ("commit_sha", "invalid_value"));
    let message = r.body["error"]["fields"][0]["message"].as_str().unwrap();
    assert!(!message.contains("line"), "no parser position: {message}");
    // Fields the API does not know are ignored (newer clients may send them).
    let body = json!({"commit_sha": SHA, "comment": "from a newer SDK"}).to_string();
    let r = raw_post(&t, &uri, Some("application/json; charset=utf-8"), &body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
}

#[tokio::test]
async fn a_body_of_another_media_type_is_415_and_no_body_needs_no_type() {
    let t = sqlite_app().await;
    let uri = format!("/api/v1/apps/{}/deployments", t.world.app);
    let body = json!({"commit_sha": SHA}).to_string();
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = raw_post(&t, &uri, Some(ct), &body).await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert_eq!(
            (r.category(), r.code()),
            ("validation", "unsupported_media_type")
        );
    }
    // JSON by its suffix, and a body without a Content-Type: read as JSON, as callers of
    // the API have always sent it.
    for ct in [Some("application/merge-patch+json"), None] {
        let r = raw_post(&t, &uri, ct, &body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{ct:?}: {:?}", r.body);
        // A POST without a body: Content-Length 0 and no Content-Type (DESIGN §2).
        let did = r.body["id"].as_str().unwrap().to_owned();
        let req = Request::post(format!("{uri}/{did}/cancel"))
            .header(
                "authorization",
                format!("Bearer {}", t.token(&t.world.owner)),
            )
            .header(header::CONTENT_LENGTH, "0")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&t.router, req).await.status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn a_401_names_the_bearer_scheme() {
    let t = sqlite_app().await;
    let uri = format!("/api/v1/apps/{}/deployments", t.world.app);
    let r = t.call(Method::GET, &uri, None, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "token_missing")
    );
    assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
    let req = Request::get(&uri)
        .header("authorization", "Bearer not.a.jwt")
        .body(Body::empty())
        .unwrap();
    let r = send(&t.router, req).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "token_invalid")
    );
    assert_eq!(
        r.headers[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
    // Other statuses carry no challenge.
    let r = t
        .call(Method::GET, &uri, Some(&t.world.outsider), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.headers.get(header::WWW_AUTHENTICATE).is_none());
}
