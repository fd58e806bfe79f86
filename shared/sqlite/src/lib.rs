//! Embedded adapters for `axhub-local` and tests: the state store and the job queues on one
//! SQLite file (WAL).

mod queue;
mod store;

pub use queue::SqliteQueue;
pub use store::SqliteStore;
