//! Cold-start wiring shared by every Lambda: configuration from the environment (set by
//! template.yaml), the DynamoDB store, the authenticator, JSON logs.

pub mod sqs;

use std::sync::Arc;

use anyhow::{Context, bail};
use axhub_app::Deps;
use axhub_app::credentials::StoredCredentials;
use axhub_auth::{AuthConfig, Authenticator, JwtKeys};
use axhub_aws::DynamoStore;
use axhub_github::{GitHubClient, GitHubConfig};
use axhub_http::AppState;
use axhub_store::Store;
use jsonwebtoken::Algorithm;

/// Where configuration comes from: the process environment in a Lambda (set by
/// template.yaml), a map in tests. Empty values count as unset.
#[derive(Clone, Debug, Default)]
pub enum Vars {
    #[default]
    Process,
    Map(std::collections::HashMap<String, String>),
}

impl Vars {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Vars::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let value = match self {
            Vars::Process => std::env::var(name).ok(),
            Vars::Map(m) => m.get(name).cloned(),
        };
        value.filter(|v| !v.trim().is_empty())
    }
}

/// JSON logs for CloudWatch; level from `RUST_LOG` (default info).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .without_time()
        .init();
}

/// Token verification from `AXHUB_JWKS_URL` + `AXHUB_JWT_ALGORITHM` (RS256 | ES256), or
/// `AXHUB_JWT_SECRET` (HS256); `AXHUB_JWT_ISSUER` and `AXHUB_JWT_AUDIENCE` when set.
pub fn auth_config_from(vars: &Vars) -> anyhow::Result<AuthConfig> {
    let keys = match (vars.get("AXHUB_JWKS_URL"), vars.get("AXHUB_JWT_SECRET")) {
        (Some(url), _) => {
            let algorithm = match vars.get("AXHUB_JWT_ALGORITHM").as_deref() {
                Some("RS256") | None => Algorithm::RS256,
                Some("ES256") => Algorithm::ES256,
                Some(other) => bail!("AXHUB_JWT_ALGORITHM must be RS256 or ES256, not {other}"),
            };
            JwtKeys::Jwks { url, algorithm }
        }
        (None, Some(secret)) => JwtKeys::Hs256 {
            secret: secret.into_bytes(),
        },
        (None, None) => bail!("set AXHUB_JWKS_URL (production) or AXHUB_JWT_SECRET"),
    };
    Ok(AuthConfig {
        keys,
        issuer: vars.get("AXHUB_JWT_ISSUER"),
        audience: vars.get("AXHUB_JWT_AUDIENCE"),
    })
}

/// The state every HTTP Lambda serves with: the same ports as the workers (triggers publish
/// right after commit, rollback enqueues, diagnosis reads the cluster) plus the
/// authenticator.
pub async fn http_state_from(vars: &Vars) -> anyhow::Result<AppState> {
    let deps = worker_from(vars).await?.deps;
    let auth = Arc::new(Authenticator::new(
        auth_config_from(vars)?,
        Arc::new(StoredCredentials::new(deps.store.clone())),
    ));
    Ok(AppState { deps, auth })
}

/// The GitHub App from the environment, or `None` when `AXHUB_GITHUB_APP_ID` is unset (the
/// GitHub operations then answer 503 `backend_unimplemented`). `AXHUB_GITHUB_APP_SLUG`,
/// `AXHUB_GITHUB_PRIVATE_KEY` (PEM; `\n` escapes are accepted), `AXHUB_GITHUB_CLIENT_ID`,
/// `AXHUB_GITHUB_CLIENT_SECRET`, `AXHUB_GITHUB_WEBHOOK_SECRET` and `AXHUB_GITHUB_TOKEN_KEY`
/// (64 hex characters: the AES-256 key of stored user tokens) are then required;
/// `AXHUB_GITHUB_API_URL` and `AXHUB_GITHUB_WEB_URL` default to github.com's.
pub fn github_from(
    vars: &Vars,
    store: Arc<dyn Store>,
) -> anyhow::Result<Option<Arc<GitHubClient>>> {
    let Some(app_id) = vars.get("AXHUB_GITHUB_APP_ID") else {
        return Ok(None);
    };
    let need = |n: &str| {
        vars.get(n)
            .with_context(|| format!("{n} is required with AXHUB_GITHUB_APP_ID"))
    };
    let mut config = GitHubConfig::new(
        app_id,
        need("AXHUB_GITHUB_APP_SLUG")?,
        need("AXHUB_GITHUB_PRIVATE_KEY")?.replace("\\n", "\n"),
    );
    if let Some(url) = vars.get("AXHUB_GITHUB_API_URL") {
        config.api_url = url;
    }
    if let Some(url) = vars.get("AXHUB_GITHUB_WEB_URL") {
        config.web_url = url;
    }
    config.client_id = need("AXHUB_GITHUB_CLIENT_ID")?;
    config.client_secret = need("AXHUB_GITHUB_CLIENT_SECRET")?;
    config.webhook_secret = need("AXHUB_GITHUB_WEBHOOK_SECRET")?;
    config.token_key = hex::decode(need("AXHUB_GITHUB_TOKEN_KEY")?.trim())
        .context("AXHUB_GITHUB_TOKEN_KEY must be hex")?;
    Ok(Some(Arc::new(GitHubClient::new(
        config,
        Arc::new(StoredCredentials::new(store)),
    )?)))
}

