//! Reading build and rollout state out of Job, Deployment and Pod objects: pure functions over
//! what the API server returned.
//!
//! Failure messages are composed from platform fields only (conditions, waiting reasons, exit
//! codes). A container's termination message and logs are written by the app and never end up
//! here: they reach people only as untrusted diagnosis signals.

use axhub_domain::Cause;
use axhub_ports::cluster::{BuildState, RolloutState};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// Longest failure message, in characters (a condition message can quote a whole error chain).
const MESSAGE_MAX_CHARS: usize = 500;

pub(crate) fn bounded(text: &str) -> String {
    match text.char_indices().nth(MESSAGE_MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The state of a build from its Job.
/// The digest a build pod's kaniko reported in its termination message (`--digest-file`),
/// when it is one: anything else there (a truncated write, text) is no digest. The tenant's
/// Dockerfile runs in that container and could write the file too, but kaniko writes it after
/// its push, last; and the pipeline deploys a digest only once the registry holds it in the
/// tenant's own repository, so at worst a tenant points its app at another of its own images.
pub fn build_digest(pods: &[Pod]) -> Option<String> {
    pods.iter()
        .filter_map(|p| p.status.as_ref()?.container_statuses.as_ref())
        .flatten()
        .filter(|c| c.name == crate::objects::BUILD_CONTAINER)
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.message.as_deref())
        .map(str::trim)
        .find(|m| axhub_ports::registry::is_digest(m))
        .map(str::to_owned)
}

pub fn build_state(job: &Job) -> BuildState {
    let Some(status) = &job.status else {
        return BuildState::Running;
    };
    if status.succeeded.unwrap_or(0) >= 1 {
        return BuildState::Succeeded { digest: None };
    }
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let true_condition = |type_: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == "True")
    };
    if true_condition("Complete").is_some() {
        return BuildState::Succeeded { digest: None };
    }
    // FailureTarget is set as soon as the Job controller decides the Job failed (deadline,
    // backoff limit), Failed once its pods are gone: either one is final.
    if let Some(failed) = true_condition("Failed").or_else(|| true_condition("FailureTarget")) {
        let reason = failed.reason.as_deref().unwrap_or_default();
        let cause = if reason == "DeadlineExceeded" {
            Cause::BuildDeadlineExceeded
        } else {
            Cause::BuildFailed
        };
        let message = match (&failed.message, reason) {
            (Some(message), _) if !message.is_empty() => bounded(message),
            (_, "") => "the build failed".to_owned(),
            (_, reason) => format!("the build failed: {reason}"),
        };
        return BuildState::Failed { cause, message };
    }
    // With backoffLimit 0 one failed pod fails the Job, even before the condition shows up.
    if status.failed.unwrap_or(0) >= 1 {
        return BuildState::Failed {
            cause: Cause::BuildFailed,
            message: "the build pod failed".to_owned(),
        };
    }
    BuildState::Running
}

/// Whether the Deployment has fully rolled out `image`: the controller has seen the latest
/// spec, every replica runs the new template, all of them are available and no old one is left.
pub fn rollout_complete(deployment: &Deployment, image_uri: &str) -> bool {
    let (Some(spec), Some(status)) = (&deployment.spec, &deployment.status) else {
        return false;
    };
    let generation = deployment.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    let desired = spec.replicas.unwrap_or(1);
    let template_image = spec
        .template
        .spec
        .as_ref()
        .and_then(|pod| pod.containers.first())
        .and_then(|c| c.image.as_deref());
    observed >= generation
        && status.updated_replicas.unwrap_or(0) == desired
        && status.replicas.unwrap_or(0) == desired
        && status.available_replicas.unwrap_or(0) == desired
        && template_image == Some(image_uri)
}

/// The rollout state of `image_uri` from the Deployment and the pods it selects.
///
/// Early failures (pods of the current image crash-looping or unable to pull or configure
/// their container) are reported before the progress deadline, which would otherwise take
/// five minutes to say the same thing less precisely.
///
/// A Deployment whose template holds another image (a later apply superseded this one) is
/// never Complete for `image_uri`: it stays Progressing, and the caller's own deadline ends it.
pub fn rollout_state(deployment: &Deployment, pods: &[Pod], image_uri: &str) -> RolloutState {
    if rollout_complete(deployment, image_uri) {
        return RolloutState::Complete;
    }
    if let Some(failed) = early_failure(pods, image_uri) {
        return failed;
    }
    let deadline_exceeded = deployment
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|conditions| {
            conditions.iter().find(|c| {
                c.type_ == "Progressing"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
            })
        });
    if let Some(condition) = deadline_exceeded {
        return RolloutState::Failed {
            cause: Cause::ProgressDeadlineExceeded,
            message: bounded(
                condition
                    .message
                    .as_deref()
                    .unwrap_or("the rollout did not progress in time"),
            ),
        };
    }
    RolloutState::Progressing
}

/// Whether the pod runs `image_uri` (pods of older templates are being replaced and say
/// nothing about this rollout).
fn runs_image(pod: &Pod, image_uri: &str) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod.spec.as_ref().is_some_and(|spec| {
            spec.containers
                .iter()
                .any(|c| c.image.as_deref() == Some(image_uri))
        })
}

fn early_failure(pods: &[Pod], image_uri: &str) -> Option<RolloutState> {
    pods.iter()
        .filter(|pod| runs_image(pod, image_uri))
        .find_map(|pod| {
            let name = pod.metadata.name.as_deref().unwrap_or("?");
            let status = pod.status.as_ref()?;
            status
                .init_container_statuses
                .iter()
                .chain(status.container_statuses.iter())
                .flatten()
                .find_map(|container| container_failure(name, container))
        })
}

fn container_failure(pod: &str, container: &ContainerStatus) -> Option<RolloutState> {
    let waiting = container.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    let last_exit = container
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    let oom = last_exit.and_then(|t| t.reason.as_deref()) == Some("OOMKilled");
    let cause = match reason {
        "CrashLoopBackOff" if oom => Cause::OomKilled,
        "CrashLoopBackOff" => Cause::CrashLoop,
        "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" => Cause::ImagePullFailed,
        "CreateContainerConfigError" => Cause::ConfigInvalid,
        _ => return None,
    };
    let message = if reason == "CrashLoopBackOff" {
        // The kubelet's back-off message says nothing useful; the last exit does. Its reason
        // and code come from the container runtime, its message from the app: left out.
        match last_exit {
            Some(t) => format!(
                "container {} of pod {pod} keeps crashing: restarted {} times, last exit code {} ({})",
                container.name,
                container.restart_count,
                t.exit_code,
                t.reason.as_deref().unwrap_or("unknown reason"),
            ),
            None => format!(
                "container {} of pod {pod} keeps crashing: restarted {} times",
                container.name, container.restart_count
            ),
        }
    } else {
        // Pull and config errors are worded by the kubelet and the registry.
        match waiting.message.as_deref() {
            Some(detail) if !detail.is_empty() => bounded(&format!(
                "container {} of pod {pod}: {reason}: {detail}",
                container.name
            )),
            _ => format!("container {} of pod {pod}: {reason}", container.name),
        }
    };
    Some(RolloutState::Failed { cause, message })
}
