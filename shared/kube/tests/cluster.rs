//! `KubeCluster` against a scripted API server: the exact requests it sends, and what it makes
//! of recorded answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axhub_domain::Cause;
use axhub_kube::objects::image_hash;
use axhub_kube::{KubeCluster, KubeClusterConfig};
use axhub_ports::cluster::{BuildState, Cluster, ClusterError, RolloutState};
use common::*;
use serde_json::{Value, json};

const JOBS: &str = "/apis/batch/v1/namespaces/axhub-builds/jobs";
const JOB: &str =
    "/apis/batch/v1/namespaces/axhub-builds/jobs/build-0190f3d41e2f7a3b8c4d5e6f7a8b9c0d";
const TOKEN_SECRET: &str =
    "/api/v1/namespaces/axhub-builds/secrets/git-token-0190f3d41e2f7a3b8c4d5e6f7a8b9c0d";
const BUILD_POLICY: &str =
    "/apis/networking.k8s.io/v1/namespaces/axhub-builds/networkpolicies/axhub-default-deny";

fn config() -> KubeClusterConfig {
    KubeClusterConfig {
        registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/axhub".to_owned(),
        ingress_class: "alb".to_owned(),
        ..KubeClusterConfig::default()
    }
}

fn new_cluster() -> (KubeCluster, Handle) {
    let (client, handle) = mock_client();
    (KubeCluster::new(client, config()), handle)
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
            "namespace": "axhub-builds",
            "labels": {"app.kubernetes.io/managed-by": "axhub-deploy"},
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

fn assert_build_policy(seen: &Seen) {
    assert_apply(seen, BUILD_POLICY);
    assert_eq!(seen.json(), build_policy(&[]));
}

fn deployment_path(name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}")
}

fn assert_apply(seen: &Seen, path: &str) {
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

// --- builds -------------------------------------------------------------------------------

#[tokio::test]
async fn start_build_applies_the_build_network_policy_then_creates_the_kaniko_job() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let policy = answer(&mut handle, 200, "{}").await;
        let seen = answer(&mut handle, 201, &fixture("job_active.json")).await;
        assert_no_more_requests(&mut handle).await;
        (policy, seen)
    });
    cluster.start_build(&build_request()).await.unwrap();
    let (policy, seen) = server.await.unwrap();

    assert_build_policy(&policy);

    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, JOBS);
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    let job = seen.json();
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    assert_eq!(
        job["metadata"]["name"],
        "build-0190f3d41e2f7a3b8c4d5e6f7a8b9c0d"
    );
    assert_eq!(job["metadata"]["namespace"], "axhub-builds");
    let labels = &job["metadata"]["labels"];
    assert_eq!(
        labels["axhub.ai/deployment"],
        "0190f3d41e2f7a3b8c4d5e6f7a8b9c0d"
    );
    assert_eq!(labels["axhub.ai/app"], "0190f3c31a2b7c3d8e4f5a6b7c8d9e0f");
    assert_eq!(labels["axhub.ai/image-hash"], image_hash(IMAGE));
    assert_eq!(job["metadata"]["annotations"]["axhub.ai/image"], IMAGE);

    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 1800);
    assert_eq!(spec["ttlSecondsAfterFinished"], 86400);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert!(pod.get("serviceAccountName").is_none());
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(
        spec["template"]["metadata"]["labels"]["axhub.ai/deployment"],
        "0190f3d41e2f7a3b8c4d5e6f7a8b9c0d"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "gcr.io/kaniko-project/executor:v1.23.2");
    assert_eq!(
        container["args"],
        json!([
            format!("--context=git://github.com/acme/web.git#{COMMIT}"),
            format!("--destination={IMAGE}"),
        ])
    );
    // The clone token is read from the deployment's Secret if there is one.
    assert_eq!(
        container["env"],
        json!([
            {"name": "GIT_USERNAME", "valueFrom": {"secretKeyRef": {
                "name": "git-token-0190f3d41e2f7a3b8c4d5e6f7a8b9c0d", "key": "username", "optional": true}}},
            {"name": "GIT_PASSWORD", "valueFrom": {"secretKeyRef": {
                "name": "git-token-0190f3d41e2f7a3b8c4d5e6f7a8b9c0d", "key": "password", "optional": true}}},
        ])
    );
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/kaniko/.docker");
    assert_eq!(pod["volumes"][0]["secret"]["secretName"], "registry-push");
    assert_eq!(
        pod["volumes"][0]["secret"]["items"],
        json!([{"key": ".dockerconfigjson", "path": "config.json"}])
    );
}

