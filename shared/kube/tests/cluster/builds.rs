//! Builds: each tenant's in its own build namespace (Namespace, NetworkPolicy, ResourceQuota
//! applied first), each with its own Secret (push credential, clone token) that goes when the
//! build ends, and the digest kaniko reported read from the build pod.

use axhub_domain::Cause;
use axhub_kube::KubeCluster;
use axhub_kube::KubeClusterConfig;
use axhub_ports::cluster::{BuildRequest, BuildState, Cluster, ClusterError, Secret};
use serde_json::{Value, json};

use crate::common::*;
use crate::{assert_apply, config, new_cluster};

const BUILD_NS: &str = "axhub-build-0190f3c27b1e7cc09a4e2f1d3c4b5a69";
const DEPLOYMENT_LABEL: &str = "0190f3d41e2f7a3b8c4d5e6f7a8b9c0d";
const PUSH_CONFIG: &str =
    r#"{"auths":{"123456789012.dkr.ecr.eu-west-1.amazonaws.com":{"auth":"QVdTOnB3"}}}"#;
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn path(kind: &str) -> String {
    match kind {
        "namespace" => format!("/api/v1/namespaces/{BUILD_NS}"),
        "policy" => format!(
            "/apis/networking.k8s.io/v1/namespaces/{BUILD_NS}/networkpolicies/axhub-default-deny"
        ),
        "quota" => format!("/api/v1/namespaces/{BUILD_NS}/resourcequotas/axhub-quota"),
        "secret" => format!("/api/v1/namespaces/{BUILD_NS}/secrets/build-{DEPLOYMENT_LABEL}"),
        "jobs" => format!("/apis/batch/v1/namespaces/{BUILD_NS}/jobs"),
        "job" => format!("/apis/batch/v1/namespaces/{BUILD_NS}/jobs/build-{DEPLOYMENT_LABEL}"),
        "pods" => format!("/api/v1/namespaces/{BUILD_NS}/pods"),
        other => panic!("{other}"),
    }
}

/// A build as the pipeline starts it: with its push credential.
fn build() -> BuildRequest {
    BuildRequest {
        push_credential: Some(Secret::new(PUSH_CONFIG)),
        ..build_request()
    }
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The build pods' NetworkPolicy with the default config plus these excepted CIDRs.
fn build_policy(extra_except: &[&str]) -> Value {
    let mut except = vec!["169.254.169.254/32"];
    except.extend_from_slice(extra_except);
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "axhub-default-deny",
            "namespace": BUILD_NS,
            "labels": {
                "app.kubernetes.io/managed-by": "axhub-deploy",
                "axhub.ai/tenant": "0190f3c27b1e7cc09a4e2f1d3c4b5a69",
            },
        },
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/managed-by": "axhub-deploy"}},
            "policyTypes": ["Ingress", "Egress"],
            "egress": [
                {
                    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": except}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                },
            ],
        },
    })
}

/// Checks the three requests that prepare the tenant's build namespace.
fn assert_namespace_prepared(seen: &[Seen], extra_except: &[&str]) {
    assert_apply(&seen[0], &path("namespace"));
    assert_eq!(
        seen[0].json()["metadata"]["labels"],
        json!({
            "app.kubernetes.io/managed-by": "axhub-deploy",
            "axhub.ai/tenant": "0190f3c27b1e7cc09a4e2f1d3c4b5a69",
            "axhub.ai/purpose": "build",
            "pod-security.kubernetes.io/enforce": "baseline",
        })
    );
    assert_apply(&seen[1], &path("policy"));
    assert_eq!(seen[1].json(), build_policy(extra_except));
    assert_apply(&seen[2], &path("quota"));
    assert_eq!(
        seen[2].json()["spec"]["hard"],
        json!({"pods": "2", "requests.cpu": "2", "requests.memory": "4Gi", "limits.memory": "8Gi"})
    );
}

