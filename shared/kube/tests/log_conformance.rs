//! The runtime-log conformance suite against `KubePodLogs` on a fake API server (wiremock)
//! that serves the pods of each app and their container logs, `--timestamps` text in the
//! order the lines were written, as a kubelet serves them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axhub_domain::logs::LogLine;
use axhub_kube::logs::KubePodLogs;
use axhub_ports::logs::LogScope;
use axhub_ports::logs::conformance::{Harness, LogWriter};
use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Namespace → pod → (app label, log text).
type Cluster = Arc<Mutex<BTreeMap<String, BTreeMap<String, (String, String)>>>>;

struct FakeApi(Cluster);

impl Respond for FakeApi {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let parts: Vec<&str> = req.url.path().split('/').collect();
        // /api/v1/namespaces/{ns}/pods[/{pod}/log]
        let cluster = self.0.lock().unwrap();
        let pods = parts.get(4).and_then(|ns| cluster.get(*ns));
        match (parts.get(5), parts.get(6), parts.get(7)) {
            (Some(&"pods"), None, None) => {
                let wanted = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "labelSelector")
                    .map(|(_, v)| {
                        v.split_once('=')
                            .map(|(_, a)| a.to_owned())
                            .unwrap_or_default()
                    })
                    .unwrap_or_default();
                let items: Vec<_> = pods
                    .into_iter()
                    .flatten()
                    .filter(|(_, (app, _))| *app == wanted)
                    .map(|(name, _)| {
                        json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "app"}]}})
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(
                    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}),
                )
            }
            (Some(&"pods"), Some(pod), Some(&"log")) => match pods.and_then(|p| p.get(*pod)) {
                Some((_, text)) => ResponseTemplate::new(200).set_body_string(text.clone()),
                None => ResponseTemplate::new(404).set_body_json(json!({"kind": "Status",
                        "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 404,
                        "reason": "NotFound", "message": "pod not found"})),
            },
            _ => ResponseTemplate::new(404),
        }
    }
}

/// Writes lines as the containers print them: appended to their pod's log.
struct Kubelet(Cluster);

#[async_trait]
impl LogWriter for Kubelet {
    async fn write(&self, scope: &LogScope, lines: Vec<LogLine>) {
        let namespace = format!("tenant-{}", scope.tenant_id.simple());
        let app = scope.app_id.simple().to_string();
        let mut cluster = self.0.lock().unwrap();
        let pods = cluster.entry(namespace).or_default();
        for l in lines {
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(l.timestamp_ms) * 1_000_000,
            )
            .unwrap();
            let stamp = at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            let (_, text) = pods
                .entry(l.pod.clone())
                .or_insert_with(|| (app.clone(), String::new()));
            text.push_str(&format!("{stamp} {}\n", l.message));
        }
    }
}

async fn make() -> Harness {
    let server = MockServer::start().await;
    let cluster: Cluster = Arc::default();
    Mock::given(wiremock::matchers::method("GET"))
        .respond_with(FakeApi(cluster.clone()))
        .mount(&server)
        .await;
    let config = kube::Config::new(server.uri().parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    // The server lives as long as the test: it is leaked with the harness's last use.
    std::mem::forget(server);
    Harness {
        source: Arc::new(KubePodLogs::new(client)),
        writer: Arc::new(Kubelet(cluster)),
        streams_known: false,
    }
}

axhub_ports::log_conformance_tests!(make());
