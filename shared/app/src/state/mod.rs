//! The state behind the use cases, one module per aggregate. Each module owns its items:
//! their keys, attribute names, index fields, and which attributes belong to neighbouring
//! services (docs/state.md is the map). Use cases call these modules in domain verbs and never
//! assemble store items or transaction operations themselves.
//!
//! A change that spans aggregates (a new deployment claims the app's slot, counts in its
//! tenant, records its idempotency key, and emits an event and a job) is still one store
//! transaction: the use case collects typed operations into a [`UnitOfWork`] (each aggregate
//! module adds its own verbs to it) and commits it once. The outbox entries it collected are
//! published right after the commit (DESIGN §5).

pub mod app_env;
pub mod apps;
pub mod bootstraps;
pub mod codec;
pub mod credentials;
pub mod deliveries;
pub mod deployments;
pub mod git;
pub mod idempotency;
pub mod outbox;
pub mod pending_pushes;
pub mod promotions;
pub mod releases;
pub mod reviews;
pub mod rollbacks;
pub mod schema_ops;
pub mod tenants;
pub mod trackers;

use std::time::Duration;

use axhub_domain::{DomainEvent, Error};
use axhub_store::{StoreError, TxOp};
use serde_json::Value;

use crate::{Deps, store_error};

/// The partition of one app: its read model, its deploy state and its git connection, so that
/// one keyed query reads them together.
fn app_pk(app: uuid::Uuid) -> String {
    format!("APP#{app}")
}

/// The conditions of a unit of work that a caller may want to tell apart when it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// The app's in-progress slot, or its counters, changed since they were read.
    AppState,
    /// The change (a deployment or a rollback) moved since it was read.
    Deployment,
    /// The idempotency key was taken meanwhile (by a racing request with the same key).
    Idempotency,
    /// The install state token was consumed or expired meanwhile.
    StateToken,
    /// The git connection was replaced or removed since it was read.
    Connection,
    /// The promotion was started or moved since it was read.
    Promotion,
    /// The webhook delivery is remembered already (a redelivery), or is gone.
    Delivery,
    /// The app's pending push changed since it was read, or a newer one is kept.
    PendingPush,
    /// The bootstrap saga moved since it was read.
    Bootstrap,
    /// The slug is held by another bootstrap.
    Slug,
    /// The subdomain is held by another bootstrap.
    Subdomain,
}

/// Why a unit of work did not commit.
#[derive(Debug)]
pub enum Refused {
    /// A condition did not hold (or a concurrent transaction collided): the state changed
    /// since it was read. `guards` names the conditions that failed, when the store says.
    Lost { guards: Vec<Guard> },
    /// The store failed; already mapped to the error the caller answers with.
    Failed(Error),
}

impl Refused {
    pub fn lost(&self, guard: Guard) -> bool {
        matches!(self, Refused::Lost { guards } if guards.contains(&guard))
    }

    /// The error for a caller that does not retry: a lost race is a 503 to retry.
    pub fn into_error(self) -> Error {
        match self {
            Refused::Lost { .. } => {
                Error::unavailable("the state changed while it was being written; retry shortly")
            }
            Refused::Failed(e) => e,
        }
    }
}

/// Typed operations collected for one store transaction, with the outbox entries they cause.
#[derive(Default)]
pub struct UnitOfWork {
    ops: Vec<TxOp>,
    guards: Vec<Option<Guard>>,
    outbox: outbox::Pending,
}

impl UnitOfWork {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Adds an operation; only the aggregate modules build them.
    pub(crate) fn push(&mut self, op: TxOp, guard: Option<Guard>) {
        self.ops.push(op);
        self.guards.push(guard);
    }

    /// A domain event, published once the unit committed.
    pub fn emit(&mut self, event: DomainEvent) -> Result<(), Error> {
        let op = self.outbox.event(event)?;
        self.push(op, None);
        Ok(())
    }

    /// A job for `queue`, visible after `delay` once the unit committed.
    pub fn enqueue(&mut self, queue: &str, body: Value, delay: Duration) -> Result<(), Error> {
        let op = self.outbox.job(queue, body, delay)?;
        self.push(op, None);
        Ok(())
    }

    /// Commits every operation or none, then publishes the outbox entries.
    pub async fn commit(self, deps: &Deps) -> Result<(), Refused> {
        let Self {
            ops,
            guards,
            outbox,
        } = self;
        if ops.is_empty() {
            return Ok(());
        }
        match deps.store.transact(ops).await {
            Ok(()) => {
                outbox.publish(deps).await;
                Ok(())
            }
            Err(StoreError::TransactionCancelled { failed }) => Err(Refused::Lost {
                guards: failed
                    .into_iter()
                    .filter_map(|i| guards.get(i).copied().flatten())
                    .collect(),
            }),
            Err(StoreError::Conflict) => Err(Refused::Lost { guards: vec![] }),
            Err(e) => Err(Refused::Failed(store_error(e))),
        }
    }
}
