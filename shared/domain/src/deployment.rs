//! A deployment and its status machine.

use serde::{Deserialize, Serialize};

use crate::failure::{Cause, Stage};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Error;
use crate::ErrorCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    Pending,
    Building,
    Pushing,
    Deploying,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal deployment transition {from:?} -> {to:?}")]
pub struct IllegalTransition {
    pub from: DeploymentStatus,
    pub to: DeploymentStatus,
}

impl From<IllegalTransition> for Error {
    fn from(t: IllegalTransition) -> Self {
        Error::conflict(
            ErrorCode::InvalidStateTransition,
            format!(
                "a {} deployment cannot become {}",
                t.from.as_str(),
                t.to.as_str()
            ),
        )
    }
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Building => "building",
            Self::Pushing => "pushing",
            Self::Deploying => "deploying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    /// The stage a non-terminal deployment is in; terminal ones have none.
    pub fn stage(self) -> Option<&'static str> {
        (!self.is_terminal()).then(|| self.as_str())
    }

    /// The only legal moves: forward one stage at a time, `deploying -> succeeded`, and any
    /// non-terminal state to `failed` or `cancelled`. Terminal states never move again.
    pub fn can_become(self, to: Self) -> bool {
        use DeploymentStatus::*;
        match (self, to) {
            (Pending, Building) | (Building, Pushing) | (Pushing, Deploying) => true,
            (Deploying, Succeeded) => true,
            (from, Failed | Cancelled) => !from.is_terminal(),
            _ => false,
        }
    }

    pub fn transition(self, to: Self) -> Result<Self, IllegalTransition> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerSource {
    Webhook,
    Manual,
    Rollback,
}

/// Which set of the app a deployment targets: production, or staging once the app opted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Production,
    Staging,
}

/// Why a deployment failed: which stage, a stable machine code, and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FailureReason {
    pub stage: String,
    pub code: String,
    pub message: String,
}

impl FailureReason {
    /// A reason in the one failure vocabulary (`crate::failure`).
    pub fn new(stage: Stage, cause: Cause, message: impl Into<String>) -> Self {
        Self {
            stage: stage.as_str().to_owned(),
            code: cause.code().to_owned(),
            message: message.into(),
        }
    }
}

impl DeploymentStatus {
    /// The stage a failure in this status is reported in.
    pub fn failure_stage(self) -> Stage {
        match self {
            DeploymentStatus::Pending => Stage::Pending,
            DeploymentStatus::Building => Stage::Building,
            DeploymentStatus::Pushing => Stage::Pushing,
            _ => Stage::Deploying,
        }
    }
}

/// The deployment as stored and as sent on the wire (snake_case keys, RFC 3339 UTC times).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    pub id: Uuid,
    pub app_id: Uuid,
    pub tenant_id: Uuid,
    /// Position in the app's history, 1 for the first deployment; dense and never reused.
    pub seq: u64,
    pub commit_sha: String,
    pub branch: Option<String>,
    pub status: DeploymentStatus,
    /// pending/building/pushing/deploying while in progress; null once terminal.
    pub current_stage: Option<String>,
    pub trigger_source: TriggerSource,
    pub environment: Environment,
    pub force_rebuild: bool,
    pub image_uri: Option<String>,
    pub failure_reason: Option<FailureReason>,
    /// The app's release version (`v1`, `v2`, …) given when the deployment succeeds.
    pub release_version: Option<String>,
    pub triggered_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub cancel_requested_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What a new deployment needs to exist.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub id: Uuid,
    pub app_id: Uuid,
    pub tenant_id: Uuid,
    pub seq: u64,
    pub commit_sha: String,
    pub branch: Option<String>,
    pub trigger_source: TriggerSource,
    pub environment: Environment,
    pub force_rebuild: bool,
    pub triggered_by: String,
    pub now: OffsetDateTime,
}

