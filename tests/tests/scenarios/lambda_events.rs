//! The Lambda handler fed real API Gateway HTTP API (payload 2.0) events.

use axhub_tests::*;
use http::StatusCode;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn event(method: &str, path: &str, token: &str, body: Option<&str>, base64: bool) -> String {
    let body_json = match body {
        Some(b) if base64 => {
            use base64::Engine;
            serde_json::json!(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(b) => serde_json::json!(b),
        None => serde_json::Value::Null,
    };
    let mut headers = serde_json::json!({
        "authorization": format!("Bearer {token}"),
        "host": "api.axhub.test",
        "x-request-id": "lambda-req-1",
    });
    if body.is_some() {
        headers["content-type"] = "application/json".into();
    } else if method == "POST" {
        headers["content-length"] = "0".into();
    }
    serde_json::json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "api.axhub.test",
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "agent"},
            "requestId": "id",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "29/Nov/2026:09:00:00 +0000",
            "timeEpoch": 1_795_000_000_000_i64
        },
        "body": body_json,
        "isBase64Encoded": base64
    })
    .to_string()
}

async fn handle(t: &TestApp, ev: &str) -> (StatusCode, http::HeaderMap, serde_json::Value) {
    let req = lambda_http::request::from_str(ev).expect("API Gateway v2 event");
    let resp = t.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, body)
}

#[tokio::test]
async fn api_gateway_events_drive_the_router() {
    let t = sqlite_app().await;
    let owner = t.token(&t.world.owner);
    let base = format!("/api/v1/apps/{}/deployments", t.world.app);
    let body = serde_json::json!({"commit_sha": SHA}).to_string();

    let (s, h, b) = handle(&t, &event("POST", &base, &owner, Some(&body), false)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b:?}");
    assert_eq!(h["x-request-id"], "lambda-req-1");
    let did = b["id"].as_str().unwrap().to_owned();

    // A base64-encoded body (binary media types) is decoded the same way.
    let (s, _, b) = handle(&t, &event("POST", &base, &owner, Some(&body), true)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b:?}");
    assert_eq!(b["error"]["request_id"], "lambda-req-1");

    let (s, _, b) = handle(&t, &event("GET", &base, &owner, None, false)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"][0]["id"], did.as_str());

    let (s, _, b) = handle(
        &t,
        &event("POST", &format!("{base}/{did}/cancel"), &owner, None, false),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b:?}");
    let (s, _, b) = handle(
        &t,
        &event("GET", &format!("{base}/{did}"), &owner, None, false),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["status"], "cancelled");
}