#[tokio::test]
async fn start_build_twice_finds_the_first_job() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let policy = answer(&mut handle, 200, "{}").await;
        let seen = answer(
            &mut handle,
            409,
            &status(
                409,
                "AlreadyExists",
                "jobs.batch \"build-0190f3d41e2f7a3b8c4d5e6f7a8b9c0d\" already exists",
            ),
        )
        .await;
        assert_no_more_requests(&mut handle).await;
        (policy, seen)
    });
    cluster.start_build(&build_request()).await.unwrap();
    let (policy, job) = server.await.unwrap();
    // The policy is applied again (idempotent), the Job not created twice.
    assert_build_policy(&policy);
    assert_eq!(job.path, JOBS);
}

#[tokio::test]
async fn start_build_with_a_token_writes_the_secret_before_the_job_and_hands_it_to_the_job() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let policy = answer(&mut handle, 200, "{}").await;
        let secret_before = answer(&mut handle, 201, "{}").await;
        let job = answer(&mut handle, 201, &fixture("job_active.json")).await;
        let secret_after = answer(&mut handle, 200, "{}").await;
        assert_no_more_requests(&mut handle).await;
        (policy, secret_before, job, secret_after)
    });
    cluster
        .start_build_with_token(&build_request(), Some("ghs_token123"))
        .await
        .unwrap();
    let (policy, before, job, after) = server.await.unwrap();

    assert_build_policy(&policy);

    assert_apply(&before, TOKEN_SECRET);
    let secret = before.json();
    assert_eq!(secret["kind"], "Secret");
    // base64 of "x-access-token" and of the token.
    assert_eq!(secret["data"]["username"], "eC1hY2Nlc3MtdG9rZW4=");
    assert_eq!(secret["data"]["password"], "Z2hzX3Rva2VuMTIz");
    assert!(secret["metadata"].get("ownerReferences").is_none());

    assert_eq!((job.method.as_str(), job.path.as_str()), ("POST", JOBS));

    assert_apply(&after, TOKEN_SECRET);
    assert_eq!(
        after.json()["metadata"]["ownerReferences"],
        json!([{
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "build-0190f3d41e2f7a3b8c4d5e6f7a8b9c0d",
            "uid": "d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a",
        }])
    );
}

