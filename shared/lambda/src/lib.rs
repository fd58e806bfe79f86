//! What every Lambda builds once per cold start, from its environment (set per function by
//! template.yaml): `functions` wires each function with only the ports it calls, `settings`
//! reads and checks the variables, `clients` and `lazy` build the clients on first use,
//! `sqs` drives the queue-fed functions' batches. JSON logs for CloudWatch.

pub mod appdb;
pub mod clients;
pub mod functions;
pub mod github;
pub mod lazy;
pub mod settings;
pub mod sqs;
mod vars;

pub use functions::{
    BootstrapWorker, Worker, bootstrap_worker, bootstraps, deploy_worker, deployments,
    events_ingest, git, github_webhook, lifecycle, maintenance,
};
pub use vars::Vars;

/// JSON logs for CloudWatch; level from `RUST_LOG` (default info).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .without_time()
        .init();
}
