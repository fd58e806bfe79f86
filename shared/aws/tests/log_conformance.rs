//! The runtime-log conformance suite against CloudWatch Logs, as emulated by moto.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//!
//! Needs moto: run through infra/test.sh, or start `infra/moto.sh start` and export the lines
//! it prints. The suite's writer plays the cluster's log shipper: one stream per pod,
//! container and output (`{pod}/{container}/{stream}`), batched `PutLogEvents`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use axhub_aws::CloudWatchLogs;
use axhub_aws::logs::log_group;
use axhub_domain::logs::LogLine;
use axhub_ports::logs::LogScope;
use axhub_ports::logs::conformance::{Harness, LogWriter};

struct Shipper {
    client: Client,
}

/// Moto's (and CloudWatch's) bound on one `PutLogEvents` call.
const BATCH: usize = 10_000;

#[async_trait]
impl LogWriter for Shipper {
    async fn write(&self, scope: &LogScope, lines: Vec<LogLine>) {
        let group = log_group(scope.tenant_id, scope.app_id);
        // Either call fails only when the group or stream exists already.
        let _ = self
            .client
            .create_log_group()
            .log_group_name(&group)
            .send()
            .await;
        let mut streams: BTreeMap<String, Vec<LogLine>> = BTreeMap::new();
        for l in lines {
            let name = format!("{}/{}/{}", l.pod, l.container, l.stream);
            streams.entry(name).or_default().push(l);
        }
        for (name, mut lines) in streams {
            let _ = self
                .client
                .create_log_stream()
                .log_group_name(&group)
                .log_stream_name(&name)
                .send()
                .await;
            // One call's events must be in time order.
            lines.sort_by_key(|l| l.timestamp_ms);
            for batch in lines.chunks(BATCH) {
                let events = batch
                    .iter()
                    .map(|l| {
                        InputLogEvent::builder()
                            .timestamp(l.timestamp_ms)
                            .message(&l.message)
                            .build()
                            .unwrap()
                    })
                    .collect();
                let put = self
                    .client
                    .put_log_events()
                    .log_group_name(&group)
                    .log_stream_name(&name)
                    .set_log_events(Some(events))
                    .send()
                    .await
                    .expect("PutLogEvents");
                assert!(put.rejected_log_events_info().is_none(), "{put:?}");
            }
        }
    }
}

fn endpoint_configured() -> bool {
    ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

async fn make() -> Harness {
    if !endpoint_configured() {
        panic!(
            "CloudWatch Logs tests need moto: run them through infra/test.sh, or start \
             `infra/moto.sh start` and export AWS_ENDPOINT_URL=http://127.0.0.1:5005"
        );
    }
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let client = Client::new(&conf);
    Harness {
        source: Arc::new(CloudWatchLogs::new(client.clone())),
        writer: Arc::new(Shipper { client }),
        streams_known: true,
    }
}

axhub_ports::log_conformance_tests!(make());
