//! `KubeCluster` against a scripted API server: the exact requests it sends, and what it makes
//! of recorded answers. Builds in `builds.rs`, workloads, rollouts and facts here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod builds;
#[path = "../common/mod.rs"]
mod common;

use axhub_domain::Cause;
use axhub_kube::{KubeCluster, KubeClusterConfig};
use axhub_ports::cluster::{Cluster, ClusterError, RolloutState};
use common::*;
use serde_json::{Value, json};

pub(crate) fn config() -> KubeClusterConfig {
    KubeClusterConfig {
        registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/axhub".to_owned(),
        ingress_class: "alb".to_owned(),
        ..KubeClusterConfig::default()
    }
}

pub(crate) fn new_cluster() -> (KubeCluster, Handle) {
    let (client, handle) = mock_client();
    (KubeCluster::new(client, config()), handle)
}

fn deployment_path(name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}")
}

pub(crate) fn assert_apply(seen: &Seen, path: &str) {
    assert_eq!(seen.method, "PATCH", "{path}");
    assert_eq!(seen.path, path);
    assert_eq!(seen.query("fieldManager"), Some("axhub-deploy"), "{path}");
    assert_eq!(seen.query("force"), Some("true"), "{path}");
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/apply-patch+yaml"),
        "{path}"
    );
}

// --- remove -------------------------------------------------------------------------------

#[tokio::test]
async fn remove_deletes_ingress_service_and_deployment_and_ignores_missing_ones() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        // The Ingress is there; the Service and the Deployment are already gone.
        seen.push(answer(&mut handle, 200, "{}").await);
        for _ in 0..2 {
            seen.push(answer(&mut handle, 404, &status(404, "NotFound", "not found")).await);
        }
        assert_no_more_requests(&mut handle).await;
        seen
    });
    cluster.remove(&workload()).await.unwrap();
    let seen = server.await.unwrap();
    let paths: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    let ingress = format!("/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses/web");
    let service = format!("/api/v1/namespaces/{NAMESPACE}/services/web");
    assert_eq!(
        paths,
        vec![
            ("DELETE", ingress.as_str()),
            ("DELETE", service.as_str()),
            ("DELETE", deployment_path("web").as_str()),
        ]
    );
    for s in &seen {
        assert_eq!(s.json()["propagationPolicy"], "Foreground");
    }
}

#[tokio::test]
async fn remove_reports_a_refusal() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        answer(
            &mut handle,
            403,
            &status(403, "Forbidden", "ingresses is forbidden"),
        )
        .await
    });
    let result = cluster.remove(&workload()).await;
    server.await.unwrap();
    assert!(
        matches!(result, Err(ClusterError::Refused(_))),
        "{result:?}"
    );
}

// --- apply --------------------------------------------------------------------------------

#[tokio::test]
async fn apply_server_side_applies_namespace_isolation_deployment_service_and_ingress() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push(answer(&mut handle, 200, "{}").await);
        }
        assert_no_more_requests(&mut handle).await;
        seen
    });
    cluster.apply(&workload(), IMAGE).await.unwrap();
    let seen = server.await.unwrap();

    assert_apply(&seen[0], &format!("/api/v1/namespaces/{NAMESPACE}"));
    let namespace = seen[0].json();
    assert_eq!(namespace["kind"], "Namespace");
    assert_eq!(namespace["metadata"]["name"], NAMESPACE);
    assert_eq!(
        namespace["metadata"]["labels"]["axhub.ai/tenant"],
        "0190f3c27b1e7cc09a4e2f1d3c4b5a69"
    );

    // The isolation objects, before anything that runs (asserted whole below).
    assert_apply(
        &seen[1],
        &format!(
            "/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies/axhub-default-deny"
        ),
    );
    assert_eq!(seen[1].json(), tenant_network_policy());
    assert_apply(
        &seen[2],
        &format!("/api/v1/namespaces/{NAMESPACE}/resourcequotas/axhub-quota"),
    );
    assert_eq!(seen[2].json(), tenant_quota());
    assert_apply(
        &seen[3],
        &format!("/api/v1/namespaces/{NAMESPACE}/limitranges/axhub-limits"),
    );
    assert_eq!(seen[3].json(), tenant_limit_range());

    assert_apply(&seen[4], &deployment_path("web"));
    let deployment = seen[4].json();
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(deployment["metadata"]["name"], "web");
    assert_eq!(deployment["metadata"]["namespace"], NAMESPACE);
    let labels = &deployment["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/name"], "web");
    assert_eq!(labels["axhub.ai/app"], "0190f3c31a2b7c3d8e4f5a6b7c8d9e0f");
    assert_eq!(labels["axhub.ai/environment"], "production");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["progressDeadlineSeconds"], 300);
    assert_eq!(
        spec["selector"]["matchLabels"],
        json!({"app.kubernetes.io/name": "web", "axhub.ai/environment": "production"})
    );
    let template_labels = &spec["template"]["metadata"]["labels"];
    assert_eq!(template_labels["app.kubernetes.io/name"], "web");
    assert_eq!(
        template_labels["axhub.ai/app"],
        "0190f3c31a2b7c3d8e4f5a6b7c8d9e0f"
    );
    let container = &spec["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], IMAGE);
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(
        container["readinessProbe"]["httpGet"],
        json!({"path": "/", "port": 8080})
    );
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}})
    );
    assert_eq!(
        spec["template"]["spec"]["automountServiceAccountToken"],
        false
    );

    assert_apply(
        &seen[5],
        &format!("/api/v1/namespaces/{NAMESPACE}/services/web"),
    );
    let service = seen[5].json();
    assert_eq!(service["kind"], "Service");
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}])
    );
    assert_eq!(
        service["spec"]["selector"],
        json!({"app.kubernetes.io/name": "web", "axhub.ai/environment": "production"})
    );

    assert_apply(
        &seen[6],
        &format!("/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses/web"),
    );
    let ingress = seen[6].json();
    assert_eq!(ingress["kind"], "Ingress");
    assert_eq!(ingress["spec"]["ingressClassName"], "alb");
    assert_eq!(
        ingress["spec"]["rules"],
        json!([{"host": "web.acme.axhub.ai", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}},
        }]}}])
    );
}

