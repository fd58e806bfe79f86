//! A scripted Kubernetes API server: a kube `Client` over `tower_test::mock`, and helpers to
//! answer its requests with recorded JSON and to look at what it sent.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use axhub_domain::Environment;
use axhub_ports::cluster::{BuildRequest, Workload};
use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::Value;
use uuid::Uuid;

pub type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

pub const TENANT: &str = "0190f3c2-7b1e-7cc0-9a4e-2f1d3c4b5a69";
pub const APP: &str = "0190f3c3-1a2b-7c3d-8e4f-5a6b7c8d9e0f";
pub const DEPLOYMENT: &str = "0190f3d4-1e2f-7a3b-8c4d-5e6f7a8b9c0d";
pub const NAMESPACE: &str = "tenant-0190f3c27b1e7cc09a4e2f1d3c4b5a69";
pub const IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/axhub/0190f3c27b1e7cc09a4e2f1d3c4b5a69/web:9fceb02d0ae598e95dc970b74767f19372d61af8";
pub const COMMIT: &str = "9fceb02d0ae598e95dc970b74767f19372d61af8";

pub fn mock_client() -> (Client, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), handle)
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A fixture parsed as the k8s-openapi type the adapter reads it as.
pub fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A `*List` answer of `kind` holding the given objects.
pub fn list(kind: &str, api_version: &str, items: Vec<Value>) -> String {
    serde_json::json!({
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": "4815300"},
        "items": items,
    })
    .to_string()
}

/// A `metav1.Status` error answer, as the API server sends it.
pub fn status(code: u16, reason: &str, message: &str) -> String {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
    .to_string()
}

pub fn workload() -> Workload {
    Workload {
        tenant_id: TENANT.parse().unwrap(),
        app_id: APP.parse().unwrap(),
        app_slug: "web".to_owned(),
        environment: Environment::Production,
        host: "web.acme.axhub.ai".to_owned(),
    }
}

pub fn build_request() -> BuildRequest {
    BuildRequest {
        deployment_id: DEPLOYMENT.parse::<Uuid>().unwrap(),
        workload: workload(),
        repo_full_name: "acme/web".to_owned(),
        commit_sha: COMMIT.to_owned(),
        image_uri: IMAGE.to_owned(),
        clone_token: None,
        push_credential: None,
    }
}

/// One request as the server saw it.
#[derive(Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} {} body: {e}", self.method, self.path))
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Waits for the next request and answers it with `status` and `body`.
pub async fn answer(handle: &mut Handle, status: u16, body: &str) -> Seen {
    let (request, respond) = handle.next_request().await.expect("a request");
    respond_to(request, respond, status, body).await
}

/// Answers the next request if one comes within 100 ms.
pub async fn answer_if_asked(handle: &mut Handle, status: u16, body: &str) -> Option<Seen> {
    let next = tokio::time::timeout(std::time::Duration::from_millis(100), handle.next_request());
    match next.await {
        Ok(Some((request, respond))) => Some(respond_to(request, respond, status, body).await),
        _ => None,
    }
}

async fn respond_to(
    request: Request<Body>,
    respond: tower_test::mock::SendResponse<Response<Body>>,
    status: u16,
    body: &str,
) -> Seen {
    let (parts, body_in) = request.into_parts();
    let bytes = body_in.collect_bytes().await.unwrap().to_vec();
    let query = parts
        .uri
        .query()
        .map(form_urlencoded_pairs)
        .unwrap_or_default();
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query,
        content_type: header(http::header::CONTENT_TYPE),
        authorization: header(http::header::AUTHORIZATION),
        body: bytes,
    };
    let content_type = if body.starts_with('{') {
        "application/json"
    } else {
        "text/plain"
    };
    respond.send_response(
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::from(body.as_bytes().to_vec()))
            .unwrap(),
    );
    seen
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Asserts that the adapter sends nothing more.
pub async fn assert_no_more_requests(handle: &mut Handle) {
    let next = tokio::time::timeout(std::time::Duration::from_millis(50), handle.next_request());
    if let Ok(Some((request, _))) = next.await {
        panic!("unexpected request {} {}", request.method(), request.uri());
    }
}
