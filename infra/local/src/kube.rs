//! `--kubeconfig`: axhub-local drives a real cluster through the Kubernetes adapter (builds,
//! rollouts, diagnosis, runtime logs from the pods' container logs) instead of the simulated
//! one, with images under `--registry` checked
//! over the OCI distribution API and pushed with the operator's `--registry-auth-file`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axhub_kube::{KubeCluster, KubeClusterConfig};
use axhub_ociregistry::{OciRegistry, StaticPushCredentials};
use axhub_ports::{Cluster, PushCredentials, Registry};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct KubeArgs {
    /// Drive the Kubernetes cluster of this kubeconfig (its current context) instead of the
    /// simulated one.
    #[arg(long, env = "AXHUB_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// With --kubeconfig: the registry images are pushed under (`HOST[:PORT]/PREFIX`).
    #[arg(long, env = "AXHUB_REGISTRY")]
    pub registry: Option<String>,
    /// With --kubeconfig: a Docker config.json with the registry's credentials; builds push
    /// with it and the registry is read with it (default: anonymous).
    #[arg(long, env = "AXHUB_REGISTRY_AUTH_FILE")]
    pub registry_auth_file: Option<PathBuf>,
    /// With --kubeconfig: the cluster's pod and service CIDRs (comma-separated), which builds
    /// may not reach.
    #[arg(long, env = "AXHUB_CLUSTER_CIDRS", value_delimiter = ',')]
    pub cluster_cidrs: Vec<String>,
}

/// What drives builds and rollouts when it is a real cluster.
pub struct KubeTarget {
    pub cluster: Arc<dyn Cluster>,
    pub registry: Arc<dyn Registry>,
    pub push_credentials: Arc<dyn PushCredentials>,
    /// The apps' runtime logs: their pods' container logs.
    pub logs: Arc<dyn axhub_ports::logs::LogSource>,
    /// The registry base of the pipeline's image URIs.
    pub registry_base: String,
}

impl KubeArgs {
    /// The cluster of `--kubeconfig`, or None (the simulated cluster). `git_host`: where
    /// builds clone from.
    pub async fn target(&self, git_host: &str) -> anyhow::Result<Option<KubeTarget>> {
        let Some(path) = &self.kubeconfig else {
            return Ok(None);
        };
        let registry_base = self
            .registry
            .clone()
            .context("--registry HOST/PREFIX is required with --kubeconfig")?;
        anyhow::ensure!(
            registry_base.trim_end_matches('/').contains('/'),
            "--registry must be HOST/PREFIX (images go to HOST/PREFIX/TENANT/APP)"
        );
        let kubeconfig = kube::config::Kubeconfig::read_from(path)
            .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .with_context(|| format!("the kubeconfig {}", path.display()))?;
        let client = kube::Client::try_from(config).context("the Kubernetes client")?;
        let logs = Arc::new(axhub_kube::logs::KubePodLogs::new(client.clone()));
        let auth = match &self.registry_auth_file {
            Some(file) => Some(
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?,
            ),
            None => None,
        };
        let registry = OciRegistry::new(auth.as_deref())
            .map_err(|e| anyhow::anyhow!("--registry-auth-file: {e}"))?;
        let cluster = KubeCluster::new(
            client,
            KubeClusterConfig {
                registry: registry_base.clone(),
                git_host: git_host.to_owned(),
                pod_cidrs: self.cluster_cidrs.clone(),
                ..KubeClusterConfig::default()
            },
        );
        Ok(Some(KubeTarget {
            cluster: Arc::new(cluster),
            registry: Arc::new(registry),
            push_credentials: Arc::new(StaticPushCredentials::new(auth)),
            logs,
            registry_base,
        }))
    }
}
