//! Runtime logs read from the cluster itself (`axhub_ports::logs::LogSource`), for axhub-local
//! with `--kubeconfig`: the container logs of the app's pods in its tenant namespace (both
//! environments), as `kubectl logs --timestamps` shows them.
//!
//! What the Kubernetes log API can and cannot say, and what follows:
//! - It merges a container's stdout and stderr into one text: every line is reported as
//!   `stdout` (the conformance suite runs with `streams_known: false`).
//! - Lines carry the kubelet's RFC 3339 timestamp with nanoseconds; positions keep the
//!   millisecond, and a line's id is `{pod}/{container}/{timestamp as written}/{n}`, `n` the
//!   count of earlier lines with that very timestamp in the same container: the same on every
//!   read of a log that only grows.
//! - It has no paging: a read fetches each container's log since just before the read's lower
//!   bound (`sinceSeconds`, whole seconds, rounded outwards) and at most
//!   [`MAX_BYTES_PER_CONTAINER`], then keeps the lines inside the bounds. A log rotated away by
//!   the kubelet is gone for it too.

use std::collections::HashMap;

use async_trait::async_trait;
use axhub_domain::logs::LogLine;
use axhub_ports::logs::{LogError, LogRead, LogSource, Order};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams, LogParams};

use crate::error::is_status;
use crate::objects::LABEL_APP;

/// The most of one container's log read for one answer.
pub const MAX_BYTES_PER_CONTAINER: i64 = 16 * 1024 * 1024;

/// Runtime logs from the pods' container logs.
pub struct KubePodLogs {
    client: Client,
}

impl KubePodLogs {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn unavailable(what: &str, e: kube::Error) -> LogError {
    match &e {
        kube::Error::Api(s) if s.code == 401 || s.code == 403 => {
            LogError::Refused(format!("{what}: {e}"))
        }
        _ => LogError::Unavailable(format!("{what}: {e}")),
    }
}

/// The lines of one container's log text (`--timestamps`): each line's time, and the rest.
pub fn parse_log(pod: &str, container: &str, text: &str) -> Vec<LogLine> {
    let mut repeats: HashMap<&str, usize> = HashMap::new();
    text.lines()
        .filter_map(|line| {
            let (stamp, message) = line.split_once(' ').unwrap_or((line, ""));
            let at =
                time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
                    .ok()?;
            let n = repeats.entry(stamp).or_default();
            let id = format!("{pod}/{container}/{stamp}/{n}");
            *n += 1;
            Some(LogLine {
                timestamp_ms: (at.unix_timestamp_nanos() / 1_000_000) as i64,
                id,
                stream: "stdout".to_owned(),
                pod: pod.to_owned(),
                container: container.to_owned(),
                message: message.to_owned(),
            })
        })
        .collect()
}

#[async_trait]
impl LogSource for KubePodLogs {
    async fn read(&self, read: &LogRead) -> Result<Vec<LogLine>, LogError> {
        let namespace = format!("tenant-{}", read.scope.tenant_id.simple());
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let selector = format!("{LABEL_APP}={}", read.scope.app_id.simple());
        let listed = match pods.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => list.items,
            // No namespace yet: the app never ran.
            Err(e) if is_status(&e, 404) => Vec::new(),
            Err(e) => return Err(unavailable("list Pods", e)),
        };
        let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let since_seconds = read
            .after
            .map(|after| ((now_ms - after.timestamp_ms).max(0) / 1000) + 2);
        let mut lines = Vec::new();
        for pod in &listed {
            let Some(name) = pod.metadata.name.as_deref() else {
                continue;
            };
            let containers = pod.spec.as_ref().map(|s| &s.containers[..]).unwrap_or(&[]);
            for container in containers {
                let params = LogParams {
                    container: Some(container.name.clone()),
                    timestamps: true,
                    since_seconds,
                    limit_bytes: Some(MAX_BYTES_PER_CONTAINER),
                    ..Default::default()
                };
                match pods.logs(name, &params).await {
                    Ok(text) => lines.extend(parse_log(name, &container.name, &text)),
                    // Gone between the list and the read, or not started yet.
                    Err(e) if is_status(&e, 404) || is_status(&e, 400) => {}
                    Err(e) => return Err(unavailable(&format!("read the log of {name}"), e)),
                }
            }
        }
        lines.retain(|l| {
            let p = l.position();
            read.after.is_none_or(|a| p > a) && read.before.is_none_or(|b| p < b)
        });
        lines.sort_by_key(LogLine::position);
        if read.order == Order::Descending {
            lines.reverse();
        }
        lines.truncate(read.limit);
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn log_lines_keep_their_time_and_get_ids_stable_within_one_timestamp() {
        let text = "2026-12-02T04:00:00.123456789Z listening on :8080\n\
                    2026-12-02T04:00:00.123456789Z second at the same instant\n\
                    2026-12-02T04:00:01Z \n\
                    not a timestamped line\n";
        let lines = parse_log("web-1", "app", text);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].message, "listening on :8080");
        assert_eq!(lines[0].timestamp_ms, lines[1].timestamp_ms);
        assert_ne!(lines[0].id, lines[1].id);
        assert_eq!(lines[1].id, "web-1/app/2026-12-02T04:00:00.123456789Z/1");
        assert_eq!(lines[2].message, "");
        assert!(
            lines
                .iter()
                .all(|l| l.stream == "stdout" && l.pod == "web-1")
        );
        // The same text read again gives the same ids.
        assert_eq!(parse_log("web-1", "app", text), lines);
    }
}
