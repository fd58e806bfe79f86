//! Embedded adapters for `axhub-local` and tests: the state store on one SQLite file (WAL).

mod store;

pub use store::SqliteStore;