#[tokio::test]
async fn start_build_with_a_token_after_a_first_attempt_reads_the_job_for_its_uid() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let policy = answer(&mut handle, 200, "{}").await;
        let before = answer(&mut handle, 200, "{}").await;
        answer(&mut handle, 409, &status(409, "AlreadyExists", "exists")).await;
        let get = answer(&mut handle, 200, &fixture("job_active.json")).await;
        let after = answer(&mut handle, 200, "{}").await;
        assert_no_more_requests(&mut handle).await;
        (policy, before, get, after)
    });
    cluster
        .start_build_with_token(&build_request(), Some("ghs_token123"))
        .await
        .unwrap();
    let (policy, before, get, after) = server.await.unwrap();
    assert_build_policy(&policy);
    assert_apply(&before, TOKEN_SECRET);
    assert_eq!((get.method.as_str(), get.path.as_str()), ("GET", JOB));
    assert_eq!(
        after.json()["metadata"]["ownerReferences"][0]["uid"],
        "d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a"
    );
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
        let mut build = build_request();
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
    let mut build = build_request();
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
async fn builds_run_as_the_configured_service_account() {
    let (client, mut handle) = mock_client();
    let cluster = KubeCluster::new(
        client,
        KubeClusterConfig {
            build_service_account: Some("kaniko-pusher".to_owned()),
            ..config()
        },
    );
    let server = tokio::spawn(async move {
        let policy = answer(&mut handle, 200, "{}").await;
        let job = answer(&mut handle, 201, &fixture("job_active.json")).await;
        assert_no_more_requests(&mut handle).await;
        (policy, job)
    });
    cluster.start_build(&build_request()).await.unwrap();
    let (policy, job) = server.await.unwrap();
    assert_build_policy(&policy);
    let job = job.json();
    assert_eq!(
        job["spec"]["template"]["spec"]["serviceAccountName"],
        "kaniko-pusher"
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
    let server = tokio::spawn(async move {
        let policy = answer(&mut handle, 200, "{}").await;
        answer(&mut handle, 201, &fixture("job_active.json")).await;
        policy
    });
    cluster.start_build(&build_request()).await.unwrap();
    let policy = server.await.unwrap();
    assert_apply(&policy, BUILD_POLICY);
    assert_eq!(
        policy.json(),
        build_policy(&["10.0.0.0/16", "172.20.0.0/16"])
    );
}

#[tokio::test]
async fn a_build_whose_network_policy_is_refused_does_not_start() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        answer(
            &mut handle,
            403,
            &status(403, "Forbidden", "networkpolicies is forbidden"),
        )
        .await;
        // Neither the token Secret nor the Job: the build never runs without its policy.
        assert_no_more_requests(&mut handle).await;
    });
    let result = cluster
        .start_build_with_token(&build_request(), Some("ghs_token123"))
        .await;
    server.await.unwrap();
    assert!(
        matches!(&result, Err(ClusterError::Refused(m)) if m.contains("NetworkPolicy axhub-default-deny")),
        "{result:?}"
    );
}

#[test]
fn the_build_network_policy_selects_every_build_pod() {
    let job = axhub_kube::objects::build_job(&config(), &build_request());
    let pod_labels = job.spec.unwrap().template.metadata.unwrap().labels.unwrap();
    for (key, value) in axhub_kube::isolation::build_pod_selector() {
        assert_eq!(pod_labels.get(&key), Some(&value), "{key}");
    }
}

async fn build_state_answering(code: u16, body: String) -> BuildState {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move { answer(&mut handle, code, &body).await });
    let state = cluster.build_state(&build_request()).await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("GET", JOB));
    state
}

#[tokio::test]
async fn build_state_follows_the_job() {
    assert_eq!(
        build_state_answering(200, fixture("job_active.json")).await,
        BuildState::Running
    );
    assert_eq!(
        build_state_answering(200, fixture("job_succeeded.json")).await,
        BuildState::Succeeded
    );
    assert_eq!(
        build_state_answering(200, fixture("job_failed.json")).await,
        BuildState::Failed {
            cause: Cause::BuildFailed,
            message: "Job has reached the specified backoff limit".to_owned(),
        }
    );
    assert_eq!(
        build_state_answering(200, fixture("job_deadline_exceeded.json")).await,
        BuildState::Failed {
            cause: Cause::BuildDeadlineExceeded,
            message: "Job was active longer than specified deadline".to_owned(),
        }
    );
    let gone = build_state_answering(
        404,
        status(404, "NotFound", "jobs.batch \"build-…\" not found"),
    )
    .await;
    assert!(
        matches!(
            &gone,
            BuildState::Failed {
                cause: Cause::BuildLost,
                ..
            }
        ),
        "{gone:?}"
    );
}

#[tokio::test]
async fn cancel_build_deletes_the_job_in_the_background_and_ignores_a_missing_one() {
    for (code, body) in [
        (200, fixture("job_active.json")),
        (404, status(404, "NotFound", "not found")),
    ] {
        let (cluster, mut handle) = new_cluster();
        let server = tokio::spawn(async move { answer(&mut handle, code, &body).await });
        cluster.cancel_build(&build_request()).await.unwrap();
        let seen = server.await.unwrap();
        assert_eq!((seen.method.as_str(), seen.path.as_str()), ("DELETE", JOB));
        assert_eq!(seen.json()["propagationPolicy"], "Background");
    }
}

