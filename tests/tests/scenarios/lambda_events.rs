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

/// The message ids a batch response reports failed.
pub(super) fn failed_records(resp: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    resp.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

pub(super) fn sqs_event(records: &[(&str, &str)]) -> aws_lambda_events::sqs::SqsEvent {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(id, body)| {
            serde_json::json!({
                "messageId": id,
                "receiptHandle": format!("AQEB{id}"),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795000000000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1795000000001"
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:axhub-deploy",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).expect("SQS event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_deploy_worker_reports_only_failed_records() {
    let s = idle_stack().await;
    let w = s.app.world.clone();
    let r = s.app.deploy(w.app, &w.owner, SHA).await;
    let did = r.body["id"].as_str().unwrap().to_owned();
    // The job the trigger enqueued, as SQS hands it to the Lambda, next to a poison record.
    let msgs = s
        .queue
        .receive(
            1,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
        )
        .await
        .unwrap();
    let good = msgs[0].body.clone();
    s.queue.ack(&msgs[0].receipt).await.unwrap();
    let event = sqs_event(&[("m-good", &good), ("m-bad", "not json")]);
    let resp = deploy_worker_fn::handle(
        &s.app.deps,
        s.queue.as_ref(),
        event,
        axhub_lambda::sqs::DEFAULT_BUDGET,
    )
    .await;
    assert_eq!(failed_records(&resp), ["m-bad"]);
    // The good record moved the deployment on and enqueued its follow-up.
    let d = axhub_app::state::deployments::get(&s.app.deps, uuid::Uuid::parse_str(&did).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, axhub_domain::DeploymentStatus::Building);
    let follow = s
        .queue
        .receive(
            1,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(follow.len(), 1);
    assert!(follow[0].body.contains(&did));
    // The response serializes as Lambda expects.
    let json = serde_json::to_value(&resp).unwrap();
    assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], "m-bad");
}
