//! `GitHubRepos` against a fake GitHub at the HTTP level (wiremock): which request, with whose
//! token and what body, for each of the bootstrap saga's steps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axhub_app::state::credentials::StoredCredentials;
use axhub_domain::{Category, ErrorCode};
use axhub_github::{GitHubClient, GitHubConfig};
use axhub_ports::github::{
    GitHub, GitHubRepos, NewCommit, NewRepository, RepoActor, RepoFile, TEMPLATE_MAX_FILES,
    TemplateSource, UserTokenGrant,
};
use axhub_store::Store;
use serde_json::{Value, json};
use wiremock::matchers::{bearer_token, body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = include_str!("fixtures/test-app-key.pem");
const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SHA_C: &str = "cccccccccccccccccccccccccccccccccccccccc";

struct Fake {
    server: MockServer,
    gh: GitHubClient,
}

async fn fake() -> Fake {
    let server = MockServer::start().await;
    let mut c = GitHubConfig::new("424242", "axhub-test", KEY);
    c.api_url = server.uri();
    c.web_url = server.uri();
    c.webhook_secret = "whsec".into();
    c.token_key = vec![7; 32];
    c.timeout = Duration::from_millis(500);
    c.attempts = 2;
    c.backoff = Duration::from_millis(10);
    let store: Arc<dyn Store> = Arc::new(axhub_sqlite::SqliteStore::in_memory().unwrap());
    let gh = GitHubClient::new(c, Arc::new(StoredCredentials::new(store))).unwrap();
    // Installation 7's token, and alice's stored user token.
    Mock::given(method("POST"))
        .and(path("/app/installations/7/access_tokens"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": "ghs_inst", "expires_at": "2999-01-01T00:00:00Z"
        })))
        .mount(&server)
        .await;
    gh.store_user_token(
        "alice",
        UserTokenGrant {
            access_token: "gho_alice".into(),
            ..UserTokenGrant::default()
        },
    )
    .await
    .unwrap();
    Fake { server, gh }
}

fn repo_json(full_name: &str, description: Value) -> Value {
    let (_, name) = full_name.split_once('/').unwrap();
    json!({"id": 99, "name": name, "full_name": full_name, "private": true,
           "default_branch": "main", "description": description,
           "html_url": format!("https://github.com/{full_name}")})
}

fn new_repo(owner: &str) -> NewRepository {
    NewRepository {
        owner: owner.into(),
        name: "site".into(),
        private: true,
        description: "axhub bootstrap b-1".into(),
    }
}

const INSTALLATION: RepoActor = RepoActor::Installation(7);

fn alice() -> RepoActor {
    RepoActor::User("alice".into())
}

#[tokio::test]
async fn the_installation_account_is_read_with_the_app_jwt() {
    let f = fake().await;
    Mock::given(method("GET"))
        .and(path("/app/installations/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 7, "account": {"login": "acme", "id": 70, "type": "Organization"}
        })))
        .mount(&f.server)
        .await;
    let a = f.gh.installation_account(7).await.unwrap().unwrap();
    assert_eq!(
        (a.login.as_str(), a.id, a.is_organization),
        ("acme", 70, true)
    );
    assert_eq!(f.gh.installation_account(8).await.unwrap(), None, "404");
    let reqs = f.server.received_requests().await.unwrap();
    let auth = reqs[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(auth.matches('.').count(), 2, "a JWT, not a token: {auth}");
}

#[tokio::test]
async fn repositories_are_created_in_an_org_by_the_installation_and_for_a_user_by_them() {
    let f = fake().await;
    let body = json!({"name": "site", "private": true, "description": "axhub bootstrap b-1",
                      "auto_init": true});
    Mock::given(method("POST"))
        .and(path("/orgs/acme/repos"))
        .and(bearer_token("ghs_inst"))
        .and(body_json(&body))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(repo_json("acme/site", json!("axhub bootstrap b-1"))),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/user/repos"))
        .and(bearer_token("gho_alice"))
        .and(body_json(&body))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(repo_json("alice/site", Value::Null)),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    let r =
        f.gh.create_repository(&INSTALLATION, true, &new_repo("acme"))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (r.full_name.as_str(), r.description.as_str(), r.id),
        ("acme/site", "axhub bootstrap b-1", 99)
    );
    let r =
        f.gh.create_repository(&alice(), false, &new_repo("alice"))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (r.full_name.as_str(), r.description.as_str()),
        ("alice/site", "")
    );
}

