//! Embedded adapters for `axhub-local` and tests: the state store and the job queues on one
//! SQLite file (WAL), and the app database as one SQLite file per app and environment.

mod appdb;
mod queue;
mod store;

pub use appdb::SqliteAppDatabase;
pub use queue::SqliteQueue;
pub use store::SqliteStore;
