//! The shared store conformance suite against DynamoDB, as emulated by moto.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//!
//! Needs a DynamoDB endpoint: run through infra/test.sh, or start `infra/moto.sh start` and
//! export the lines it prints (AWS_ENDPOINT_URL=http://127.0.0.1:5005 and test credentials).

use std::sync::Arc;

use axhub_aws::DynamoStore;
use axhub_store::Store;

const TABLE: &str = "axhub-conformance";

fn endpoint_configured() -> bool {
    ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

async fn make() -> Arc<dyn Store> {
    if !endpoint_configured() {
        panic!(
            "DynamoDB tests need moto: run them through infra/test.sh, or start \
             `infra/moto.sh start` and export AWS_ENDPOINT_URL=http://127.0.0.1:5005"
        );
    }
    let store = DynamoStore::from_env(TABLE).await;
    // Every test calls this at the same moment; the adapter makes that race safe.
    if let Err(e) = store.create_table_if_missing().await {
        panic!("creating the DynamoDB table {TABLE} failed: {e}");
    }
    Arc::new(store)
}

axhub_store::conformance_tests!(make());
