//! The embedded runtime-log backend (`LogSource`): what the simulated cluster's app
//! containers print, kept per app in position order, for axhub-local and the tests.
//!
//! Lines are held sorted by position, so a late line (one written with an older timestamp)
//! lands in its place and every read is two binary searches. Each app keeps its newest
//! `max_lines`; older ones are gone, as a log group's retention drops them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use axhub_domain::logs::LogLine;
use axhub_ports::logs::conformance::LogWriter;
use axhub_ports::logs::{LogError, LogRead, LogScope, LogSource, Order};
use time::OffsetDateTime;
use uuid::Uuid;

/// Lines each app keeps in axhub-local.
pub const DEFAULT_MAX_LINES: usize = 20_000;

pub struct LogBook {
    apps: Mutex<HashMap<Uuid, Vec<LogLine>>>,
    max_lines: usize,
    sequence: AtomicU64,
    down: AtomicBool,
}

impl Default for LogBook {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINES)
    }
}

impl LogBook {
    pub fn new(max_lines: usize) -> Self {
        Self {
            apps: Mutex::new(HashMap::new()),
            max_lines,
            sequence: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }

    /// Makes every read fail as unreachable (true) or work again (false).
    pub fn set_unavailable(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// A line a container prints now; its id is pod/container/stream/sequence.
    pub fn print(&self, app: Uuid, pod: &str, container: &str, stream: &str, message: &str) {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        self.insert(
            app,
            vec![LogLine {
                timestamp_ms: ms,
                id: format!("{pod}/{container}/{stream}/{n}"),
                stream: stream.into(),
                pod: pod.into(),
                container: container.into(),
                message: message.into(),
            }],
        );
    }

    /// Takes lines in, each at its position (ids as given).
    pub fn insert(&self, app: Uuid, lines: Vec<LogLine>) {
        let Ok(mut apps) = self.apps.lock() else {
            return;
        };
        let held = apps.entry(app).or_default();
        for line in lines {
            let p = line.position();
            let at = held.partition_point(|l| l.position() < p);
            held.insert(at, line);
        }
        let excess = held.len().saturating_sub(self.max_lines);
        held.drain(..excess);
    }
}

#[async_trait]
impl LogSource for LogBook {
    async fn read(&self, read: &LogRead) -> Result<Vec<LogLine>, LogError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(LogError::Unavailable("simulated log backend outage".into()));
        }
        let apps = self
            .apps
            .lock()
            .map_err(|_| LogError::Unavailable("log book poisoned".into()))?;
        let Some(held) = apps.get(&read.scope.app_id) else {
            return Ok(Vec::new());
        };
        let start = match read.after {
            Some(a) => held.partition_point(|l| l.position() <= a),
            None => 0,
        };
        let end = match read.before {
            Some(b) => held.partition_point(|l| l.position() < b),
            None => held.len(),
        }
        .max(start);
        let inside = &held[start..end];
        Ok(match read.order {
            Order::Ascending => inside.iter().take(read.limit).cloned().collect(),
            Order::Descending => inside.iter().rev().take(read.limit).cloned().collect(),
        })
    }
}

/// The conformance suite feeds the book as the cluster's shipper would.
#[async_trait]
impl LogWriter for LogBook {
    async fn write(&self, scope: &LogScope, lines: Vec<LogLine>) {
        self.insert(scope.app_id, lines);
    }
}
