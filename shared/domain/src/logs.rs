//! Runtime log lines and the order every reader of them shares (docs/decisions.md, "Runtime
//! logs").
//!
//! A line's place in an app's history is its [`Position`]: its timestamp (milliseconds, the
//! precision CloudWatch keeps), then a 64-bit key hashed from the backend's stable id of the
//! line, which breaks ties between lines of one millisecond the same way on every read.
//! Backward pages are bounded by a position; a forward tail by a [`TailWindow`], which also
//! catches lines that reach the backend late.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One line an app's container wrote, as a log backend holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The backend's stable, unique id of the line (a CloudWatch event id, the simulated
    /// cluster's pod/container/stream/sequence): the same on every read.
    pub id: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub pod: String,
    pub container: String,
    /// What the app printed, untouched: it is sanitized on its way out.
    pub message: String,
}

impl LogLine {
    pub fn position(&self) -> Position {
        Position {
            timestamp_ms: self.timestamp_ms,
            key: line_key(&self.id),
        }
    }
}

/// Where a line sits in its app's history: ordered by time, then by the key of its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub timestamp_ms: i64,
    pub key: u64,
}

impl Position {
    /// Just before every line of millisecond `ms`: "after" it includes them all.
    pub fn before_ms(ms: i64) -> Self {
        Self {
            timestamp_ms: ms.saturating_sub(1),
            key: u64::MAX,
        }
    }

    /// Just after every line of millisecond `ms`: "before" it includes them all.
    pub fn after_ms(ms: i64) -> Self {
        Self {
            timestamp_ms: ms.saturating_add(1),
            key: 0,
        }
    }
}

/// The tiebreak key of a line id: FNV-1a, 64 bits. Stable across processes and versions (it
/// is in cursors); two lines of one millisecond colliding is a 2^-64 chance.
pub fn line_key(id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// How long after the newest line returned a late line is still caught by a tail: a log
/// shipper flushes every few seconds and CloudWatch indexes within seconds more.
pub const LATENESS_WINDOW_MS: i64 = 30_000;

/// The most returned lines a tail remembers inside its window (they travel in its cursor,
/// 12 bytes each). Past them the window narrows to the newest this many.
pub const TAIL_SEEN_MAX: usize = 200;

/// What a forward tail has already been given. Every line at or before `floor` is behind the
/// tail for good; of the lines after it, those in `seen` were returned. The next read is the
/// lines after `floor` that are not in `seen`, so a late line whose position is above the
/// floor is returned once, and none twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailWindow {
    pub floor: Position,
    /// Positions returned after `floor`, ascending.
    pub seen: Vec<Position>,
}

impl TailWindow {
    /// A tail that starts with the lines of millisecond `ms` and after.
    pub fn starting_at(ms: i64) -> Self {
        Self {
            floor: Position::before_ms(ms),
            seen: Vec::new(),
        }
    }

    pub fn has_seen(&self, p: &Position) -> bool {
        *p <= self.floor || self.seen.binary_search(p).is_ok()
    }

    /// Takes in the lines just returned, then moves the floor up to the lateness window
    /// behind the newest line returned, and higher if more than [`TAIL_SEEN_MAX`] lines are
    /// left above it.
    pub fn advance(&mut self, returned: impl IntoIterator<Item = Position>) {
        self.seen.extend(returned);
        self.seen.sort_unstable();
        self.seen.dedup();
        if let Some(newest) = self.seen.last() {
            let window = Position::before_ms(newest.timestamp_ms - LATENESS_WINDOW_MS);
            self.floor = self.floor.max(window);
        }
        let floor = self.floor;
        self.seen.retain(|p| *p > floor);
        if self.seen.len() > TAIL_SEEN_MAX {
            let cut = self.seen.len() - TAIL_SEEN_MAX;
            self.floor = self.seen[cut - 1];
            self.seen.drain(..cut);
        }
    }
}

/// One log line on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// What the app printed: untrusted, with control characters and ANSI escapes removed,
    /// at most 8,192 characters.
    pub message: String,
    pub pod: String,
    pub container: String,
}

/// A page of an app's runtime logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogPage {
    /// In ascending time, whatever the direction.
    pub lines: Vec<LogEntry>,
    /// More lines are there now (backward: older; forward: the page was full).
    pub has_more: bool,
    /// The cursor of the next call: backward older lines ("" at the start of the history),
    /// forward the lines after these (always given).
    pub next_cursor: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64, key: u64) -> Position {
        Position {
            timestamp_ms: ms,
            key,
        }
    }

    #[test]
    fn the_window_keeps_what_it_returned_above_its_floor_and_no_more() {
        let mut w = TailWindow::starting_at(1_000);
        assert!(w.has_seen(&at(999, 5)));
        assert!(!w.has_seen(&at(1_000, 0)));
        w.advance([at(1_000, 3), at(1_000, 1)]);
        assert!(w.has_seen(&at(1_000, 1)) && w.has_seen(&at(1_000, 3)));
        assert!(!w.has_seen(&at(1_000, 2)), "a late line of the same ms");

        w.advance([at(1_000 + LATENESS_WINDOW_MS + 1, 9)]);
        assert!(w.has_seen(&at(1_000, 2)), "behind the window for good");
        assert_eq!(w.seen, vec![at(1_000 + LATENESS_WINDOW_MS + 1, 9)]);

        let burst: Vec<_> = (0..TAIL_SEEN_MAX as u64 + 10)
            .map(|k| at(50_000, k))
            .collect();
        w.advance(burst);
        assert_eq!(w.seen.len(), TAIL_SEEN_MAX);
        assert_eq!(w.floor, at(50_000, 9));
        assert!(!w.has_seen(&at(50_000, u64::MAX)));
    }

    #[test]
    fn the_key_is_stable() {
        assert_eq!(line_key(""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(line_key("a"), line_key("b"));
    }
}
