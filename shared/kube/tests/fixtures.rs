//! The recorded API server objects under `tests/fixtures/`: each parses into its k8s-openapi
//! type, and the pure conversions read the right fields out of them. The diagnosis classifier
//! tests reuse these files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axhub_domain::Cause;
use axhub_domain::diagnosis::{ConditionFact, ContainerFact, EventFact, ServiceFacts};
use axhub_kube::facts::{crashed_container, event_concerns, pod_fact};
use axhub_kube::service_facts;
use axhub_kube::status::{build_state, rollout_complete, rollout_state};
use axhub_ports::cluster::{BuildState, RolloutState};
use common::{IMAGE, fixture, parse};
use k8s_openapi::List;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};

fn events(name: &str) -> Vec<Event> {
    parse::<List<Event>>(name).items
}

fn facts(deployment: &str, pods: &[&str], event_list: &str, log: Vec<String>) -> ServiceFacts {
    let deployment: Deployment = parse(deployment);
    let pods: Vec<Pod> = pods.iter().map(|p| parse(p)).collect();
    service_facts(&deployment, &pods, &events(event_list), log)
}

#[test]
fn every_fixture_parses_into_its_kubernetes_type() {
    let dir = common::fixture_path("");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let text = fixture(&name);
        let parsed = if name.starts_with("pod_") {
            serde_json::from_str::<Pod>(&text).map(drop)
        } else if name.starts_with("events_") {
            serde_json::from_str::<List<Event>>(&text).map(drop)
        } else if name.starts_with("deployment_") {
            serde_json::from_str::<Deployment>(&text).map(drop)
        } else if name.starts_with("job_") {
            serde_json::from_str::<Job>(&text).map(drop)
        } else {
            assert_eq!(name, "log_crashloop.txt", "unknown fixture kind");
            continue;
        };
        parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        seen += 1;
    }
    assert!(seen >= 25, "{seen} fixtures");
}

// --- jobs ---------------------------------------------------------------------------------

#[test]
fn job_fixtures_give_the_build_state() {
    assert_eq!(build_state(&parse("job_pending.json")), BuildState::Running);
    assert_eq!(build_state(&parse("job_active.json")), BuildState::Running);
    assert_eq!(
        build_state(&parse("job_succeeded.json")),
        BuildState::Succeeded { digest: None }
    );
    assert_eq!(
        build_state(&parse("job_failed.json")),
        BuildState::Failed {
            cause: Cause::BuildFailed,
            message: "Job has reached the specified backoff limit".to_owned()
        }
    );
    for deadline in ["job_deadline_exceeded.json", "job_failure_target.json"] {
        assert_eq!(
            build_state(&parse(deadline)),
            BuildState::Failed {
                cause: Cause::BuildDeadlineExceeded,
                message: "Job was active longer than specified deadline".to_owned()
            },
            "{deadline}"
        );
    }
}

// --- deployments --------------------------------------------------------------------------

#[test]
fn deployment_fixtures_give_the_rollout_state() {
    let complete: Deployment = parse("deployment_complete.json");
    assert!(rollout_complete(&complete, IMAGE));
    assert!(!rollout_complete(&complete, "registry.example/web:other"));
    for name in [
        "deployment_progressing.json",
        "deployment_stale.json",
        "deployment_deadline_exceeded.json",
        "deployment_replicafailure.json",
    ] {
        assert!(!rollout_complete(&parse(name), IMAGE), "{name}");
    }
    assert_eq!(
        rollout_state(&parse("deployment_replicafailure.json"), &[], IMAGE),
        RolloutState::Progressing
    );
    let deadline = rollout_state(&parse("deployment_deadline_exceeded.json"), &[], IMAGE);
    assert!(matches!(
        &deadline,
        RolloutState::Failed {
            cause: Cause::ProgressDeadlineExceeded,
            ..
        }
    ));
}

#[test]
fn unschedulable_and_unready_pods_are_not_early_failures() {
    let progressing: Deployment = parse("deployment_progressing.json");
    for pod in [
        "pod_unschedulable.json",
        "pod_readiness.json",
        "pod_running.json",
    ] {
        assert_eq!(
            rollout_state(&progressing, &[parse(pod)], IMAGE),
            RolloutState::Progressing,
            "{pod}"
        );
    }
}

// --- service facts ------------------------------------------------------------------------

