//! Every port of the use cases, in one home. Adapters (`aws`, `sqlite`, `kube`, `simcluster`,
//! `github`, `runtime`) depend on this crate and on `axhub-domain`, never on `axhub-app`; the
//! use cases (`axhub-app`) see only these traits.
//!
//! The store, the queue and the app database are crates of their own, because each carries a
//! conformance suite that every adapter runs; they are re-exported here so that one path names
//! every port.

pub mod clock;
pub mod cluster;
pub mod credentials;
pub mod events;
pub mod github;
pub mod logs;
pub mod registry;

pub use axhub_appdb as appdb;
pub use axhub_queue as queue;
pub use axhub_store as store;

pub use appdb::AppDatabase;
pub use clock::{Clock, SystemClock};
pub use cluster::Cluster;
pub use credentials::{AccessTokens, Sealed, SealedTokens};
pub use events::{EventSink, OutboxEntry, Publisher};
pub use github::{GitHub, GitHubRepos};
pub use logs::LogSource;
pub use registry::{PushCredentials, Registry};