#[tokio::test]
async fn a_taken_name_is_none_and_other_refusals_are_502() {
    let f = fake().await;
    Mock::given(method("POST"))
        .and(path("/orgs/acme/repos"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Repository creation failed.",
            "errors": [{"resource": "Repository", "code": "custom", "field": "name",
                        "message": "name already exists on this account"}]
        })))
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/orgs/other/repos"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "message": "Resource not accessible by integration"
        })))
        .mount(&f.server)
        .await;
    let acme = new_repo("acme");
    let none = f.gh.create_repository(&INSTALLATION, true, &acme).await;
    assert_eq!(none.unwrap(), None);
    let e =
        f.gh.create_repository(&INSTALLATION, true, &new_repo("other"))
            .await
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::BadGateway);
    assert!(
        e.message.contains("Resource not accessible"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_missing_installation_or_user_token_is_a_precondition() {
    let f = fake().await;
    Mock::given(method("POST"))
        .and(path("/app/installations/9/access_tokens"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&f.server)
        .await;
    let e =
        f.gh.repository(&RepoActor::Installation(9), "acme/site")
            .await
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::GithubInstallationMissing);
    let e =
        f.gh.repository(&RepoActor::User("bob".into()), "acme/site")
            .await
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::GithubReloginRequired);
}

#[tokio::test]
async fn a_repository_and_its_branches_are_read() {
    let f = fake().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site"))
        .and(bearer_token("ghs_inst"))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo_json("acme/site", json!("d"))))
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/site/branches"))
        .and(query_param("per_page", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"name": "main", "commit": {"sha": SHA_A}, "protected": false}
        ])))
        .mount(&f.server)
        .await;
    let r = f.gh.repository(&INSTALLATION, "acme/site").await.unwrap();
    assert_eq!(r.unwrap().description, "d");
    assert_eq!(
        f.gh.repository(&INSTALLATION, "acme/gone").await.unwrap(),
        None
    );
    let b = f.gh.branches(&INSTALLATION, "acme/site").await.unwrap();
    assert_eq!(
        (b.len(), b[0].name.as_str(), b[0].sha.as_str()),
        (1, "main", SHA_A)
    );
}

fn sha_answer(sha: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"sha": sha, "url": "https://x"}))
}

#[tokio::test]
async fn a_commit_is_written_as_blobs_then_one_tree_then_the_commit() {
    let f = fake().await;
    for (content, sha) in [("hello\n", SHA_A), ("#!/bin/sh\n", SHA_B)] {
        Mock::given(method("POST"))
            .and(path("/repos/alice/site/git/blobs"))
            .and(bearer_token("gho_alice"))
            .and(body_json(
                json!({"content": base64(content), "encoding": "base64"}),
            ))
            .respond_with(sha_answer(sha))
            .expect(1)
            .mount(&f.server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/repos/alice/site/git/trees"))
        .and(body_json(json!({"tree": [
            {"path": "README.md", "mode": "100644", "type": "blob", "sha": SHA_A},
            {"path": "bin/run", "mode": "100755", "type": "blob", "sha": SHA_B},
        ]})))
        .respond_with(sha_answer(SHA_C))
        .expect(1)
        .mount(&f.server)
        .await;
    let who = json!({"name": "Alice", "email": "alice@example.com",
                     "date": "2026-12-02T09:00:00Z"});
    Mock::given(method("POST"))
        .and(path("/repos/alice/site/git/commits"))
        .and(body_json(
            json!({"message": "From the template", "tree": SHA_C,
            "parents": [SHA_A], "author": who, "committer": who}),
        ))
        .respond_with(sha_answer("dddddddddddddddddddddddddddddddddddddddd"))
        .expect(1)
        .mount(&f.server)
        .await;
    let commit = NewCommit {
        parent: SHA_A.into(),
        message: "From the template".into(),
        author_name: "Alice".into(),
        author_email: "alice@example.com".into(),
        date: "2026-12-02T09:00:00Z".into(),
        files: vec![
            file("README.md", "hello\n", false),
            file("bin/run", "#!/bin/sh\n", true),
        ],
    };
    let sha = f.gh.create_commit(&alice(), "alice/site", &commit).await;
    assert_eq!(sha.unwrap(), "d".repeat(40));
}

#[tokio::test]
async fn a_malformed_commit_id_is_502() {
    let f = fake().await;
    Mock::given(method("POST"))
        .respond_with(sha_answer("not-a-sha"))
        .mount(&f.server)
        .await;
    let commit = NewCommit {
        parent: SHA_A.into(),
        message: "m".into(),
        author_name: "a".into(),
        author_email: "a@b".into(),
        date: "2026-12-02T09:00:00Z".into(),
        files: vec![],
    };
    let e =
        f.gh.create_commit(&INSTALLATION, "acme/site", &commit)
            .await;
    assert_eq!(e.unwrap_err().code, ErrorCode::BadGateway);
}

fn base64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn file(path: &str, content: &str, executable: bool) -> RepoFile {
    RepoFile {
        path: path.into(),
        content: content.as_bytes().to_vec(),
        executable,
    }
}

#[tokio::test]
async fn a_fast_forward_moves_the_branch_or_is_refused() {
    let f = fake().await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/site/git/refs/heads/main"))
        .and(bearer_token("ghs_inst"))
        .and(body_json(json!({"sha": SHA_B, "force": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ref": "refs/heads/main", "object": {"sha": SHA_B, "type": "commit"}
        })))
        .mount(&f.server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/site/git/refs/heads/main"))
        .and(body_json(json!({"sha": SHA_C, "force": false})))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Update is not a fast forward"
        })))
        .mount(&f.server)
        .await;
    let ff = |sha: &'static str| f.gh.fast_forward(&INSTALLATION, "acme/site", "main", sha);
    assert!(ff(SHA_B).await.unwrap());
    assert!(!ff(SHA_C).await.unwrap());
}