impl Deployment {
    pub fn new(n: NewDeployment) -> Self {
        Self {
            id: n.id,
            app_id: n.app_id,
            tenant_id: n.tenant_id,
            seq: n.seq,
            commit_sha: n.commit_sha,
            branch: n.branch,
            status: DeploymentStatus::Pending,
            current_stage: DeploymentStatus::Pending.stage().map(str::to_owned),
            trigger_source: n.trigger_source,
            environment: n.environment,
            force_rebuild: n.force_rebuild,
            image_uri: None,
            failure_reason: None,
            release_version: None,
            triggered_by: n.triggered_by,
            started_at: n.now,
            completed_at: None,
            cancel_requested_at: None,
            updated_at: n.now,
        }
    }

    /// Moves the deployment to `to`, keeping current_stage and completed_at consistent with
    /// the status. An illegal move changes nothing and is returned as an error.
    pub fn advance(
        &mut self,
        to: DeploymentStatus,
        now: OffsetDateTime,
    ) -> Result<(), IllegalTransition> {
        self.status = self.status.transition(to)?;
        self.current_stage = to.stage().map(str::to_owned);
        self.updated_at = now;
        if to.is_terminal() {
            self.completed_at = Some(now);
        }
        Ok(())
    }

    pub fn cancel(&mut self, now: OffsetDateTime) -> Result<(), IllegalTransition> {
        self.advance(DeploymentStatus::Cancelled, now)?;
        self.cancel_requested_at = Some(now);
        Ok(())
    }

    pub fn fail(
        &mut self,
        reason: FailureReason,
        now: OffsetDateTime,
    ) -> Result<(), IllegalTransition> {
        self.advance(DeploymentStatus::Failed, now)?;
        self.failure_reason = Some(reason);
        Ok(())
    }
}

/// RFC 3339 UTC, as every timestamp on the wire and in the store.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeploymentStatus::*;

    fn sample() -> Deployment {
        Deployment::new(NewDeployment {
            id: Uuid::now_v7(),
            app_id: Uuid::now_v7(),
            tenant_id: Uuid::now_v7(),
            seq: 1,
            commit_sha: "a".repeat(40),
            branch: Some("main".into()),
            trigger_source: TriggerSource::Manual,
            environment: Environment::Production,
            force_rebuild: false,
            triggered_by: "u1".into(),
            now: OffsetDateTime::UNIX_EPOCH,
        })
    }

    #[test]
    fn happy_path_moves_one_stage_at_a_time() {
        let mut d = sample();
        assert_eq!(d.current_stage.as_deref(), Some("pending"));
        for s in [Building, Pushing, Deploying, Succeeded] {
            d.advance(s, OffsetDateTime::UNIX_EPOCH).unwrap();
        }
        assert_eq!(d.status, Succeeded);
        assert_eq!(d.current_stage, None);
        assert!(d.completed_at.is_some());
    }

    #[test]
    fn skipping_a_stage_or_leaving_a_terminal_state_is_illegal() {
        assert!(!Pending.can_become(Pushing));
        assert!(!Pending.can_become(Succeeded));
        assert!(!Building.can_become(Pending));
        for t in [Succeeded, Failed, Cancelled] {
            for to in [
                Pending, Building, Pushing, Deploying, Succeeded, Failed, Cancelled,
            ] {
                assert!(!t.can_become(to), "{t:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn an_illegal_move_changes_nothing() {
        let mut d = sample();
        d.cancel(OffsetDateTime::UNIX_EPOCH).unwrap();
        let before = d.clone();
        assert!(d.advance(Building, OffsetDateTime::UNIX_EPOCH).is_err());
        assert_eq!(d, before);
        let err: Error = d.cancel(OffsetDateTime::UNIX_EPOCH).unwrap_err().into();
        assert_eq!(err.code, ErrorCode::InvalidStateTransition);
    }

    #[test]
    fn any_non_terminal_state_can_fail_or_be_cancelled() {
        for s in [Pending, Building, Pushing, Deploying] {
            assert!(s.can_become(Failed));
            assert!(s.can_become(Cancelled));
        }
    }
}
