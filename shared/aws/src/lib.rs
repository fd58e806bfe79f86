//! AWS adapters of the project's ports. `dynamodb::DynamoStore` implements the state store
//! port (`axhub_store::Store`) on one DynamoDB table; `sqs::SqsQueue` implements the job-queue
//! port (`axhub_queue::Queue`) on an SQS queue with a dead-letter queue.

pub mod dynamodb;
pub mod eventbridge;
mod sdk;
pub mod sqs;

pub use dynamodb::DynamoStore;
pub use eventbridge::EventBridgeSink;
pub use sqs::SqsQueue;