fn tenant_labels() -> Value {
    json!({
        "app.kubernetes.io/managed-by": "axhub-deploy",
        "axhub.ai/tenant": "0190f3c27b1e7cc09a4e2f1d3c4b5a69",
    })
}

fn tenant_network_policy() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "axhub-default-deny", "namespace": NAMESPACE, "labels": tenant_labels()},
        "spec": {
            // Every pod of the namespace: whatever runs there is tenant code.
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
                "ports": [{"protocol": "TCP", "port": 8080}],
            }],
            "egress": [{}],
        },
    })
}

fn tenant_quota() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "axhub-quota", "namespace": NAMESPACE, "labels": tenant_labels()},
        "spec": {"hard": {
            "pods": "20",
            "requests.cpu": "2",
            "requests.memory": "5Gi",
            "limits.memory": "10Gi",
        }},
    })
}

fn tenant_limit_range() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "axhub-limits", "namespace": NAMESPACE, "labels": tenant_labels()},
        "spec": {"limits": [{
            "type": "Container",
            "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
            "default": {"memory": "512Mi"},
        }]},
    })
}

#[tokio::test]
async fn the_isolation_objects_follow_the_config() {
    let (client, mut handle) = mock_client();
    let cluster = KubeCluster::new(
        client,
        KubeClusterConfig {
            ingress_namespace: "kong".to_owned(),
            container_port: 3000,
            tenant_quota: axhub_kube::TenantQuota {
                pods: "4".to_owned(),
                cpu_requests: "500m".to_owned(),
                memory_requests: "1Gi".to_owned(),
                memory_limits: "2Gi".to_owned(),
            },
            container_defaults: axhub_kube::Resources {
                cpu_request: "50m".to_owned(),
                memory_request: "64Mi".to_owned(),
                memory_limit: "128Mi".to_owned(),
            },
            ..config()
        },
    );
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push(answer(&mut handle, 200, "{}").await);
        }
        assert_no_more_requests(&mut handle).await;
        seen
    });
    cluster.apply(&workload(), IMAGE).await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!(
        seen[1].json()["spec"]["ingress"],
        json!([{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kong"}}}],
            "ports": [{"protocol": "TCP", "port": 3000}],
        }])
    );
    assert_eq!(
        seen[2].json()["spec"],
        json!({"hard": {"pods": "4", "requests.cpu": "500m", "requests.memory": "1Gi", "limits.memory": "2Gi"}})
    );
    assert_eq!(
        seen[3].json()["spec"],
        json!({"limits": [{
            "type": "Container",
            "defaultRequest": {"cpu": "50m", "memory": "64Mi"},
            "default": {"memory": "128Mi"},
        }]})
    );
}

