//! Delegated tokens (agents) on every route of the deployments, lifecycle and git groups:
//! `deploy:read` or `deploy:write` may read, only `deploy:write` may change anything, a token
//! with neither may do nothing, and what a token's scopes do not allow is 403
//! `insufficient_scope`. The tokens are the app owner's, so the role never stands in the way:
//! what the scopes allow is answered as a user session would be. Sessions without scopes are
//! the access table's (access.rs).

use axhub_tests::*;
use http::Method;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::github;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Read,
    Write,
}
use Kind::*;

/// One route: what it does, and what a token allowed to call it gets (in table order: each
/// row runs on the state the rows before it left).
struct Route {
    kind: Kind,
    method: Method,
    uri: String,
    body: Option<Value>,
    allowed: u16,
}

fn route(kind: Kind, method: Method, uri: String, body: Option<Value>, allowed: u16) -> Route {
    Route {
        kind,
        method,
        uri,
        body,
        allowed,
    }
}

/// Whether `uri` (a query string allowed) is a path of the route `template`.
fn is_path_of(template: &str, uri: &str) -> bool {
    let path = uri.split('?').next().unwrap_or_default();
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
}

/// Each route as a token without a deploy scope, a `deploy:read` one and a `deploy:write`
/// one (in that order, so the refused calls come first and change nothing); every answer
/// that is not the expected one, and every route of `groups` the table leaves out.
async fn run(t: &TestApp, groups: axhub_http::Routes, routes: Vec<Route>) -> Vec<String> {
    let mut wrong: Vec<String> = groups
        .table()
        .iter()
        .filter(|(m, p)| {
            !routes
                .iter()
                .any(|r| r.method == m && is_path_of(p, &r.uri))
        })
        .map(|(m, p)| format!("{m} {p}: not in the table"))
        .collect();
    let sub = &t.world.owner;
    let tokens = [
        ("no deploy scope", scoped_token(sub, &["profile"])),
        ("deploy:read", scoped_token(sub, &["deploy:read"])),
        ("deploy:write", scoped_token(sub, &["deploy:write"])),
    ];
    for r in routes {
        for (scope, token) in &tokens {
            let may = match r.kind {
                Read => *scope != "no deploy scope",
                Write => *scope == "deploy:write",
            };
            let (want, want_code) = if may {
                (r.allowed, "")
            } else {
                (403, "insufficient_scope")
            };
            let got = t
                .call_with(r.method.clone(), &r.uri, Some(token), r.body.clone())
                .await;
            let code = if may { "" } else { got.code() };
            if (got.status.as_u16(), code) != (want, want_code) {
                wrong.push(format!(
                    "{scope} {} {}: {} {}, not {want} {want_code}",
                    r.method,
                    r.uri,
                    got.status.as_u16(),
                    got.code()
                ));
            }
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_deployments_and_lifecycle_routes_need_their_scope() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let (app, tenant) = (w.app, w.tenant);
    let release = did(&s.app.deploy(app, &w.owner, &sha(1)).await);
    let d = s.wait_for(app, &release, terminal).await;
    assert_eq!(d["status"], "succeeded", "{d:?}");
    // From here on nothing runs: the deployment to cancel stays in progress.
    s.stop_worker();
    let pending = did(&s.app.deploy(app, &w.owner, &sha(2)).await);
    let a = |p: &str| format!("/api/v1/apps/{app}{p}");
    let routes = vec![
        route(Read, Method::GET, a("/deployments"), None, 200),
        route(
            Read,
            Method::GET,
            a(&format!("/deployments/{release}")),
            None,
            200,
        ),
        route(
            Read,
            Method::GET,
            format!("/api/v1/tenants/{tenant}/deployments"),
            None,
            200,
        ),
        route(Read, Method::GET, a("/diagnosis"), None, 200),
        route(Read, Method::GET, a("/logs"), None, 200),
        route(Read, Method::GET, a("/releases"), None, 200),
        route(
            Write,
            Method::POST,
            a(&format!("/deployments/{pending}/cancel")),
            None,
            204,
        ),
        // To the release production runs: accepted, nothing to do.
        route(
            Write,
            Method::POST,
            a(&format!("/deployments/{release}/rollback")),
            None,
            202,
        ),
        route(Write, Method::PUT, a("/staging"), None, 202),
        route(
            Read,
            Method::GET,
            a(&format!(
                "/releases/promote-preflight?deployment_id={release}"
            )),
            None,
            200,
        ),
        // No such promotion: the scope let the call through to the lookup.
        route(
            Write,
            Method::POST,
            a(&format!("/promotions/{}/retry", Uuid::now_v7())),
            None,
            404,
        ),
        route(
            Write,
            Method::DELETE,
            a("/staging"),
            Some(json!({"confirm_discard_ops": true})),
            204,
        ),
        route(
            Write,
            Method::POST,
            a("/deployments"),
            Some(json!({"commit_sha": sha(3)})),
            202,
        ),
    ];
    let groups = deployments_fn::routes().merge(lifecycle_fn::routes());
    let wrong = run(&s.app, groups, routes).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn the_git_routes_need_their_scope() {
    let g = github::setup().await;
    let w = g.w().clone();
    // The installation picker's GitHub answers for the owner.
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "login": "octo-owner", "id": 1, "type": "User", "avatar_url": "https://avatars/o"
        })))
        .mount(&g.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/memberships/orgs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&g.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/installations/7/repositories"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 1, "repositories": [github::repo_json(5, "acme/web")]
        })))
        .mount(&g.server)
        .await;
    // State tokens of the install flow, issued to the owner's session.
    let (first, second) = (
        g.start(w.unconnected_app, &w.owner).await,
        g.start(w.unconnected_app, &w.owner).await,
    );
    let a = |app: Uuid, p: &str| format!("/api/v1/apps/{app}{p}");
    let target = |state: &str, branch: &str| {
        json!({"state": state, "installation_id": 7, "repo_full_name": "acme/web",
               "branch": branch})
    };
    let routes = vec![
        route(Read, Method::GET, a(w.app, "/git-connection"), None, 200),
        route(
            Read,
            Method::GET,
            "/api/v1/github/accounts".into(),
            None,
            200,
        ),
        route(
            Read,
            Method::GET,
            "/api/v1/github/installations/7/repositories".into(),
            None,
            200,
        ),
        // It issues a state token: a write, though a GET.
        route(
            Write,
            Method::GET,
            a(w.unconnected_app, "/git/github/install/start"),
            None,
            302,
        ),
        route(
            Write,
            Method::POST,
            a(w.unconnected_app, "/git-connection"),
            Some(target(&first, "main")),
            201,
        ),
        route(
            Write,
            Method::POST,
            "/api/v1/git/github/complete".into(),
            Some(target(&second, "dev")),
            201,
        ),
        route(
            Write,
            Method::PATCH,
            a(w.app, "/git-connection"),
            Some(json!({"branch": "dev"})),
            200,
        ),
        route(
            Write,
            Method::POST,
            a(w.app2, "/git/github/connect"),
            Some(json!({"installation_id": 7, "repo_full_name": "acme/web"})),
            201,
        ),
        route(
            Write,
            Method::DELETE,
            a(w.app2, "/git-connection"),
            None,
            204,
        ),
    ];
    let wrong = run(&g.t, git_fn::routes(), routes).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn a_read_scoped_token_gets_no_install_url() {
    let g = github::setup().await;
    let w = g.w().clone();
    let uri = format!("/api/v1/apps/{}/git-connection", w.unconnected_app);
    let status = |scopes: &'static [&'static str]| {
        let (g, uri, owner) = (&g, &uri, &w.owner);
        async move {
            let token = scoped_token(owner, scopes);
            g.t.call_with(Method::GET, uri, Some(&token), None).await
        }
    };
    // The install URL carries a fresh state token, something only a writer may use.
    let read = status(&["deploy:read"]).await;
    assert_eq!(read.status.as_u16(), 200, "{:?}", read.body);
    assert_eq!(read.body["connected"], false);
    assert!(read.body["install_url"].is_null(), "{:?}", read.body);
    let write = status(&["deploy:write"]).await;
    assert!(write.body["install_url"].is_string(), "{:?}", write.body);
}
