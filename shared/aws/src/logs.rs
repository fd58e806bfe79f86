//! The CloudWatch Logs adapter of the runtime-log port (`axhub_ports::LogSource`), read with
//! `FilterLogEvents`.
//!
//! # Where lines are
//!
//! One log group per app, `{prefix}/{tenant id}/{app id}` (prefix `/axhub/apps`, ids
//! hyphenated), one log stream per container output, named `{pod}/{container}/{stream}`
//! (`stream` is `stdout` or `stderr`): that is how the cluster's log shipper (Fluent Bit's
//! `cloudwatch_logs` output, `log_group_template` and `log_stream_template`) must be set up.
//! A stream named otherwise is read with its whole name as the pod, no container, `stdout`.
//! A line's id is `{stream name}/{event id}`.
//!
//! # How it reads
//!
//! `FilterLogEvents` filters by time but does not promise one order across streams (moto
//! answers stream by stream), so a read can never stop at the first `limit` events of an
//! answer. The adapter reads whole time windows, every page of each, sorts them by position
//! itself, and widens the window (×4, from one minute) until it holds `limit` lines inside
//! the read's bounds or reaches them: forward from the lower bound, backward from the upper
//! one. An open lower bound is the retention horizon (30 days), an open upper one two hours
//! ahead of now (CloudWatch takes no later events). A missing group is an app that never
//! logged: no lines.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use axhub_domain::logs::LogLine;
use axhub_ports::logs::{LogError, LogRead, LogScope, LogSource, Order};
use uuid::Uuid;

use crate::sdk::{Failure, classify};

/// The log groups' common prefix.
pub const LOG_GROUP_PREFIX: &str = "/axhub/apps";
const FIRST_WINDOW_MS: i64 = 60_000;
const HORIZON_MS: i64 = 30 * 24 * 3_600_000;
const FUTURE_MS: i64 = 2 * 3_600_000;

/// The log group of an app's runtime output.
pub fn log_group(tenant_id: Uuid, app_id: Uuid) -> String {
    format!("{LOG_GROUP_PREFIX}/{tenant_id}/{app_id}")
}

/// The runtime-log port on CloudWatch Logs.
#[derive(Debug, Clone)]
pub struct CloudWatchLogs {
    client: Client,
}

impl CloudWatchLogs {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Every event of the group in `[start, end]` (milliseconds, both included), all pages.
    async fn window(&self, group: &str, start: i64, end: i64) -> Result<Vec<LogLine>, LogError> {
        let mut lines = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let answer = self
                .client
                .filter_log_events()
                .log_group_name(group)
                .start_time(start)
                .end_time(end)
                .set_next_token(token.take())
                .send()
                .await;
            let page = match answer {
                Ok(page) => page,
                Err(e) => {
                    return match classify("FilterLogEvents", &e) {
                        Failure::Service {
                            code: Some("ResourceNotFoundException"),
                            ..
                        } => Ok(Vec::new()),
                        Failure::Service {
                            code: Some("ThrottlingException" | "ServiceUnavailableException"),
                            ..
                        }
                        | Failure::Unavailable(_) => Err(LogError::Unavailable(e.to_string())),
                        Failure::Service { code, message, .. } => Err(LogError::Refused(format!(
                            "FilterLogEvents: {} {}",
                            code.unwrap_or("?"),
                            message.unwrap_or("")
                        ))),
                        Failure::Backend(text) => Err(LogError::Unavailable(text)),
                    };
                }
            };
            lines.extend(page.events().iter().filter_map(line));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(lines),
            }
        }
    }
}

fn line(e: &FilteredLogEvent) -> Option<LogLine> {
    let stream_name = e.log_stream_name()?;
    let event_id = e.event_id()?;
    let (pod, container, stream) = match stream_name.splitn(3, '/').collect::<Vec<_>>()[..] {
        [pod, container, stream @ ("stdout" | "stderr")] => (pod, container, stream),
        _ => (stream_name, "", "stdout"),
    };
    Some(LogLine {
        timestamp_ms: e.timestamp()?,
        id: format!("{stream_name}/{event_id}"),
        stream: stream.into(),
        pod: pod.into(),
        container: container.into(),
        message: e.message().unwrap_or_default().to_owned(),
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

#[async_trait]
impl LogSource for CloudWatchLogs {
    async fn read(&self, read: &LogRead) -> Result<Vec<LogLine>, LogError> {
        let LogScope { tenant_id, app_id } = read.scope;
        let group = log_group(tenant_id, app_id);
        let now = now_ms();
        let lo = read.after.map_or(now - HORIZON_MS, |p| p.timestamp_ms);
        let hi = read.before.map_or(now + FUTURE_MS, |p| p.timestamp_ms);
        let inside = |l: &LogLine| {
            let p = l.position();
            read.after.is_none_or(|a| p > a) && read.before.is_none_or(|b| p < b)
        };
        let mut found: Vec<LogLine> = Vec::new();
        let mut width = FIRST_WINDOW_MS;
        let (mut start, mut end) = match read.order {
            Order::Ascending => (lo, lo.saturating_add(width - 1).min(hi)),
            Order::Descending => (hi.saturating_sub(width - 1).max(lo), hi),
        };
        while start <= end {
            found.extend(
                self.window(&group, start, end)
                    .await?
                    .into_iter()
                    .filter(inside),
            );
            if found.len() >= read.limit {
                break;
            }
            width = width.saturating_mul(4);
            match read.order {
                Order::Ascending if end < hi => {
                    start = end + 1;
                    end = start.saturating_add(width - 1).min(hi);
                }
                Order::Descending if start > lo => {
                    end = start - 1;
                    start = end.saturating_sub(width - 1).max(lo);
                }
                _ => break,
            }
        }
        found.sort_by_key(LogLine::position);
        if read.order == Order::Descending {
            found.reverse();
        }
        found.truncate(read.limit);
        Ok(found)
    }
}