#[tokio::test]
async fn apply_names_the_staging_set_apart() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push(answer(&mut handle, 200, "{}").await);
        }
        seen
    });
    let mut staging = workload();
    staging.environment = axhub_domain::Environment::Staging;
    staging.host = "web-staging.acme.axhub.ai".to_owned();
    cluster.apply(&staging, IMAGE).await.unwrap();
    let seen = server.await.unwrap();
    // Staging shares the tenant namespace and its isolation objects.
    assert_eq!(seen[1].json(), tenant_network_policy());
    assert_eq!(seen[4].path, deployment_path("web-staging"));
    assert_eq!(
        seen[4].json()["spec"]["selector"]["matchLabels"],
        json!({"app.kubernetes.io/name": "web-staging", "axhub.ai/environment": "staging"})
    );
    assert_eq!(
        seen[6].json()["spec"]["rules"][0]["host"],
        "web-staging.acme.axhub.ai"
    );
}

#[tokio::test]
async fn apply_stops_at_the_first_refusal() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        // Namespace, NetworkPolicy, ResourceQuota, LimitRange.
        for _ in 0..4 {
            answer(&mut handle, 200, "{}").await;
        }
        answer(
            &mut handle,
            422,
            &status(422, "Invalid", "Deployment.apps \"web\" is invalid"),
        )
        .await;
        assert_no_more_requests(&mut handle).await;
    });
    let result = cluster.apply(&workload(), IMAGE).await;
    server.await.unwrap();
    assert!(
        matches!(&result, Err(ClusterError::Refused(m)) if m.contains("Deployment web") && m.contains("422")),
        "{result:?}"
    );
}

#[tokio::test]
async fn apply_runs_nothing_when_an_isolation_object_is_refused() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        answer(&mut handle, 200, "{}").await;
        answer(&mut handle, 200, "{}").await;
        answer(
            &mut handle,
            403,
            &status(403, "Forbidden", "resourcequotas is forbidden"),
        )
        .await;
        // No Deployment: its pods would run outside the quota.
        assert_no_more_requests(&mut handle).await;
    });
    let result = cluster.apply(&workload(), IMAGE).await;
    server.await.unwrap();
    assert!(
        matches!(&result, Err(ClusterError::Refused(m)) if m.contains("ResourceQuota axhub-quota")),
        "{result:?}"
    );
}

// --- rollout ------------------------------------------------------------------------------

fn pods_path() -> String {
    format!("/api/v1/namespaces/{NAMESPACE}/pods")
}

async fn rollout_answering(deployment: &str, pods: &[&str]) -> RolloutState {
    let (cluster, mut handle) = new_cluster();
    let deployment = fixture(deployment);
    let pods = list(
        "PodList",
        "v1",
        pods.iter().map(|name| fixture_json(name)).collect(),
    );
    let server = tokio::spawn(async move {
        let get = answer(&mut handle, 200, &deployment).await;
        assert_eq!(
            (get.method.as_str(), get.path.as_str()),
            ("GET", deployment_path("web").as_str())
        );
        // A complete rollout needs no pods; anything else looks at them.
        if let Some(seen) = answer_if_asked(&mut handle, 200, &pods).await {
            assert_eq!(
                (seen.method.as_str(), seen.path.as_str()),
                ("GET", pods_path().as_str())
            );
            assert_eq!(
                seen.query("labelSelector"),
                Some("app.kubernetes.io/name=web,axhub.ai/environment=production")
            );
        }
    });
    let state = cluster.rollout_state(&workload(), IMAGE).await.unwrap();
    server.await.unwrap();
    state
}

fn failed_code(state: &RolloutState) -> &str {
    match state {
        RolloutState::Failed { cause, .. } => cause.code(),
        other => panic!("not failed: {other:?}"),
    }
}

#[tokio::test]
async fn rollout_completes_when_every_replica_runs_the_new_image() {
    assert_eq!(
        rollout_answering("deployment_complete.json", &[]).await,
        RolloutState::Complete
    );
}

#[tokio::test]
async fn rollout_progresses_while_replicas_are_coming_up() {
    assert_eq!(
        rollout_answering("deployment_progressing.json", &["pod_readiness.json"]).await,
        RolloutState::Progressing
    );
    assert_eq!(
        rollout_answering("deployment_progressing.json", &["pod_unschedulable.json"]).await,
        RolloutState::Progressing
    );
    // The controller has not seen the new spec yet: the old complete status says nothing.
    assert_eq!(
        rollout_answering("deployment_stale.json", &[]).await,
        RolloutState::Progressing
    );
}

