//! The diagnosis classifier on recorded Kubernetes objects: each failure class gets its code,
//! category and an actionable message from platform facts, while what the app printed stays
//! in untrusted, sanitized, bounded signals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axhub_domain::diagnosis::{Diagnosis, SIGNAL_MAX_CHARS, diagnose};
use axhub_kube::service_facts;
use common::{fixture, parse};
use k8s_openapi::List;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Pod};

fn diagnosis(deployment: &str, pod: Option<&str>, events: &str, log: Vec<String>) -> Diagnosis {
    let deployment: Deployment = parse(deployment);
    let pods: Vec<Pod> = pod.map(|p| vec![parse(p)]).unwrap_or_default();
    let events = parse::<List<Event>>(events).items;
    let facts = service_facts(&deployment, &pods, &events, log);
    diagnose("app-1", true, Some(vec![facts]))
}

fn reason(d: &Diagnosis) -> (String, String, String, String) {
    let r = d.services[0].reason.clone().expect("a reason");
    (r.stage, r.code, r.category, r.message)
}

#[test]
fn each_failure_class_has_its_code_and_category() {
    let cases = [
        (
            "pod_crashloop.json",
            "events_crashloop.json",
            "runtime.crash_loop",
            "app",
        ),
        (
            "pod_imagepull.json",
            "events_imagepull.json",
            "image.pull_failed",
            "image",
        ),
        (
            "pod_errimagepull.json",
            "events_imagepull.json",
            "image.pull_failed",
            "image",
        ),
        (
            "pod_oomkilled.json",
            "events_oomkilled.json",
            "runtime.oom_killed",
            "app",
        ),
        (
            "pod_configerror.json",
            "events_configerror.json",
            "config.invalid",
            "config",
        ),
        (
            "pod_unschedulable.json",
            "events_unschedulable.json",
            "capacity.unschedulable",
            "capacity",
        ),
        (
            "pod_readiness.json",
            "events_readiness.json",
            "runtime.readiness_failed",
            "app",
        ),
    ];
    for (pod, events, code, category) in cases {
        let d = diagnosis("deployment_progressing.json", Some(pod), events, vec![]);
        assert!(d.applicable && !d.healthy, "{pod}");
        let (_, c, cat, message) = reason(&d);
        assert_eq!(
            (c.as_str(), cat.as_str()),
            (code, category),
            "{pod}: {message}"
        );
        assert!(
            message.len() > 20,
            "{pod}: a message a person can act on: {message}"
        );
    }
}

#[test]
fn a_rollout_past_its_deadline_is_named() {
    let d = diagnosis(
        "deployment_deadline_exceeded.json",
        None,
        "events_replicafailure.json",
        vec![],
    );
    let (stage, code, category, message) = reason(&d);
    assert_eq!(
        (stage.as_str(), code.as_str(), category.as_str()),
        ("deploying", "deploy.progress_deadline_exceeded", "platform")
    );
    assert!(message.contains("deadline"), "{message}");
}

#[test]
fn specific_messages_carry_the_platform_detail() {
    let d = diagnosis(
        "deployment_progressing.json",
        Some("pod_unschedulable.json"),
        "events_unschedulable.json",
        vec![],
    );
    assert!(
        reason(&d).3.contains("Insufficient") || reason(&d).3.contains("insufficient"),
        "{}",
        reason(&d).3
    );
    let d = diagnosis(
        "deployment_progressing.json",
        Some("pod_oomkilled.json"),
        "events_oomkilled.json",
        vec![],
    );
    assert!(reason(&d).3.contains("137"), "{}", reason(&d).3);
    let d = diagnosis(
        "deployment_progressing.json",
        Some("pod_readiness.json"),
        "events_readiness.json",
        vec![],
    );
    assert!(
        reason(&d).3.contains("Readiness probe failed"),
        "{}",
        reason(&d).3
    );
}

#[test]
fn a_complete_rollout_is_healthy() {
    let d = diagnosis(
        "deployment_complete.json",
        Some("pod_running.json"),
        "events_readiness.json",
        vec![],
    );
    assert!(d.healthy, "{d:?}");
    assert!(d.services[0].reason.is_none());
}

#[test]
fn hostile_app_output_appears_only_in_signals_sanitized_and_bounded() {
    let log: Vec<String> = fixture("log_crashloop.txt")
        .lines()
        .map(str::to_owned)
        .collect();
    let mut long = log.clone();
    long.push("x".repeat(10_000));
    let d = diagnosis(
        "deployment_progressing.json",
        Some("pod_crashloop.json"),
        "events_crashloop.json",
        long,
    );
    let svc = &d.services[0];
    let reason = serde_json::to_string(&svc.reason).unwrap().to_lowercase();
    for hostile in ["ignore", "instruction", "\u{1b}", "\u{202e}", "kubectl"] {
        assert!(
            !reason.contains(hostile),
            "reason carries app output ({hostile}): {reason}"
        );
    }
    assert!(!svc.signals.is_empty());
    for s in &svc.signals {
        assert!(s.untrusted);
        assert!(
            !s.text
                .chars()
                .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "{:?}",
            s.text
        );
        assert!(s.text.chars().count() <= SIGNAL_MAX_CHARS);
    }
    assert!(svc.signals.iter().any(|s| s.kind == "termination_message"));
    assert!(svc.signals.iter().any(|s| s.truncated));
    let all: String = svc.signals.iter().map(|s| s.text.to_lowercase()).collect();
    assert!(
        all.contains("ignore"),
        "the app's words are kept, as signals"
    );
    assert!(d.warnings.iter().any(|w| w.contains("untrusted")));
}
