//! Every domain event this service emits, built from the state it describes (docs/events.md
//! is the contract). Only this module says what an event's detail holds.

use axhub_domain::deployment::rfc3339;
use axhub_domain::{Deployment, DomainEvent, Environment, EventKind, GitConnection};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// An event about deployment `d`, in its tenant and app.
fn of_deployment(
    kind: EventKind,
    d: &Deployment,
    at: OffsetDateTime,
    detail: Value,
) -> DomainEvent {
    DomainEvent::new(kind, d.tenant_id, d.app_id, at, detail)
}

/// A deployment was created (pending).
pub fn deployment_started(d: &Deployment) -> DomainEvent {
    of_deployment(
        EventKind::DeploymentStarted,
        d,
        d.started_at,
        json!({
            "deployment_id": d.id,
            "status": d.status,
            "stage": d.current_stage,
            "commit_sha": d.commit_sha,
            "trigger_source": d.trigger_source,
            "environment": d.environment,
            "started_at": rfc3339(d.started_at),
        }),
    )
}

/// A deployment moved to its next stage.
pub fn deployment_stage_changed(d: &Deployment) -> DomainEvent {
    of_deployment(
        EventKind::DeploymentStageChanged,
        d,
        d.updated_at,
        json!({
            "deployment_id": d.id,
            "status": d.status,
            "stage": d.current_stage,
            "image_uri": d.image_uri,
            "changed_at": rfc3339(d.updated_at),
        }),
    )
}

/// A deployment ended: succeeded, failed (the reaper's `timeout` too) or cancelled.
pub fn deployment_finished(d: &Deployment) -> DomainEvent {
    of_deployment(
        EventKind::DeploymentFinished,
        d,
        d.updated_at,
        json!({
            "deployment_id": d.id,
            "status": d.status,
            "failure_reason": d.failure_reason,
            "release_version": d.release_version,
            "completed_at": d.completed_at.map(rfc3339),
        }),
    )
}

/// A succeeded deployment moved its environment's pointer.
pub fn pointer_moved_by_deployment(d: &Deployment, env: Environment) -> DomainEvent {
    of_deployment(
        EventKind::ProductionPointerMoved,
        d,
        d.updated_at,
        json!({
            "deployment_id": d.id,
            "environment": env,
            "release_version": d.release_version,
            "image_uri": d.image_uri,
            "cause": "deployment",
            "moved_at": rfc3339(d.updated_at),
        }),
    )
}

/// A rollback rolled out and moved the production pointer to `target`.
pub fn pointer_moved_by_rollback(
    target: &Deployment,
    previous: Option<Uuid>,
    requested_by: &str,
    at: OffsetDateTime,
) -> DomainEvent {
    of_deployment(
        EventKind::ProductionPointerMoved,
        target,
        at,
        json!({
            "deployment_id": target.id,
            "previous_deployment_id": previous,
            "environment": Environment::Production,
            "release_version": target.release_version,
            "image_uri": target.image_uri,
            "cause": "rollback",
            "requested_by": requested_by,
            "moved_at": rfc3339(at),
        }),
    )
}

/// A git connection changed: `GitConnected` when made or replaced (reason `connected`) or
/// retargeted (`branch_changed`); `GitDisconnected` when removed by a person
/// (`disconnected`) or by GitHub (`installation_deleted`, `repository_removed`).
pub fn git_connection(
    kind: EventKind,
    tenant: Uuid,
    g: &GitConnection,
    reason: &str,
    by: &str,
    at: OffsetDateTime,
) -> DomainEvent {
    let detail = json!({
        "provider": g.provider,
        "repo_full_name": g.repo_full_name,
        "branch": g.branch,
        "installation_id": g.installation_id,
        "reason": reason,
        "by": by,
    });
    DomainEvent::new(kind, tenant, g.app_id, at, detail)
}