#[tokio::test]
async fn rollout_fails_early_on_pods_that_cannot_run() {
    let crash = rollout_answering("deployment_progressing.json", &["pod_crashloop.json"]).await;
    assert_eq!(failed_code(&crash), "runtime.crash_loop");
    let RolloutState::Failed { message, .. } = &crash else {
        unreachable!()
    };
    assert!(message.contains("restarted 4 times"), "{message}");
    assert!(message.contains("last exit code 1"), "{message}");
    // The app's termination message stays out of the platform's reason.
    assert!(!message.contains("ignore previous"), "{message}");
    assert!(!message.contains('\u{1b}'), "{message}");

    let oom = rollout_answering("deployment_progressing.json", &["pod_oomkilled.json"]).await;
    // The same code diagnosis gives the same pod.
    assert_eq!(failed_code(&oom), "runtime.oom_killed");
    assert!(format!("{oom:?}").contains("OOMKilled"));

    for pod in ["pod_imagepull.json", "pod_errimagepull.json"] {
        let state = rollout_answering("deployment_progressing.json", &[pod]).await;
        assert_eq!(failed_code(&state), "image.pull_failed", "{pod}");
    }
    let config = rollout_answering("deployment_progressing.json", &["pod_configerror.json"]).await;
    assert_eq!(failed_code(&config), "config.invalid");
    assert!(format!("{config:?}").contains("configmap \\\"web-config\\\" not found"));
}

#[tokio::test]
async fn rollout_ignores_failing_pods_of_another_image() {
    let mut old = fixture_json("pod_crashloop.json");
    old["spec"]["containers"][0]["image"] = json!("registry.example/web:old");
    let (cluster, mut handle) = new_cluster();
    let deployment = fixture("deployment_progressing.json");
    let pods = list("PodList", "v1", vec![old]);
    let server = tokio::spawn(async move {
        answer(&mut handle, 200, &deployment).await;
        answer(&mut handle, 200, &pods).await;
    });
    let state = cluster.rollout_state(&workload(), IMAGE).await.unwrap();
    server.await.unwrap();
    assert_eq!(state, RolloutState::Progressing);
}

#[tokio::test]
async fn rollout_fails_past_the_progress_deadline() {
    let state =
        rollout_answering("deployment_deadline_exceeded.json", &["pod_readiness.json"]).await;
    assert_eq!(
        state,
        RolloutState::Failed {
            cause: Cause::ProgressDeadlineExceeded,
            message: "ReplicaSet \"web-6d5f7c9b8d\" has timed out progressing.".to_owned(),
        }
    );
    // A more precise cause wins over the deadline.
    let state =
        rollout_answering("deployment_deadline_exceeded.json", &["pod_crashloop.json"]).await;
    assert_eq!(failed_code(&state), "runtime.crash_loop");
}

#[tokio::test]
async fn rollout_of_another_image_is_not_complete() {
    let (cluster, mut handle) = new_cluster();
    let deployment = fixture("deployment_complete.json");
    let server = tokio::spawn(async move {
        answer(&mut handle, 200, &deployment).await;
        answer(&mut handle, 200, &list("PodList", "v1", vec![])).await;
    });
    let state = cluster
        .rollout_state(&workload(), "registry.example/web:newer")
        .await
        .unwrap();
    server.await.unwrap();
    assert_eq!(state, RolloutState::Progressing);
}

#[tokio::test]
async fn rollout_of_a_missing_deployment_fails() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        answer(
            &mut handle,
            404,
            &status(404, "NotFound", "deployments.apps \"web\" not found"),
        )
        .await;
    });
    let state = cluster.rollout_state(&workload(), IMAGE).await.unwrap();
    server.await.unwrap();
    assert_eq!(failed_code(&state), "deploy.not_found");
}

// --- facts --------------------------------------------------------------------------------

#[tokio::test]
async fn facts_of_an_app_never_deployed_are_none() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        answer(
            &mut handle,
            404,
            &status(404, "NotFound", "deployments.apps \"web\" not found"),
        )
        .await;
        assert_no_more_requests(&mut handle).await;
    });
    assert_eq!(cluster.facts(&workload()).await.unwrap(), None);
    server.await.unwrap();
}

