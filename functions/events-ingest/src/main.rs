//! The `events-ingest` Lambda: SQS batches of neighbouring services' EventBridge events.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    axhub_lambda::init_tracing();
    let deps = axhub_lambda::events_ingest(&axhub_lambda::Vars::Process)?;
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| async move {
            let budget = axhub_lambda::sqs::budget_until(event.context.deadline);
            Ok::<_, lambda_runtime::Error>(
                events_ingest_fn::handle(deps, event.payload, budget).await,
            )
        },
    ))
    .await
}
