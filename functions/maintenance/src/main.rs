//! The `maintenance` Lambda, run by an EventBridge schedule every minute: the outbox sweeper
//! and the reaper.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    axhub_lambda::init_tracing();
    let worker = axhub_lambda::worker_from_env().await?;
    let worker = &worker;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let (swept, reaped) = axhub_runtime::maintain(&worker.deps).await?;
        Ok::<_, lambda_runtime::Error>(json!({"swept": swept, "reaped": reaped}))
    }))
    .await
}
