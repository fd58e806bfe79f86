//! What the adapter needs to know about the cluster it drives.

/// The settings of [`crate::KubeCluster`]. `Default` gives the production values except the
/// registry, which has no sensible default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeClusterConfig {
    /// Registry base the images are pushed under, e.g. `123.dkr.ecr.eu-west-1.amazonaws.com/axhub`.
    /// Image URIs come with each request; when this is set, builds and deploys of an image
    /// outside it are refused, so the push credentials and the cluster serve only our images.
    pub registry: String,
    /// The kaniko executor image that runs the builds.
    pub builder_image: String,
    /// The host builds clone from (`github.com`, or a GitHub Enterprise host: the host of the
    /// configured GitHub web URL).
    pub git_host: String,
    /// Builds of a tenant run in the namespace `{build_namespace_prefix}-{tenant}` (created on
    /// its first build, with its NetworkPolicy and ResourceQuota), each with its own Secret
    /// holding that build's push credential and clone token: no build shares a namespace,
    /// a Secret or a credential with another tenant's.
    pub build_namespace_prefix: String,
    /// The caps of a tenant's build namespace (its ResourceQuota): how many builds of one
    /// tenant run at once, at [`Self::build_resources`] each.
    pub build_quota: TenantQuota,
    /// `spec.ingressClassName` of the workloads' Ingresses.
    pub ingress_class: String,
    /// The port the apps listen on (they get it in `PORT` too).
    pub container_port: i32,
    /// `activeDeadlineSeconds` of a build Job: the build fails with `build.deadline_exceeded`
    /// past it.
    pub build_deadline_seconds: i64,
    /// `ttlSecondsAfterFinished` of a build Job: how long a finished build (its pod, with the
    /// digest it reported and its log) stays to be read.
    pub build_ttl_seconds: i32,
    /// Resources of an app's container.
    pub app_resources: Resources,
    /// Resources of a build's kaniko container.
    pub build_resources: Resources,
    /// Namespace of the ingress controller: the only one whose pods may connect to the apps
    /// (matched on `kubernetes.io/metadata.name`, the label Kubernetes sets on every namespace).
    pub ingress_namespace: String,
    /// Caps of a whole tenant namespace (every app, both environments): its ResourceQuota.
    pub tenant_quota: TenantQuota,
    /// Requests and limits of a container in a tenant namespace that sets none: its
    /// LimitRange. The apps' own containers set [`Self::app_resources`]; this covers any other
    /// pod, which the quota would otherwise refuse for lack of requests.
    pub container_defaults: Resources,
    /// Pod CIDRs of the cluster (IPv4), which build pods may not reach: a build runs the
    /// tenant's Dockerfile and must not talk to other tenants' pods. Empty by default because
    /// only the operator knows them; on EKS with the VPC CNI pods take VPC addresses, so put
    /// the VPC (or its pod subnets) here.
    pub pod_cidrs: Vec<String>,
    /// Service CIDRs of the cluster (IPv4), which build pods may not reach either. Empty by
    /// default, as [`Self::pod_cidrs`].
    pub service_cidrs: Vec<String>,
}

/// The hard limits of a tenant namespace's ResourceQuota, in Kubernetes quantity syntax.
///
/// No `limits.cpu` on purpose: a quota on it makes every container declare a CPU limit, and
/// the apps have none (see [`Resources::memory_limit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantQuota {
    /// Pods, counting the extra one of a rolling update.
    pub pods: String,
    pub cpu_requests: String,
    pub memory_requests: String,
    pub memory_limits: String,
}

/// Requests and limits of one container, in Kubernetes quantity syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub cpu_request: String,
    pub memory_request: String,
    /// No CPU limit on purpose: CPU is compressible, and a limit only throttles a tenant that
    /// could use idle capacity. Memory is not, so it is limited.
    pub memory_limit: String,
}

pub const DEFAULT_BUILDER_IMAGE: &str = "gcr.io/kaniko-project/executor:v1.23.2";
pub const DEFAULT_BUILD_NAMESPACE_PREFIX: &str = "axhub-build";
pub const DEFAULT_INGRESS_NAMESPACE: &str = "ingress-nginx";

impl Default for KubeClusterConfig {
    fn default() -> Self {
        Self {
            registry: String::new(),
            builder_image: DEFAULT_BUILDER_IMAGE.to_owned(),
            git_host: "github.com".to_owned(),
            build_namespace_prefix: DEFAULT_BUILD_NAMESPACE_PREFIX.to_owned(),
            // Two builds of one tenant at a time at the default build resources.
            build_quota: TenantQuota {
                pods: "2".to_owned(),
                cpu_requests: "2".to_owned(),
                memory_requests: "4Gi".to_owned(),
                memory_limits: "8Gi".to_owned(),
            },
            ingress_class: "nginx".to_owned(),
            container_port: 8080,
            build_deadline_seconds: 1800,
            build_ttl_seconds: 3600,
            app_resources: Resources {
                cpu_request: "100m".to_owned(),
                memory_request: "256Mi".to_owned(),
                memory_limit: "512Mi".to_owned(),
            },
            build_resources: Resources {
                cpu_request: "1".to_owned(),
                memory_request: "2Gi".to_owned(),
                memory_limit: "4Gi".to_owned(),
            },
            ingress_namespace: DEFAULT_INGRESS_NAMESPACE.to_owned(),
            // 20 pods at the default app resources: ten apps, each with a rollout's extra pod, or
            // five with their staging.
            tenant_quota: TenantQuota {
                pods: "20".to_owned(),
                cpu_requests: "2".to_owned(),
                memory_requests: "5Gi".to_owned(),
                memory_limits: "10Gi".to_owned(),
            },
            container_defaults: Resources {
                cpu_request: "100m".to_owned(),
                memory_request: "256Mi".to_owned(),
                memory_limit: "512Mi".to_owned(),
            },
            pod_cidrs: Vec::new(),
            service_cidrs: Vec::new(),
        }
    }
}
