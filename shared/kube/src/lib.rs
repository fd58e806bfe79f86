//! The Kubernetes adapter of the cluster port (`axhub_ports::cluster::Cluster`).
//!
//! - [`KubeCluster`]: builds as kaniko Jobs (each tenant's in its own build namespace, each
//!   with its own push credential and clone token, the pushed digest read back), workloads
//!   (Namespace, Deployment, Service, Ingress) by server-side apply, rollout state from the
//!   Deployment and its pods, diagnosis facts from Deployment, Pods, Events and the crashed
//!   container's log tail.
//! - [`isolation`]: what keeps tenants apart, applied with each workload (a tenant namespace's
//!   NetworkPolicy, ResourceQuota and LimitRange) and before each build (the build namespace's
//!   NetworkPolicy and ResourceQuota). NetworkPolicies need a CNI that enforces them (on EKS:
//!   the VPC CNI with network policy enabled, or Calico/Cilium); without one they are accepted
//!   and do nothing.
//! - [`objects`], [`status`], [`facts`]: the pure parts (objects written, state read), tested
//!   on recorded API server JSON.
//! - [`logs`]: runtime logs from the pods' container logs (axhub-local with `--kubeconfig`).
//! - [`auth`], [`eks`]: a client whose requests carry a bearer token refreshed before it
//!   expires, and the EKS token source (presigned STS `GetCallerIdentity`).
//!
//! RBAC the adapter's identity needs (a ClusterRole: tenant and build namespaces are made on
//! demand): `namespaces` patch; in build namespaces (`axhub-build-{tenant}`) `jobs`
//! create/get/delete, `secrets` patch/delete, `pods` list, `networkpolicies`
//! (networking.k8s.io) and `resourcequotas` patch; in tenant namespaces `deployments`
//! get/patch, `services`, `resourcequotas`, `limitranges`, `ingresses` and `networkpolicies`
//! (networking.k8s.io) patch, `pods` list, `pods/log` get, `events` list.

pub mod auth;
pub mod cluster;
pub mod config;
pub mod eks;
mod error;
pub mod facts;
pub mod isolation;
pub mod logs;
pub mod objects;
pub mod status;

pub use auth::{BearerTokenLayer, TokenSource, client_with_token_source, eks_config};
pub use cluster::KubeCluster;
pub use config::{KubeClusterConfig, Resources, TenantQuota};
pub use eks::EksTokenSource;
pub use facts::service_facts;
