//! The Lambdas' cold-start wiring. Each function reads exactly the variables template.yaml
//! gives it (nothing more is set, nothing set goes unread), builds only the ports it calls,
//! and connects nowhere at cold start. Against moto, the deployments function's trigger
//! reaches the SQS deploy queue right after commit and diagnosis reaches for the cluster.

use std::collections::BTreeSet;
use std::time::Duration;

use axhub_aws::{DynamoStore, SqsQueue};
use axhub_lambda::Vars;
use axhub_queue::Queue;
use axhub_tests::*;
use base64::Engine;
use http::{Method, StatusCode};

const EKS_CA: &str = include_str!("../../fixtures/eks-ca.pem");
const RSA: &str = include_str!("../../fixtures/rsa.pem");
const TEMPLATE: &str = include_str!("../../../template.yaml");

/// Read by the wiring but deliberately not set by the template: the HS256 alternative of
/// local setups, and GitHub Enterprise's URLs (github.com's by default).
const READ_NOT_SET: [&str; 3] = [
    "AXHUB_JWT_SECRET",
    "AXHUB_GITHUB_API_URL",
    "AXHUB_GITHUB_WEB_URL",
];

/// The names under `Environment: Variables:` in the block of `resource` (or `Globals`).
fn template_env(resource: &str) -> BTreeSet<String> {
    let header = if resource == "Globals" {
        "Globals:".to_owned()
    } else {
        format!("  {resource}:")
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let outer = indent(&header);
    let block: Vec<&str> = TEMPLATE
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| l.trim().is_empty() || indent(l) > outer)
        .collect();
    let Some(at) = block.iter().position(|l| l.trim() == "Variables:") else {
        return BTreeSet::new();
    };
    let depth = indent(block[at]);
    block[at + 1..]
        .iter()
        .take_while(|l| indent(l) > depth)
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_owned()))
        .filter(|k| !k.starts_with('#'))
        .collect()
}

/// A value for every variable any function reads; `overrides` first.
fn every_var(overrides: &[(&str, String)]) -> Vec<(String, String)> {
    let ca = base64::engine::general_purpose::STANDARD.encode(EKS_CA);
    let defaults = [
        ("RUST_LOG", "info".to_owned()),
        ("AXHUB_TABLE", "axhub-lambda-wiring".to_owned()),
        (
            "AXHUB_CURSOR_SECRET",
            "cursor-secret-of-at-least-32-bytes!".to_owned(),
        ),
        ("AXHUB_JWKS_URL", "https://issuer.test/jwks.json".to_owned()),
        ("AXHUB_JWT_ALGORITHM", "RS256".to_owned()),
        ("AXHUB_JWT_ISSUER", "https://issuer.test".to_owned()),
        ("AXHUB_JWT_AUDIENCE", "axhub".to_owned()),
        (
            "AXHUB_JWT_SECRET",
            String::from_utf8(SECRET.to_vec()).unwrap(),
        ),
        (
            "AXHUB_DEPLOY_QUEUE_URL",
            "http://127.0.0.1:9/123456789012/deploy".to_owned(),
        ),
        ("AXHUB_EVENT_BUS", "axhub-deploy".to_owned()),
        (
            "AXHUB_BOOTSTRAP_QUEUE_URL",
            "http://127.0.0.1:9/123456789012/bootstrap".to_owned(),
        ),
        (
            "AXHUB_TEMPLATE_CATALOG",
            axhub_local::templates::DEMO_CATALOG.to_owned(),
        ),
        (
            "AXHUB_REGISTRY",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/axhub".to_owned(),
        ),
        ("AXHUB_EKS_CLUSTER", "apps".to_owned()),
        // Nothing listens here: diagnosis must fail as "unavailable", proving it is wired.
        ("AXHUB_EKS_ENDPOINT", "https://127.0.0.1:9".to_owned()),
        ("AXHUB_EKS_CA_DATA", ca),
        ("AXHUB_EKS_CLUSTER_CIDRS", "10.0.0.0/16".to_owned()),
        ("AXHUB_EKS_INGRESS_NAMESPACE", "ingress-nginx".to_owned()),
        (
            "AXHUB_BUILD_PUSH_ROLE_ARN",
            "arn:aws:iam::123456789012:role/axhub-build-push".to_owned(),
        ),
        ("AXHUB_GITHUB_APP_ID", "123456".to_owned()),
        ("AXHUB_GITHUB_APP_SLUG", "axhub".to_owned()),
        ("AXHUB_GITHUB_PRIVATE_KEY", RSA.replace('\n', "\\n")),
        ("AXHUB_GITHUB_CLIENT_ID", "Iv1.wiring".to_owned()),
        ("AXHUB_GITHUB_CLIENT_SECRET", "client-secret".to_owned()),
        ("AXHUB_GITHUB_WEBHOOK_SECRET", "webhook-secret".to_owned()),
        ("AXHUB_GITHUB_TOKEN_KEY", "00".repeat(32)),
        ("AXHUB_GITHUB_API_URL", "https://api.github.test".to_owned()),
        ("AXHUB_GITHUB_WEB_URL", "https://github.test".to_owned()),
        // Nothing listens here: the app database is connected on first use only.
        (
            "AXHUB_APP_DB_URL",
            "postgres://axhub@127.0.0.1:9/apps".to_owned(),
        ),
    ];
    let mut out: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    for (k, v) in defaults {
        if !overrides.iter().any(|(o, _)| *o == k) {
            out.push((k.to_owned(), v));
        }
    }
    out
}