/// Answers a whole successful start: namespace, policy, quota, Secret, Job, owned Secret.
async fn answer_start(handle: &mut Handle) -> Vec<Seen> {
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(answer(handle, 200, "{}").await);
    }
    seen.push(answer(handle, 201, &fixture("job_active.json")).await);
    seen.push(answer(handle, 200, "{}").await);
    assert_no_more_requests(handle).await;
    seen
}

#[tokio::test]
async fn start_build_prepares_the_tenants_namespace_then_writes_its_secret_and_the_kaniko_job() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move { answer_start(&mut handle).await });
    let mut build = build();
    build.clone_token = Some(Secret::new("ghs_token123"));
    assert!(!format!("{build:?}").contains("ghs_token123"));
    assert!(!format!("{build:?}").contains("QVdTOnB3"));
    cluster.start_build(&build).await.unwrap();
    let seen = server.await.unwrap();
    assert_namespace_prepared(&seen, &[]);

    // The Secret first, so the pod finds it; no owner yet.
    assert_apply(&seen[3], &path("secret"));
    let secret = seen[3].json();
    assert_eq!(secret["metadata"]["namespace"], BUILD_NS);
    assert_eq!(
        secret["data"],
        json!({
            "config.json": b64(PUSH_CONFIG),
            "git-username": b64("x-access-token"),
            "git-password": b64("ghs_token123"),
        })
    );
    assert!(secret["metadata"].get("ownerReferences").is_none());

    let job = &seen[4];
    assert_eq!(
        (job.method.as_str(), job.path.as_str()),
        ("POST", path("jobs").as_str())
    );
    let job = job.json();
    assert_eq!(job["metadata"]["name"], format!("build-{DEPLOYMENT_LABEL}"));
    assert_eq!(job["metadata"]["namespace"], BUILD_NS);
    let labels = &job["metadata"]["labels"];
    assert_eq!(labels["axhub.ai/deployment"], DEPLOYMENT_LABEL);
    assert_eq!(labels["axhub.ai/app"], "0190f3c31a2b7c3d8e4f5a6b7c8d9e0f");
    assert_eq!(
        labels["axhub.ai/tenant"],
        "0190f3c27b1e7cc09a4e2f1d3c4b5a69"
    );
    assert_eq!(job["metadata"]["annotations"]["axhub.ai/image"], IMAGE);
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 1800);
    assert_eq!(spec["ttlSecondsAfterFinished"], 3600);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert!(pod.get("serviceAccountName").is_none());
    assert_eq!(pod["automountServiceAccountToken"], false);
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "gcr.io/kaniko-project/executor:v1.23.2");
    assert_eq!(
        container["args"],
        json!([
            format!("--context=git://github.com/acme/web.git#{COMMIT}"),
            format!("--destination={IMAGE}"),
            "--digest-file=/dev/termination-log",
        ])
    );
    assert_eq!(container["terminationMessagePolicy"], "File");
    let secret_ref = |key: &str| json!({"secretKeyRef": {"name": format!("build-{DEPLOYMENT_LABEL}"), "key": key, "optional": true}});
    assert_eq!(
        container["env"],
        json!([
            {"name": "GIT_USERNAME", "valueFrom": secret_ref("git-username")},
            {"name": "GIT_PASSWORD", "valueFrom": secret_ref("git-password")},
        ])
    );
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/kaniko/.docker");
    assert_eq!(
        pod["volumes"][0]["secret"],
        json!({
            "secretName": format!("build-{DEPLOYMENT_LABEL}"),
            "items": [{"key": "config.json", "path": "config.json"}],
        })
    );

    // Then owned by the Job, so it goes with it.
    assert_apply(&seen[5], &path("secret"));
    assert_eq!(
        seen[5].json()["metadata"]["ownerReferences"],
        json!([{
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": format!("build-{DEPLOYMENT_LABEL}"),
            "uid": "d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a",
        }])
    );
}

