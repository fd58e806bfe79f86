//! The GitHub client against a fake GitHub at the HTTP level (wiremock) answering GitHub's
//! real JSON shapes, with user tokens in a real (SQLite) store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axhub_app::state::credentials::{StoredCredentials, github_user_token_key};
use axhub_domain::{Category, ErrorCode, GitConnection};
use axhub_github::{GitHubClient, GitHubConfig};
use axhub_ports::github::{GitHub, UserTokenGrant};
use axhub_store::Store;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{bearer_token, body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = include_str!("fixtures/test-app-key.pem");
const PUBLIC_KEY: &str = include_str!("fixtures/test-app-key.pub.pem");

fn config(server: &MockServer) -> GitHubConfig {
    let mut c = GitHubConfig::new("424242", "axhub-test", KEY);
    c.api_url = server.uri();
    c.web_url = server.uri();
    c.client_id = "Iv1.client".into();
    c.client_secret = "client-secret".into();
    c.webhook_secret = "whsec".into();
    c.token_key = vec![7; 32];
    c.timeout = Duration::from_millis(300);
    c.attempts = 3;
    c.backoff = Duration::from_millis(10);
    c
}

struct Fake {
    server: MockServer,
    store: Arc<dyn Store>,
    gh: GitHubClient,
}

async fn fake() -> Fake {
    let server = MockServer::start().await;
    let store: Arc<dyn Store> = Arc::new(axhub_sqlite::SqliteStore::in_memory().unwrap());
    let gh = GitHubClient::new(config(&server), creds(&store)).unwrap();
    Fake { server, store, gh }
}

fn rfc3339_in(secs: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `POST /app/installations/{id}/access_tokens` as GitHub answers it.
async fn installation_token(f: &Fake, installation: i64, token: &str, valid_secs: i64) {
    Mock::given(method("POST"))
        .and(path(format!(
            "/app/installations/{installation}/access_tokens"
        )))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": token,
            "expires_at": rfc3339_in(valid_secs),
            "permissions": {"contents": "read", "metadata": "read"},
            "repository_selection": "selected"
        })))
        .mount(&f.server)
        .await;
}

fn repo_json(id: i64, full_name: &str) -> Value {
    let (owner, name) = full_name.split_once('/').unwrap();
    json!({
        "id": id, "node_id": "R_x", "name": name, "full_name": full_name, "private": true,
        "owner": {"login": owner, "id": 1, "type": "Organization"},
        "html_url": format!("https://github.com/{full_name}"),
        "default_branch": "main", "visibility": "private"
    })
}

async fn store_token(f: &Fake, user: &str, expires_in: Option<i64>) {
    f.gh.store_user_token(
        user,
        UserTokenGrant {
            access_token: format!("gho_{user}_old"),
            refresh_token: Some(format!("ghr_{user}_1")),
            expires_in,
            refresh_token_expires_in: Some(15_811_200),
        },
    )
    .await
    .unwrap();
}

fn installations_json(ids: &[(i64, &str, &str)]) -> Value {
    json!({
        "total_count": ids.len(),
        "installations": ids.iter().map(|(id, login, kind)| json!({
            "id": id, "app_id": 424242, "target_type": kind,
            "account": {"login": login, "id": id * 10, "type": kind,
                        "avatar_url": format!("https://avatars/{login}")}
        })).collect::<Vec<_>>()
    })
}

#[tokio::test]
async fn the_app_signs_a_jwt_and_installation_tokens_are_cached() {
    let f = fake().await;
    installation_token(&f, 7, "ghs_one", 3600).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site"))
        .and(bearer_token("ghs_one"))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo_json(1, "acme/site")))
        .expect(2)
        .mount(&f.server)
        .await;
    assert!(f.gh.installation_can_read(7, "acme/site").await.unwrap());
    assert!(f.gh.installation_can_read(7, "acme/site").await.unwrap());

    let reqs = f.server.received_requests().await.unwrap();
    let token_reqs: Vec<_> = reqs
        .iter()
        .filter(|r| r.url.path().ends_with("/access_tokens"))
        .collect();
    assert_eq!(token_reqs.len(), 1, "the token is cached");
    let auth = token_reqs[0].headers.get("authorization").unwrap();
    let jwt = auth.to_str().unwrap().strip_prefix("Bearer ").unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&["424242"]);
    v.set_required_spec_claims(&["iat", "exp", "iss"]);
    let claims = jsonwebtoken::decode::<Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap(),
        &v,
    )
    .expect("an RS256 JWT signed with the App's key")
    .claims;
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(
        (now() - 62..=now() - 58).contains(&iat),
        "iat 60 s in the past"
    );
    assert!(exp - iat <= 600, "at most 10 minutes");
    assert!(exp > now());
}