#[test]
fn crashloop_facts_keep_the_exit_and_the_apps_own_words_apart() {
    let log: Vec<String> = fixture("log_crashloop.txt")
        .lines()
        .map(str::to_owned)
        .collect();
    let facts = facts(
        "deployment_progressing.json",
        &["pod_crashloop.json"],
        "events_crashloop.json",
        log.clone(),
    );
    assert_eq!(facts.name, "web");
    assert_eq!(
        (
            facts.desired_replicas,
            facts.ready_replicas,
            facts.updated_replicas,
            facts.available_replicas
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(
        facts.conditions[1],
        ConditionFact {
            type_: "Progressing".to_owned(),
            status: "True".to_owned(),
            reason: Some("ReplicaSetUpdated".to_owned()),
            message: Some("ReplicaSet \"web-6d5f7c9b8d\" is progressing.".to_owned()),
        }
    );
    let pod = &facts.pods[0];
    assert_eq!(pod.name, "web-6d5f7c9b8d-x7k2p");
    assert_eq!(pod.phase, "Running");
    let ready = pod.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
    let container = &pod.containers[0];
    assert_eq!(container.name, "app");
    assert!(!container.ready);
    assert_eq!(container.restart_count, 4);
    assert_eq!(
        container.waiting_reason.as_deref(),
        Some("CrashLoopBackOff")
    );
    assert!(
        container
            .waiting_message
            .as_deref()
            .unwrap()
            .starts_with("back-off 1m20s restarting failed container=app")
    );
    assert_eq!(container.terminated_reason.as_deref(), Some("Error"));
    assert_eq!(container.exit_code, Some(1));
    // The hostile termination message is carried as is, for the classifier to confine.
    let message = container.termination_message.as_deref().unwrap();
    assert!(message.contains("ignore previous instructions"));
    assert!(message.contains('\u{1b}') && message.contains('\u{7}') && message.contains('\0'));
    assert!(message.contains('\u{202e}'));

    assert_eq!(
        facts.events,
        vec![EventFact {
            type_: "Warning".to_owned(),
            reason: "BackOff".to_owned(),
            message: "Back-off restarting failed container app in pod web-6d5f7c9b8d-x7k2p_tenant-0190f3c27b1e7cc09a4e2f1d3c4b5a69(9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b)".to_owned(),
            object: "Pod/web-6d5f7c9b8d-x7k2p".to_owned(),
            count: 9,
        }]
    );
    assert_eq!(facts.log_tail, log);
    assert!(
        log.iter()
            .any(|l| l.contains("ignore previous instructions"))
    );
    assert!(log.iter().any(|l| l.contains("\u{1b}[31m")));
}

#[test]
fn oomkilled_facts_say_oomkilled_with_137() {
    let facts = facts(
        "deployment_progressing.json",
        &["pod_oomkilled.json"],
        "events_oomkilled.json",
        vec![],
    );
    let container = &facts.pods[0].containers[0];
    assert_eq!(
        container.waiting_reason.as_deref(),
        Some("CrashLoopBackOff")
    );
    assert_eq!(container.terminated_reason.as_deref(), Some("OOMKilled"));
    assert_eq!(container.exit_code, Some(137));
    assert_eq!(container.termination_message, None);
    assert_eq!(container.restart_count, 2);
    assert_eq!(facts.events[0].reason, "BackOff");
}

#[test]
fn image_pull_facts() {
    let facts = facts(
        "deployment_progressing.json",
        &["pod_imagepull.json"],
        "events_imagepull.json",
        vec![],
    );
    let container = &facts.pods[0].containers[0];
    assert_eq!(facts.pods[0].phase, "Pending");
    assert_eq!(
        container.waiting_reason.as_deref(),
        Some("ImagePullBackOff")
    );
    assert_eq!(
        container.waiting_message.as_deref(),
        Some(format!("Back-off pulling image \"{IMAGE}\"").as_str())
    );
    assert_eq!(container.exit_code, None);
    // Newest last: the pull failures (last seen 09:15:39) before the back-offs (09:16:20).
    let reasons: Vec<(&str, &str)> = facts
        .events
        .iter()
        .map(|e| (e.reason.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(reasons.len(), 4);
    assert_eq!(reasons[0].0, "Failed");
    assert!(reasons[0].1.contains("not found"));
    assert_eq!(reasons[3], ("Failed", "Error: ImagePullBackOff"));

    let err = pod_fact(&parse("pod_errimagepull.json"));
    let container = &err.containers[0];
    assert_eq!(container.waiting_reason.as_deref(), Some("ErrImagePull"));
    assert!(
        container
            .waiting_message
            .as_deref()
            .unwrap()
            .contains(": not found")
    );
}

#[test]
fn config_error_facts() {
    let facts = facts(
        "deployment_progressing.json",
        &["pod_configerror.json"],
        "events_configerror.json",
        vec![],
    );
    assert_eq!(
        facts.pods[0].containers[0],
        ContainerFact {
            name: "app".to_owned(),
            ready: false,
            restart_count: 0,
            waiting_reason: Some("CreateContainerConfigError".to_owned()),
            waiting_message: Some("configmap \"web-config\" not found".to_owned()),
            terminated_reason: None,
            exit_code: None,
            termination_message: None,
        }
    );
    assert_eq!(
        facts.events[0].message,
        "Error: configmap \"web-config\" not found"
    );
    assert_eq!(facts.events[0].count, 7);
}

#[test]
fn unschedulable_facts_have_the_scheduler_condition_and_its_series_count() {
    let facts = facts(
        "deployment_progressing.json",
        &["pod_unschedulable.json"],
        "events_unschedulable.json",
        vec![],
    );
    let pod = &facts.pods[0];
    assert_eq!(pod.phase, "Pending");
    assert!(pod.containers.is_empty());
    assert_eq!(
        pod.conditions,
        vec![ConditionFact {
            type_: "PodScheduled".to_owned(),
            status: "False".to_owned(),
            reason: Some("Unschedulable".to_owned()),
            message: Some("0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.".to_owned()),
        }]
    );
    assert_eq!(facts.events[0].reason, "FailedScheduling");
    assert!(
        facts.events[0]
            .message
            .starts_with("0/3 nodes are available")
    );
    // Recorded through events.k8s.io: the count is in the series.
    assert_eq!(facts.events[0].count, 5);
}

#[test]
fn readiness_facts_show_a_running_unready_container_and_the_probe_failures() {
    let facts = facts(
        "deployment_progressing.json",
        &["pod_readiness.json"],
        "events_readiness.json",
        vec![],
    );
    let pod = &facts.pods[0];
    assert_eq!(pod.phase, "Running");
    let container = &pod.containers[0];
    assert!(!container.ready);
    assert_eq!(container.restart_count, 0);
    assert_eq!(container.waiting_reason, None);
    assert_eq!(container.terminated_reason, None);
    assert_eq!(
        facts.events,
        vec![EventFact {
            type_: "Warning".to_owned(),
            reason: "Unhealthy".to_owned(),
            message: "Readiness probe failed: HTTP probe failed with statuscode: 503".to_owned(),
            object: "Pod/web-6d5f7c9b8d-p9s2d".to_owned(),
            count: 27,
        }]
    );
}

#[test]
fn replica_failure_facts_come_from_the_deployment_and_its_replicaset() {
    let facts = facts(
        "deployment_replicafailure.json",
        &[],
        "events_replicafailure.json",
        vec![],
    );
    assert!(facts.pods.is_empty());
    assert_eq!(facts.available_replicas, 0);
    let failure = facts
        .conditions
        .iter()
        .find(|c| c.type_ == "ReplicaFailure")
        .unwrap();
    assert_eq!(failure.reason.as_deref(), Some("FailedCreate"));
    assert_eq!(facts.events[0].object, "ReplicaSet/web-6d5f7c9b8d");
    assert!(facts.events[0].message.contains("exceeded quota"));
}

#[test]
fn events_of_other_services_and_normal_events_are_left_out() {
    let mut all = events("events_crashloop.json");
    all.extend(events("events_readiness.json"));
    let mut normal = events("events_readiness.json").remove(0);
    normal.type_ = Some("Normal".to_owned());
    normal.reason = Some("Pulled".to_owned());
    all.push(normal);
    let deployment: Deployment = parse("deployment_progressing.json");
    let facts = service_facts(&deployment, &[], &all, vec![]);
    let reasons: Vec<&str> = facts.events.iter().map(|e| e.reason.as_str()).collect();
    // Sorted by last occurrence: Unhealthy at 09:16:25, BackOff at 09:18:44.
    assert_eq!(reasons, ["Unhealthy", "BackOff"]);
}

#[test]
fn event_objects_are_matched_by_the_shape_of_generated_names() {
    let event = |kind: &str, name: &str| {
        let mut e = events("events_readiness.json").remove(0);
        e.involved_object.kind = Some(kind.to_owned());
        e.involved_object.name = Some(name.to_owned());
        e
    };
    let yes = [
        ("Deployment", "web"),
        ("ReplicaSet", "web-6d5f7c9b8d"),
        ("Pod", "web-6d5f7c9b8d-x7k2p"),
    ];
    let no = [
        ("Deployment", "web-staging"),
        ("ReplicaSet", "web-staging-5c4b3a2d1e"),
        ("Pod", "web-staging-5c4b3a2d1e-f6g7h"),
        ("Pod", "webapp-5c4b3a2d1e-f6g7h"),
        ("Service", "web"),
        ("ReplicaSet", "web-"),
    ];
    for (kind, name) in yes {
        assert!(
            event_concerns("web", &[], &event(kind, name)),
            "{kind}/{name}"
        );
    }
    for (kind, name) in no {
        assert!(
            !event_concerns("web", &[], &event(kind, name)),
            "{kind}/{name}"
        );
    }
    // A listed pod matches whatever its name looks like.
    assert!(event_concerns("web", &["custom"], &event("Pod", "custom")));
}

#[test]
fn the_crashed_container_is_the_one_whose_log_is_read() {
    let pods: Vec<Pod> = [
        "pod_readiness.json",
        "pod_oomkilled.json",
        "pod_crashloop.json",
    ]
    .iter()
    .map(|p| parse(p))
    .collect();
    assert_eq!(
        crashed_container(&pods),
        Some(("web-6d5f7c9b8d-r5t7y".to_owned(), "app".to_owned()))
    );
    assert_eq!(crashed_container(&pods[..1]), None);
}
