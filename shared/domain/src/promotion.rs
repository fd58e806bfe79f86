//! A promotion: the release a review approved goes from staging to production. It starts
//! when the approval arrives, waits for the app's in-progress slot, applies the schema ops
//! the review pinned (up to `cursor_seq`) to the production database, rolls the release's
//! image out to production and moves the production pointer. `promote_status` is what the
//! review service shows: `promoting` → `promoted` | `failed` (with a reason); a failed or
//! stuck one can be run again (a new `attempt`), which skips what the last one finished.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, ErrorCode, FailureReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromoteStatus {
    Promoting,
    Promoted,
    Failed,
}

impl PromoteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PromoteStatus::Promoting => "promoting",
            PromoteStatus::Promoted => "promoted",
            PromoteStatus::Failed => "failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        self != PromoteStatus::Promoting
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    /// The review request it carries out (one promotion per review).
    pub request_id: Uuid,
    pub app_id: Uuid,
    pub tenant_id: Uuid,
    /// The release that goes to production.
    pub deployment_id: Uuid,
    pub release_version: Option<String>,
    pub image_uri: String,
    /// Schema ops up to this seq are applied to production.
    pub cursor_seq: u64,
    pub status: PromoteStatus,
    pub failure_reason: Option<FailureReason>,
    /// 1 for the run the approval started, +1 for every retry.
    pub attempt: u32,
    /// What production ran when this attempt took the app's slot.
    #[serde(default)]
    pub previous_deployment_id: Option<Uuid>,
    /// The schema ops this promotion applied to production (over all its attempts).
    #[serde(default)]
    pub applied_ops: Vec<u64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
}

impl Promotion {
    fn end(&mut self, status: PromoteStatus, now: OffsetDateTime) -> Result<(), Error> {
        if self.status.is_terminal() {
            return Err(Error::new(
                ErrorCode::InvalidStateTransition,
                format!(
                    "promotion {} already {}",
                    self.request_id,
                    self.status.as_str()
                ),
            ));
        }
        self.status = status;
        self.updated_at = now;
        self.completed_at = Some(now);
        Ok(())
    }

    pub fn promote(&mut self, now: OffsetDateTime) -> Result<(), Error> {
        self.end(PromoteStatus::Promoted, now)
    }

    pub fn fail(&mut self, reason: FailureReason, now: OffsetDateTime) -> Result<(), Error> {
        self.end(PromoteStatus::Failed, now)?;
        self.failure_reason = Some(reason);
        Ok(())
    }

    /// Starts another attempt of a failed (or stuck) promotion.
    pub fn retry(&mut self, now: OffsetDateTime) -> Result<(), Error> {
        if self.status == PromoteStatus::Promoted {
            return Err(Error::conflict(
                ErrorCode::AlreadyPromoted,
                format!("review {} was already promoted", self.request_id),
            ));
        }
        self.status = PromoteStatus::Promoting;
        self.failure_reason = None;
        self.attempt += 1;
        self.updated_at = now;
        self.completed_at = None;
        Ok(())
    }
}