#[tokio::test]
async fn an_installation_token_about_to_expire_is_not_reused() {
    let f = fake().await;
    installation_token(&f, 7, "ghs_short", 120).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site"))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo_json(1, "acme/site")))
        .mount(&f.server)
        .await;
    f.gh.installation_can_read(7, "acme/site").await.unwrap();
    f.gh.installation_can_read(7, "acme/site").await.unwrap();
    let n = f
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/access_tokens"))
        .count();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn unreadable_repositories_and_missing_installations_are_false() {
    let f = fake().await;
    installation_token(&f, 7, "ghs_one", 3600).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/secret"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found",
                "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
                "status": "404"})),
        )
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/installations/9/access_tokens"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&f.server)
        .await;
    assert!(!f.gh.installation_can_read(7, "acme/secret").await.unwrap());
    assert!(!f.gh.installation_can_read(9, "acme/site").await.unwrap());
}

#[tokio::test]
async fn branch_head_reads_the_branch_with_the_installation_token() {
    let f = fake().await;
    installation_token(&f, 7, "ghs_one", 3600).await;
    let sha = "ABCDEF0123456789ABCDEF0123456789ABCDEF01";
    Mock::given(method("GET"))
        .and(path("/repos/acme/site/branches/feature/x"))
        .and(bearer_token("ghs_one"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "feature/x",
            "commit": {"sha": sha, "url": "https://api.github.com/repos/acme/site/commits/x"},
            "protected": false
        })))
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site/branches/gone"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Branch not found"})),
        )
        .mount(&f.server)
        .await;
    let g = |branch: &str| GitConnection {
        app_id: Uuid::now_v7(),
        provider: "github".into(),
        repo_full_name: "acme/site".into(),
        branch: branch.into(),
        installation_id: 7,
    };
    assert_eq!(
        f.gh.branch_head(&g("feature/x")).await.unwrap(),
        sha.to_ascii_lowercase()
    );
    let e = f.gh.branch_head(&g("gone")).await.unwrap_err();
    assert_eq!(
        (e.category, e.code.as_str()),
        (Category::PreconditionFailed, "branch_not_found")
    );
}

#[tokio::test]
async fn a_stale_user_token_is_refreshed_and_kept_encrypted() {
    let f = fake().await;
    store_token(&f, "ann", Some(-10)).await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(body_partial_json(json!({
            "grant_type": "refresh_token",
            "refresh_token": "ghr_ann_1",
            "client_id": "Iv1.client",
            "client_secret": "client-secret"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "gho_ann_new", "expires_in": 28800,
            "refresh_token": "ghr_ann_2", "refresh_token_expires_in": 15811200,
            "scope": "", "token_type": "bearer"
        })))
        .expect(1)
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/installations"))
        .and(bearer_token("gho_ann_new"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(installations_json(&[(
                7,
                "acme",
                "Organization",
            )])),
        )
        .expect(2)
        .mount(&f.server)
        .await;
    assert!(f.gh.user_has_installation("ann", 7).await.unwrap());
    // Fresh now: no second refresh.
    assert!(!f.gh.user_has_installation("ann", 8).await.unwrap());

    let stored = f.gh.vault().get("ann").await.unwrap().expect("kept");
    assert_eq!(stored.tokens.access_token, "gho_ann_new");
    assert_eq!(stored.tokens.refresh_token.as_deref(), Some("ghr_ann_2"));
    assert!(stored.tokens.expires_at.unwrap() > now() + 28000);
    let raw = f
        .store
        .get(&github_user_token_key("ann"))
        .await
        .unwrap()
        .unwrap();
    let text = serde_json::to_string(&raw).unwrap();
    assert!(
        !text.contains("gho_ann") && !text.contains("ghr_ann"),
        "{text}"
    );
    assert_eq!(raw["alg"], "A256GCM");
}

#[tokio::test]
async fn a_refused_refresh_asks_the_user_to_sign_in_again() {
    let f = fake().await;
    store_token(&f, "bob", Some(-10)).await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "error": "bad_refresh_token",
            "error_description": "The refresh token passed is incorrect or expired.",
            "error_uri": "https://docs.github.com"
        })))
        .expect(1)
        .mount(&f.server)
        .await;
    let e = f.gh.accounts("bob").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::GithubReloginRequired);
    assert_eq!(e.category, Category::PreconditionFailed);
}