#[tokio::test]
async fn deleting_a_repository_that_is_gone_is_fine() {
    let f = fake().await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/site"))
        .and(bearer_token("ghs_inst"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&f.server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&f.server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/admin"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "message": "Must have admin rights to Repository."
        })))
        .mount(&f.server)
        .await;
    f.gh.delete_repository(&INSTALLATION, "acme/site")
        .await
        .unwrap();
    f.gh.delete_repository(&INSTALLATION, "acme/gone")
        .await
        .unwrap();
    let e = f.gh.delete_repository(&INSTALLATION, "acme/admin").await;
    assert_eq!(e.unwrap_err().code, ErrorCode::BadGateway);
}

fn source(folder: &str) -> TemplateSource {
    TemplateSource {
        repo_full_name: "axhub/templates".into(),
        git_ref: "main".into(),
        folder: folder.into(),
    }
}

async fn template_tree(f: &Fake, entries: Value, truncated: bool) {
    Mock::given(method("GET"))
        .and(path("/repos/axhub/templates/git/trees/main"))
        .and(query_param("recursive", "1"))
        .and(bearer_token("ghs_inst"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sha": SHA_C, "tree": entries, "truncated": truncated
        })))
        .mount(&f.server)
        .await;
}

#[tokio::test]
async fn a_template_is_the_blobs_under_its_folder() {
    let f = fake().await;
    template_tree(
        &f,
        json!([
            {"path": "node", "mode": "040000", "type": "tree", "sha": SHA_C},
            {"path": "node/index.js", "mode": "100644", "type": "blob", "sha": SHA_A, "size": 6},
            {"path": "node/bin", "mode": "040000", "type": "tree", "sha": SHA_C},
            {"path": "node/bin/start", "mode": "100755", "type": "blob", "sha": SHA_B, "size": 3},
            {"path": "nodejs/other.js", "mode": "100644", "type": "blob", "sha": SHA_C, "size": 1},
            {"path": "README.md", "mode": "100644", "type": "blob", "sha": SHA_C, "size": 1},
        ]),
        false,
    )
    .await;
    for (sha, content) in [(SHA_A, "aGVs\nbG8K\n"), (SHA_B, "c2gK")] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/axhub/templates/git/blobs/{sha}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "sha": sha, "content": content, "encoding": "base64", "size": 3
            })))
            .expect(1)
            .mount(&f.server)
            .await;
    }
    let files = f.gh.template_files(7, &source("node")).await.unwrap();
    assert_eq!(
        files,
        vec![
            file("index.js", "hello\n", false),
            file("bin/start", "sh\n", true)
        ]
    );
    let e = f.gh.template_files(7, &source("python")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::BadGateway);
    assert!(e.message.contains("python"), "{}", e.message);
}

#[tokio::test]
async fn a_template_too_large_or_truncated_is_502() {
    let f = fake().await;
    let many: Vec<Value> = (0..=TEMPLATE_MAX_FILES)
        .map(|i| {
            json!({"path": format!("big/{i}"), "mode": "100644", "type": "blob",
                        "sha": SHA_A, "size": 1})
        })
        .collect();
    template_tree(&f, json!(many), false).await;
    let e = f.gh.template_files(7, &source("big")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::BadGateway);
    assert!(e.message.contains("too large"), "{}", e.message);

    let f = fake().await;
    template_tree(
        &f,
        json!([{"path": "a/x", "mode": "100644", "type": "blob", "sha": SHA_A}]),
        true,
    )
    .await;
    let e = f.gh.template_files(7, &source("a")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::BadGateway);
}

#[tokio::test]
async fn a_rate_limit_is_429_with_when_to_retry() {
    let f = fake().await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/site/git/blobs"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("retry-after", "12")
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    let commit = NewCommit {
        parent: SHA_A.into(),
        message: "m".into(),
        author_name: "a".into(),
        author_email: "a@b".into(),
        date: "2026-12-02T09:00:00Z".into(),
        files: vec![file("x", "y", false)],
    };
    let e =
        f.gh.create_commit(&INSTALLATION, "acme/site", &commit)
            .await
            .unwrap_err();
    assert_eq!(
        (e.category, e.retry_after_ms),
        (Category::RateLimited, Some(12_000))
    );
}
