//! Ports built on first use. A Lambda's cold start pays only for reading its settings; each
//! client is built, once per process, by the first request that calls it: the DynamoDB store
//! (a health check or a rejected token needs none), the SQS queue and the EventBridge sink
//! behind the outbox publisher, the cluster, the registry, GitHub (`github.rs`). What they
//! cost is TLS configuration (every rustls client loads and parses the system's root
//! certificates), the AWS credentials chain and connection pools: tens of milliseconds, paid
//! only where used.
//! Their settings are read and checked at cold start (`settings.rs`), so a missing variable
//! still stops the function with its name.
//!
//! A construction that fails is not remembered: the request that hit it gets a 503-class
//! error and the next one tries again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axhub_domain::diagnosis::ServiceFacts;
use axhub_domain::logs::LogLine;
use axhub_domain::{DomainEvent, Error};
use axhub_ports::EventSink;
use axhub_ports::cluster::{
    BuildRequest, BuildState, Cluster, ClusterError, RolloutState, Secret, Workload,
};
use axhub_ports::logs::{LogError, LogRead, LogSource};
use axhub_ports::queue::{Message, Queue, QueueError};
use axhub_ports::registry::{PushCredentials, PushScope, Registry, RegistryError};
use axhub_ports::store::{Cond, Item, Key, Page, Query, Store, StoreError, TxOp, Update};
use tokio::sync::OnceCell;

type Init<T> =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<Arc<T>>> + Send>> + Send + Sync>;

/// `T`, built by `init` the first time it is needed.
pub struct Lazy<T: ?Sized> {
    what: &'static str,
    cell: OnceCell<Arc<T>>,
    init: Init<T>,
}

impl<T: ?Sized + Send + Sync> Lazy<T> {
    /// `what` names the client in logs and errors ("the cluster client").
    pub fn new<F, Fut>(what: &'static str, init: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Arc<T>>> + Send + 'static,
    {
        Self {
            what,
            cell: OnceCell::new(),
            init: Box::new(move || Box::pin(init())),
        }
    }

    /// The client, built now if this is its first use.
    pub async fn get(&self) -> Result<&Arc<T>, String> {
        self.cell
            .get_or_try_init(|| async {
                tracing::debug!(client = self.what, "building on first use");
                (self.init)().await.map_err(|e| {
                    tracing::error!(client = self.what, error = %format!("{e:#}"), "could not build");
                    format!("{} could not be built", self.what)
                })
            })
            .await
    }

    /// Whether it was built already (tests: cold start builds nothing lazy).
    pub fn is_built(&self) -> bool {
        self.cell.initialized()
    }
}

#[async_trait]
impl Store for Lazy<dyn Store> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        store(self).await?.get(key).await
    }
    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), StoreError> {
        store(self).await?.put(item, cond).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        cond: Option<Cond>,
    ) -> Result<Item, StoreError> {
        store(self).await?.update(key, update, cond).await
    }
    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, StoreError> {
        store(self).await?.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        store(self).await?.transact(ops).await
    }
    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        store(self).await?.query(q).await
    }
}

async fn store(lazy: &Lazy<dyn Store>) -> Result<&Arc<dyn Store>, StoreError> {
    lazy.get().await.map_err(StoreError::Unavailable)
}

#[async_trait]
impl Queue for Lazy<dyn Queue> {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        queue(self).await?.send(body, delay).await
    }
    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        queue(self).await?.receive(max, visibility, wait).await
    }
    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        queue(self).await?.ack(receipt).await
    }
    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        queue(self).await?.release(receipt, delay).await
    }
    async fn dead_letters(&self, max: u32) -> Result<Vec<Message>, QueueError> {
        queue(self).await?.dead_letters(max).await
    }
}

async fn queue(lazy: &Lazy<dyn Queue>) -> Result<&Arc<dyn Queue>, QueueError> {
    lazy.get().await.map_err(QueueError::Unavailable)
}

#[async_trait]
impl Cluster for Lazy<dyn Cluster> {
    async fn start_build(&self, build: &BuildRequest) -> Result<(), ClusterError> {
        cluster(self).await?.start_build(build).await
    }
    async fn build_state(&self, build: &BuildRequest) -> Result<BuildState, ClusterError> {
        cluster(self).await?.build_state(build).await
    }
    async fn cancel_build(&self, build: &BuildRequest) -> Result<(), ClusterError> {
        cluster(self).await?.cancel_build(build).await
    }
    async fn apply(&self, workload: &Workload, image_uri: &str) -> Result<(), ClusterError> {
        cluster(self).await?.apply(workload, image_uri).await
    }
    async fn remove(&self, workload: &Workload) -> Result<(), ClusterError> {
        cluster(self).await?.remove(workload).await
    }
    async fn rollout_state(
        &self,
        workload: &Workload,
        image_uri: &str,
    ) -> Result<RolloutState, ClusterError> {
        cluster(self)
            .await?
            .rollout_state(workload, image_uri)
            .await
    }
    async fn facts(&self, workload: &Workload) -> Result<Option<Vec<ServiceFacts>>, ClusterError> {
        cluster(self).await?.facts(workload).await
    }
}

async fn cluster(lazy: &Lazy<dyn Cluster>) -> Result<&Arc<dyn Cluster>, ClusterError> {
    lazy.get().await.map_err(ClusterError::Unavailable)
}

#[async_trait]
impl Registry for Lazy<dyn Registry> {
    async fn missing(&self, image_uris: &[String]) -> Result<Vec<String>, RegistryError> {
        self.get()
            .await
            .map_err(RegistryError::Unavailable)?
            .missing(image_uris)
            .await
    }
    async fn digest(&self, tag_uri: &str) -> Result<Option<String>, RegistryError> {
        self.get()
            .await
            .map_err(RegistryError::Unavailable)?
            .digest(tag_uri)
            .await
    }
}

#[async_trait]
impl LogSource for Lazy<dyn LogSource> {
    async fn read(&self, read: &LogRead) -> Result<Vec<LogLine>, LogError> {
        self.get()
            .await
            .map_err(LogError::Unavailable)?
            .read(read)
            .await
    }
}

#[async_trait]
impl PushCredentials for Lazy<dyn PushCredentials> {
    async fn mint(&self, scope: &PushScope) -> Result<Secret, RegistryError> {
        self.get()
            .await
            .map_err(RegistryError::Unavailable)?
            .mint(scope)
            .await
    }
}

#[async_trait]
impl EventSink for Lazy<dyn EventSink> {
    async fn publish(&self, event: &DomainEvent) -> Result<(), Error> {
        self.get()
            .await
            .map_err(Error::unavailable)?
            .publish(event)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axhub_ports::store::Key;

    use super::*;

    #[tokio::test]
    async fn built_on_first_use_once_and_a_failure_is_tried_again() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let lazy = Lazy::<dyn Store>::new("the test store", move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    anyhow::bail!("first construction fails");
                }
                let store: Arc<dyn Store> = Arc::new(axhub_sqlite::SqliteStore::in_memory()?);
                Ok(store)
            }
        });
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "nothing built before first use"
        );
        assert!(!lazy.is_built());

        let key = Key {
            pk: "p".into(),
            sk: "s".into(),
        };
        let first = Store::get(&lazy, &key).await;
        assert!(
            matches!(first, Err(StoreError::Unavailable(_))),
            "{first:?}"
        );
        assert_eq!(
            Store::get(&lazy, &key).await.ok(),
            Some(None),
            "the next call builds it"
        );
        assert_eq!(Store::get(&lazy, &key).await.ok(), Some(None));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "built once it succeeded");
        assert!(lazy.is_built());
    }
}
