//! The objects that keep tenants apart: per tenant namespace a NetworkPolicy, a ResourceQuota
//! and a LimitRange, and per tenant build namespace the build pods' NetworkPolicy and a
//! ResourceQuota. Pure, like [`crate::objects`].

use std::collections::BTreeMap;

use axhub_ports::cluster::Workload;
use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use uuid::Uuid;

use crate::config::{KubeClusterConfig, TenantQuota};
use crate::objects::{
    FIELD_MANAGER, LABEL_MANAGED_BY, LABEL_TENANT, build_namespace, labels, quantities,
};

/// Name of the NetworkPolicy of a tenant namespace and of the build namespace.
pub const NETWORK_POLICY: &str = "axhub-default-deny";
pub const RESOURCE_QUOTA: &str = "axhub-quota";
pub const LIMIT_RANGE: &str = "axhub-limits";

/// The label Kubernetes sets on every namespace to its name (immutable, unlike labels anyone
/// with namespace patch rights could add): what namespace selectors match on.
pub const LABEL_NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";

/// The EC2 instance metadata address: its node credentials must stay out of a build's reach.
pub const METADATA_CIDR: &str = "169.254.169.254/32";

fn meta(namespace: String, tenant_id: Uuid, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace),
        labels: Some(labels(&[
            (LABEL_MANAGED_BY, FIELD_MANAGER.to_owned()),
            (LABEL_TENANT, tenant_id.simple().to_string()),
        ])),
        ..Default::default()
    }
}

fn tenant_meta(workload: &Workload, name: &str) -> ObjectMeta {
    meta(workload.namespace(), workload.tenant_id, name)
}

fn resource_quota(metadata: ObjectMeta, quota: &TenantQuota) -> ResourceQuota {
    ResourceQuota {
        metadata,
        spec: Some(ResourceQuotaSpec {
            hard: Some(quantities(&[
                ("pods", &quota.pods),
                ("requests.cpu", &quota.cpu_requests),
                ("requests.memory", &quota.memory_requests),
                ("limits.memory", &quota.memory_limits),
            ])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn namespace_named(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(labels(&[(LABEL_NAMESPACE_NAME, name.to_owned())])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn port(protocol: &str, number: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.to_owned()),
        port: Some(IntOrString::Int(number)),
        ..Default::default()
    }
}

/// The NetworkPolicy of a tenant namespace, for every pod in it: nothing comes in but the
/// ingress controller's connections to the app port, so neither other tenants nor the
/// tenant's own other apps (or its staging) can reach an app directly. Egress stays open, as
/// an explicit allow-all rule: apps call APIs, and which ones is theirs to decide.
pub fn tenant_network_policy(config: &KubeClusterConfig, workload: &Workload) -> NetworkPolicy {
    NetworkPolicy {
        metadata: tenant_meta(workload, NETWORK_POLICY),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![namespace_named(&config.ingress_namespace)]),
                ports: Some(vec![port("TCP", config.container_port)]),
            }]),
            egress: Some(vec![NetworkPolicyEgressRule::default()]),
        }),
    }
}

/// The ResourceQuota of a tenant namespace: one tenant cannot take the cluster's capacity.
pub fn tenant_quota(config: &KubeClusterConfig, workload: &Workload) -> ResourceQuota {
    resource_quota(tenant_meta(workload, RESOURCE_QUOTA), &config.tenant_quota)
}

/// The ResourceQuota of a tenant's build namespace: how many of its builds run at once. Every
/// build container sets its resources (`objects::build_job`), so no LimitRange is needed.
pub fn build_quota(config: &KubeClusterConfig, tenant_id: Uuid) -> ResourceQuota {
    let namespace = build_namespace(config, tenant_id);
    resource_quota(
        meta(namespace, tenant_id, RESOURCE_QUOTA),
        &config.build_quota,
    )
}

/// The LimitRange of a tenant namespace: containers without resources get these, so that the
/// quota, which counts requests and memory limits, admits them and they are bounded.
pub fn tenant_limit_range(config: &KubeClusterConfig, workload: &Workload) -> LimitRange {
    let defaults = &config.container_defaults;
    LimitRange {
        metadata: tenant_meta(workload, LIMIT_RANGE),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_owned(),
                default_request: Some(quantities(&[
                    ("cpu", &defaults.cpu_request),
                    ("memory", &defaults.memory_request),
                ])),
                // Memory only, as the apps' own resources (see `Resources::memory_limit`).
                default: Some(quantities(&[("memory", &defaults.memory_limit)])),
                ..Default::default()
            }],
        }),
    }
}

/// The labels every build pod has (see `objects::build_job`), whatever the build: what the
/// build NetworkPolicy selects.
pub fn build_pod_selector() -> BTreeMap<String, String> {
    labels(&[(LABEL_MANAGED_BY, FIELD_MANAGER.to_owned())])
}

/// The NetworkPolicy of a tenant's build pods. A build runs the tenant's Dockerfile with its
/// push credential mounted, so: nothing comes in; out only DNS to kube-system, and HTTPS
/// (git, registries, package mirrors) to anywhere but the instance metadata address (node
/// IAM credentials) and the cluster's own pods and services (the API server's endpoints and
/// other tenants among them).
///
/// The CIDRs are IPv4 (`ipBlock.except` must lie inside `0.0.0.0/0`); an IPv6 one makes the
/// API server refuse the policy, and with it the build, rather than be silently ignored.
pub fn build_network_policy(config: &KubeClusterConfig, tenant_id: Uuid) -> NetworkPolicy {
    let except = std::iter::once(METADATA_CIDR.to_owned())
        .chain(config.pod_cidrs.iter().cloned())
        .chain(config.service_cidrs.iter().cloned())
        .collect();
    NetworkPolicy {
        metadata: meta(
            build_namespace(config, tenant_id),
            tenant_id,
            NETWORK_POLICY,
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(build_pod_selector()),
                ..Default::default()
            }),
            // Ingress listed with no rule: none allowed.
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: None,
            egress: Some(vec![
                NetworkPolicyEgressRule {
                    to: Some(vec![namespace_named("kube-system")]),
                    ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
                },
                NetworkPolicyEgressRule {
                    to: Some(vec![NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: "0.0.0.0/0".to_owned(),
                            except: Some(except),
                        }),
                        ..Default::default()
                    }]),
                    ports: Some(vec![port("TCP", 443)]),
                },
            ]),
        }),
    }
}
