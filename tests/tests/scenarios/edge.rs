//! The HTTP edge, rule by rule: path ids in one spelling, JSON bodies that are objects of the
//! right types and say they are JSON, 401 challenges, and the one OpenAPI document every
//! function serves.

use axhub_http::AppState;
use axhub_http::openapi::{DOCUMENT, DOCUMENT_FILE};
use axhub_tests::*;
use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
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

/// The committed document is what the code describes; `AXHUB_WRITE_OPENAPI=1` rewrites it.
#[tokio::test]
async fn the_served_document_is_the_one_the_code_describes() {
    let generated = serde_json::to_value(axhub_local::openapi()).unwrap();
    let committed: Value = serde_json::from_str(DOCUMENT).unwrap_or(Value::Null);
    if generated != committed {
        if std::env::var_os("AXHUB_WRITE_OPENAPI").is_some() {
            let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
            std::fs::write(DOCUMENT_FILE, text).unwrap();
        } else {
            panic!(
                "{DOCUMENT_FILE} is stale: run `AXHUB_WRITE_OPENAPI=1 cargo test -p axhub-tests \
                 --test scenarios edge::the_served` and commit it"
            );
        }
    }
}

#[tokio::test]
async fn every_function_serves_the_whole_document() {
    let t = sqlite_app().await;
    let routers: [(&str, Router); 4] = [
        ("deployments", deployments_fn::router(state(&t))),
        ("git", git_fn::router(state(&t))),
        ("github-webhook", github_webhook_fn::router(state(&t))),
        (
            "axhub-local",
            axhub_local::router(state(&t), b"edge-test-jwt-secret-of-32-bytes!!", None),
        ),
    ];
    let whole: Value = serde_json::from_str(DOCUMENT).unwrap();
    for (name, router) in routers {
        let req = Request::get("/api/v1/openapi.json")
            .body(Body::empty())
            .unwrap();
        let r = send(&router, req).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(r.body, whole, "{name}");
    }
}

/// Each route an operation, each operation a route.
#[tokio::test]
async fn the_routes_and_the_operations_are_the_same_list() {
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let groups = axhub_local::groups();
    let mut served: Vec<(String, String)> = groups
        .table()
        .iter()
        .map(|(m, p)| (m.to_string(), (*p).to_owned()))
        .chain([
            ("GET".into(), "/healthz".into()),
            ("GET".into(), "/api/v1/openapi.json".into()),
        ])
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(served, documented);
    // And each table entry is routed for its method (a table that lied would 405 or 404).
    let t = sqlite_app().await;
    let router = axhub_local::router(state(&t), b"edge-test-jwt-secret-of-32-bytes!!", None);
    for (method, path) in groups.table() {
        let uri = path
            .replace("{installationID}", "1")
            .replace("{appID}", &Uuid::now_v7().to_string())
            .replace("{did}", &Uuid::now_v7().to_string())
            .replace("{tenantID}", &Uuid::now_v7().to_string());
        let req = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let r = send(&router, req).await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(
            r.body["error"]["message"], "route not found",
            "{method} {path}"
        );
    }
}

fn param<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no {name}"))
}

#[tokio::test]
async fn the_document_declares_security_bounds_and_shared_errors() {
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["bearerAuth"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    );
    assert_eq!(schemes["apiKey"]["type"], "apiKey");
    assert_eq!(schemes["apiKey"]["in"], "header");
    assert_eq!(schemes["apiKey"]["name"], "X-Api-Key");
    let either = json!([{"bearerAuth": []}, {"apiKey": []}]);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let public = ["/webhooks/github", "/healthz", "/api/v1/openapi.json"];
            if public.contains(&path.as_str()) {
                assert!(op["security"].is_null(), "{method} {path} is public");
            } else {
                assert_eq!(op["security"], either, "{method} {path}");
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
                // A delegated token without the scope, on any of them.
                assert!(op["responses"]["403"].is_object(), "{method} {path}");
            }
            // Error responses come from the one shared set.
            for (status, resp) in op["responses"].as_object().unwrap() {
                if status.as_str() >= "400" {
                    let r = resp["$ref"].as_str().unwrap_or_default();
                    assert!(
                        r.starts_with("#/components/responses/"),
                        "{method} {path} {status}: {resp}"
                    );
                }
            }
        }
    }
    let responses = doc["components"]["responses"].as_object().unwrap();
    assert!(responses.len() >= 10);
    for r in responses.values() {
        assert_eq!(
            r["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorEnvelope"
        );
    }

    let list = "/api/v1/apps/{appID}/deployments";
    let schema = |p: &Value| p["schema"].clone();
    assert_eq!(schema(param(&doc, list, "get", "appID"))["format"], "uuid");
    let did = "/api/v1/apps/{appID}/deployments/{did}";
    assert_eq!(schema(param(&doc, did, "get", "did"))["format"], "uuid");
    let feed = "/api/v1/tenants/{tenantID}/deployments";
    assert_eq!(
        schema(param(&doc, feed, "get", "tenantID"))["format"],
        "uuid"
    );
    let limit = schema(param(&doc, list, "get", "limit"));
    assert_eq!(
        (&limit["minimum"], &limit["maximum"]),
        (&json!(1), &json!(100))
    );
    let limit = schema(param(&doc, feed, "get", "limit"));
    assert_eq!(
        (&limit["minimum"], &limit["maximum"]),
        (&json!(1), &json!(100))
    );
    let offset = schema(param(&doc, list, "get", "offset"));
    assert_eq!(
        (&offset["format"], &offset["minimum"]),
        (&json!("int64"), &json!(0))
    );
    let repos = "/api/v1/github/installations/{installationID}/repositories";
    let inst = schema(param(&doc, repos, "get", "installationID"));
    assert_eq!(
        (&inst["type"], &inst["minimum"]),
        (&json!("integer"), &json!(1))
    );
    let per_page = schema(param(&doc, repos, "get", "per_page"));
    assert_eq!(
        (&per_page["minimum"], &per_page["maximum"]),
        (&json!(1), &json!(100))
    );
    assert_eq!(schema(param(&doc, repos, "get", "page"))["minimum"], 1);
    let key = schema(param(&doc, list, "post", "Idempotency-Key"));
    assert_eq!(
        (&key["minLength"], &key["maxLength"]),
        (&json!(1), &json!(255))
    );
    let sha = &doc["components"]["schemas"]["CreateDeployment"]["properties"]["commit_sha"];
    let pattern = sha["pattern"].as_str().unwrap();
    assert_eq!(pattern, "^([0-9a-fA-F]{40})?$");
    // Bodies that may be left out.
    for path in [list, "/api/v1/apps/{appID}/deployments/{did}/rollback"] {
        assert_eq!(
            doc["paths"][path]["post"]["requestBody"]["required"], false,
            "{path}"
        );
    }
    let connect = "/api/v1/apps/{appID}/git/github/connect";
    assert_eq!(
        doc["paths"][connect]["post"]["requestBody"]["required"],
        true
    );
    assert!(doc["paths"][list]["post"]["responses"]["415"].is_object());
}