#[tokio::test]
async fn builds_of_two_tenants_share_no_namespace_and_no_secret() {
    let config = config();
    let one = build();
    let mut other = build();
    other.workload.tenant_id = uuid::Uuid::now_v7();
    let (a, b) = (
        axhub_kube::objects::build_job(&config, &one),
        axhub_kube::objects::build_job(&config, &other),
    );
    assert_ne!(a.metadata.namespace, b.metadata.namespace);
    assert_eq!(
        b.metadata.namespace,
        Some(format!("axhub-build-{}", other.workload.tenant_id.simple()))
    );
    let secret = axhub_kube::objects::build_secret(&config, &other, "c", None, None);
    assert_eq!(secret.metadata.namespace, b.metadata.namespace);
    // Without a clone token the Secret holds the push credential only.
    assert_eq!(
        secret.data.unwrap().keys().collect::<Vec<_>>(),
        vec!["config.json"]
    );
}

#[tokio::test]
async fn a_build_without_its_own_push_credential_is_refused_before_any_request() {
    let (cluster, mut handle) = new_cluster();
    let result = cluster.start_build(&build_request()).await;
    assert!(
        matches!(&result, Err(ClusterError::Refused(m)) if m.contains("push credential")),
        "{result:?}"
    );
    assert_no_more_requests(&mut handle).await;
}

#[tokio::test]
async fn start_build_twice_reads_the_first_job_and_owns_the_secret_by_it() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(answer(&mut handle, 200, "{}").await);
        }
        let exists = status(409, "AlreadyExists", "jobs.batch already exists");
        seen.push(answer(&mut handle, 409, &exists).await);
        seen.push(answer(&mut handle, 200, &fixture("job_active.json")).await);
        seen.push(answer(&mut handle, 200, "{}").await);
        assert_no_more_requests(&mut handle).await;
        seen
    });
    cluster.start_build(&build()).await.unwrap();
    let seen = server.await.unwrap();
    assert_namespace_prepared(&seen, &[]);
    assert_eq!(
        (seen[5].method.as_str(), seen[5].path.as_str()),
        ("GET", path("job").as_str())
    );
    assert_eq!(
        seen[6].json()["metadata"]["ownerReferences"][0]["uid"],
        "d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a"
    );
}

#[tokio::test]
async fn a_retried_start_of_an_ended_build_removes_its_secret_again() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        for _ in 0..4 {
            answer(&mut handle, 200, "{}").await;
        }
        answer(&mut handle, 409, &status(409, "AlreadyExists", "exists")).await;
        answer(&mut handle, 200, &fixture("job_succeeded.json")).await;
        let removed = answer(&mut handle, 200, "{}").await;
        assert_no_more_requests(&mut handle).await;
        removed
    });
    cluster.start_build(&build()).await.unwrap();
    let removed = server.await.unwrap();
    assert_eq!(
        (removed.method.as_str(), removed.path.as_str()),
        ("DELETE", path("secret").as_str())
    );
}

#[tokio::test]
async fn a_job_that_cannot_be_created_takes_its_secret_with_it() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        for _ in 0..4 {
            answer(&mut handle, 200, "{}").await;
        }
        let forbidden = status(403, "Forbidden", "jobs.batch is forbidden");
        answer(&mut handle, 403, &forbidden).await;
        let removed = answer(&mut handle, 200, "{}").await;
        assert_no_more_requests(&mut handle).await;
        removed
    });
    let result = cluster.start_build(&build()).await;
    assert!(
        matches!(result, Err(ClusterError::Refused(_))),
        "{result:?}"
    );
    let removed = server.await.unwrap();
    assert_eq!(
        (removed.method.as_str(), removed.path.as_str()),
        ("DELETE", path("secret").as_str())
    );
}

