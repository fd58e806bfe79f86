//! [`KubeCluster`]: the cluster port on a Kubernetes API server.

use async_trait::async_trait;
use axhub_domain::Cause;
use axhub_domain::diagnosis::ServiceFacts;
use axhub_ports::cluster::{
    BuildRequest, BuildState, Cluster, ClusterError, RolloutState, Workload,
};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Event, LimitRange, Namespace, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use uuid::Uuid;

use crate::config::KubeClusterConfig;
use crate::error::{cluster_error, is_status};
use crate::{facts, isolation, objects, status};

/// Lines of a crashed container's previous log read for diagnosis.
pub const LOG_TAIL_LINES: i64 = 50;
/// And at most this many bytes of them (a single line can be huge).
pub const LOG_TAIL_BYTES: i64 = 64 * 1024;

/// The cluster port on Kubernetes.
///
/// Builds are kaniko Jobs, each tenant's in its own build namespace, each with its own Secret
/// (push credential, clone token) that is deleted as soon as the build has ended; workloads
/// are server-side applied (field manager `axhub-deploy`, forced: the platform owns these
/// objects). Which images exist is the registry's to say (`axhub_ports::Registry`), not this
/// adapter's.
pub struct KubeCluster {
    client: Client,
    config: KubeClusterConfig,
}

impl KubeCluster {
    pub fn new(client: Client, config: KubeClusterConfig) -> Self {
        Self { client, config }
    }

    pub fn config(&self) -> &KubeClusterConfig {
        &self.config
    }

    fn jobs(&self, build: &BuildRequest) -> Api<Job> {
        self.namespaced(&objects::build_namespace(
            &self.config,
            build.workload.tenant_id,
        ))
    }

    fn namespaced<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Makes the tenant's build namespace what it must be before a build runs there: the
    /// Namespace, its NetworkPolicy and its ResourceQuota (each time: applying is idempotent,
    /// and an object someone removed or edited comes back before the build runs).
    async fn prepare_build_namespace(&self, tenant_id: Uuid) -> Result<(), ClusterError> {
        let namespace = objects::build_namespace(&self.config, tenant_id);
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces
            .patch(
                &namespace,
                &apply_params(),
                &Patch::Apply(&objects::build_namespace_object(&self.config, tenant_id)),
            )
            .await
            .map_err(|e| cluster_error(&format!("apply Namespace {namespace}"), e))?;
        self.apply_namespaced::<NetworkPolicy>(
            &namespace,
            isolation::NETWORK_POLICY,
            &isolation::build_network_policy(&self.config, tenant_id),
        )
        .await?;
        self.apply_namespaced::<ResourceQuota>(
            &namespace,
            isolation::RESOURCE_QUOTA,
            &isolation::build_quota(&self.config, tenant_id),
        )
        .await
    }

    /// Starts the build in its tenant's build namespace.
    ///
    /// The namespace is prepared, then the build's Secret applied (so the pod finds it when it
    /// starts), then the Job created, then the Secret applied again with an ownerReference to
    /// the Job so that it is deleted with it (cancel, TTL). A build without a push credential
    /// is refused: there is no shared one to fall back on.
    async fn start(&self, build: &BuildRequest) -> Result<(), ClusterError> {
        objects::validate_build(&self.config, build)?;
        let Some(push) = build.push_credential.as_ref().map(|c| c.expose()) else {
            return Err(ClusterError::Refused(
                "a build needs its own push credential; none was given".to_owned(),
            ));
        };
        let clone_token = build.clone_token.as_ref().map(|t| t.expose());
        let job = objects::build_job(&self.config, build);
        let name = objects::build_job_name(build.deployment_id);
        self.prepare_build_namespace(build.workload.tenant_id)
            .await?;
        self.apply_build_secret(build, push, clone_token, None)
            .await?;
        let created = match self.jobs(build).create(&PostParams::default(), &job).await {
            Ok(created) => Some(created),
            // Started before (a retried step): the first Job goes on.
            Err(e) if is_status(&e, 409) => None,
            Err(e) => {
                // No Job will own the Secret and remove it with itself: remove it now, so
                // live credentials are not left behind in the cluster.
                self.delete_build_secret(build).await;
                return Err(cluster_error(&format!("create Job {name}"), e));
            }
        };
        let job = match created {
            Some(job) => job,
            None => self
                .jobs(build)
                .get(&name)
                .await
                .map_err(|e| cluster_error(&format!("get Job {name}"), e))?,
        };
        if job
            .status
            .as_ref()
            .is_some_and(|s| s.succeeded.unwrap_or(0) + s.failed.unwrap_or(0) > 0)
        {
            // A retried start of a build that has ended: its Secret was removed with the end,
            // and must not come back.
            self.delete_build_secret(build).await;
            return Ok(());
        }
        self.apply_build_secret(build, push, clone_token, objects::job_owner(&job))
            .await
    }

