//! `Queue` on SQLite, behaving as an SQS standard queue with a redrive policy.
//!
//! One table, `queue_messages`, holds the messages of every queue of a database file, keyed by
//! (queue name, message id), so axhub-local keeps all its queues in its one file next to the
//! store. Each `SqliteQueue` has its own connection (WAL mode, a busy timeout), so several of
//! them, in one process or several, can work on the same file.
//!
//! A message is visible when `visible_at` (ms since the epoch) has passed. A delivery bumps
//! `receive_count`, pushes `visible_at` to the end of the visibility window and stores a
//! fresh random `receipt`; `ack` and `release` act only on the row that holds that receipt
//! while its window is open, so an expired, stale or spent receipt does nothing (the port's
//! rule). Dead letters stay in the table, marked by `dead_at`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axhub_queue::{
    Message, Queue, QueueError, check_dead_letters_max, check_max_receives, normalize_receive,
    normalize_release, normalize_send,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// How often a long poll looks for messages.
const POLL_EVERY: Duration = Duration::from_millis(50);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_messages (
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    dead_at INTEGER,
    PRIMARY KEY (queue, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_messages_ready
    ON queue_messages (queue, visible_at) WHERE dead_at IS NULL;
CREATE INDEX IF NOT EXISTS queue_messages_dead
    ON queue_messages (queue, dead_at) WHERE dead_at IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt
    ON queue_messages (queue, receipt) WHERE receipt IS NOT NULL;
";

/// A named job queue in an SQLite database.
#[derive(Clone)]
pub struct SqliteQueue {
    conn: Arc<Mutex<Connection>>,
    name: Arc<str>,
    max_receives: u32,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("name", &self.name)
            .field("max_receives", &self.max_receives)
            .finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> QueueError {
    QueueError::Backend(e.to_string())
}

/// Milliseconds since the epoch: wall-clock time, because other processes read the same file.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn secs_to_ms(secs: u32) -> i64 {
    i64::from(secs) * 1000
}

/// Receipts are 32 lowercase hex digits (a random UUID); anything else was never issued here.
fn check_receipt(receipt: &str) -> Result<(), QueueError> {
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if receipt.len() == 32 && receipt.bytes().all(hex) {
        Ok(())
    } else {
        Err(QueueError::InvalidRequest(format!(
            "{receipt:?} is not a receipt of an SQLite queue"
        )))
    }
}

impl SqliteQueue {
    /// Opens (creating the table if needed) the queue `name` in the database file at `path`.
    /// Messages are moved to the dead-letter queue instead of a delivery beyond
    /// `max_receives` (1..=1000). A new file is readable by its owner only.
    pub fn open(path: &Path, name: &str, max_receives: u32) -> Result<Self, QueueError> {
        crate::create_private(path).map_err(backend)?;
        Self::init(Connection::open(path).map_err(backend)?, name, max_receives)
    }

    /// A queue in a private in-memory database (tests).
    pub fn in_memory(name: &str, max_receives: u32) -> Result<Self, QueueError> {
        Self::init(
            Connection::open_in_memory().map_err(backend)?,
            name,
            max_receives,
        )
    }

    fn init(conn: Connection, name: &str, max_receives: u32) -> Result<Self, QueueError> {
        check_max_receives(max_receives)?;
        if name.is_empty() {
            return Err(QueueError::InvalidRequest(
                "a queue name must not be empty".into(),
            ));
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        // Writers on other connections to the file (the store, other queues, other
        // processes) hold the write lock only briefly; wait for them instead of failing.
        conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            name: name.into(),
            max_receives,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn max_receives(&self) -> u32 {
        self.max_receives
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &str) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let conn = self.conn.clone();
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| QueueError::Backend("sqlite connection poisoned".into()))?;
            f(&mut guard, &name)
        })
        .await
        .map_err(backend)?
    }

    /// One receive attempt. An IMMEDIATE transaction takes SQLite's write lock before
    /// reading, so no other connection can pick the same visible messages in between.
    async fn receive_once(
        &self,
        max: u32,
        visibility_secs: u32,
    ) -> Result<Vec<Message>, QueueError> {
        let max_receives = self.max_receives;
        self.with_conn(move |c, queue| {
            // A plain read first: an idle long poll then never takes the write lock, which
            // the store and the other queues on the same file need.
            let any: Option<i64> = c
                .prepare_cached(
                    "SELECT 1 FROM queue_messages
                     WHERE queue = ?1 AND dead_at IS NULL AND visible_at <= ?2 LIMIT 1",
                )
                .and_then(|mut s| {
                    s.query_row(params![queue, now_ms()], |r| r.get(0))
                        .optional()
                })
                .map_err(backend)?;
            if any.is_none() {
                return Ok(Vec::new());
            }
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let now = now_ms();
            // As SQS does: a message that would be delivered beyond max_receives goes to the
            // dead-letter queue at the receive that would have delivered it.
            let dead = tx
                .execute(
                    "UPDATE queue_messages SET dead_at = ?3, receipt = NULL
                     WHERE queue = ?1 AND dead_at IS NULL AND visible_at <= ?3
                       AND receive_count >= ?2",
                    params![queue, max_receives, now],
                )
                .map_err(backend)?;
            if dead > 0 {
                tracing::warn!(
                    queue,
                    count = dead,
                    max_receives,
                    "moved messages to the dead-letter queue"
                );
            }
            let ready: Vec<(String, String, u32)> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT id, body, receive_count FROM queue_messages
                         WHERE queue = ?1 AND dead_at IS NULL AND visible_at <= ?2
                         ORDER BY visible_at, sent_at, id LIMIT ?3",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![queue, now, max], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            let visible_at = now + secs_to_ms(visibility_secs);
            let mut out = Vec::with_capacity(ready.len());
            for (id, body, count) in ready {
                // Fresh per delivery, so a receipt of an earlier delivery cannot act on this one.
                let receipt = uuid::Uuid::new_v4().simple().to_string();
                tx.execute(
                    "UPDATE queue_messages
                     SET receive_count = receive_count + 1, visible_at = ?3, receipt = ?4
                     WHERE queue = ?1 AND id = ?2",
                    params![queue, id, visible_at, receipt],
                )
                .map_err(backend)?;
                out.push(Message {
                    id,
                    receipt,
                    body,
                    receive_count: count + 1,
                });
            }
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        let delay_secs = normalize_send(body, delay)?;
        let body = body.to_owned();
        // Time-ordered ids (UUIDv7) break ties between messages sent in the same millisecond.
        let id = uuid::Uuid::now_v7().to_string();
        let ret = id.clone();
        self.with_conn(move |c, queue| {
            let now = now_ms();
            c.execute(
                "INSERT INTO queue_messages (queue, id, body, sent_at, visible_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![queue, id, body, now, now + secs_to_ms(delay_secs)],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await?;
        Ok(ret)
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        let p = normalize_receive(max, visibility, wait)?;
        let deadline = Instant::now() + Duration::from_secs(p.wait_secs.into());
        loop {
            let got = self.receive_once(p.max, p.visibility_secs).await?;
            let now = Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            tokio::time::sleep(POLL_EVERY.min(deadline - now)).await;
        }
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        check_receipt(receipt)?;
        let receipt = receipt.to_owned();
        let deleted = self
            .with_conn(move |c, queue| {
                c.execute(
                    "DELETE FROM queue_messages
                     WHERE queue = ?1 AND receipt = ?2 AND dead_at IS NULL AND visible_at > ?3",
                    params![queue, receipt, now_ms()],
                )
                .map_err(backend)
            })
            .await?;
        if deleted == 0 {
            tracing::debug!(queue = %self.name, "ack of an expired, stale or spent receipt");
        }
        Ok(())
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        let delay_secs = normalize_release(delay)?;
        check_receipt(receipt)?;
        let receipt = receipt.to_owned();
        let released = self
            .with_conn(move |c, queue| {
                let now = now_ms();
                // The receipt is spent: the next delivery gets a new one.
                c.execute(
                    "UPDATE queue_messages SET visible_at = ?3, receipt = NULL
                     WHERE queue = ?1 AND receipt = ?2 AND dead_at IS NULL AND visible_at > ?4",
                    params![queue, receipt, now + secs_to_ms(delay_secs), now],
                )
                .map_err(backend)
            })
            .await?;
        if released == 0 {
            tracing::debug!(queue = %self.name, "release of an expired, stale or spent receipt");
        }
        Ok(())
    }

    async fn dead_letters(&self, max: u32) -> Result<Vec<Message>, QueueError> {
        check_dead_letters_max(max)?;
        self.with_conn(move |c, queue| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, body, receive_count FROM queue_messages
                     WHERE queue = ?1 AND dead_at IS NOT NULL
                     ORDER BY dead_at, id LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![queue, max], |r| {
                    Ok(Message {
                        id: r.get(0)?,
                        receipt: String::new(),
                        body: r.get(1)?,
                        receive_count: r.get(2)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }
}