#[tokio::test]
async fn a_build_whose_namespace_policy_is_refused_does_not_start() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        answer(&mut handle, 200, "{}").await;
        let forbidden = status(403, "Forbidden", "networkpolicies is forbidden");
        answer(&mut handle, 403, &forbidden).await;
        // Neither the Secret nor the Job: the build never runs without its policy.
        assert_no_more_requests(&mut handle).await;
    });
    let result = cluster.start_build(&build()).await;
    server.await.unwrap();
    assert!(
        matches!(&result, Err(ClusterError::Refused(m)) if m.contains("NetworkPolicy axhub-default-deny")),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_build_network_policy_also_keeps_the_cluster_cidrs_out_of_reach() {
    let (client, mut handle) = mock_client();
    let cluster = KubeCluster::new(
        client,
        KubeClusterConfig {
            pod_cidrs: vec!["10.0.0.0/16".to_owned()],
            service_cidrs: vec!["172.20.0.0/16".to_owned()],
            ..config()
        },
    );
    let server = tokio::spawn(async move { answer_start(&mut handle).await });
    cluster.start_build(&build()).await.unwrap();
    let seen = server.await.unwrap();
    assert_namespace_prepared(&seen, &["10.0.0.0/16", "172.20.0.0/16"]);
}

#[test]
fn the_build_network_policy_selects_every_build_pod() {
    let job = axhub_kube::objects::build_job(&config(), &build());
    let pod_labels = job.spec.unwrap().template.metadata.unwrap().labels.unwrap();
    for (key, value) in axhub_kube::isolation::build_pod_selector() {
        assert_eq!(pod_labels.get(&key), Some(&value), "{key}");
    }
}

#[tokio::test]
async fn start_build_refuses_a_repository_that_would_change_the_clone_url() {
    for (repo, commit) in [
        ("acme/web.git#main", COMMIT),
        ("acme", COMMIT),
        ("acme/../evil", COMMIT),
        ("acme/web", "main"),
        ("acme/web", "9fceb02#x"),
    ] {
        let (cluster, mut handle) = new_cluster();
        let mut build = build();
        build.repo_full_name = repo.to_owned();
        build.commit_sha = commit.to_owned();
        let result = cluster.start_build(&build).await;
        assert!(
            matches!(result, Err(ClusterError::Refused(_))),
            "{repo} {commit}: {result:?}"
        );
        assert_no_more_requests(&mut handle).await;
    }
}

#[tokio::test]
async fn images_outside_the_registry_are_neither_built_nor_deployed() {
    let (cluster, mut handle) = new_cluster();
    let mut build = build();
    build.image_uri = "docker.io/attacker/web:latest".to_owned();
    let result = cluster.start_build(&build).await;
    assert!(
        matches!(&result, Err(ClusterError::Refused(m)) if m.contains("registry")),
        "{result:?}"
    );
    // A prefix of the registry is not the registry.
    let result = cluster
        .apply(
            &workload(),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/axhubX/web:1",
        )
        .await;
    assert!(
        matches!(&result, Err(ClusterError::Refused(_))),
        "{result:?}"
    );
    assert_no_more_requests(&mut handle).await;
}

#[tokio::test]
async fn builds_clone_from_the_configured_git_host() {
    let mut config = config();
    config.git_host = "github.example.com".into();
    let job = axhub_kube::objects::build_job(&config, &build());
    let args = job.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert_eq!(
        args[0],
        format!("--context=git://github.example.com/acme/web.git#{COMMIT}")
    );
}

// --- state --------------------------------------------------------------------------------

/// The build pod after kaniko exited, its termination message as given.
fn finished_pod(message: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "build-x-abcde", "namespace": BUILD_NS},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [{
                "name": "kaniko", "ready": false, "restartCount": 0, "image": "kaniko", "imageID": "",
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "message": message}},
            }],
        },
    })
}

/// The requests `build_state` makes for a Job answered with `job`, then `more` answers.
async fn build_state_answering(
    job: (u16, String),
    more: Vec<(u16, String)>,
) -> (BuildState, Vec<Seen>) {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let mut seen = vec![answer(&mut handle, job.0, &job.1).await];
        for (code, body) in more {
            seen.push(answer(&mut handle, code, &body).await);
        }
        assert_no_more_requests(&mut handle).await;
        seen
    });
    let state = cluster.build_state(&build()).await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", path("job").as_str())
    );
    (state, seen)
}