    /// Removes a build's Secret; a failure is logged (the Job's TTL removes it with the Job,
    /// and its credentials expire on their own).
    async fn delete_build_secret(&self, build: &BuildRequest) {
        let name = objects::build_secret_name(build.deployment_id);
        let namespace = objects::build_namespace(&self.config, build.workload.tenant_id);
        let secrets: Api<Secret> = self.namespaced(&namespace);
        match secrets.delete(&name, &Default::default()).await {
            Ok(_) => {}
            Err(e) if is_status(&e, 404) => {}
            Err(e) => {
                tracing::warn!(secret = %name, error = %e, "could not remove a build Secret")
            }
        }
    }

    async fn apply_build_secret(
        &self,
        build: &BuildRequest,
        push_credential: &str,
        clone_token: Option<&str>,
        owner: Option<OwnerReference>,
    ) -> Result<(), ClusterError> {
        let secret =
            objects::build_secret(&self.config, build, push_credential, clone_token, owner);
        let name = objects::build_secret_name(build.deployment_id);
        let namespace = objects::build_namespace(&self.config, build.workload.tenant_id);
        self.apply_namespaced::<Secret>(&namespace, &name, &secret)
            .await
    }

    /// The digest the build's pod reported; None when the pod is gone or said none.
    async fn reported_digest(&self, build: &BuildRequest) -> Option<String> {
        let namespace = objects::build_namespace(&self.config, build.workload.tenant_id);
        let selector = format!(
            "{}={}",
            objects::LABEL_DEPLOYMENT,
            build.deployment_id.simple()
        );
        let pods: Api<Pod> = self.namespaced(&namespace);
        match pods.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => status::build_digest(&list.items),
            Err(e) => {
                // The registry is asked instead.
                tracing::warn!(%selector, error = %e, "could not read the build pod's digest");
                None
            }
        }
    }

    /// Server-side applies a namespaced object (see [`apply_params`]).
    async fn apply_namespaced<K>(
        &self,
        namespace: &str,
        name: &str,
        object: &K,
    ) -> Result<(), ClusterError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + k8s_openapi::serde::Serialize
            + k8s_openapi::serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let kind = K::kind(&()).into_owned();
        self.namespaced::<K>(namespace)
            .patch(name, &apply_params(), &Patch::Apply(object))
            .await
            .map(|_| ())
            .map_err(|e| cluster_error(&format!("apply {kind} {name}"), e))
    }

    async fn pods_of(&self, deployment: &Deployment) -> Result<Vec<Pod>, ClusterError> {
        let namespace = deployment.metadata.namespace.as_deref().unwrap_or_default();
        let selector = deployment
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            .map(objects::selector_string)
            .unwrap_or_default();
        if selector.is_empty() {
            // An empty selector lists every pod of the namespace: not this Deployment's.
            return Ok(Vec::new());
        }
        let pods: Api<Pod> = self.namespaced(namespace);
        pods.list(&ListParams::default().labels(&selector))
            .await
            .map(|list| list.items)
            .map_err(|e| cluster_error(&format!("list Pods {selector}"), e))
    }

    /// Deletes a namespaced object; one that is already gone is fine.
    async fn delete_if_present<K>(&self, namespace: &str, name: &str) -> Result<(), ClusterError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + k8s_openapi::serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let kind = K::kind(&()).into_owned();
        match self
            .namespaced::<K>(namespace)
            .delete(name, &DeleteParams::foreground())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(cluster_error(&format!("delete {kind} {name}"), e)),
        }
    }

    async fn get_deployment(
        &self,
        workload: &Workload,
    ) -> Result<Option<Deployment>, ClusterError> {
        let name = workload.name();
        let deployments: Api<Deployment> = self.namespaced(&workload.namespace());
        deployments
            .get_opt(&name)
            .await
            .map_err(|e| cluster_error(&format!("get Deployment {name}"), e))
    }

    /// The previous run's log tail of a crashed container; empty when there is none or it
    /// cannot be read (the facts are worth having without it).
    async fn previous_log(&self, namespace: &str, pod: &str, container: &str) -> Vec<String> {
        let pods: Api<Pod> = self.namespaced(namespace);
        let params = LogParams {
            container: Some(container.to_owned()),
            previous: true,
            tail_lines: Some(LOG_TAIL_LINES),
            limit_bytes: Some(LOG_TAIL_BYTES),
            ..Default::default()
        };
        match pods.logs(pod, &params).await {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) => {
                tracing::warn!(pod, container, error = %e, "reading the previous container log failed");
                Vec::new()
            }
        }
    }
}

fn apply_params() -> PatchParams {
    PatchParams::apply(objects::FIELD_MANAGER).force()
}

#[async_trait]
impl Cluster for KubeCluster {
    async fn start_build(&self, build: &BuildRequest) -> Result<(), ClusterError> {
        self.start(build).await
    }