fn vars_of(pairs: &[(String, String)], keep: impl Fn(&str) -> bool) -> Vars {
    Vars::from_pairs(
        pairs
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// Builds a function's wiring; `Ok(())` or the cold-start error.
type Wire = fn(&Vars) -> anyhow::Result<()>;

const FUNCTIONS: [(&str, Wire); 9] = [
    ("DeploymentsFunction", |v| {
        axhub_lambda::deployments(v).map(drop)
    }),
    ("LifecycleFunction", |v| {
        axhub_lambda::lifecycle(v).map(drop)
    }),
    ("GitFunction", |v| axhub_lambda::git(v).map(drop)),
    ("GitHubWebhookFunction", |v| {
        axhub_lambda::github_webhook(v).map(drop)
    }),
    ("DeployWorkerFunction", |v| {
        axhub_lambda::deploy_worker(v).map(drop)
    }),
    ("MaintenanceFunction", |v| {
        axhub_lambda::maintenance(v).map(drop)
    }),
    ("EventsIngestFunction", |v| {
        axhub_lambda::events_ingest(v).map(drop)
    }),
    ("BootstrapsFunction", |v| {
        axhub_lambda::bootstraps(v).map(drop)
    }),
    ("BootstrapWorkerFunction", |v| {
        axhub_lambda::bootstrap_worker(v).map(drop)
    }),
];

#[tokio::test]
async fn each_function_reads_exactly_what_its_template_entry_sets() {
    let all = every_var(&[]);
    let globals = template_env("Globals");
    assert!(globals.contains("AXHUB_TABLE"), "{globals:?}");
    for (resource, wire) in FUNCTIONS {
        let given: BTreeSet<String> = globals.union(&template_env(resource)).cloned().collect();

        // Everything offered: what it looks up is what the template gives it.
        let offered = vars_of(&all, |_| true);
        wire(&offered).unwrap_or_else(|e| panic!("{resource}: {e:#}"));
        let read: BTreeSet<String> = offered
            .names_read()
            .into_iter()
            .filter(|n| !READ_NOT_SET.contains(&n.as_str()))
            .collect();
        let given_used: BTreeSet<String> =
            given.iter().filter(|n| *n != "RUST_LOG").cloned().collect();
        assert_eq!(
            read, given_used,
            "{resource}: variables read vs set by template.yaml"
        );

        // Only what the template gives: it starts.
        wire(&vars_of(&all, |k| given.contains(k)))
            .unwrap_or_else(|e| panic!("{resource} from its template entry: {e:#}"));
    }
    // Least privilege, spelled out for the two that need the least.
    for resource in ["GitFunction", "GitHubWebhookFunction", "LifecycleFunction"] {
        let env = template_env(resource);
        assert!(
            !env.iter().any(|n| n.starts_with("AXHUB_EKS")),
            "{resource}: {env:?}"
        );
    }
    let webhook = template_env("GitHubWebhookFunction");
    assert!(!webhook.contains("AXHUB_GITHUB_PRIVATE_KEY") && !webhook.contains("AXHUB_JWKS_URL"));
    // It queues jobs and writes no events: no bus.
    assert!(!webhook.contains("AXHUB_EVENT_BUS"), "{webhook:?}");
    // The bootstrap group queues the saga's first step only; its worker has no cluster.
    let bootstraps = template_env("BootstrapsFunction");
    assert!(!bootstraps.contains("AXHUB_EVENT_BUS"), "{bootstraps:?}");
    for resource in ["BootstrapsFunction", "BootstrapWorkerFunction"] {
        let env = template_env(resource);
        assert!(
            !env.iter().any(|n| n.starts_with("AXHUB_EKS")) && !env.contains("AXHUB_APP_DB_URL"),
            "{resource}: {env:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_or_malformed_setting_stops_the_cold_start_with_its_name() {
    let all = every_var(&[]);
    let err = axhub_lambda::bootstraps(&vars_of(
        &every_var(&[("AXHUB_TEMPLATE_CATALOG", "{\"items\": 3}".to_owned())]),
        |_| true,
    ))
    .err()
    .expect("a malformed catalog stops the cold start");
    assert!(format!("{err:#}").contains("template catalog"), "{err:#}");
    for name in [
        "AXHUB_TABLE",
        "AXHUB_DEPLOY_QUEUE_URL",
        "AXHUB_EKS_CA_DATA",
        "AXHUB_GITHUB_CLIENT_SECRET",
    ] {
        let err = axhub_lambda::deployments(&vars_of(&all, |k| k != name))
            .err()
            .unwrap_or_else(|| panic!("{name} unset, yet it started"));
        assert!(format!("{err:#}").contains(name), "{name}: {err:#}");
    }
    for (name, bad) in [
        ("AXHUB_GITHUB_TOKEN_KEY", "abcd"),
        ("AXHUB_GITHUB_PRIVATE_KEY", "not a key"),
        ("AXHUB_JWT_ALGORITHM", "HS512"),
    ] {
        let err =
            axhub_lambda::deployments(&vars_of(&every_var(&[(name, bad.to_owned())]), |_| true))
                .err()
                .unwrap_or_else(|| panic!("{name}={bad}, yet it started"));
        assert!(format!("{err:#}").contains(name), "{name}: {err:#}");
    }
    // With a JWKS, the issuer and the audience are required by every function that reads
    // bearer tokens: without them any token of that issuer, for any service, would pass.
    let http: [(&str, Wire); 4] = [FUNCTIONS[0], FUNCTIONS[1], FUNCTIONS[2], FUNCTIONS[7]];
    for (resource, wire) in http {
        for name in ["AXHUB_JWT_ISSUER", "AXHUB_JWT_AUDIENCE"] {
            let err = wire(&vars_of(&all, |k| k != name))
                .err()
                .unwrap_or_else(|| panic!("{resource}: {name} unset, yet it started"));
            assert!(format!("{err:#}").contains(name), "{name}: {err:#}");
        }
    }
    // HS256 (local setups) may go without them.
    axhub_lambda::deployments(&vars_of(&all, |k| {
        !matches!(
            k,
            "AXHUB_JWKS_URL" | "AXHUB_JWT_ISSUER" | "AXHUB_JWT_AUDIENCE"
        )
    }))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_deployments_function_reaches_sqs_and_the_cluster_on_first_use() {
    dynamo_store().await; // asserts moto is there
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let table = "axhub-lambda-wiring";
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table)
        .create_table_if_missing()
        .await
        .unwrap();
    let queue = SqsQueue::create_with_dlq(
        aws_sdk_sqs::Client::new(&aws),
        &format!("deploy-{suffix}"),
        5,
    )
    .await
    .unwrap();
    let bus = format!("bus-{suffix}");
    aws_sdk_eventbridge::Client::new(&aws)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap();
    let all = every_var(&[
        ("AXHUB_TABLE", table.to_owned()),
        ("AXHUB_DEPLOY_QUEUE_URL", queue.queue_url().to_owned()),
        ("AXHUB_EVENT_BUS", bus),
        (
            "AXHUB_JWT_SECRET",
            String::from_utf8(SECRET.to_vec()).unwrap(),
        ),
    ]);
    // HS256 tokens of the test world, which name no issuer or audience; no GitHub App (HEAD
    // resolution is not exercised).
    let vars = vars_of(&all, |k| {
        !matches!(
            k,
            "AXHUB_JWKS_URL" | "AXHUB_JWT_ISSUER" | "AXHUB_JWT_AUDIENCE"
        ) && !k.starts_with("AXHUB_GITHUB")
    });

    let state = axhub_lambda::deployments(&vars).unwrap();
    assert!(state.deps.publisher.is_some() && state.deps.cluster.is_some());
    let world = seed(&state.deps).await;
    let t = TestApp {
        router: deployments_fn::router(state.clone()),
        deps: state.deps.clone(),
        world,
    };

    let r = t.deploy(t.world.app, &t.world.owner, SHA).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let jobs = queue
        .receive(10, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        jobs.len(),
        1,
        "the build job went to SQS right after commit"
    );
    assert!(jobs[0].body.contains(r.body["id"].as_str().unwrap()));

    let d = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/diagnosis", t.world.app),
            Some(&t.world.owner),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", d.body);
    assert_eq!(d.code(), "temporarily_unavailable");

    // The logs reach CloudWatch Logs (moto): an app that never logged has no lines.
    let logs = t
        .call(
            Method::GET,
            &format!("/api/v1/apps/{}/logs", t.world.app),
            Some(&t.world.owner),
            None,
        )
        .await;
    assert_eq!(logs.status, StatusCode::OK, "{:?}", logs.body);
    assert_eq!(logs.body["lines"], serde_json::json!([]));
    assert_eq!(logs.body["next_cursor"], "");
}

#[tokio::test]
async fn git_and_the_webhook_have_no_cluster_and_the_webhook_no_github_app() {
    let all = every_var(&[]);
    let git = axhub_lambda::git(&vars_of(&all, |_| true)).unwrap();
    assert!(git.deps.cluster.is_none() && git.deps.publisher.is_some());
    assert!(git.deps.logs.is_none(), "only deployments reads logs");
    assert!(git.deps.github.is_some());

    let hook = axhub_lambda::github_webhook(&vars_of(&all, |_| true)).unwrap();
    assert!(hook.deps.cluster.is_none() && hook.deps.publisher.is_some());
    let github = hook.deps.github.clone().expect("signature checks");
    let sig = {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"webhook-secret").unwrap();
        mac.update(b"{}");
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    assert!(github.verify_webhook(b"{}", Some(&sig)));
    assert!(!github.verify_webhook(b"{}", Some("sha256=00")));
    let e = github.accounts("user-1").await.unwrap_err();
    assert_eq!(e.code.as_str(), "backend_unimplemented");
    // An event would wait for the sweeper: the webhook has no bus to put it on.
    let event = axhub_ports::OutboxEntry::Event {
        event: axhub_domain::DomainEvent {
            id: uuid::Uuid::now_v7(),
            kind: axhub_domain::EventKind::DeploymentStarted,
            tenant_id: uuid::Uuid::nil(),
            app_id: uuid::Uuid::nil(),
            occurred_at: time::OffsetDateTime::now_utc(),
            detail: serde_json::json!({}),
        },
    };
    let publisher = hook.deps.publisher.clone().unwrap();
    assert!(publisher.publish(&event).await.is_err());
}

#[tokio::test]
async fn lifecycle_has_the_app_databases_and_the_registry_but_no_cluster_or_github() {
    let all = every_var(&[]);
    let lifecycle = axhub_lambda::lifecycle(&vars_of(&all, |_| true)).unwrap();
    let deps = &lifecycle.deps;
    assert!(deps.app_db.is_some() && deps.registry.is_some() && deps.publisher.is_some());
    assert!(deps.cluster.is_none() && deps.github.is_none());
    let worker = axhub_lambda::deploy_worker(&vars_of(&all, |_| true)).unwrap();
    assert!(worker.deps.app_db.is_some(), "promotions apply schema ops");
    assert!(
        worker.deps.registry.is_some() && worker.deps.push_credentials.is_some(),
        "builds are pinned by digest and pushed with their own credential"
    );
    let ingest = axhub_lambda::events_ingest(&vars_of(&all, |_| true)).unwrap();
    assert!(
        ingest.publisher.is_some() && ingest.cluster.is_none(),
        "an approval queues its promotion"
    );
}

/// The block of `resource` in template.yaml, as text.
fn template_block(resource: &str) -> String {
    let header = format!("  {resource}:");
    TEMPLATE
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| l.trim().is_empty() || l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn neighbours_events_are_taken_only_from_the_platforms_own_account() {
    let rule = template_block("NeighbourEventsRule");
    assert!(rule.contains("account: [!Ref AWS::AccountId]"), "{rule}");
    let policy = template_block("IngestQueuePolicy");
    assert!(
        policy.contains("aws:SourceArn: !GetAtt NeighbourEventsRule.Arn")
            && policy.contains("aws:SourceAccount: !Ref AWS::AccountId"),
        "{policy}"
    );
}

#[test]
fn the_jwt_issuer_and_audience_are_required_parameters() {
    for parameter in ["JwtIssuer", "JwtAudience"] {
        let block = template_block(parameter);
        assert!(
            !block.contains("Default:") && block.contains("MinLength: 1"),
            "{parameter}: {block}"
        );
    }
}
