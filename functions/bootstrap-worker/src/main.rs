//! The `bootstrap-worker` Lambda: SQS batches of bootstrap saga steps.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    axhub_lambda::init_tracing();
    let worker = axhub_lambda::bootstrap_worker(&axhub_lambda::Vars::Process)?;
    let worker = &worker;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| async move {
            Ok::<_, lambda_runtime::Error>(
                bootstrap_worker_fn::handle(
                    &worker.deps,
                    worker.bootstrap_queue.as_ref(),
                    event.payload,
                    axhub_lambda::sqs::budget_until(event.context.deadline),
                )
                .await,
            )
        },
    ))
    .await
}
