//! The bootstrap API's contract: the template catalog, each field checked and named, the
//! installation checks in the spec's order, names free in the tenant (against apps and
//! running sagas), `Idempotency-Key`, and tenants kept apart. A refused request starts
//! nothing.

use axhub_app::state::apps;
use axum::body::Body;
use http::{Method, Request};

use super::*;

async fn post_keyed(b: &Boot, key: &str, body: Value) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri(b.url())
        .header(
            "authorization",
            format!("Bearer {}", b.t.token(&b.w().owner)),
        )
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .unwrap();
    send(&b.t.router, req).await
}

fn field(r: &Resp) -> &str {
    r.body["error"]["fields"][0]["name"]
        .as_str()
        .unwrap_or_default()
}

/// A 400 that names `name` as the bad field.
fn assert_refused_field(r: &Resp, name: &str) {
    assert_eq!((r.status.as_u16(), field(r)), (400, name), "{:?}", r.body);
}

/// Nothing was started: no job ran, GitHub was never asked to create anything.
async fn nothing_started(b: &Boot) {
    let drained = b.drain().await;
    assert!(drained.errors.is_empty() && drained.waits.is_empty());
    assert_eq!(b.sim.calls("POST /orgs/{org}/repos"), 0);
    assert_eq!(b.sim.calls("POST /user/repos"), 0);
}

#[tokio::test]
async fn the_catalog_lists_its_templates_to_anyone_signed_in() {
    let b = setup().await;
    let r =
        b.t.call(
            Method::GET,
            "/api/v1/templates",
            Some(&b.w().outsider),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], b.template.to_string());
    for key in ["id", "name", "description", "folder_name", "resource_tier"] {
        assert!(items[0][key].is_string(), "{key}: {}", items[0]);
    }
    assert_eq!(items[0]["folder_name"], "node-hello");
    let anonymous = b.t.call(Method::GET, "/api/v1/templates", None, None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn every_field_is_checked_and_the_bad_one_is_named() {
    let b = setup().await;
    let long = "x".repeat(101);
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!("")),
        ("name", json!(long)),
        ("slug", json!("a")),
        ("slug", json!("Shop")),
        ("slug", json!("x".repeat(65))),
        ("subdomain", json!("-shop")),
        ("subdomain", json!("s")),
        ("subdomain", json!("x".repeat(33))),
        ("repo_name", json!("my shop")),
        ("repo_name", json!("..")),
        ("repo_name", json!("")),
        ("github_owner", json!("")),
        ("template_id", json!("not-a-uuid")),
        ("template_id", json!(Uuid::now_v7())),
        ("template_id", Value::Null),
        ("github_installation_id", json!(-1)),
    ];
    for (name, value) in cases {
        let mut body = b.request();
        body[name] = value.clone();
        let r = b.post(&b.w().owner.clone(), body).await;
        assert_eq!(r.status, 400, "{name}={value}: {:?}", r.body);
        assert_eq!(field(&r), name, "{name}={value}: {:?}", r.body);
    }
    nothing_started(&b).await;
}

#[tokio::test]
async fn the_installation_is_required_and_must_be_the_callers_on_the_owner() {
    let b = setup().await;
    let mut body = b.request();
    body.as_object_mut()
        .unwrap()
        .remove("github_installation_id");
    let r = b.post(&b.w().owner.clone(), body).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.code(), "github_app_not_installed");

    // Someone else's installation: not the caller's to use.
    b.sim.add_org("elsewhere", &[]);
    let foreign = b.sim.install("elsewhere");
    let mut body = b.request();
    body["github_owner"] = json!("elsewhere");
    body["github_installation_id"] = json!(foreign);
    let r = b.post(&b.w().owner.clone(), body).await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // The caller's installation, but on another account than github_owner.
    let mut body = b.request();
    body["github_owner"] = json!(OWNER_LOGIN);
    let r = b.post(&b.w().owner.clone(), body).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(field(&r), "github_owner");
    nothing_started(&b).await;
}

#[tokio::test]
async fn names_taken_by_an_app_or_a_running_saga_are_refused() {
    let b = setup().await;
    // An app of the tenant already has the slug.
    let taken = apps::load(b.deps(), b.w().app).await.unwrap().unwrap().app;
    let mut body = b.request();
    body["slug"] = json!(taken.slug);
    let r = b.post(&b.w().owner.clone(), body).await;
    assert_refused_field(&r, "slug");
    let mut body = b.request();
    body["subdomain"] = json!(taken.subdomain.unwrap());
    let r = b.post(&b.w().owner.clone(), body).await;
    assert_refused_field(&r, "subdomain");

    // A running saga holds its names until it ends.
    b.start(b.request()).await;
    let mut body = b.request();
    body["subdomain"] = json!("other");
    body["repo_name"] = json!("other");
    let r = b.post(&b.w().owner.clone(), body).await;
    assert_refused_field(&r, "slug");
    let mut body = b.request();
    body["slug"] = json!("other");
    let r = b.post(&b.w().owner.clone(), body).await;
    assert_refused_field(&r, "subdomain");
}

#[tokio::test]
async fn an_idempotency_key_gives_the_same_bootstrap_for_the_same_request() {
    let b = setup().await;
    let first = post_keyed(&b, "boot-1", b.request()).await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    let again = post_keyed(&b, "boot-1", b.request()).await;
    assert_eq!(again.status, 202, "{:?}", again.body);
    assert_eq!(again.body["bootstrap_id"], first.body["bootstrap_id"]);
    assert_eq!(again.body["status_url"], first.body["status_url"]);
    assert_eq!(
        again.headers.get("idempotent-replayed").unwrap(),
        "true",
        "a replay says so"
    );
    let mut other = b.request();
    other["name"] = json!("Another shop");
    let reused = post_keyed(&b, "boot-1", other).await;
    assert_eq!(reused.status, 400, "{:?}", reused.body);
    assert_eq!(reused.code(), "idempotency_key_reused");

    // One saga ran: one repository.
    let drained = b.drain().await;
    assert!(drained.errors.is_empty(), "{drained:?}");
    assert_eq!(b.sim.calls("POST /orgs/{org}/repos"), 1);
}

#[tokio::test]
async fn another_tenants_bootstrap_does_not_exist_and_outsiders_start_none() {
    let b = setup().await;
    let id = b.start(b.request()).await;
    let w = b.w().clone();
    // Asked under another tenant's path (where the owner is no member), or as an outsider.
    let foreign = format!("/api/v1/tenants/{}/app-bootstraps/{id}", w.other_tenant);
    let r = b.t.call(Method::GET, &foreign, Some(&w.owner), None).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let mine = format!("{}/{id}", b.url());
    let r = b.t.call(Method::GET, &mine, Some(&w.outsider), None).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let unknown = format!("{}/{}", b.url(), Uuid::now_v7());
    let r = b.t.call(Method::GET, &unknown, Some(&w.owner), None).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    // A fellow member sees it.
    let r = b.t.call(Method::GET, &mine, Some(&w.member), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["id"], id.to_string());

    let mut body = b.request();
    body["slug"] = json!("intruder");
    body["subdomain"] = json!("intruder");
    let r = b.post(&w.outsider, body.clone()).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    // A read-only delegated token may look, not start.
    let read_only = scoped_token(&w.owner, &["deploy:read"]);
    let r =
        b.t.call_with(Method::POST, &b.url(), Some(&read_only), Some(body))
            .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r =
        b.t.call_with(Method::GET, &mine, Some(&read_only), None)
            .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}