async fn image_exists_answering(jobs: Vec<Value>) -> bool {
    let (cluster, mut handle) = new_cluster();
    let body = list("JobList", "batch/v1", jobs);
    let server = tokio::spawn(async move { answer(&mut handle, 200, &body).await });
    let exists = cluster.image_exists(IMAGE).await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("GET", JOBS));
    assert_eq!(
        seen.query("labelSelector"),
        Some(format!("axhub.ai/image-hash={}", image_hash(IMAGE)).as_str())
    );
    exists
}

#[tokio::test]
async fn image_exists_when_a_build_of_exactly_that_image_succeeded() {
    assert!(image_exists_answering(vec![fixture_json("job_succeeded.json")]).await);
    assert!(
        image_exists_answering(vec![
            fixture_json("job_failed.json"),
            fixture_json("job_succeeded.json"),
        ])
        .await
    );
    assert!(!image_exists_answering(vec![]).await);
    assert!(!image_exists_answering(vec![fixture_json("job_failed.json")]).await);
    assert!(!image_exists_answering(vec![fixture_json("job_active.json")]).await);
    // Same hash label, other URI (the label is truncated): not this image.
    let mut other = fixture_json("job_succeeded.json");
    other["metadata"]["annotations"]["axhub.ai/image"] = json!("registry.example/other:1");
    assert!(!image_exists_answering(vec![other]).await);
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

#[tokio::test]
async fn the_ports_start_build_passes_the_requests_clone_token_and_never_debug_prints_it() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let _policy = answer(&mut handle, 200, "{}").await;
        let secret = answer(&mut handle, 201, "{}").await;
        let _job = answer(&mut handle, 201, &fixture("job_active.json")).await;
        let _owner = answer(&mut handle, 200, "{}").await;
        assert_no_more_requests(&mut handle).await;
        secret
    });
    let mut build = build_request();
    build.clone_token = Some(axhub_ports::cluster::Secret::new("ghs_token123"));
    assert!(!format!("{build:?}").contains("ghs_token123"));
    axhub_ports::cluster::Cluster::start_build(&cluster, &build)
        .await
        .unwrap();
    let secret = server.await.unwrap();
    assert_apply(&secret, TOKEN_SECRET);
    assert_eq!(secret.json()["data"]["password"], "Z2hzX3Rva2VuMTIz");
}

#[tokio::test]
async fn a_job_that_cannot_be_created_takes_its_clone_token_secret_with_it() {
    let (cluster, mut handle) = new_cluster();
    let server = tokio::spawn(async move {
        let policy = answer(&mut handle, 200, "{}").await;
        let secret = answer(&mut handle, 201, "{}").await;
        let job = answer(
            &mut handle,
            403,
            &status(403, "Forbidden", "jobs.batch is forbidden"),
        )
        .await;
        let removed = answer(&mut handle, 200, "{}").await;
        assert_no_more_requests(&mut handle).await;
        (policy, secret, job, removed)
    });
    let result = cluster
        .start_build_with_token(&build_request(), Some("ghs_token123"))
        .await;
    assert!(
        matches!(result, Err(ClusterError::Refused(_))),
        "{result:?}"
    );
    let (policy, secret, job, removed) = server.await.unwrap();
    assert_build_policy(&policy);
    assert_eq!(secret.method, "PATCH");
    assert_eq!(job.method, "POST");
    assert_eq!(removed.method, "DELETE");
    assert_eq!(removed.path, secret.path, "the same Secret");
}

#[tokio::test]
async fn builds_clone_from_the_configured_git_host() {
    let mut config = config();
    config.git_host = "github.example.com".into();
    let job = axhub_kube::objects::build_job(&config, &build_request());
    let args = job.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert_eq!(
        args[0],
        format!("--context=git://github.example.com/acme/web.git#{COMMIT}")
    );
}