#[tokio::test]
async fn no_stored_token_or_a_revoked_one_is_428() {
    let f = fake().await;
    let e = f.gh.accounts("nobody").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::GithubReloginRequired);
    store_token(&f, "cy", None).await;
    Mock::given(method("GET"))
        .and(path("/user/installations"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&f.server)
        .await;
    let e = f.gh.user_has_installation("cy", 7).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::GithubReloginRequired);
}

#[tokio::test]
async fn a_ciphertext_is_bound_to_its_user_and_every_write_has_a_fresh_nonce() {
    let f = fake().await;
    store_token(&f, "dee", None).await;
    let first = f
        .store
        .get(&github_user_token_key("dee"))
        .await
        .unwrap()
        .unwrap();
    store_token(&f, "dee", None).await;
    let second = f
        .store
        .get(&github_user_token_key("dee"))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first["nonce"], second["nonce"]);
    assert_ne!(first["ciphertext"], second["ciphertext"]);
    // Copied onto another user's item, it does not decrypt: that user must sign in.
    let mut stolen = second.clone();
    let k = github_user_token_key("eve");
    stolen.insert("pk".into(), json!(k.pk));
    f.store.put(stolen, None).await.unwrap();
    assert!(f.gh.vault().get("eve").await.unwrap().is_none());
    assert_eq!(
        f.gh.accounts("eve").await.unwrap_err().code,
        ErrorCode::GithubReloginRequired
    );
    // Another key cannot read it either.
    let mut other = config(&f.server);
    other.token_key = vec![8; 32];
    let gh2 = GitHubClient::new(other, creds(&f.store)).unwrap();
    assert!(gh2.vault().get("dee").await.unwrap().is_none());
}

#[tokio::test]
async fn github_failing_is_retried_then_502() {
    let f = fake().await;
    installation_token(&f, 7, "ghs_one", 3600).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .expect(3)
        .mount(&f.server)
        .await;
    let e =
        f.gh.installation_can_read(7, "acme/site")
            .await
            .unwrap_err();
    assert_eq!(
        (e.category, e.code.as_str()),
        (Category::Unavailable, "bad_gateway")
    );
    assert!(e.retryable);
}

#[tokio::test]
async fn a_passing_failure_is_retried_and_succeeds() {
    let f = fake().await;
    installation_token(&f, 7, "ghs_one", 3600).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site"))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo_json(1, "acme/site")))
        .mount(&f.server)
        .await;
    assert!(f.gh.installation_can_read(7, "acme/site").await.unwrap());
}

#[tokio::test]
async fn timeouts_are_retried_then_502() {
    let f = fake().await;
    installation_token(&f, 7, "ghs_one", 3600).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(repo_json(1, "acme/site"))
                .set_delay(Duration::from_secs(2)),
        )
        .expect(3)
        .mount(&f.server)
        .await;
    let started = Instant::now();
    let e =
        f.gh.installation_can_read(7, "acme/site")
            .await
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::BadGateway);
    assert!(e.message.contains("timed out"), "{}", e.message);
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "bounded by the client timeout"
    );
}

