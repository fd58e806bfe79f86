//! Domain events this service publishes (EventBridge source `axhub.deploy`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    DeploymentStarted,
    DeploymentStageChanged,
    DeploymentFinished,
    ProductionPointerMoved,
    RollbackStarted,
    RollbackFinished,
    StagingEnabled,
    StagingDisabled,
    PromoteStatusChanged,
    GitConnected,
    GitDisconnected,
    BootstrapFinished,
    AppRegistered,
    AppWithdrawn,
}

impl EventKind {
    /// The EventBridge detail-type.
    pub fn detail_type(self) -> &'static str {
        match self {
            Self::DeploymentStarted => "DeploymentStarted",
            Self::DeploymentStageChanged => "DeploymentStageChanged",
            Self::DeploymentFinished => "DeploymentFinished",
            Self::ProductionPointerMoved => "ProductionPointerMoved",
            Self::RollbackStarted => "RollbackStarted",
            Self::RollbackFinished => "RollbackFinished",
            Self::StagingEnabled => "StagingEnabled",
            Self::StagingDisabled => "StagingDisabled",
            Self::PromoteStatusChanged => "PromoteStatusChanged",
            Self::GitConnected => "GitConnected",
            Self::GitDisconnected => "GitDisconnected",
            Self::BootstrapFinished => "BootstrapFinished",
            Self::AppRegistered => "AppRegistered",
            Self::AppWithdrawn => "AppWithdrawn",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    pub id: Uuid,
    pub kind: EventKind,
    pub tenant_id: Uuid,
    pub app_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// ids, status, stage and timestamps of the change, as documented in docs/events.md.
    pub detail: serde_json::Value,
}

impl DomainEvent {
    pub fn new(
        kind: EventKind,
        tenant_id: Uuid,
        app_id: Uuid,
        occurred_at: OffsetDateTime,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind,
            tenant_id,
            app_id,
            occurred_at,
            detail,
        }
    }
}
