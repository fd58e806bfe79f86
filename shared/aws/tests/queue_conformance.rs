//! The shared queue conformance suite against SQS, as emulated by moto.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//!
//! Needs an SQS endpoint: run through infra/test.sh, or start `infra/moto.sh start` and
//! export the lines it prints (AWS_ENDPOINT_URL=http://127.0.0.1:5005 and test credentials).
//! Every test creates its own queue and dead-letter queue under a unique name.

use std::sync::Arc;

use axhub_aws::SqsQueue;
use axhub_queue::{Queue, conformance::unique_name};

fn endpoint_configured() -> bool {
    ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

fn require_endpoint() {
    if !endpoint_configured() {
        panic!(
            "SQS tests need moto: run them through infra/test.sh, or start \
             `infra/moto.sh start` and export AWS_ENDPOINT_URL=http://127.0.0.1:5005"
        );
    }
}

async fn make(max_receives: u32) -> Arc<dyn Queue> {
    require_endpoint();
    let client = SqsQueue::client_from_env().await;
    let name = unique_name("axhub-q");
    match SqsQueue::create_with_dlq(client, &name, max_receives).await {
        Ok(q) => Arc::new(q),
        Err(e) => panic!("creating the SQS queues {name} and {name}-dlq failed: {e}"),
    }
}

axhub_queue::queue_conformance_tests!(make);

/// A queue made with `new` (no dead-letter URL given) finds its dead-letter queue through
/// the RedrivePolicy, as a Lambda configured with only the queue URL does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_queue_is_found_from_the_redrive_policy() {
    require_endpoint();
    let client = SqsQueue::client_from_env().await;
    let name = unique_name("axhub-q");
    let created = SqsQueue::create_with_dlq(client.clone(), &name, 1)
        .await
        .unwrap();
    let plain = SqsQueue::new(client, created.queue_url());
    assert_eq!(
        plain.dead_letter_url().await.unwrap(),
        created.dead_letter_url().await.unwrap()
    );
    assert!(plain.dead_letters(10).await.unwrap().is_empty());
}