#[tokio::test]
async fn rate_limits_are_429_with_when_to_retry_and_not_retried() {
    let f = fake().await;
    installation_token(&f, 7, "ghs_one", 3600).await;
    let reset = now() + 30;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(
                    json!({"message": "API rate limit exceeded for installation ID 7."}),
                ),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/other"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    let e =
        f.gh.installation_can_read(7, "acme/site")
            .await
            .unwrap_err();
    assert_eq!(
        (e.category, e.code.as_str()),
        (Category::RateLimited, "rate_limited")
    );
    let ms = e.retry_after_ms.unwrap();
    assert!((28_000..=31_000).contains(&ms), "{ms}");
    let e =
        f.gh.installation_can_read(7, "acme/other")
            .await
            .unwrap_err();
    assert_eq!(e.retry_after_ms, Some(7_000));
}

#[tokio::test]
async fn repositories_pass_page_and_per_page_through_and_keep_total_count() {
    let f = fake().await;
    store_token(&f, "fay", None).await;
    Mock::given(method("GET"))
        .and(path("/user/installations/7/repositories"))
        .and(query_param("page", "2"))
        .and(query_param("per_page", "5"))
        .and(bearer_token("gho_fay_old"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 12,
            "repository_selection": "all",
            "repositories": (6..=10).map(|i| repo_json(i, &format!("acme/r{i}"))).collect::<Vec<_>>()
        })))
        .expect(1)
        .mount(&f.server)
        .await;
    let p =
        f.gh.installation_repositories("fay", 7, 2, 5)
            .await
            .unwrap();
    assert_eq!(p.total_count, 12);
    assert_eq!(p.repositories.len(), 5);
    assert_eq!(p.repositories[0].full_name, "acme/r6");
    assert!(p.repositories[0].private);
    assert_eq!(p.repositories[0].default_branch, "main");
}

#[tokio::test]
async fn installation_ownership_reads_every_page() {
    let f = fake().await;
    store_token(&f, "gus", None).await;
    let many: Vec<(i64, &str, &str)> = (1..=100).map(|i| (i, "someone", "User")).collect();
    let mut first = installations_json(&many);
    first["total_count"] = json!(101);
    Mock::given(method("GET"))
        .and(path("/user/installations"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .mount(&f.server)
        .await;
    let mut second = installations_json(&[(555, "acme", "Organization")]);
    second["total_count"] = json!(101);
    Mock::given(method("GET"))
        .and(path("/user/installations"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(second))
        .mount(&f.server)
        .await;
    assert!(f.gh.user_has_installation("gus", 555).await.unwrap());
    assert!(!f.gh.user_has_installation("gus", 556).await.unwrap());
}

#[tokio::test]
async fn accounts_merge_user_orgs_and_installations() {
    let f = fake().await;
    store_token(&f, "hal", None).await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "login": "hal", "id": 10, "type": "User", "avatar_url": "https://avatars/hal",
            "name": "Hal", "site_admin": false
        })))
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/memberships/orgs"))
        .and(query_param("state", "active"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"state": "active", "role": "admin",
             "organization": {"login": "acme", "id": 70, "avatar_url": "https://avatars/acme"}},
            {"state": "active", "role": "member",
             "organization": {"login": "beta", "id": 80, "avatar_url": "https://avatars/beta"}}
        ])))
        .mount(&f.server)
        .await;
    // Installed on the user (1) and on acme (7), and on a third org via collaboration (9).
    Mock::given(method("GET"))
        .and(path("/user/installations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 3,
            "installations": [
                {"id": 1, "account": {"login": "hal", "id": 10, "type": "User", "avatar_url": "a"}},
                {"id": 7, "account": {"login": "acme", "id": 70, "type": "Organization", "avatar_url": "b"}},
                {"id": 9, "account": {"login": "gamma", "id": 90, "type": "Organization", "avatar_url": "c"}}
            ]
        })))
        .mount(&f.server)
        .await;
    let a = f.gh.accounts("hal").await.unwrap();
    let summary: Vec<(&str, &str, Option<i64>, bool)> = a
        .iter()
        .map(|x| {
            (
                x.login.as_str(),
                x.kind.as_str(),
                x.installation_id,
                x.installed,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("hal", "User", Some(1), true),
            ("acme", "Organization", Some(7), true),
            ("beta", "Organization", None, false),
            ("gamma", "Organization", Some(9), true),
        ]
    );
    // Each names the App's install page for that account, installed or not.
    let web = f.gh.settings().web_url.trim_end_matches('/').to_owned();
    let slug = f.gh.settings().app_slug.clone();
    for (account, id) in a.iter().zip([10, 70, 80, 90]) {
        assert_eq!(
            account.install_url,
            format!("{web}/apps/{slug}/installations/new/permissions?target_id={id}")
        );
    }
}

