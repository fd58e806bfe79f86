//! AWS adapters of the project's ports. `dynamodb::DynamoStore` implements the state store
//! port (`axhub_store::Store`) on one DynamoDB table.

pub mod dynamodb;

pub use dynamodb::DynamoStore;