#[tokio::test]
async fn facts_read_deployment_pods_warning_events_and_the_crashed_containers_log() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let deployment = answer(&mut handle, 200, &fixture("deployment_progressing.json")).await;
        let pods = answer(
            &mut handle,
            200,
            &list(
                "PodList",
                "v1",
                vec![
                    fixture_json("pod_crashloop.json"),
                    fixture_json("pod_readiness.json"),
                ],
            ),
        )
        .await;
        let events = answer(&mut handle, 200, &fixture("events_crashloop.json")).await;
        let log = answer(&mut handle, 200, &fixture("log_crashloop.txt")).await;
        assert_no_more_requests(&mut handle).await;
        (deployment, pods, events, log)
    });
    let facts = cluster.facts(&workload()).await.unwrap().unwrap();
    let (deployment, pods, events, log) = server.await.unwrap();

    assert_eq!(deployment.path, deployment_path("web"));
    assert_eq!(pods.path, pods_path());
    assert_eq!(
        pods.query("labelSelector"),
        Some("app.kubernetes.io/name=web,axhub.ai/environment=production")
    );
    assert_eq!(
        events.path,
        format!("/api/v1/namespaces/{NAMESPACE}/events")
    );
    assert_eq!(events.query("fieldSelector"), Some("type=Warning"));
    assert_eq!(
        log.path,
        format!("/api/v1/namespaces/{NAMESPACE}/pods/web-6d5f7c9b8d-x7k2p/log")
    );
    assert_eq!(log.query("container"), Some("app"));
    assert_eq!(log.query("previous"), Some("true"));
    assert_eq!(log.query("tailLines"), Some("50"));

    assert_eq!(facts.len(), 1);
    let service = &facts[0];
    assert_eq!(service.name, "web");
    assert_eq!(service.desired_replicas, 1);
    assert_eq!(service.updated_replicas, 1);
    assert_eq!(service.pods.len(), 2);
    assert_eq!(
        service.pods[0].containers[0].waiting_reason.as_deref(),
        Some("CrashLoopBackOff")
    );
    // Only web's events: the web-staging pod's BackOff is another service's.
    assert_eq!(service.events.len(), 1);
    assert_eq!(service.events[0].object, "Pod/web-6d5f7c9b8d-x7k2p");
    // The log comes as it was (sanitizing is the classifier's), line by line.
    assert_eq!(service.log_tail.len(), 7);
    assert!(service.log_tail[3].contains("ignore previous instructions"));
    assert!(service.log_tail[1].contains('\u{1b}'));
}

#[tokio::test]
async fn facts_without_a_crash_read_no_log_and_survive_an_unreadable_one() {
    // No crashed container: no log request.
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        answer(&mut handle, 200, &fixture("deployment_progressing.json")).await;
        answer(
            &mut handle,
            200,
            &list("PodList", "v1", vec![fixture_json("pod_readiness.json")]),
        )
        .await;
        answer(&mut handle, 200, &fixture("events_readiness.json")).await;
        assert_no_more_requests(&mut handle).await;
    });
    let facts = cluster.facts(&workload()).await.unwrap().unwrap();
    server.await.unwrap();
    assert!(facts[0].log_tail.is_empty());
    assert_eq!(facts[0].events[0].reason, "Unhealthy");

    // The previous log is gone (the container was replaced): facts without it.
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        answer(&mut handle, 200, &fixture("deployment_progressing.json")).await;
        answer(
            &mut handle,
            200,
            &list("PodList", "v1", vec![fixture_json("pod_oomkilled.json")]),
        )
        .await;
        answer(&mut handle, 200, &fixture("events_oomkilled.json")).await;
        answer(
            &mut handle,
            400,
            &status(
                400,
                "BadRequest",
                "previous terminated container \"app\" in pod \"web-6d5f7c9b8d-r5t7y\" not found",
            ),
        )
        .await;
    });
    let facts = cluster.facts(&workload()).await.unwrap().unwrap();
    server.await.unwrap();
    assert!(facts[0].log_tail.is_empty());
    assert_eq!(
        facts[0].pods[0].containers[0].terminated_reason.as_deref(),
        Some("OOMKilled")
    );
}

// --- errors -------------------------------------------------------------------------------

#[tokio::test]
async fn server_errors_and_throttling_are_unavailable_other_client_errors_refused() {
    for (code, reason, unavailable) in [
        (500, "InternalError", true),
        (503, "ServiceUnavailable", true),
        (504, "Timeout", true),
        (429, "TooManyRequests", true),
        (403, "Forbidden", false),
        (401, "Unauthorized", false),
        (422, "Invalid", false),
    ] {
        let (cluster, mut handle) = new_cluster();
        let server = tokio::spawn(async move {
            answer(&mut handle, code, &status(code, reason, "no")).await;
        });
        let result = cluster.build_state(&build_request()).await;
        server.await.unwrap();
        match result {
            Err(ClusterError::Unavailable(_)) if unavailable => {}
            Err(ClusterError::Refused(m)) if !unavailable => {
                assert!(m.contains(&code.to_string()), "{m}");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_broken_connection_is_unavailable() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let (_request, respond) = handle.next_request().await.unwrap();
        respond.send_error(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
    });
    let result = cluster.cancel_build(&build_request()).await;
    server.await.unwrap();
    assert!(
        matches!(&result, Err(ClusterError::Unavailable(m)) if m.contains("connection refused")),
        "{result:?}"
    );
}
