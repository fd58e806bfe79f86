//! axhub-local's background work: the deploy and bootstrap queues on SQLite, the simulated cluster, the
//! in-process event bus, and the worker and maintenance loops that the Lambdas run in AWS.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axhub_app::Deps;
use axhub_app::jobs::{BOOTSTRAP_QUEUE, DEPLOY_QUEUE};
use axhub_app::pipeline::PipelineConfig;
use axhub_queue::Queue;
use axhub_runtime::{LocalBus, RoutingPublisher};
use axhub_simcluster::{SimCluster, SimConfig};
use axhub_sqlite::{SqliteQueue, SqliteStore};
use tokio::sync::watch;

/// Deliveries of a job before it is dead-lettered.
pub const MAX_RECEIVES: u32 = 5;

pub struct Background {
    pub queue: Arc<dyn Queue>,
    /// The bootstrap saga's queue (its own worker loop, as its own Lambda in AWS).
    pub bootstrap_queue: Arc<dyn Queue>,
    /// The store whose expired rows the maintenance loop purges, as DynamoDB's TTL does.
    pub store: SqliteStore,
    pub bus: Arc<LocalBus>,
    pub sim: Option<Arc<SimCluster>>,
}

/// Adds the background ports to `deps`: publisher (queue + bus) and cluster: the real one of
/// `kube` (`--kubeconfig`), else the simulated one.
pub fn wire(
    deps: Deps,
    store: SqliteStore,
    data_dir: &Path,
    sim: SimConfig,
    kube: Option<crate::kube::KubeTarget>,
) -> anyhow::Result<(Deps, Background)> {
    let queue: Arc<dyn Queue> = Arc::new(
        SqliteQueue::open(&data_dir.join("axhub.db"), DEPLOY_QUEUE, MAX_RECEIVES)
            .map_err(|e| anyhow::anyhow!("opening the deploy queue: {e}"))?,
    );
    let bootstrap_queue: Arc<dyn Queue> = Arc::new(
        SqliteQueue::open(&data_dir.join("axhub.db"), BOOTSTRAP_QUEUE, MAX_RECEIVES)
            .map_err(|e| anyhow::anyhow!("opening the bootstrap queue: {e}"))?,
    );
    let bus = Arc::new(LocalBus::default());
    let publisher = RoutingPublisher::new(bus.clone())
        .queue(DEPLOY_QUEUE, queue.clone())
        .queue(BOOTSTRAP_QUEUE, bootstrap_queue.clone());
    let poll = sim
        .build_time
        .min(sim.rollout_time)
        .min(Duration::from_secs(1));
    let deps = deps.with_publisher(Arc::new(publisher));
    let (deps, sim) = match kube {
        Some(k) => {
            let deps = deps
                .with_cluster(k.cluster)
                .with_registry(k.registry)
                .with_push_credentials(k.push_credentials)
                .with_logs(k.logs)
                .with_pipeline(PipelineConfig {
                    registry: k.registry_base,
                    ..PipelineConfig::default()
                });
            (deps, None)
        }
        None => {
            let cluster = Arc::new(SimCluster::new(sim));
            let deps = deps
                .with_cluster(cluster.clone())
                .with_registry(cluster.clone())
                .with_push_credentials(cluster.clone())
                .with_logs(cluster.runtime_logs())
                .with_pipeline(PipelineConfig {
                    poll,
                    ..PipelineConfig::default()
                });
            (deps, Some(cluster))
        }
    };
    Ok((
        deps,
        Background {
            queue,
            bootstrap_queue,
            store,
            bus,
            sim,
        },
    ))
}

/// Starts the worker and maintenance loops; they stop when `stop` flips to true.
pub fn spawn(
    deps: Arc<Deps>,
    bg: &Background,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(axhub_runtime::run_worker(
            deps.clone(),
            bg.queue.clone(),
            stop.clone(),
        )),
        tokio::spawn(axhub_runtime::run_worker(
            deps.clone(),
            bg.bootstrap_queue.clone(),
            stop.clone(),
        )),
        tokio::spawn(axhub_runtime::run_maintenance(
            deps,
            Duration::from_secs(5),
            stop.clone(),
        )),
        tokio::spawn(purge_expired(bg.store.clone(), PURGE_EVERY, stop)),
    ]
}

/// How often expired rows (state tokens, idempotency records, deliveries, published outbox
/// entries) are deleted. Reads never see them anyway; this keeps the file from growing.
const PURGE_EVERY: Duration = Duration::from_secs(60);

async fn purge_expired(store: SqliteStore, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        match store.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired rows purged"),
            Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use axhub_store::{Item, Store};
    use serde_json::json;

    /// The loop deletes expired rows on its own (reads hide them, but the file would grow)
    /// and returns when told to stop.
    #[tokio::test]
    async fn expired_rows_are_purged_in_the_background() {
        let store = SqliteStore::in_memory().unwrap();
        let now = axhub_store::now_epoch();
        for (sk, ttl) in [("expired", now - 1), ("live", now + 3600)] {
            let mut item = Item::new();
            item.insert("pk".into(), json!("P"));
            item.insert("sk".into(), json!(sk));
            item.insert("ttl".into(), json!(ttl));
            store.put(item, None).await.unwrap();
        }
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(purge_expired(store.clone(), Duration::from_millis(20), rx));
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the loop did not stop")
            .unwrap();
        // Nothing left for a purge to remove: the loop did it; the live row is still there.
        assert_eq!(store.purge_expired().await.unwrap(), 0);
        let live = axhub_store::Key::new("P", "live");
        assert!(store.get(&live).await.unwrap().is_some());
    }
}
