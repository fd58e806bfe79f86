//! The clients of the ports, each behind `Lazy` (built on first use) and built from one AWS
//! configuration that is itself loaded on first use: loading it builds the SDK's HTTPS client
//! (root certificates) and the credentials chain, which a health check never needs.

use std::sync::Arc;

use anyhow::Context;
use aws_config::SdkConfig;
use axhub_aws::{
    CloudWatchLogs, DynamoStore, EcrPushCredentials, EcrRegistry, EventBridgeSink, SqsQueue,
};
use axhub_ports::cluster::Cluster;
use axhub_ports::queue::Queue;
use axhub_ports::registry::{PushCredentials, Registry};
use axhub_ports::store::Store;
use axhub_ports::{EventSink, LogSource, Publisher};
use tokio::sync::OnceCell;

use crate::lazy::Lazy;
use crate::settings::Eks;

/// The AWS configuration of the environment (region, credentials, `AWS_ENDPOINT_URL`),
/// shared by every client of the process.
#[derive(Clone, Default)]
pub struct Aws(Arc<OnceCell<SdkConfig>>);

impl Aws {
    pub async fn config(&self) -> &SdkConfig {
        self.0
            .get_or_init(|| aws_config::defaults(aws_config::BehaviorVersion::latest()).load())
            .await
    }
}

/// The state table.
pub fn store(aws: &Aws, table: String) -> Arc<dyn Store> {
    let aws = aws.clone();
    Arc::new(Lazy::<dyn Store>::new("the DynamoDB client", move || {
        let (aws, table) = (aws.clone(), table.clone());
        async move {
            let client = aws_sdk_dynamodb::Client::new(aws.config().await);
            Ok(Arc::new(DynamoStore::new(client, table)) as Arc<dyn Store>)
        }
    }))
}

/// A work queue (`AXHUB_DEPLOY_QUEUE_URL`).
pub fn queue(aws: &Aws, url: String) -> Arc<dyn Queue> {
    let aws = aws.clone();
    Arc::new(Lazy::<dyn Queue>::new("the SQS client", move || {
        let (aws, url) = (aws.clone(), url.clone());
        async move {
            let client = aws_sdk_sqs::Client::new(aws.config().await);
            Ok(Arc::new(SqsQueue::new(client, url)) as Arc<dyn Queue>)
        }
    }))
}

/// The outbox publisher: events to the bus (`AXHUB_EVENT_BUS`), jobs to the queues the
/// function enqueues on (`queues`, by their outbox names: `deploy`, `bootstrap`); a job for a
/// queue the function was not given fails its publish and waits for the sweeper, which has
/// them all.
pub fn publisher(
    aws: &Aws,
    bus: String,
    queues: Vec<(&'static str, Arc<dyn Queue>)>,
) -> Arc<dyn Publisher> {
    let aws = aws.clone();
    let events = Arc::new(Lazy::<dyn EventSink>::new(
        "the EventBridge client",
        move || {
            let (aws, bus) = (aws.clone(), bus.clone());
            async move {
                let client = aws_sdk_eventbridge::Client::new(aws.config().await);
                Ok(Arc::new(EventBridgeSink::new(client, bus)) as Arc<dyn EventSink>)
            }
        },
    ));
    let mut publisher = axhub_runtime::RoutingPublisher::new(events);
    for (name, queue) in queues {
        publisher = publisher.queue(name, queue);
    }
    Arc::new(publisher)
}

/// The outbox publisher of a function that queues jobs and writes no events (the webhook,
/// bootstraps): without the bus, its role needs no `events:PutEvents`. An event it did write
/// would wait for the sweeper, which has the bus.
pub fn jobs_only_publisher(name: &'static str, queue: Arc<dyn Queue>) -> Arc<dyn Publisher> {
    let publisher = axhub_runtime::RoutingPublisher::new(Arc::new(NoEvents)).queue(name, queue);
    Arc::new(publisher)
}

/// The event sink of a function that has no bus.
struct NoEvents;

#[async_trait::async_trait]
impl EventSink for NoEvents {
    async fn publish(&self, _event: &axhub_domain::DomainEvent) -> Result<(), axhub_domain::Error> {
        Err(axhub_domain::Error::unimplemented(
            "this function has no event bus; the sweeper publishes its events",
        ))
    }
}

/// The image registry: ECR of the function's region (the account is each image URI's).
/// The apps' runtime logs on CloudWatch Logs (`/axhub/apps/{tenant}/{app}`).
pub fn logs(aws: &Aws) -> Arc<dyn LogSource> {
    let aws = aws.clone();
    Arc::new(Lazy::<dyn LogSource>::new(
        "the CloudWatch Logs client",
        move || {
            let aws = aws.clone();
            async move {
                let client = aws_sdk_cloudwatchlogs::Client::new(aws.config().await);
                Ok(Arc::new(CloudWatchLogs::new(client)) as Arc<dyn LogSource>)
            }
        },
    ))
}

pub fn registry(aws: &Aws) -> Arc<dyn Registry> {
    let aws = aws.clone();
    Arc::new(Lazy::<dyn Registry>::new("the ECR client", move || {
        let aws = aws.clone();
        async move {
            let client = aws_sdk_ecr::Client::new(aws.config().await);
            Ok(Arc::new(EcrRegistry::new(client)) as Arc<dyn Registry>)
        }
    }))
}

/// Each build's push credential: the build-push role (`AXHUB_BUILD_PUSH_ROLE_ARN`) assumed
/// with a session policy narrowed to the build's tenant.
pub fn push_credentials(aws: &Aws, role_arn: String) -> Arc<dyn PushCredentials> {
    let aws = aws.clone();
    Arc::new(Lazy::<dyn PushCredentials>::new(
        "the STS client",
        move || {
            let (aws, role_arn) = (aws.clone(), role_arn.clone());
            async move {
                let config = aws.config().await.clone();
                Ok(Arc::new(EcrPushCredentials::new(config, role_arn)) as Arc<dyn PushCredentials>)
            }
        },
    ))
}

/// The EKS cluster, with a token signed by the function's role (refreshed before it
/// expires); images under the registry.
pub fn cluster(aws: &Aws, eks: Eks) -> Arc<dyn Cluster> {
    let aws = aws.clone();
    Arc::new(Lazy::<dyn Cluster>::new("the cluster client", move || {
        let (aws, eks) = (aws.clone(), eks.clone());
        async move { eks_cluster(aws.config().await, eks).await }
    }))
}

async fn eks_cluster(aws: &SdkConfig, eks: Eks) -> anyhow::Result<Arc<dyn Cluster>> {
    let region = aws
        .region()
        .map(|r| r.to_string())
        .context("no AWS region configured")?;
    let credentials = aws
        .credentials_provider()
        .context("no AWS credentials provider")?;
    let source = axhub_kube::EksTokenSource {
        cluster_name: eks.cluster,
        region,
        credentials,
    };
    let config = axhub_kube::eks_config(&eks.endpoint, &eks.ca_data).await?;
    let client = axhub_kube::client_with_token_source(config, source)?;
    let mut cluster_config = axhub_kube::KubeClusterConfig {
        registry: eks.registry,
        ingress_namespace: eks.ingress_namespace,
        // Pods and services alike: builds reach neither.
        pod_cidrs: eks.cluster_cidrs,
        ..Default::default()
    };
    if let Some(host) = eks.git_host {
        cluster_config.git_host = host;
    }
    Ok(Arc::new(axhub_kube::KubeCluster::new(
        client,
        cluster_config,
    )))
}