/// What the worker Lambdas (and the HTTP ones that publish or read the cluster) are built
/// from.
pub struct Worker {
    pub deps: Arc<Deps>,
    pub deploy_queue: Arc<dyn axhub_queue::Queue>,
}

/// The cluster: EKS (`AXHUB_EKS_CLUSTER`, `AXHUB_EKS_ENDPOINT`, `AXHUB_EKS_CA_DATA`) with a
/// token signed by the function's role, refreshed before it expires; images under
/// `AXHUB_REGISTRY`.
pub async fn cluster_from(
    vars: &Vars,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<Arc<dyn axhub_ports::cluster::Cluster>> {
    let name = vars
        .get("AXHUB_EKS_CLUSTER")
        .context("AXHUB_EKS_CLUSTER is not set")?;
    let endpoint = vars
        .get("AXHUB_EKS_ENDPOINT")
        .context("AXHUB_EKS_ENDPOINT is not set")?;
    let ca = vars
        .get("AXHUB_EKS_CA_DATA")
        .context("AXHUB_EKS_CA_DATA is not set")?;
    let region = aws
        .region()
        .map(|r| r.to_string())
        .context("no AWS region configured")?;
    let credentials = aws
        .credentials_provider()
        .context("no AWS credentials provider")?;
    let source = axhub_kube::EksTokenSource {
        cluster_name: name,
        region,
        credentials,
    };
    let config = axhub_kube::eks_config(&endpoint, &ca)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let client =
        axhub_kube::client_with_token_source(config, source).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cluster_config = axhub_kube::KubeClusterConfig {
        registry: vars
            .get("AXHUB_REGISTRY")
            .context("AXHUB_REGISTRY is not set")?,
        ..Default::default()
    };
    Ok(Arc::new(axhub_kube::KubeCluster::new(
        client,
        cluster_config,
    )))
}

/// Deps with every port: DynamoDB, the deploy queue (`AXHUB_DEPLOY_QUEUE_URL`), EventBridge
/// (`AXHUB_EVENT_BUS`) behind the outbox publisher, the cluster, and GitHub when configured.
pub async fn worker_from(vars: &Vars) -> anyhow::Result<Worker> {
    let table = vars.get("AXHUB_TABLE").context("AXHUB_TABLE is not set")?;
    let cursor_secret = vars
        .get("AXHUB_CURSOR_SECRET")
        .context("AXHUB_CURSOR_SECRET is not set")?;
    let queue_url = vars
        .get("AXHUB_DEPLOY_QUEUE_URL")
        .context("AXHUB_DEPLOY_QUEUE_URL is not set")?;
    let bus = vars
        .get("AXHUB_EVENT_BUS")
        .context("AXHUB_EVENT_BUS is not set")?;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let queue: Arc<dyn axhub_queue::Queue> = Arc::new(axhub_aws::SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        queue_url,
    ));
    let events = Arc::new(axhub_aws::EventBridgeSink::new(
        aws_sdk_eventbridge::Client::new(&aws),
        bus,
    ));
    let publisher = axhub_runtime::RoutingPublisher::new(events)
        .queue(axhub_app::pipeline::DEPLOY_QUEUE, queue.clone());
    let mut pipeline = axhub_app::pipeline::PipelineConfig::default();
    if let Some(r) = vars.get("AXHUB_REGISTRY") {
        pipeline.registry = r;
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let mut deps = Deps::new(store.clone(), cursor_secret.as_bytes())
        .with_publisher(Arc::new(publisher))
        .with_cluster(cluster_from(vars, &aws).await?)
        .with_pipeline(pipeline);
    // Builds clone private repositories with the App's installation token.
    if let Some(github) = github_from(vars, store)? {
        deps = deps.with_github(github);
    }
    Ok(Worker {
        deps: Arc::new(deps),
        deploy_queue: queue,
    })
}

/// Deps with the store only (functions that neither publish nor touch the cluster).
pub async fn store_deps_from(vars: &Vars) -> anyhow::Result<Deps> {
    let table = vars.get("AXHUB_TABLE").context("AXHUB_TABLE is not set")?;
    let cursor_secret = vars
        .get("AXHUB_CURSOR_SECRET")
        .context("AXHUB_CURSOR_SECRET is not set")?;
    let store = DynamoStore::from_env(&table).await;
    Ok(Deps::new(Arc::new(store), cursor_secret.as_bytes()))
}

/// `http_state_from` the process environment.
pub async fn http_state_from_env() -> anyhow::Result<AppState> {
    http_state_from(&Vars::Process).await
}

/// `worker_from` the process environment.
pub async fn worker_from_env() -> anyhow::Result<Worker> {
    worker_from(&Vars::Process).await
}

/// `store_deps_from` the process environment.
pub async fn store_deps_from_env() -> anyhow::Result<Deps> {
    store_deps_from(&Vars::Process).await
}
