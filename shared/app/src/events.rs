//! Every domain event this service emits, built from the state it describes (docs/events.md
//! is the contract). Only this module says what an event's detail holds.

use axhub_domain::deployment::rfc3339;
use axhub_domain::{
    Bootstrap, Deployment, DomainEvent, Environment, EventKind, GitConnection, Promotion, Rollback,
};
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

/// A rollback rolled out and moved the production pointer to its target.
pub fn pointer_moved_by_rollback(r: &Rollback) -> DomainEvent {
    DomainEvent::new(
        EventKind::ProductionPointerMoved,
        r.tenant_id,
        r.app_id,
        r.updated_at,
        json!({
            "deployment_id": r.deployment_id,
            "previous_deployment_id": r.previous_deployment_id,
            "environment": Environment::Production,
            "release_version": r.release_version,
            "image_uri": r.image_uri,
            "cause": "rollback",
            "rollback_id": r.id,
            "requested_by": r.requested_by,
            "moved_at": rfc3339(r.updated_at),
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

/// A rollback was accepted and holds the app's slot.
pub fn rollback_started(r: &Rollback) -> DomainEvent {
    DomainEvent::new(
        EventKind::RollbackStarted,
        r.tenant_id,
        r.app_id,
        r.created_at,
        json!({
            "rollback_id": r.id,
            "deployment_id": r.deployment_id,
            "release_version": r.release_version,
            "image_uri": r.image_uri,
            "previous_deployment_id": r.previous_deployment_id,
            "requested_by": r.requested_by,
            "started_at": rfc3339(r.created_at),
        }),
    )
}

/// A rollback ended: `succeeded` (the pointer moved, with its `ProductionPointerMoved`) or
/// `failed` (with the reason; production runs the pointer's release again).
pub fn rollback_finished(r: &Rollback) -> DomainEvent {
    DomainEvent::new(
        EventKind::RollbackFinished,
        r.tenant_id,
        r.app_id,
        r.updated_at,
        json!({
            "rollback_id": r.id,
            "deployment_id": r.deployment_id,
            "status": r.status.as_str(),
            "failure_reason": r.failure_reason,
            "release_version": r.release_version,
            "completed_at": r.completed_at.map(rfc3339),
        }),
    )
}

/// Staging was turned on: its database forked from production's structure, its pointer at
/// production's release (the seed rolls out next).
pub fn staging_enabled(
    tenant: Uuid,
    app: Uuid,
    seed: Uuid,
    by: &str,
    at: OffsetDateTime,
) -> DomainEvent {
    DomainEvent::new(
        EventKind::StagingEnabled,
        tenant,
        app,
        at,
        json!({"seed_deployment_id": seed, "by": by, "enabled_at": rfc3339(at)}),
    )
}

/// Staging was turned off: its workload and database go, the ops up to `discarded_through`
/// that were never promoted are discarded.
pub fn staging_disabled(
    tenant: Uuid,
    app: Uuid,
    discarded_through: u64,
    by: &str,
    at: OffsetDateTime,
) -> DomainEvent {
    DomainEvent::new(
        EventKind::StagingDisabled,
        tenant,
        app,
        at,
        json!({
            "discarded_through_seq": discarded_through,
            "by": by,
            "disabled_at": rfc3339(at),
        }),
    )
}

/// A promotion's `promote_status` changed (`promoting`, `promoted`, `failed`), for the review
/// service to show.
pub fn promote_status_changed(p: &Promotion) -> DomainEvent {
    DomainEvent::new(
        EventKind::PromoteStatusChanged,
        p.tenant_id,
        p.app_id,
        p.updated_at,
        json!({
            "request_id": p.request_id,
            "deployment_id": p.deployment_id,
            "release_version": p.release_version,
            "promote_status": p.status.as_str(),
            "failure_reason": p.failure_reason,
            "attempt": p.attempt,
            "cursor_seq": p.cursor_seq,
            "applied_ops": p.applied_ops,
            "changed_at": rfc3339(p.updated_at),
        }),
    )
}

/// A promotion moved the production pointer to the reviewed release.
pub fn pointer_moved_by_promotion(p: &Promotion) -> DomainEvent {
    DomainEvent::new(
        EventKind::ProductionPointerMoved,
        p.tenant_id,
        p.app_id,
        p.updated_at,
        json!({
            "deployment_id": p.deployment_id,
            "previous_deployment_id": p.previous_deployment_id,
            "environment": Environment::Production,
            "release_version": p.release_version,
            "image_uri": p.image_uri,
            "cause": "promotion",
            "request_id": p.request_id,
            "moved_at": rfc3339(p.updated_at),
        }),
    )
}

/// The bootstrap saga wrote a new app into the read model: the apps service adopts it (the
/// same id) or ignores it (docs/decisions.md).
pub fn app_registered(b: &Bootstrap, at: OffsetDateTime) -> DomainEvent {
    DomainEvent::new(
        EventKind::AppRegistered,
        b.tenant_id,
        b.app_id,
        at,
        json!({
            "id": b.app_id,
            "tenant_id": b.tenant_id,
            "owner_id": b.created_by,
            "name": b.name,
            "slug": b.slug,
            "subdomain": b.subdomain,
            "template_id": b.template_id,
            "bootstrap_id": b.id,
        }),
    )
}

/// A failed bootstrap took back the app it had registered.
pub fn app_withdrawn(b: &Bootstrap, at: OffsetDateTime) -> DomainEvent {
    DomainEvent::new(
        EventKind::AppWithdrawn,
        b.tenant_id,
        b.app_id,
        at,
        json!({
            "id": b.app_id,
            "bootstrap_id": b.id,
            "reason": b.error_code.map(|c| c.as_str()),
        }),
    )
}

/// A bootstrap saga ended, done or failed.
pub fn bootstrap_finished(b: &Bootstrap) -> DomainEvent {
    DomainEvent::new(
        EventKind::BootstrapFinished,
        b.tenant_id,
        b.app_id,
        b.updated_at,
        json!({
            "bootstrap_id": b.id,
            "status": b.status.as_str(),
            "stage": b.stage.as_str(),
            "app_id": b.app_created.then_some(b.app_id),
            "repo_full_name": b.repo_full_name,
            "deployment_id": b.deployment_id,
            "error_code": b.error_code.map(|c| c.as_str()),
            "error_message": b.error_message,
            "finished_at": rfc3339(b.updated_at),
        }),
    )
}
