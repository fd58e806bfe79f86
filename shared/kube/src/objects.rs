//! The Kubernetes objects the adapter writes, built by pure functions so that tests can look at
//! them without a cluster (and so the cluster code only sends them).

use std::collections::BTreeMap;

use axhub_domain::Environment;
use axhub_ports::cluster::{BuildRequest, ClusterError, Workload};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, KeyToPath, Namespace, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, Secret, SecretKeySelector, SecretVolumeSource,
    Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use uuid::Uuid;

use crate::config::{KubeClusterConfig, Resources};

/// Field manager of every server-side apply: the fields it sets belong to axhub-deploy.
pub const FIELD_MANAGER: &str = "axhub-deploy";

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_TENANT: &str = "axhub.ai/tenant";
pub const LABEL_APP: &str = "axhub.ai/app";
pub const LABEL_ENVIRONMENT: &str = "axhub.ai/environment";
pub const LABEL_DEPLOYMENT: &str = "axhub.ai/deployment";
pub const ANNOTATION_IMAGE: &str = "axhub.ai/image";
/// `build` on a tenant's build namespace.
pub const LABEL_PURPOSE: &str = "axhub.ai/purpose";

/// The name of the app's container in its pods (and of the kaniko container in build pods).
pub const APP_CONTAINER: &str = "app";
pub const BUILD_CONTAINER: &str = "kaniko";

/// Keys of a build's Secret: the user name kaniko sends with the clone token, the token, and
/// the registry credential (kaniko's `/kaniko/.docker/config.json`).
pub const BUILD_SECRET_GIT_USERNAME_KEY: &str = "git-username";
pub const BUILD_SECRET_GIT_PASSWORD_KEY: &str = "git-password";
pub const BUILD_SECRET_DOCKER_CONFIG_KEY: &str = "config.json";

/// Where kaniko writes the digest of the image it pushed: the container's termination
/// message, which the Job's pod keeps in its status for the adapter to read.
pub const DIGEST_FILE: &str = "/dev/termination-log";

pub fn build_job_name(deployment_id: Uuid) -> String {
    format!("build-{}", deployment_id.simple())
}

pub fn build_secret_name(deployment_id: Uuid) -> String {
    format!("build-{}", deployment_id.simple())
}

/// The namespace of a tenant's builds: `{prefix}-{tenant}` (a DNS label: the prefix is
/// configured, the tenant 32 hex digits).
pub fn build_namespace(config: &KubeClusterConfig, tenant_id: Uuid) -> String {
    format!("{}-{}", config.build_namespace_prefix, tenant_id.simple())
}

/// A tenant's build namespace. Kaniko runs as root to unpack images, which the `baseline`
/// Pod Security level allows; it admits no privileged pods, host paths or host network.
pub fn build_namespace_object(config: &KubeClusterConfig, tenant_id: Uuid) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(build_namespace(config, tenant_id)),
            labels: Some(labels(&[
                (LABEL_MANAGED_BY, FIELD_MANAGER.to_owned()),
                (LABEL_TENANT, tenant_id.simple().to_string()),
                (LABEL_PURPOSE, "build".to_owned()),
                ("pod-security.kubernetes.io/enforce", "baseline".to_owned()),
            ])),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn environment_label(environment: Environment) -> &'static str {
    match environment {
        Environment::Production => "production",
        Environment::Staging => "staging",
    }
}

/// The repository and commit end up in kaniko's `--context` URL, where `#` or `/` in the wrong
/// place would change what is cloned: refuse anything but `owner/name` and a hex commit.
pub fn validate_build(
    config: &KubeClusterConfig,
    build: &BuildRequest,
) -> Result<(), ClusterError> {
    let name_ok = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let repo_ok = match build.repo_full_name.split_once('/') {
        Some((owner, name)) => name_ok(owner) && name_ok(name),
        None => false,
    };
    if !repo_ok {
        return Err(ClusterError::Refused(format!(
            "repository name {:?} is not owner/name",
            build.repo_full_name
        )));
    }
    let commit = &build.commit_sha;
    if !(7..=64).contains(&commit.len()) || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ClusterError::Refused(format!(
            "commit {commit:?} is not a hex commit id"
        )));
    }
    validate_image(config, &build.image_uri)
}

/// An image URI without whitespace and, when the registry is configured, under it.
pub fn validate_image(config: &KubeClusterConfig, image_uri: &str) -> Result<(), ClusterError> {
    if image_uri.is_empty()
        || image_uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ClusterError::Refused(format!(
            "image URI {image_uri:?} is not valid"
        )));
    }
    let registry = config.registry.trim_end_matches('/');
    if !registry.is_empty()
        && !image_uri
            .strip_prefix(registry)
            .is_some_and(|rest| rest.starts_with('/'))
    {
        return Err(ClusterError::Refused(format!(
            "image {image_uri} is not in the registry {registry}"
        )));
    }
    Ok(())
}

