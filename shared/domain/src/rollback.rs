//! A rollback: production goes back to an earlier release's image. It is a change like a
//! deployment: it holds the app's in-progress slot while it rolls out, has a deadline the
//! reaper enforces, and ends succeeded (the production pointer moved to the target) or failed
//! (the workload is put back to the pointer's release).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, ErrorCode, FailureReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    /// The target image is being rolled out to production.
    Deploying,
    Succeeded,
    Failed,
}

impl RollbackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackStatus::Deploying => "deploying",
            RollbackStatus::Succeeded => "succeeded",
            RollbackStatus::Failed => "failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        self != RollbackStatus::Deploying
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    pub id: Uuid,
    pub app_id: Uuid,
    pub tenant_id: Uuid,
    /// The release production goes back to.
    pub deployment_id: Uuid,
    pub release_version: Option<String>,
    pub image_uri: String,
    /// What production ran when the rollback was accepted.
    pub previous_deployment_id: Option<Uuid>,
    pub status: RollbackStatus,
    pub failure_reason: Option<FailureReason>,
    pub requested_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
}

impl Rollback {
    fn end(&mut self, status: RollbackStatus, now: OffsetDateTime) -> Result<(), Error> {
        if self.status.is_terminal() {
            return Err(Error::new(
                ErrorCode::InvalidStateTransition,
                format!("rollback {} already {}", self.id, self.status.as_str()),
            ));
        }
        self.status = status;
        self.updated_at = now;
        self.completed_at = Some(now);
        Ok(())
    }

    pub fn succeed(&mut self, now: OffsetDateTime) -> Result<(), Error> {
        self.end(RollbackStatus::Succeeded, now)
    }

    pub fn fail(&mut self, reason: FailureReason, now: OffsetDateTime) -> Result<(), Error> {
        self.end(RollbackStatus::Failed, now)?;
        self.failure_reason = Some(reason);
        Ok(())
    }
}
