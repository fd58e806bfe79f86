//! AWS adapters of the project's ports. `dynamodb::DynamoStore` implements the state store
//! port (`axhub_store::Store`) on one DynamoDB table; `sqs::SqsQueue` implements the job-queue
//! port (`axhub_queue::Queue`) on an SQS queue with a dead-letter queue; `ecr::EcrRegistry`
//! implements the registry port (`axhub_ports::Registry`) on ECR; `ecr_push::EcrPushCredentials`
//! mints each build's tenant-scoped push credential (STS session policy + ECR login);
//! `logs::CloudWatchLogs` implements the runtime-log port (`axhub_ports::LogSource`).

pub mod dynamodb;
pub mod ecr;
pub mod ecr_push;
pub mod eventbridge;
pub mod logs;
mod sdk;
pub mod sqs;

pub use dynamodb::DynamoStore;
pub use ecr::EcrRegistry;
pub use ecr_push::EcrPushCredentials;
pub use eventbridge::EventBridgeSink;
pub use logs::CloudWatchLogs;
pub use sqs::SqsQueue;
