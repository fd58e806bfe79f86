//! Kubernetes objects → the neutral diagnosis facts of `axhub_domain::diagnosis`. Pure, so the
//! recorded fixtures under `tests/fixtures/` exercise them without a cluster.
//!
//! Everything is copied as the API server gave it, app-written text included (termination
//! messages, log lines): telling trusted from untrusted text and sanitizing the latter is the
//! classifier's job, which knows which `ServiceFacts` fields the app controls.

use axhub_domain::diagnosis::{ConditionFact, ContainerFact, EventFact, PodFact, ServiceFacts};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use k8s_openapi::jiff::Timestamp;

/// Most events kept per service (the newest ones).
pub const EVENTS_MAX: usize = 50;

pub fn service_facts(
    deployment: &Deployment,
    pods: &[Pod],
    events: &[Event],
    log_tail: Vec<String>,
) -> ServiceFacts {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let status = deployment.status.clone().unwrap_or_default();
    let pod_names: Vec<&str> = pods
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();

    let mut related: Vec<&Event> = events
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter(|e| event_concerns(&name, &pod_names, e))
        .collect();
    related.sort_by_key(|e| event_time(e));
    let skip = related.len().saturating_sub(EVENTS_MAX);

    ServiceFacts {
        desired_replicas: deployment
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1),
        ready_replicas: status.ready_replicas.unwrap_or(0),
        updated_replicas: status.updated_replicas.unwrap_or(0),
        available_replicas: status.available_replicas.unwrap_or(0),
        conditions: status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .map(|c| ConditionFact {
                type_: c.type_,
                status: c.status,
                reason: c.reason,
                message: c.message,
            })
            .collect(),
        pods: pods.iter().map(pod_fact).collect(),
        events: related.into_iter().skip(skip).map(event_fact).collect(),
        log_tail,
        name,
    }
}

pub fn pod_fact(pod: &Pod) -> PodFact {
    let status = pod.status.clone().unwrap_or_default();
    PodFact {
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase: status.phase.unwrap_or_else(|| "Unknown".to_owned()),
        conditions: status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .map(|c| ConditionFact {
                type_: c.type_,
                status: c.status,
                reason: c.reason,
                message: c.message,
            })
            .collect(),
        // Init containers first: they run first, and one stuck there blocks the app.
        containers: status
            .init_container_statuses
            .iter()
            .chain(status.container_statuses.iter())
            .flatten()
            .map(container_fact)
            .collect(),
    }
}

fn container_fact(container: &ContainerStatus) -> ContainerFact {
    let state = container.state.as_ref();
    let waiting = state.and_then(|s| s.waiting.as_ref());
    // The current termination if the container is down, else the previous one: a container
    // in CrashLoopBackOff is waiting, and why it died is in lastState.
    let terminated = state.and_then(|s| s.terminated.as_ref()).or_else(|| {
        container
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
    });
    ContainerFact {
        name: container.name.clone(),
        ready: container.ready,
        restart_count: container.restart_count,
        waiting_reason: waiting.and_then(|w| w.reason.clone()),
        waiting_message: waiting.and_then(|w| w.message.clone()),
        terminated_reason: terminated.and_then(|t| t.reason.clone()),
        exit_code: terminated.map(|t| t.exit_code),
        termination_message: terminated.and_then(|t| t.message.clone()),
    }
}

fn event_fact(event: &Event) -> EventFact {
    let object = &event.involved_object;
    EventFact {
        type_: event.type_.clone().unwrap_or_default(),
        reason: event.reason.clone().unwrap_or_default(),
        message: event.message.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            object.kind.as_deref().unwrap_or("Object"),
            object.name.as_deref().unwrap_or_default()
        ),
        // Events recorded through events.k8s.io keep their repeat count in `series`.
        count: event
            .count
            .or_else(|| event.series.as_ref().and_then(|s| s.count))
            .unwrap_or(1),
    }
}

/// When the event last happened, whichever of the fields the recorder filled.
fn event_time(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0)
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// Whether an event is about the Deployment, one of its ReplicaSets or one of its pods.
///
/// Names alone would confuse `web` with `web-staging` in the same namespace (`web-staging-…`
/// starts with `web-`), so generated names are matched by shape: a ReplicaSet is
/// `{deployment}-{template hash}`, a pod `{replicaset}-{suffix}`, neither part holding a dash.
/// Pods listed now match by name too; the shape also catches pods already replaced.
pub fn event_concerns(deployment: &str, pods: &[&str], event: &Event) -> bool {
    let object = &event.involved_object;
    let (Some(kind), Some(name)) = (object.kind.as_deref(), object.name.as_deref()) else {
        return false;
    };
    let generated = name
        .strip_prefix(deployment)
        .and_then(|rest| rest.strip_prefix('-'))
        .filter(|rest| !rest.is_empty());
    let segments = |rest: &str| rest.split('-').filter(|s| !s.is_empty()).count();
    match kind {
        "Deployment" => name == deployment,
        "ReplicaSet" => generated.is_some_and(|rest| !rest.contains('-') && segments(rest) == 1),
        "Pod" => {
            pods.contains(&name)
                || generated
                    .is_some_and(|rest| rest.matches('-').count() == 1 && segments(rest) == 2)
        }
        _ => false,
    }
}

/// The container whose previous run's log tail is worth reading: the first one that has
/// crashed (it restarted and its last run terminated), with its pod.
pub fn crashed_container(pods: &[Pod]) -> Option<(String, String)> {
    pods.iter().find_map(|pod| {
        let name = pod.metadata.name.clone()?;
        let status = pod.status.as_ref()?;
        status
            .init_container_statuses
            .iter()
            .chain(status.container_statuses.iter())
            .flatten()
            .find(|c| {
                c.restart_count > 0
                    && c.last_state
                        .as_ref()
                        .is_some_and(|s| s.terminated.is_some())
            })
            .map(|c| (name, c.name.clone()))
    })
}