    async fn build_state(&self, build: &BuildRequest) -> Result<BuildState, ClusterError> {
        let name = objects::build_job_name(build.deployment_id);
        let state = match self.jobs(build).get_opt(&name).await {
            Ok(Some(job)) => status::build_state(&job),
            // Never started, cancelled, or cleaned up after its TTL.
            Ok(None) => return Ok(BuildState::NotStarted),
            Err(e) => return Err(cluster_error(&format!("get Job {name}"), e)),
        };
        if state == BuildState::Running {
            return Ok(state);
        }
        // The build has ended: its credentials have nothing more to do in the cluster.
        self.delete_build_secret(build).await;
        Ok(match state {
            BuildState::Succeeded { .. } => BuildState::Succeeded {
                digest: self.reported_digest(build).await,
            },
            other => other,
        })
    }

    async fn cancel_build(&self, build: &BuildRequest) -> Result<(), ClusterError> {
        let name = objects::build_job_name(build.deployment_id);
        // Background: the Job goes now, its pod and Secret after it (garbage collector).
        match self
            .jobs(build)
            .delete(&name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(cluster_error(&format!("delete Job {name}"), e)),
        }
    }

    async fn apply(&self, workload: &Workload, image_uri: &str) -> Result<(), ClusterError> {
        objects::validate_image(&self.config, image_uri)?;
        let namespace = workload.namespace();
        let name = workload.name();
        let params = apply_params();

        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let object = objects::namespace(workload);
        namespaces
            .patch(&namespace, &params, &Patch::Apply(&object))
            .await
            .map_err(|e| cluster_error(&format!("apply Namespace {namespace}"), e))?;

        // The isolation before the Deployment: its pods are admitted under the quota and the
        // LimitRange, and never run unprotected by the NetworkPolicy.
        self.apply_namespaced::<NetworkPolicy>(
            &namespace,
            isolation::NETWORK_POLICY,
            &isolation::tenant_network_policy(&self.config, workload),
        )
        .await?;
        self.apply_namespaced::<ResourceQuota>(
            &namespace,
            isolation::RESOURCE_QUOTA,
            &isolation::tenant_quota(&self.config, workload),
        )
        .await?;
        self.apply_namespaced::<LimitRange>(
            &namespace,
            isolation::LIMIT_RANGE,
            &isolation::tenant_limit_range(&self.config, workload),
        )
        .await?;

        let object = objects::deployment(&self.config, workload, image_uri);
        self.apply_namespaced::<Deployment>(&namespace, &name, &object)
            .await?;
        let object = objects::service(&self.config, workload);
        self.apply_namespaced::<Service>(&namespace, &name, &object)
            .await?;
        let object = objects::ingress(&self.config, workload);
        self.apply_namespaced::<Ingress>(&namespace, &name, &object)
            .await?;
        Ok(())
    }

    async fn remove(&self, workload: &Workload) -> Result<(), ClusterError> {
        let namespace = workload.namespace();
        let name = workload.name();
        // The Ingress first, so that the host stops routing before its backend goes.
        self.delete_if_present::<Ingress>(&namespace, &name).await?;
        self.delete_if_present::<Service>(&namespace, &name).await?;
        self.delete_if_present::<Deployment>(&namespace, &name)
            .await
    }

    async fn rollout_state(
        &self,
        workload: &Workload,
        image_uri: &str,
    ) -> Result<RolloutState, ClusterError> {
        let Some(deployment) = self.get_deployment(workload).await? else {
            return Ok(RolloutState::Failed {
                cause: Cause::WorkloadLost,
                message: format!("the Deployment {} does not exist", workload.name()),
            });
        };
        // Done: no need to look at pods.
        if status::rollout_complete(&deployment, image_uri) {
            return Ok(RolloutState::Complete);
        }
        let pods = self.pods_of(&deployment).await?;
        Ok(status::rollout_state(&deployment, &pods, image_uri))
    }

    async fn facts(&self, workload: &Workload) -> Result<Option<Vec<ServiceFacts>>, ClusterError> {
        let Some(deployment) = self.get_deployment(workload).await? else {
            return Ok(None);
        };
        let namespace = workload.namespace();
        let pods = self.pods_of(&deployment).await?;
        // Warning events of the namespace, narrowed to this Deployment's objects by
        // `facts::service_facts` (a field selector takes one involvedObject name, not a set).
        let events: Api<Event> = self.namespaced(&namespace);
        let events = events
            .list(&ListParams::default().fields("type=Warning"))
            .await
            .map_err(|e| cluster_error(&format!("list Events of {namespace}"), e))?
            .items;
        let log_tail = match facts::crashed_container(&pods) {
            Some((pod, container)) => self.previous_log(&namespace, &pod, &container).await,
            None => Vec::new(),
        };
        Ok(Some(vec![facts::service_facts(
            &deployment,
            &pods,
            &events,
            log_tail,
        )]))
    }
}
