//! The `maintenance` Lambda, run by an EventBridge schedule every minute: the outbox sweeper
//! the reaper and the bootstrap watchdog.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    axhub_lambda::init_tracing();
    let deps = axhub_lambda::maintenance(&axhub_lambda::Vars::Process)?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let done = axhub_runtime::maintain(deps).await?;
        Ok::<_, lambda_runtime::Error>(json!(done))
    }))
    .await
}