#[tokio::test]
async fn a_running_build_is_only_looked_at() {
    let (state, _) = build_state_answering((200, fixture("job_active.json")), vec![]).await;
    assert_eq!(state, BuildState::Running);
}

#[tokio::test]
async fn a_build_that_ended_loses_its_secret_and_reports_the_digest_kaniko_wrote() {
    let pods = list("PodList", "v1", vec![finished_pod(&format!("{DIGEST}\n"))]);
    let (state, seen) = build_state_answering(
        (200, fixture("job_succeeded.json")),
        vec![(200, "{}".into()), (200, pods)],
    )
    .await;
    assert_eq!(
        state,
        BuildState::Succeeded {
            digest: Some(DIGEST.into())
        }
    );
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("DELETE", path("secret").as_str())
    );
    assert_eq!(
        (seen[2].method.as_str(), seen[2].path.as_str()),
        ("GET", path("pods").as_str())
    );
    assert_eq!(
        seen[2].query("labelSelector"),
        Some(format!("axhub.ai/deployment={DEPLOYMENT_LABEL}").as_str())
    );
}

#[tokio::test]
async fn a_termination_message_that_is_no_digest_reports_none() {
    for message in ["", "sha256:abc", "Error: push denied", "SHA256:0123"] {
        let pods = list("PodList", "v1", vec![finished_pod(message)]);
        let (state, _) = build_state_answering(
            (200, fixture("job_succeeded.json")),
            vec![(200, "{}".into()), (200, pods)],
        )
        .await;
        assert_eq!(state, BuildState::Succeeded { digest: None }, "{message:?}");
    }
    // The pod is gone (or cannot be listed): the pipeline asks the registry.
    let secret_gone = status(404, "NotFound", "not found");
    let forbidden = status(403, "Forbidden", "pods is forbidden");
    let (state, _) = build_state_answering(
        (200, fixture("job_succeeded.json")),
        vec![(404, secret_gone), (403, forbidden)],
    )
    .await;
    assert_eq!(state, BuildState::Succeeded { digest: None });
}

#[tokio::test]
async fn a_failed_build_loses_its_secret_and_says_why() {
    for (job, cause, message) in [
        (
            "job_failed.json",
            Cause::BuildFailed,
            "Job has reached the specified backoff limit",
        ),
        (
            "job_deadline_exceeded.json",
            Cause::BuildDeadlineExceeded,
            "Job was active longer than specified deadline",
        ),
    ] {
        let (state, seen) =
            build_state_answering((200, fixture(job)), vec![(200, "{}".into())]).await;
        assert_eq!(
            state,
            BuildState::Failed {
                cause,
                message: message.to_owned()
            }
        );
        assert_eq!(seen[1].method, "DELETE");
    }
}

#[tokio::test]
async fn a_missing_job_is_a_build_not_started() {
    let gone = status(404, "NotFound", "jobs.batch \"build-…\" not found");
    let (state, _) = build_state_answering((404, gone), vec![]).await;
    assert_eq!(state, BuildState::NotStarted);
}

#[tokio::test]
async fn cancel_build_deletes_the_job_in_the_background_and_ignores_a_missing_one() {
    for (code, body) in [
        (200, fixture("job_active.json")),
        (404, status(404, "NotFound", "not found")),
    ] {
        let (cluster, mut handle) = new_cluster();
        let server = tokio::spawn(async move { answer(&mut handle, code, &body).await });
        cluster.cancel_build(&build()).await.unwrap();
        let seen = server.await.unwrap();
        assert_eq!(
            (seen.method.as_str(), seen.path.as_str()),
            ("DELETE", path("job").as_str())
        );
        assert_eq!(seen.json()["propagationPolicy"], "Background");
    }
}
