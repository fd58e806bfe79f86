//! `GET …/logs`: an app's runtime output, a page into the past or the next page of a tail
//! (docs/decisions.md, "Runtime logs").
//!
//! Backward reads page by position: the cursor is the oldest line returned. Forward reads
//! carry a [`TailWindow`] in the cursor: the floor below which the tail is done and the
//! positions it returned above it, so lines that reach the backend late still come, once.
//! Cursors are signed and bound to the app and the direction; they also carry the `since`
//! and `until` bounds of the first call, which later calls need not repeat.

use axhub_domain::logs::{LogEntry, LogLine, LogPage, Position, TailWindow};
use axhub_domain::untrusted::sanitize;
use axhub_domain::{Error, ErrorCode, Principal, validate};
use axhub_ports::logs::{LogError, LogScope, backward_page, forward_page};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::{Deps, access};

/// Longest message returned, in characters; longer ones are cut.
pub const MESSAGE_MAX_CHARS: usize = 8_192;
/// Longest pod, container or stream name returned.
const NAME_MAX_CHARS: usize = 253;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Backward,
    Forward,
}

/// The query of one call, checked.
#[derive(Debug, Clone)]
pub struct LogQuery {
    pub direction: Direction,
    pub cursor: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub limit: usize,
}

impl LogQuery {
    /// From the query string's values (`get` answers a parameter, None when absent or
    /// empty); a bad value is a 400 naming its parameter.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, Error> {
        let direction = match get("direction") {
            None | Some("backward") => Direction::Backward,
            Some("forward") => Direction::Forward,
            Some(_) => {
                return Err(Error::field(
                    "direction",
                    ErrorCode::InvalidValue,
                    "must be backward or forward",
                ));
            }
        };
        let since = time_param("since", get("since"))?;
        let until = time_param("until", get("until"))?;
        if let (Some(s), Some(u)) = (since, until)
            && s > u
        {
            return Err(Error::field(
                "until",
                ErrorCode::InvalidValue,
                "must not be before since",
            ));
        }
        Ok(Self {
            direction,
            cursor: get("cursor").map(str::to_owned),
            since,
            until,
            limit: validate::limit(get("limit"), 100, 1_000)? as usize,
        })
    }
}

fn time_param(name: &str, raw: Option<&str>) -> Result<Option<OffsetDateTime>, Error> {
    raw.map(|v| {
        OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
            Error::field(
                name,
                ErrorCode::InvalidFormat,
                "must be an RFC 3339 time, e.g. 2026-01-02T03:04:05Z",
            )
        })
    })
    .transpose()
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A backward cursor: the page before `before`, lines at or after `since_ms`.
#[derive(Serialize, Deserialize)]
struct BackwardCursor {
    before: Position,
    since_ms: Option<i64>,
}

/// A forward cursor: the tail's window, and the `until` bound. `seen` packs each position
/// as 4 bytes of milliseconds above the floor and 8 of key (big-endian), base64url.
#[derive(Serialize, Deserialize)]
struct ForwardCursor {
    floor: Position,
    seen: String,
    until_ms: Option<i64>,
}

impl ForwardCursor {
    fn pack(w: &TailWindow, until_ms: Option<i64>) -> Self {
        let mut bytes = Vec::with_capacity(w.seen.len() * 12);
        for p in &w.seen {
            let above = (p.timestamp_ms - w.floor.timestamp_ms).clamp(0, i64::from(u32::MAX));
            bytes.extend_from_slice(&(above as u32).to_be_bytes());
            bytes.extend_from_slice(&p.key.to_be_bytes());
        }
        Self {
            floor: w.floor,
            seen: B64.encode(bytes),
            until_ms,
        }
    }

    fn window(&self) -> Option<TailWindow> {
        let bytes = B64.decode(&self.seen).ok()?;
        if bytes.len() % 12 != 0 {
            return None;
        }
        let seen = bytes
            .chunks_exact(12)
            .map(|c| {
                let above = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                let key = u64::from_be_bytes([c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]]);
                Position {
                    timestamp_ms: self.floor.timestamp_ms + i64::from(above),
                    key,
                }
            })
            .collect();
        Some(TailWindow {
            floor: self.floor,
            seen,
        })
    }
}