#[test]
fn a_bad_private_key_or_token_key_is_refused_at_startup() {
    let store: Arc<dyn Store> = Arc::new(axhub_sqlite::SqliteStore::in_memory().unwrap());
    let mut c = GitHubConfig::new("1", "x", "not a pem");
    c.webhook_secret = "s".into();
    c.token_key = vec![1; 32];
    assert!(GitHubClient::new(c.clone(), creds(&store)).is_err());
    c.private_key_pem = KEY.into();
    c.token_key = vec![1; 16];
    assert!(GitHubClient::new(c.clone(), creds(&store)).is_err());
    c.token_key = vec![1; 32];
    assert!(GitHubClient::new(c, creds(&store)).is_ok());
}

#[tokio::test]
async fn a_refresh_that_lost_the_race_uses_the_winners_token() {
    let f = fake().await;
    store_token(&f, "ivy", Some(-10)).await;
    // GitHub refuses our (single-use, already spent) refresh token, slowly enough for another
    // request to store the renewed tokens meanwhile.
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"error": "bad_refresh_token"}))
                .set_delay(Duration::from_millis(150)),
        )
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/installations"))
        .and(bearer_token("gho_ivy_winner"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(installations_json(&[(
                7,
                "acme",
                "Organization",
            )])),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    let gh = &f.gh;
    let (owned, ()) = tokio::join!(gh.user_has_installation("ivy", 7), async {
        tokio::time::sleep(Duration::from_millis(40)).await;
        gh.store_user_token(
            "ivy",
            UserTokenGrant {
                access_token: "gho_ivy_winner".into(),
                refresh_token: Some("ghr_ivy_2".into()),
                expires_in: Some(28_800),
                refresh_token_expires_in: None,
            },
        )
        .await
        .unwrap();
    });
    assert!(owned.unwrap());
    // The loser wrote nothing over the winner's tokens.
    let kept = gh.vault().get("ivy").await.unwrap().unwrap();
    assert_eq!(kept.tokens.access_token, "gho_ivy_winner");
}

fn creds(store: &Arc<dyn Store>) -> Arc<StoredCredentials> {
    Arc::new(StoredCredentials::new(store.clone()))
}

#[tokio::test]
async fn a_clone_token_reads_one_repository_and_is_minted_for_each_build() {
    let f = fake().await;
    Mock::given(method("POST"))
        .and(path("/app/installations/7/access_tokens"))
        .and(body_partial_json(json!({
            "repositories": ["site"],
            "permissions": {"contents": "read"}
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": "ghs_site_only",
            "expires_at": rfc3339_in(3600),
            "permissions": {"contents": "read"},
            "repository_selection": "selected"
        })))
        .expect(2)
        .mount(&f.server)
        .await;
    let git = axhub_domain::GitConnection {
        app_id: uuid::Uuid::now_v7(),
        provider: "github".into(),
        installation_id: 7,
        repo_full_name: "acme/site".into(),
        branch: "main".into(),
    };
    for _ in 0..2 {
        assert_eq!(
            f.gh.clone_token(&git).await.unwrap().as_deref(),
            Some("ghs_site_only")
        );
    }
    // Exactly those fields: nothing wider than one repository's contents.
    let reqs = f.server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(
        body,
        json!({"repositories": ["site"], "permissions": {"contents": "read"}})
    );
}

#[tokio::test]
async fn a_repository_the_installation_no_longer_reaches_gives_no_clone_token() {
    let f = fake().await;
    Mock::given(method("POST"))
        .and(path("/app/installations/7/access_tokens"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "There is at least one repository that does not exist or is not accessible"
        })))
        .mount(&f.server)
        .await;
    let git = axhub_domain::GitConnection {
        app_id: uuid::Uuid::now_v7(),
        provider: "github".into(),
        installation_id: 7,
        repo_full_name: "acme/gone".into(),
        branch: "main".into(),
    };
    assert_eq!(f.gh.clone_token(&git).await.unwrap(), None);
}