pub(crate) fn labels(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

pub(crate) fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
        .collect()
}

fn resource_requirements(resources: &Resources) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(quantities(&[
            ("cpu", &resources.cpu_request),
            ("memory", &resources.memory_request),
        ])),
        limits: Some(quantities(&[("memory", &resources.memory_limit)])),
        ..Default::default()
    }
}

fn build_labels(build: &BuildRequest) -> BTreeMap<String, String> {
    labels(&[
        (LABEL_MANAGED_BY, FIELD_MANAGER.to_owned()),
        (LABEL_DEPLOYMENT, build.deployment_id.simple().to_string()),
        (LABEL_APP, build.workload.app_id.simple().to_string()),
        (LABEL_TENANT, build.workload.tenant_id.simple().to_string()),
    ])
}

/// The kaniko build Job of a deployment, in its tenant's build namespace.
///
/// Everything secret comes from the build's own Secret [`build_secret_name`]: the registry
/// credential mounted as kaniko's `config.json`, the clone token read through `optional`
/// secret references (kaniko sends `GIT_USERNAME`/`GIT_PASSWORD` as HTTP basic auth when they
/// are set, and clones anonymously when they are not: public repositories). The Secret is
/// written before the Job so the pod never starts without it. Kaniko writes the pushed
/// image's digest to the termination message ([`DIGEST_FILE`]), where `build_state` reads it.
pub fn build_job(config: &KubeClusterConfig, build: &BuildRequest) -> Job {
    let labels = build_labels(build);
    let secret = build_secret_name(build.deployment_id);
    let secret_env = |name: &str, key: &str| EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.clone(),
                key: key.to_owned(),
                optional: Some(true),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let container = Container {
        name: BUILD_CONTAINER.to_owned(),
        image: Some(config.builder_image.clone()),
        args: Some(vec![
            // kaniko's git context: it clones over HTTPS (GIT_PULL_METHOD defaults to https)
            // and, the fragment being a commit id, fetches and checks out that commit.
            format!(
                "--context=git://{}/{}.git#{}",
                config.git_host, build.repo_full_name, build.commit_sha
            ),
            format!("--destination={}", build.image_uri),
            format!("--digest-file={DIGEST_FILE}"),
        ]),
        env: Some(vec![
            secret_env("GIT_USERNAME", BUILD_SECRET_GIT_USERNAME_KEY),
            secret_env("GIT_PASSWORD", BUILD_SECRET_GIT_PASSWORD_KEY),
        ]),
        resources: Some(resource_requirements(&config.build_resources)),
        // The digest file is the termination message: never replaced by the log tail.
        termination_message_policy: Some("File".to_owned()),
        volume_mounts: Some(vec![VolumeMount {
            name: "docker-config".to_owned(),
            mount_path: "/kaniko/.docker".to_owned(),
            read_only: Some(true),
            ..Default::default()
        }]),
        ..Default::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(build_job_name(build.deployment_id)),
            namespace: Some(build_namespace(config, build.workload.tenant_id)),
            labels: Some(labels.clone()),
            annotations: Some(labels_one(ANNOTATION_IMAGE, &build.image_uri)),
            ..Default::default()
        },
        spec: Some(JobSpec {
            // A failed build is reported, not retried: the user fixes the commit.
            backoff_limit: Some(0),
            active_deadline_seconds: Some(config.build_deadline_seconds),
            ttl_seconds_after_finished: Some(config.build_ttl_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    // The build runs the tenant's Dockerfile: it gets no Kubernetes API access,
                    // and the namespace's default service account has no role anyway.
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    containers: vec![container],
                    volumes: Some(vec![Volume {
                        name: "docker-config".to_owned(),
                        secret: Some(SecretVolumeSource {
                            secret_name: Some(secret),
                            items: Some(vec![KeyToPath {
                                key: BUILD_SECRET_DOCKER_CONFIG_KEY.to_owned(),
                                path: "config.json".to_owned(),
                                ..Default::default()
                            }]),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn labels_one(key: &str, value: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(key.to_owned(), value.to_owned())])
}

/// The Secret of one build: its registry credential and, for a private repository, its
/// clone token. Owned by its Job (when `owner` is given) so that it goes with it; the adapter
/// also deletes it as soon as the build has ended.
pub fn build_secret(
    config: &KubeClusterConfig,
    build: &BuildRequest,
    push_credential: &str,
    clone_token: Option<&str>,
    owner: Option<OwnerReference>,
) -> Secret {
    let mut data = BTreeMap::from([(
        BUILD_SECRET_DOCKER_CONFIG_KEY.to_owned(),
        ByteString(push_credential.as_bytes().to_vec()),
    )]);
    if let Some(token) = clone_token {
        // GitHub takes an installation token as the password of this user.
        data.insert(
            BUILD_SECRET_GIT_USERNAME_KEY.to_owned(),
            ByteString(b"x-access-token".to_vec()),
        );
        data.insert(
            BUILD_SECRET_GIT_PASSWORD_KEY.to_owned(),
            ByteString(token.as_bytes().to_vec()),
        );
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(build_secret_name(build.deployment_id)),
            namespace: Some(build_namespace(config, build.workload.tenant_id)),
            labels: Some(labels(&[
                (LABEL_MANAGED_BY, FIELD_MANAGER.to_owned()),
                (LABEL_DEPLOYMENT, build.deployment_id.simple().to_string()),
                (LABEL_TENANT, build.workload.tenant_id.simple().to_string()),
            ])),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Default::default()
    }
}

/// An ownerReference to a Job (it needs the uid the server gave it).
pub fn job_owner(job: &Job) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: "batch/v1".to_owned(),
        kind: "Job".to_owned(),
        name: job.metadata.name.clone()?,
        uid: job.metadata.uid.clone()?,
        ..Default::default()
    })
}

/// The labels that select the workload's pods (also the Deployment's immutable selector).
pub fn selector_labels(workload: &Workload) -> BTreeMap<String, String> {
    labels(&[
        (LABEL_NAME, workload.name()),
        (
            LABEL_ENVIRONMENT,
            environment_label(workload.environment).to_owned(),
        ),
    ])
}

/// Labels of the Deployment, Service, Ingress and pods.
pub fn workload_labels(workload: &Workload) -> BTreeMap<String, String> {
    let mut all = selector_labels(workload);
    all.extend(labels(&[
        (LABEL_MANAGED_BY, FIELD_MANAGER.to_owned()),
        (LABEL_APP, workload.app_id.simple().to_string()),
        (LABEL_TENANT, workload.tenant_id.simple().to_string()),
    ]));
    all
}

/// Label selector string (`k=v,k=v`) of the workload's pods.
pub fn selector_string(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn workload_meta(workload: &Workload) -> ObjectMeta {
    ObjectMeta {
        name: Some(workload.name()),
        namespace: Some(workload.namespace()),
        labels: Some(workload_labels(workload)),
        ..Default::default()
    }
}

pub fn namespace(workload: &Workload) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(workload.namespace()),
            labels: Some(labels(&[
                (LABEL_MANAGED_BY, FIELD_MANAGER.to_owned()),
                (LABEL_TENANT, workload.tenant_id.simple().to_string()),
                // Tenants run their own code: no privileged pods, host paths or host network.
                ("pod-security.kubernetes.io/enforce", "baseline".to_owned()),
            ])),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn deployment(config: &KubeClusterConfig, workload: &Workload, image_uri: &str) -> Deployment {
    let port = config.container_port;
    let container = Container {
        name: APP_CONTAINER.to_owned(),
        image: Some(image_uri.to_owned()),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: port,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        env: Some(vec![EnvVar {
            name: "PORT".to_owned(),
            value: Some(port.to_string()),
            ..Default::default()
        }]),
        readiness_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/".to_owned()),
                port: IntOrString::Int(port),
                ..Default::default()
            }),
            period_seconds: Some(5),
            failure_threshold: Some(3),
            ..Default::default()
        }),
        resources: Some(resource_requirements(&config.app_resources)),
        // Lets the diagnosis read why the app exited from its termination message, and falls
        // back to the log tail for apps that do not write one.
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        ..Default::default()
    };
    Deployment {
        metadata: workload_meta(workload),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            progress_deadline_seconds: Some(300),
            revision_history_limit: Some(5),
            selector: LabelSelector {
                match_labels: Some(selector_labels(workload)),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(workload_labels(workload)),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    // The app is tenant code: no Kubernetes API token, no service env vars.
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    containers: vec![container],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn service(config: &KubeClusterConfig, workload: &Workload) -> Service {
    Service {
        metadata: workload_meta(workload),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(selector_labels(workload)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: 80,
                target_port: Some(IntOrString::Int(config.container_port)),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn ingress(config: &KubeClusterConfig, workload: &Workload) -> Ingress {
    Ingress {
        metadata: workload_meta(workload),
        spec: Some(IngressSpec {
            ingress_class_name: Some(config.ingress_class.clone()),
            rules: Some(vec![IngressRule {
                host: Some(workload.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".to_owned()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: workload.name(),
                                port: Some(ServiceBackendPort {
                                    number: Some(80),
                                    ..Default::default()
                                }),
                            }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}