fn cursor_scope(app_id: Uuid, direction: Direction) -> String {
    match direction {
        Direction::Backward => format!("logs-backward:{app_id}"),
        Direction::Forward => format!("logs-forward:{app_id}"),
    }
}

/// One page of the app's runtime logs, for its owner or a tenant admin.
pub async fn read(
    deps: &Deps,
    who: &Principal,
    app_id: Uuid,
    q: LogQuery,
) -> Result<LogPage, Error> {
    let ctx = access::app_to_inspect(deps, who, app_id).await?;
    let source = deps.logs()?;
    let scope = LogScope {
        tenant_id: ctx.app.tenant_id,
        app_id,
    };
    let cursor_scope = cursor_scope(app_id, q.direction);
    match q.direction {
        Direction::Backward => {
            let (before, since_ms) = match &q.cursor {
                Some(c) => {
                    let c: BackwardCursor = deps.cursors.decode(&cursor_scope, c)?;
                    (Some(c.before), c.since_ms)
                }
                None => (q.until.map(|u| Position::after_ms(ms(u))), q.since.map(ms)),
            };
            let after = since_ms.map(Position::before_ms);
            let (lines, next) = backward_page(&**source, scope, after, before, q.limit)
                .await
                .map_err(log_error)?;
            let next_cursor = next
                .map(|before| {
                    deps.cursors
                        .encode(&cursor_scope, &BackwardCursor { before, since_ms })
                })
                .unwrap_or_default();
            Ok(page(lines, next.is_some(), next_cursor))
        }
        Direction::Forward => {
            let (mut window, until_ms) = match &q.cursor {
                Some(c) => {
                    let c: ForwardCursor = deps.cursors.decode(&cursor_scope, c)?;
                    let window = c.window().ok_or_else(|| {
                        Error::field(
                            "cursor",
                            ErrorCode::InvalidValue,
                            "is not a cursor this list gave out",
                        )
                    })?;
                    (window, c.until_ms)
                }
                None => (
                    TailWindow::starting_at(ms(q.since.unwrap_or_else(|| deps.now()))),
                    q.until.map(ms),
                ),
            };
            let before = until_ms.map(Position::after_ms);
            let lines = forward_page(&**source, scope, &mut window, before, q.limit)
                .await
                .map_err(log_error)?;
            let full = lines.len() == q.limit;
            let next_cursor = deps
                .cursors
                .encode(&cursor_scope, &ForwardCursor::pack(&window, until_ms));
            Ok(page(lines, full, next_cursor))
        }
    }
}

fn page(lines: Vec<LogLine>, has_more: bool, next_cursor: String) -> LogPage {
    LogPage {
        lines: lines.into_iter().map(entry).collect(),
        has_more,
        next_cursor,
    }
}

/// A line on its way out: the app's text made inert and bounded.
fn entry(l: LogLine) -> LogEntry {
    let timestamp =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(l.timestamp_ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    LogEntry {
        timestamp,
        stream: sanitize(&l.stream, NAME_MAX_CHARS).0,
        message: sanitize(&l.message, MESSAGE_MAX_CHARS).0,
        pod: sanitize(&l.pod, NAME_MAX_CHARS).0,
        container: sanitize(&l.container, NAME_MAX_CHARS).0,
    }
}

/// Log backend failures in the platform's words; the backend's text goes to the log only.
fn log_error(e: LogError) -> Error {
    match e {
        LogError::Unavailable(detail) => {
            tracing::warn!(%detail, "log backend unavailable");
            Error::unavailable("the log backend cannot be reached right now; retry shortly")
        }
        LogError::Refused(detail) => {
            tracing::error!(%detail, "the log backend refused a read");
            Error::internal("the platform could not read the app's logs")
        }
    }
}
