//! The GitHub group rule by rule: install flow and state tokens, register / complete /
//! connect, the connection's CRUD, the installation picker, failures of GitHub, an empty
//! commit resolved through GitHub (webhooks are in `webhooks` and `webhook_durability`).
//! GitHub is faked at the HTTP level
//! (wiremock, GitHub's JSON shapes); the store is real (SQLite).

use std::sync::Arc;
use std::time::Duration;

use axhub_app::{Deps, directory};
use axhub_auth::{AuthConfig, Authenticator, Claims, JwtKeys, mint_hs256};
use axhub_github::{GitHubClient, GitHubConfig};
use axhub_http::AppState;
use axhub_ports::github::{GitHub, UserTokenGrant};
use axhub_store::{Index, Query};
use axhub_tests::*;
use axum::body::Body;
use hmac::{Hmac, Mac};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use wiremock::matchers::{bearer_token, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::webhooks::push_body;

const KEY: &str = include_str!("../../../shared/github/tests/fixtures/test-app-key.pem");
pub(super) const WEBHOOK_SECRET: &str = "webhook-secret";

pub(super) struct Gh {
    pub(super) t: TestApp,
    pub(super) server: MockServer,
    client: Arc<GitHubClient>,
    clock: Arc<ShiftClock>,
    /// The outbox entries whose job [`Gh::work`] ran to its end.
    worked: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// The world of `axhub_tests`, every router with GitHub wired to a fake GitHub, and GitHub
/// tokens for the owner (installation 7: acme) and the admin (installation 8: admin-org).
pub(super) async fn setup() -> Gh {
    setup_on(sqlite_store().await).await
}

pub(super) async fn setup_on(store: Arc<dyn axhub_store::Store>) -> Gh {
    let base = app_on(store).await;
    let server = MockServer::start().await;
    let mut c = GitHubConfig::new("424242", "axhub-test", KEY);
    c.api_url = server.uri();
    c.web_url = server.uri();
    c.client_id = "Iv1.client".into();
    c.client_secret = "client-secret".into();
    c.webhook_secret = WEBHOOK_SECRET.into();
    c.token_key = vec![3; 32];
    c.timeout = Duration::from_millis(300);
    c.attempts = 2;
    c.backoff = Duration::from_millis(10);
    let store = base.deps.store.clone();
    let client = Arc::new(
        GitHubClient::new(
            c,
            Arc::new(axhub_app::state::credentials::StoredCredentials::new(
                store.clone(),
            )),
        )
        .unwrap(),
    );
    let clock = Arc::new(ShiftClock::default());
    // Builds and rollouts that end at once, for the jobs `work_all` runs; the sim is the
    // registry the pipeline pins images in, and mints the builds' push credentials.
    let sim = Arc::new(axhub_simcluster::SimCluster::new(
        axhub_simcluster::SimConfig {
            build_time: Duration::ZERO,
            rollout_time: Duration::ZERO,
        },
    ));
    let deps = Arc::new(
        Deps::new(store, b"cursor-secret")
            .with_github(client.clone())
            .with_clock(clock.clone())
            .with_cluster(sim.clone())
            .with_registry(sim.clone())
            .with_push_credentials(sim),
    );
    let auth = test_auth(&deps);
    let routes = deployments_fn::routes()
        .merge(git_fn::routes())
        .merge(github_webhook_fn::routes());
    let router = axhub_http::finish(
        routes.into_router(),
        AppState {
            deps: deps.clone(),
            auth,
        },
    );
    let t = TestApp {
        router,
        deps,
        world: base.world,
    };
    let gh = Gh {
        t,
        server,
        client,
        clock,
        worked: Default::default(),
    };
    let w = gh.t.world.clone();
    gh.token(&w.owner).await;
    gh.token(&w.admin).await;
    gh.installations(&w.owner, &[(7, "acme")]).await;
    gh.installations(&w.admin, &[(8, "admin-org")]).await;
    gh.installation_token(7).await;
    gh.installation_token(8).await;
    for repo in ["acme/site", "acme/web"] {
        gh.readable(repo).await;
    }
    gh
}

pub(super) fn user_token(user: &str) -> String {
    format!("gho_{user}")
}

pub(super) fn repo_json(id: i64, full_name: &str) -> Value {
    let (owner, name) = full_name.split_once('/').unwrap();
    json!({
        "id": id, "name": name, "full_name": full_name, "private": true,
        "owner": {"login": owner, "id": 1, "type": "Organization"},
        "html_url": format!("https://github.com/{full_name}"), "default_branch": "main"
    })
}

impl Gh {
    /// Stores `user`'s GitHub tokens with an access token that has already expired.
    async fn expired_token(&self, user: &str, access: &str, refresh: &str) {
        self.client
            .store_user_token(
                user,
                UserTokenGrant {
                    access_token: access.into(),
                    refresh_token: Some(refresh.into()),
                    expires_in: Some(-5),
                    refresh_token_expires_in: None,
                },
            )
            .await
            .unwrap();
    }

    pub(super) fn w(&self) -> &World {
        &self.t.world
    }

    async fn token(&self, user: &str) {
        self.client
            .store_user_token(
                user,
                UserTokenGrant {
                    access_token: user_token(user),
                    refresh_token: Some(format!("ghr_{user}")),
                    expires_in: Some(28_800),
                    refresh_token_expires_in: Some(15_811_200),
                },
            )
            .await
            .unwrap();
    }

    async fn installations(&self, user: &str, list: &[(i64, &str)]) {
        Mock::given(method("GET"))
            .and(path("/user/installations"))
            .and(bearer_token(user_token(user)))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "total_count": list.len(),
                "installations": list.iter().map(|(id, login)| json!({
                    "id": id, "app_id": 424242, "target_type": "Organization",
                    "account": {"login": login, "id": id * 100, "type": "Organization",
                                "avatar_url": "https://avatars/x"}
                })).collect::<Vec<_>>()
            })))
            .mount(&self.server)
            .await;
    }

    async fn installation_token(&self, installation: i64) {
        Mock::given(method("POST"))
            .and(path(format!(
                "/app/installations/{installation}/access_tokens"
            )))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "token": format!("ghs_{installation}"),
                "expires_at": "2099-01-01T00:00:00Z",
                "permissions": {"contents": "read"}
            })))
            .mount(&self.server)
            .await;
    }

    async fn readable(&self, repo: &str) {
        Mock::given(method("GET"))
            .and(path(format!("/repos/{repo}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(repo_json(1, repo)))
            .mount(&self.server)
            .await;
    }

    async fn call(&self, m: Method, uri: &str, who: Option<&str>, body: Option<Value>) -> Resp {
        self.t.call(m, uri, who, body).await
    }

    /// install/start as `who`; the state token from the Location.
    pub(super) async fn start(&self, app: Uuid, who: &str) -> String {
        let r = self
            .call(
                Method::GET,
                &format!("/api/v1/apps/{app}/git/github/install/start"),
                Some(who),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FOUND, "{:?}", r.body);
        let loc = r.headers["location"].to_str().unwrap();
        loc.split("state=").nth(1).unwrap().to_owned()
    }

    pub(super) async fn register(&self, app: Uuid, who: &str, body: Value) -> Resp {
        self.call(
            Method::POST,
            &format!("/api/v1/apps/{app}/git-connection"),
            Some(who),
            Some(body),
        )
        .await
    }

    pub(super) async fn status(&self, app: Uuid, who: &str) -> Resp {
        self.call(
            Method::GET,
            &format!("/api/v1/apps/{app}/git-connection"),
            Some(who),
            None,
        )
        .await
    }

    /// Pending outbox events of one kind about one app.
    pub(super) async fn events(&self, kind: &str, app: Uuid) -> Vec<Value> {
        let page = self
            .t
            .deps
            .store
            .query(Query::new(Index::Gsi1, axhub_app::state::outbox::PENDING).limit(1000))
            .await
            .unwrap();
        page.items
            .into_iter()
            .map(Value::Object)
            .filter(|i| i["event"]["kind"] == kind && i["event"]["app_id"] == app.to_string())
            .map(|i| i["event"].clone())
            .collect()
    }

    /// Runs the queued webhook jobs (deliveries and pending pushes) the way the deploy worker
    /// does, each until it succeeds, and those they queue; the errors of failed runs, which
    /// stay queued and run again on the next call, like a queue's retry.
    pub(super) async fn work(&self) -> Vec<String> {
        self.run_jobs(&["github_delivery", "pending_push"]).await
    }

    /// Like [`Gh::work`], with the pipeline's `advance` jobs too (builds and rollouts end at
    /// once).
    pub(super) async fn work_all(&self) -> Vec<String> {
        self.run_jobs(&["github_delivery", "pending_push", "advance"])
            .await
    }

    /// The queued jobs' bodies of one kind not yet run.
    pub(super) async fn queued(&self, kind: &str) -> Vec<Value> {
        self.pending_jobs()
            .await
            .into_iter()
            .filter(|(_, body)| body["kind"] == kind)
            .map(|(_, body)| body)
            .collect()
    }

    async fn pending_jobs(&self) -> Vec<(String, Value)> {
        let page = self
            .t
            .deps
            .store
            .query(Query::new(Index::Gsi1, axhub_app::state::outbox::PENDING).limit(1000))
            .await
            .unwrap();
        let worked = self.worked.lock().unwrap().clone();
        page.items
            .into_iter()
            .filter(|i| i["channel"] == "job")
            .map(|i| (i["gsi1sk"].as_str().unwrap().to_owned(), i["body"].clone()))
            .filter(|(id, _)| !worked.contains(id))
            .collect()
    }

    async fn run_jobs(&self, kinds: &[&str]) -> Vec<String> {
        let mut errors = Vec::new();
        for _ in 0..20 {
            let mut ran = false;
            for (id, body) in self.pending_jobs().await {
                if !kinds.contains(&body["kind"].as_str().unwrap_or_default()) {
                    continue;
                }
                let job: axhub_app::jobs::Job = serde_json::from_value(body).unwrap();
                match axhub_app::worker::run(&self.t.deps, &job).await {
                    Ok(axhub_app::jobs::Next::Done) => {
                        self.worked.lock().unwrap().insert(id);
                        ran = true;
                    }
                    Ok(axhub_app::jobs::Next::Again(_)) => ran = true,
                    Err(e) => {
                        errors.push(e.message);
                        ran = true;
                    }
                }
            }
            if !ran {
                break;
            }
        }
        errors
    }

    /// What the worker recorded of a delivery (its outcome), or Null.
    pub(super) async fn processed(&self, delivery: &str) -> Value {
        self.t
            .deps
            .store
            .get(&axhub_app::state::deliveries::key(delivery))
            .await
            .unwrap()
            .map(|i| i["outcome"].clone())
            .unwrap_or(Value::Null)
    }

    /// Sends a delivery, checks it was queued, and runs the worker's jobs: what it recorded.
    pub(super) async fn deliver(&self, event: &str, delivery: &str, body: &Value) -> Value {
        let r = self.webhook(event, delivery, body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        assert_eq!(r.body["outcome"], "queued", "{:?}", r.body);
        assert_eq!(self.work().await, Vec::<String>::new());
        self.processed(delivery).await
    }

    pub(super) async fn webhook(&self, event: &str, delivery: &str, body: &Value) -> Resp {
        let raw = body.to_string();
        let req = Request::post("/webhooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", sign(WEBHOOK_SECRET, raw.as_bytes()))
            .body(Body::from(raw))
            .unwrap();
        send(&self.t.router, req).await
    }

    pub(super) async fn patch(&self, uri: &str, who: &str, body: Value) -> Resp {
        self.call(Method::PATCH, uri, Some(who), Some(body)).await
    }

    async fn repos(&self, who: &str, q: &str) -> Resp {
        let uri = format!("/api/v1/github/installations/{q}");
        self.call(Method::GET, &uri, Some(who), None).await
    }

    pub(super) async fn deployments(&self, app: Uuid) -> Value {
        self.call(
            Method::GET,
            &format!("/api/v1/apps/{app}/deployments"),
            Some(&self.w().owner),
            None,
        )
        .await
        .body
    }
}

pub(super) fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub(super) fn reg(state: &str, installation: i64, repo: &str, branch: &str) -> Value {
    json!({"state": state, "installation_id": installation, "repo_full_name": repo, "branch": branch})
}

// --- install/start and the connection status ------------------------------------------------

#[tokio::test]
async fn install_start_redirects_with_a_fresh_state_stored_only_as_a_hash() {
    let g = setup().await;
    let w = g.w().clone();
    let app = w.unconnected_app;
    let r = g
        .call(
            Method::GET,
            &format!("/api/v1/apps/{app}/git/github/install/start"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FOUND);
    let loc = r.headers["location"].to_str().unwrap().to_owned();
    let prefix = format!(
        "{}/apps/axhub-test/installations/new?state=",
        g.server.uri()
    );
    assert!(loc.starts_with(&prefix), "{loc}");
    let state = &loc[prefix.len()..];
    assert_eq!(state.len(), 64);
    assert!(state.bytes().all(|b| b.is_ascii_hexdigit()));
    let hashed =
        axhub_app::state::git::state_token_key(&hex::encode(Sha256::digest(state.as_bytes())));
    let item =
        g.t.deps
            .store
            .get(&hashed)
            .await
            .unwrap()
            .expect("stored by hash");
    assert!(
        !Value::Object(item.clone()).to_string().contains(state),
        "never the token itself"
    );
    let ttl = item["ttl"].as_i64().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now + 595..=now + 605).contains(&ttl), "10 minutes");
    assert!(
        g.t.deps
            .store
            .get(&axhub_app::state::git::state_token_key(state))
            .await
            .unwrap()
            .is_none()
    );
    // A fresh one each time.
    assert_ne!(g.start(app, &w.owner).await, state);
    assert_eq!(g.start(app, &w.admin).await.len(), 64);
    let uri = format!("/api/v1/apps/{app}/git/github/install/start");
    let r = g.call(Method::GET, &uri, Some(&w.member), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"));
    let r = g.call(Method::GET, &uri, Some(&w.outsider), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = g.call(Method::GET, &uri, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_status_shows_the_connection_or_an_install_url_to_those_who_may_connect() {
    let g = setup().await;
    let w = g.w().clone();
    let r = g.status(w.app, &w.member).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"connected": true, "provider": "github", "repo_full_name": "acme/site",
               "branch": "main", "installation_id": 7})
    );
    let app = w.unconnected_app;
    let first = g.status(app, &w.owner).await;
    assert_eq!(first.body["connected"], false);
    let url1 = first.body["install_url"].as_str().unwrap().to_owned();
    assert!(url1.contains("/apps/axhub-test/installations/new?state="));
    let url2 = g.status(app, &w.owner).await.body["install_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(url1, url2, "a fresh state token each call");
    assert!(g.status(app, &w.admin).await.body["install_url"].is_string());
    let member = g.status(app, &w.member).await;
    assert_eq!(member.status, StatusCode::OK);
    assert_eq!(
        member.body,
        json!({"connected": false}),
        "no install_url for members"
    );
    assert_eq!(
        g.status(app, &w.outsider).await.status,
        StatusCode::NOT_FOUND
    );
    // The URL's state works for registering.
    let state = url2.split("state=").nth(1).unwrap();
    let r = g
        .register(app, &w.owner, reg(state, 7, "acme/web", ""))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

// --- register (state + installation + repo) --------------------------------------------------

#[tokio::test]
async fn register_connects_once_and_a_replayed_state_is_400() {
    let g = setup().await;
    let w = g.w().clone();
    let app = w.unconnected_app;
    let state = g.start(app, &w.owner).await;
    let r = g
        .register(app, &w.owner, reg(&state, 7, "acme/web", ""))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"provider": "github", "repo_full_name": "acme/web", "branch": "main",
               "installation_id": 7})
    );
    assert_eq!(g.status(app, &w.member).await.body["connected"], true);
    let events = g.events("GitConnected", app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["detail"]["repo_full_name"], "acme/web");
    assert_eq!(events[0]["detail"]["by"], w.owner.as_str());

    let again = g
        .register(app, &w.owner, reg(&state, 7, "acme/web", ""))
        .await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (400, "invalid_oauth_state")
    );
    assert_eq!(again.body["error"]["fields"][0]["name"], "state");
    // Unknown and malformed tokens are the same 400.
    for bad in [&"ab".repeat(32), "not-a-state"] {
        let r = g.register(app, &w.owner, reg(bad, 7, "acme/web", "")).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_oauth_state"));
    }
    let r = g
        .register(
            app,
            &w.owner,
            json!({"installation_id": 7, "repo_full_name": "acme/web"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "required"));
    assert_eq!(g.events("GitConnected", app).await.len(), 1);
}

#[tokio::test]
async fn another_apps_state_is_403_and_is_not_consumed() {
    let g = setup().await;
    let w = g.w().clone();
    let state = g.start(w.unconnected_app, &w.owner).await;
    let r = g
        .register(w.app2, &w.owner, reg(&state, 7, "acme/web", ""))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another app")
    );
    assert_eq!(
        g.status(w.app2, &w.owner).await.body["repo_full_name"],
        "acme/site"
    );
    // Still good for the app it was issued for.
    let r = g
        .register(w.unconnected_app, &w.owner, reg(&state, 7, "acme/web", ""))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn another_users_state_is_403_on_register_and_complete() {
    let g = setup().await;
    let w = g.w().clone();
    let app = w.unconnected_app;
    let admins = g.start(app, &w.admin).await;
    let r = g
        .register(app, &w.owner, reg(&admins, 7, "acme/web", ""))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"));
    let r = g
        .call(
            Method::POST,
            "/api/v1/git/github/complete",
            Some(&w.owner),
            Some(reg(&admins, 7, "acme/web", "")),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another user")
    );
    // The admin's own, with the admin's installation.
    g.readable("admin-org/api").await;
    let r = g
        .register(app, &w.admin, reg(&admins, 8, "admin-org/api", ""))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn an_expired_state_is_400() {
    let g = setup().await;
    let w = g.w().clone();
    let app = w.unconnected_app;
    let state = g.start(app, &w.owner).await;
    g.clock.set_secs(601);
    let r = g
        .register(app, &w.owner, reg(&state, 7, "acme/web", ""))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_oauth_state"));
    // Issued 11 minutes ago: its ttl has passed, the store no longer shows it.
    g.clock.set_secs(-660);
    let old = g.start(app, &w.owner).await;
    g.clock.set_secs(0);
    let r = g
        .register(app, &w.owner, reg(&old, 7, "acme/web", ""))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_oauth_state"));
}

#[tokio::test]
async fn a_repository_the_installation_reaches_but_the_person_cannot_read_is_refused() {
    let g = setup().await;
    let w = g.w().clone();
    let app = w.unconnected_app;
    // The organisation's installation reaches acme/payroll; the owner's own account does not.
    Mock::given(method("GET"))
        .and(path("/repos/acme/payroll"))
        .and(bearer_token("ghs_7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo_json(9, "acme/payroll")))
        .mount(&g.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/payroll"))
        .and(bearer_token(user_token(&w.owner)))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&g.server)
        .await;
    let state = g.start(app, &w.owner).await;
    let r = g
        .register(app, &w.owner, reg(&state, 7, "acme/payroll", ""))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden"),
        "{:?}",
        r.body
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("your GitHub account cannot read acme/payroll")
    );
    assert!(g.events("GitConnected", app).await.is_empty());
    // The state was not spent: a repository the owner can read still connects.
    let r = g
        .register(app, &w.owner, reg(&state, 7, "acme/web", ""))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn every_check_runs_before_the_state_is_consumed() {
    let g = setup().await;
    let w = g.w().clone();
    let app = w.unconnected_app;
    let state = g.start(app, &w.owner).await;
    // Not the owner's installation.
    let r = g
        .register(app, &w.owner, reg(&state, 8, "acme/web", ""))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"));
    // The App cannot read the repository.
    Mock::given(method("GET"))
        .and(path("/repos/acme/secret"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&g.server)
        .await;
    let r = g
        .register(app, &w.owner, reg(&state, 7, "acme/secret", ""))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "installation_verification_failed")
    );
    assert_eq!(r.body["error"]["fields"][0]["name"], "repo_full_name");
    // A bad branch.
    let r = g
        .register(app, &w.owner, reg(&state, 7, "acme/web", "a..b"))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_format"));
    assert_eq!(r.body["error"]["fields"][0]["name"], "branch");
    // GitHub down.
    Mock::given(method("GET"))
        .and(path("/repos/acme/flaky"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&g.server)
        .await;
    let r = g
        .register(app, &w.owner, reg(&state, 7, "acme/flaky", ""))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (502, "bad_gateway"));
    assert_eq!(r.body["error"]["retryable"], true);
    assert!(g.events("GitConnected", app).await.is_empty());
    // After all that, the state still works.
    let r = g
        .register(app, &w.owner, reg(&state, 7, "acme/web", "release/1.x"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["branch"], "release/1.x");
}

#[tokio::test]
async fn register_needs_the_owner_or_an_admin() {
    let g = setup().await;
    let w = g.w().clone();
    let app = w.unconnected_app;
    let state = g.start(app, &w.owner).await;
    let r = g
        .register(app, &w.member, reg(&state, 7, "acme/web", ""))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = g
        .register(app, &w.outsider, reg(&state, 7, "acme/web", ""))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// --- complete (app from the state) -----------------------------------------------------------

#[tokio::test]
async fn complete_connects_the_app_the_state_names() {
    let g = setup().await;
    let w = g.w().clone();
    let state = g.start(w.unconnected_app, &w.owner).await;
    let complete = |body: Value| {
        g.call(
            Method::POST,
            "/api/v1/git/github/complete",
            Some(&w.owner),
            Some(body),
        )
    };
    for (body, field) in [
        (
            json!({"state": state, "installation_id": 0, "repo_full_name": "acme/web"}),
            "installation_id",
        ),
        (
            json!({"state": state, "repo_full_name": "acme/web"}),
            "installation_id",
        ),
        (
            json!({"state": state, "installation_id": 7}),
            "repo_full_name",
        ),
        (
            json!({"state": state, "installation_id": 7, "repo_full_name": "acme"}),
            "repo_full_name",
        ),
    ] {
        let r = complete(body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.body["error"]["fields"][0]["name"], field);
    }
    let r = complete(reg(&state, 7, "acme/web", "dev")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"app_id": w.unconnected_app, "tenant_slug": "acme", "provider": "github",
               "repo_full_name": "acme/web", "branch": "dev", "installation_id": 7})
    );
    let r = complete(reg(&state, 7, "acme/web", "dev")).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_oauth_state"));
    assert_eq!(
        g.status(w.unconnected_app, &w.member).await.body["branch"],
        "dev"
    );
}

// --- connect (agents: no state) --------------------------------------------------------------

#[tokio::test]
async fn connect_verifies_the_installation_and_needs_deploy_write_when_delegated() {
    let g = setup().await;
    let w = g.w().clone();
    let app = w.unconnected_app;
    let uri = format!("/api/v1/apps/{app}/git/github/connect");
    let body = json!({"installation_id": 7, "repo_full_name": "acme/web"});
    let delegated = |scopes: &[&str]| {
        mint_hs256(
            SECRET,
            &Claims {
                sub: w.owner.clone(),
                exp: time::OffsetDateTime::now_utc().unix_timestamp() + 600,
                scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
                ..Claims::default()
            },
        )
        .unwrap()
    };
    let as_token = |token: String| {
        Request::post(&uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let r = send(&g.t.router, as_token(delegated(&["deploy:read"]))).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "insufficient_scope"));
    let r = send(
        &g.t.router,
        as_token(delegated(&["deploy:read", "deploy:write"])),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["branch"], "main");
    // The same again: 201, nothing changed, no second event.
    let r = g
        .call(Method::POST, &uri, Some(&w.owner), Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(g.events("GitConnected", app).await.len(), 1);
    // Another repository replaces it.
    g.readable("acme/other").await;
    let r = g
        .call(
            Method::POST,
            &uri,
            Some(&w.owner),
            Some(json!({"installation_id": 7, "repo_full_name": "acme/other", "branch": "prod"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        g.status(app, &w.member).await.body["repo_full_name"],
        "acme/other"
    );
    assert_eq!(g.events("GitConnected", app).await.len(), 2);
    // Not the caller's installation; unreadable; no GitHub token stored; roles.
    let r = g
        .call(
            Method::POST,
            &uri,
            Some(&w.owner),
            Some(json!({"installation_id": 8, "repo_full_name": "acme/web"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    directory::put_membership(
        &g.t.deps,
        &axhub_domain::Membership {
            tenant_id: w.tenant,
            user_id: "admin-without-github".into(),
            role: axhub_domain::TenantRole::TenantAdmin,
        },
    )
    .await
    .unwrap();
    let r = g
        .call(
            Method::POST,
            &uri,
            Some("admin-without-github"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (428, "github_relogin_required")
    );
    assert_eq!(r.category(), "precondition_failed");
    let r = g
        .call(Method::POST, &uri, Some(&w.member), Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = g
        .call(Method::POST, &uri, Some(&w.outsider), Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stale_user_token_is_refreshed_and_a_refused_refresh_is_428() {
    let g = setup().await;
    let w = g.w().clone();
    let uri = format!("/api/v1/apps/{}/git/github/connect", w.unconnected_app);
    let body = json!({"installation_id": 7, "repo_full_name": "acme/web"});
    // The owner's token expired; GitHub renews it.
    g.expired_token(&w.owner, "gho_expired", "ghr_good").await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(wiremock::matchers::body_partial_json(
            json!({"refresh_token": "ghr_good"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": user_token(&w.owner), "expires_in": 28800,
            "refresh_token": "ghr_next", "refresh_token_expires_in": 15811200,
            "token_type": "bearer", "scope": ""
        })))
        .expect(1)
        .mount(&g.server)
        .await;
    let r = g
        .call(Method::POST, &uri, Some(&w.owner), Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // The admin's refresh token was revoked.
    g.expired_token(&w.admin, "gho_admin_expired", "ghr_revoked")
        .await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(wiremock::matchers::body_partial_json(
            json!({"refresh_token": "ghr_revoked"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "error": "bad_refresh_token",
            "error_description": "The refresh token passed is incorrect or expired."
        })))
        .mount(&g.server)
        .await;
    let r = g.call(Method::POST, &uri, Some(&w.admin), Some(body)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (428, "github_relogin_required")
    );
    let r = g
        .call(Method::GET, "/api/v1/github/accounts", Some(&w.admin), None)
        .await;
    assert_eq!(r.status.as_u16(), 428);
}

// --- PATCH and DELETE --------------------------------------------------------------------------

#[tokio::test]
async fn the_branch_is_changed_under_check_ref_format_rules() {
    let g = setup().await;
    let w = g.w().clone();
    let uri = format!("/api/v1/apps/{}/git-connection", w.app);
    let r = g
        .patch(&uri, &w.owner, json!({"branch": "feature/login"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"provider": "github", "repo_full_name": "acme/site", "branch": "feature/login",
               "installation_id": 7})
    );
    assert_eq!(
        g.status(w.app, &w.member).await.body["branch"],
        "feature/login"
    );
    let ev = g.events("GitConnected", w.app).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["detail"]["reason"], "branch_changed");
    for bad in ["a b", "-x", "x.lock", "a..b", "HEAD", "/x", "x/"] {
        let r = g.patch(&uri, &w.admin, json!({"branch": bad})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.body["error"]["fields"][0]["name"], "branch");
    }
    let r = g.patch(&uri, &w.admin, json!({})).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "required"));
    assert_eq!(
        g.patch(&uri, &w.member, json!({"branch": "x"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        g.patch(&uri, &w.outsider, json!({"branch": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = g
        .call(
            Method::PATCH,
            &format!("/api/v1/apps/{}/git-connection", w.unconnected_app),
            Some(&w.owner),
            Some(json!({"branch": "main"})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"));
}

#[tokio::test]
async fn delete_is_idempotent_keeps_history_and_records_the_event() {
    let g = setup().await;
    let w = g.w().clone();
    let d = g.t.deploy(w.app, &w.owner, SHA).await;
    assert_eq!(d.status, StatusCode::ACCEPTED);
    let uri = format!("/api/v1/apps/{}/git-connection", w.app);
    assert_eq!(
        g.call(Method::DELETE, &uri, Some(&w.member), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        g.call(Method::DELETE, &uri, Some(&w.outsider), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = g.call(Method::DELETE, &uri, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_null());
    assert_eq!(g.status(w.app, &w.owner).await.body["connected"], false);
    let r = g.call(Method::DELETE, &uri, Some(&w.admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let ev = g.events("GitDisconnected", w.app).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["detail"]["reason"], "disconnected");
    assert_eq!(g.deployments(w.app).await["total"], 1, "history stays");
    // Pushes no longer match.
    g.t.finish(w.app, d.body["id"].as_str().unwrap(), "succeeded")
        .await;
    let done = g
        .deliver(
            "push",
            &Uuid::new_v4().to_string(),
            &push_body("acme/site", "main", &sha(9)),
        )
        .await;
    assert!(!done["deployments"].to_string().contains(&w.app.to_string()));
    assert_eq!(g.deployments(w.app).await["total"], 1);
}

// --- the installation picker --------------------------------------------------------------------

#[tokio::test]
async fn accounts_and_repositories_of_the_callers_own_installations() {
    let g = setup().await;
    let w = g.w().clone();
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(bearer_token(user_token(&w.owner)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "login": "octo-owner", "id": 1, "type": "User", "avatar_url": "https://avatars/o"
        })))
        .mount(&g.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/memberships/orgs"))
        .and(query_param("state", "active"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"state": "active", "role": "admin",
             "organization": {"login": "acme", "id": 700, "avatar_url": "https://avatars/acme"}},
            {"state": "active", "role": "member",
             "organization": {"login": "zeta", "id": 900, "avatar_url": "https://avatars/zeta"}}
        ])))
        .mount(&g.server)
        .await;
    let r = g
        .call(Method::GET, "/api/v1/github/accounts", Some(&w.owner), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let accounts = r.body["accounts"].as_array().unwrap();
    let logins: Vec<(&str, &str, bool)> = accounts
        .iter()
        .map(|a| {
            (
                a["login"].as_str().unwrap(),
                a["type"].as_str().unwrap(),
                a["installed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        logins,
        vec![
            ("octo-owner", "User", false),
            ("acme", "Organization", true),
            ("zeta", "Organization", false)
        ]
    );
    assert_eq!(accounts[1]["installation_id"], 7);
    let r = g
        .call(
            Method::GET,
            "/api/v1/github/accounts",
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (428, "github_relogin_required")
    );
    let r = g
        .call(Method::GET, "/api/v1/github/accounts", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    Mock::given(method("GET"))
        .and(path("/user/installations/7/repositories"))
        .and(query_param("page", "3"))
        .and(query_param("per_page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 41,
            "repositories": [repo_json(5, "acme/e"), repo_json(6, "acme/f")]
        })))
        .expect(1)
        .mount(&g.server)
        .await;
    let r = g.repos(&w.owner, "7/repositories?page=3&per_page=2").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["total_count"], 41);
    assert_eq!(r.body["repositories"][1]["full_name"], "acme/f");
    assert_eq!(r.body["repositories"].as_array().unwrap().len(), 2);
    // Someone else's installation.
    let r = g.repos(&w.owner, "8/repositories").await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"));
    for (q, field) in [
        ("7/repositories?per_page=101", "per_page"),
        ("7/repositories?per_page=0", "per_page"),
        ("7/repositories?page=0", "page"),
        ("abc/repositories", "installationID"),
        ("-1/repositories", "installationID"),
    ] {
        let r = g.repos(&w.owner, q).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.body["error"]["fields"][0]["name"], field, "{q}");
    }
}

#[tokio::test]
async fn github_failing_timing_out_or_rate_limiting_reaches_the_caller_as_502_or_429() {
    let g = setup().await;
    let w = g.w().clone();
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&g.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/memberships/orgs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&g.server)
        .await;
    let r = g
        .call(Method::GET, "/api/v1/github/accounts", Some(&w.owner), None)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (502, "bad_gateway"));
    assert_eq!(r.category(), "unavailable");
    // A repository listing that never answers in time.
    Mock::given(method("GET"))
        .and(path("/user/installations/7/repositories"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 0, "repositories": []}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&g.server)
        .await;
    let started = std::time::Instant::now();
    let r = g
        .call(
            Method::GET,
            "/api/v1/github/installations/7/repositories",
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (502, "bad_gateway"));
    assert!(started.elapsed() < Duration::from_secs(2));
    // The rate limit.
    g.token("rate-limited-user").await;
    directory::put_membership(
        &g.t.deps,
        &axhub_domain::Membership {
            tenant_id: w.tenant,
            user_id: "rate-limited-user".into(),
            role: axhub_domain::TenantRole::TenantMember,
        },
    )
    .await
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/user/installations"))
        .and(bearer_token(user_token("rate-limited-user")))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("retry-after", "42")
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .mount(&g.server)
        .await;
    let r = g
        .call(
            Method::GET,
            "/api/v1/github/installations/7/repositories",
            Some("rate-limited-user"),
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (429, "rate_limited"));
    assert_eq!(r.body["error"]["retry"]["after_ms"], 42_000);
    assert_eq!(r.headers["retry-after"], "42");
}

#[tokio::test]
async fn without_github_configured_the_operations_answer_503() {
    let t = sqlite_app().await;
    let w = t.world.clone();
    // deployments_fn only in `t`; build the git router on the same deps (no GitHub).
    let auth = Arc::new(Authenticator::new(
        AuthConfig {
            keys: JwtKeys::Hs256 {
                secret: SECRET.to_vec(),
            },
            issuer: None,
            audience: None,
        },
        Arc::new(axhub_app::state::credentials::StoredCredentials::new(
            t.deps.store.clone(),
        )),
    ));
    let state = AppState {
        deps: t.deps.clone(),
        auth,
    };
    let git = TestApp {
        router: git_fn::router(state.clone()),
        deps: t.deps.clone(),
        world: w.clone(),
    };
    let r = git
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/git/github/install/start", w.app),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (503, "backend_unimplemented")
    );
    let r = git
        .call(Method::GET, "/api/v1/github/accounts", Some(&w.owner), None)
        .await;
    assert_eq!(r.status.as_u16(), 503);
    // Reading the connection needs no GitHub; there is just no install URL.
    let r = git
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/git-connection", w.unconnected_app),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"connected": false}));
    let hook = TestApp {
        router: github_webhook_fn::router(state),
        deps: t.deps.clone(),
        world: w,
    };
    let r = hook
        .call(Method::POST, "/webhooks/github", None, Some(json!({})))
        .await;
    assert_eq!(r.status.as_u16(), 503);
}

// --- the trigger with an empty commit -----------------------------------------------------------

#[tokio::test]
async fn an_empty_commit_deploys_the_head_of_the_connected_branch() {
    let g = setup().await;
    let w = g.w().clone();
    let head = "fedcba9876543210fedcba9876543210fedcba98";
    Mock::given(method("GET"))
        .and(path("/repos/acme/site/branches/main"))
        .and(bearer_token("ghs_7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "main", "commit": {"sha": head}, "protected": true
        })))
        .mount(&g.server)
        .await;
    let r = g
        .call(
            Method::POST,
            &format!("/api/v1/apps/{}/deployments", w.app),
            Some(&w.owner),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["commit_sha"], head);
    assert_eq!(r.body["branch"], "main");
    // A branch that is gone is a 412.
    let r = g
        .call(
            Method::PATCH,
            &format!("/api/v1/apps/{}/git-connection", w.app2),
            Some(&w.owner),
            Some(json!({"branch": "gone"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    Mock::given(method("GET"))
        .and(path("/repos/acme/site/branches/gone"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Branch not found"})),
        )
        .mount(&g.server)
        .await;
    let r = g
        .call(
            Method::POST,
            &format!("/api/v1/apps/{}/deployments", w.app2),
            Some(&w.owner),
            Some(json!({"commit_sha": ""})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (412, "branch_not_found"));
}

#[tokio::test]
async fn the_openapi_document_names_the_spec_operations() {
    let g = setup().await;
    let r = g
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    let doc = r.body.to_string();
    for op in [
        "deployGetApiV1AppsByAppIDGitConnection",
        "deployPostApiV1AppsByAppIDGitConnection",
        "deployPatchApiV1AppsByAppIDGitConnection",
        "deployDeleteApiV1AppsByAppIDGitConnection",
        "deployPostApiV1AppsByAppIDGitGithubConnect",
        "deployGetApiV1AppsByAppIDGitGithubInstallStart",
        "deployPostApiV1GitGithubComplete",
        "deployGetApiV1GithubAccounts",
        "deployGetApiV1GithubInstallationsByInstallationIDRepositories",
    ] {
        assert!(doc.contains(op), "{op}");
    }
    // The PAT principal path works for these routes too.
    let req = Request::get(format!("/api/v1/apps/{}/git-connection", g.w().app))
        .header("x-api-key", g.w().pat.clone())
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&g.t.router, req).await.status, StatusCode::OK);
}

/// The same flow on DynamoDB (moto): the state's conditional delete, the repository and
/// installation indexes. A repository and installation of its own, since the table is shared.
#[tokio::test]
async fn the_flow_and_the_webhook_lookups_on_dynamodb() {
    let g = setup_on(dynamo_store().await).await;
    let w = g.w().clone();
    let installation = 1_000_000 + i64::from(rand_u16());
    let repo = format!("acme/r-{}", Uuid::new_v4().simple());
    Mock::given(method("GET"))
        .and(path("/user/installations"))
        .and(bearer_token(user_token(&w.owner)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 1,
            "installations": [{"id": installation, "account": {"login": "acme", "id": 1, "type": "Organization"}}]
        })))
        .with_priority(1)
        .mount(&g.server)
        .await;
    g.installation_token(installation).await;
    g.readable(&repo).await;
    let app = w.unconnected_app;
    let state = g.start(app, &w.owner).await;
    let r = g
        .register(app, &w.owner, reg(&state, installation, &repo, ""))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let again = g
        .register(app, &w.owner, reg(&state, installation, &repo, ""))
        .await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (400, "invalid_oauth_state")
    );

    let mut push = push_body(&repo.to_uppercase(), "main", &sha(77));
    push["installation"]["id"] = json!(installation);
    let delivery = Uuid::new_v4().to_string();
    let done = g.deliver("push", &delivery, &push).await;
    assert_eq!(done["outcome"], "deployed", "{done:?}");
    assert_eq!(done["deployments"].as_array().unwrap().len(), 1);
    let r = g.webhook("push", &delivery, &push).await;
    assert_eq!(r.body["outcome"], "duplicate");
    assert!(g.work().await.is_empty());
    assert_eq!(g.deployments(app).await["total"], 1);

    let deleted = json!({"action": "deleted", "installation": {"id": installation}});
    let done = g
        .deliver("installation", &Uuid::new_v4().to_string(), &deleted)
        .await;
    assert_eq!(done["disconnected"], json!([app]));
    assert_eq!(g.status(app, &w.owner).await.body["connected"], false);
}

fn rand_u16() -> u16 {
    (Uuid::new_v4().as_u128() & 0xffff) as u16
}
