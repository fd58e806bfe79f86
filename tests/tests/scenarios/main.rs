//! Scenario tests of the deployments API: one test binary, one module per concern.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod auth;
mod bootstrap;
mod concurrency;
mod deployments;
mod durability;
mod edge;
mod github;
mod ingest;
mod isolation;
mod jwks;
mod lambda_events;
mod lambda_wiring;
mod lifecycle;
mod listing_cost;
mod logs;
mod pipeline;
mod releases;
mod rollback;
mod scopes;
mod webhook_durability;
mod webhooks;
