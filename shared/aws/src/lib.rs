//! AWS adapters of the project's ports. `dynamodb::DynamoStore` implements the state store
//! port (`axhub_store::Store`) on one DynamoDB table; `sqs::SqsQueue` implements the job-queue
//! port (`axhub_queue::Queue`) on an SQS queue with a dead-letter queue; `ecr::EcrRegistry`
//! implements the registry port (`axhub_ports::Registry`) on ECR.

pub mod dynamodb;
pub mod ecr;
pub mod eventbridge;
mod sdk;
pub mod sqs;

pub use dynamodb::DynamoStore;
pub use ecr::EcrRegistry;
pub use eventbridge::EventBridgeSink;
pub use sqs::SqsQueue;
