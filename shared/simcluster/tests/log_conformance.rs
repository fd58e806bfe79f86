//! The runtime-log conformance suite against the simulated cluster's log book.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axhub_ports::logs::conformance::Harness;
use axhub_simcluster::logs::LogBook;

async fn make() -> Harness {
    // Room for the whole suite's lines: the book drops an app's oldest past its bound.
    let book = Arc::new(LogBook::new(50_000));
    Harness {
        source: book.clone(),
        writer: book,
        streams_known: true,
    }
}

axhub_ports::log_conformance_tests!(make());
