//! The single-table key layout (documented in docs/state.md). Every key is built here.

use axhub_store::Key;
use uuid::Uuid;

pub const META: &str = "META";
pub const DEPLOY_STATE: &str = "DEPLOYSTATE";
pub const GIT: &str = "GIT";

pub fn tenant_pk(t: Uuid) -> String {
    format!("TENANT#{t}")
}
pub fn tenant(t: Uuid) -> Key {
    Key::new(tenant_pk(t), META)
}
pub fn tenant_state(t: Uuid) -> Key {
    Key::new(tenant_pk(t), DEPLOY_STATE)
}
pub fn member_sk(user: &str) -> String {
    format!("MEMBER#{user}")
}
pub fn membership(t: Uuid, user: &str) -> Key {
    Key::new(tenant_pk(t), member_sk(user))
}
pub fn app_pk(a: Uuid) -> String {
    format!("APP#{a}")
}
pub fn app(a: Uuid) -> Key {
    Key::new(app_pk(a), META)
}
pub fn app_state(a: Uuid) -> Key {
    Key::new(app_pk(a), DEPLOY_STATE)
}
pub fn git_connection(a: Uuid) -> Key {
    Key::new(app_pk(a), GIT)
}
pub fn deployment(d: Uuid) -> Key {
    Key::new(format!("DEP#{d}"), META)
}
/// GSI1 partition of an app's deployment history, sorted by the zero-padded `seq`.
pub fn app_deployments_gsi(a: Uuid) -> String {
    format!("APPDEPS#{a}")
}
pub fn seq_sk(seq: u64) -> String {
    format!("{seq:012}")
}
/// GSI2 partition of a tenant's deployment feed, sorted by the UUIDv7 deployment id (time order).
pub fn tenant_deployments_gsi(t: Uuid) -> String {
    format!("TENDEPS#{t}")
}
pub fn outbox(id: Uuid) -> Key {
    Key::new(format!("OUTBOX#{id}"), "OUTBOX")
}
/// GSI1 partition of the not yet published outbox entries.
pub const OUTBOX_PENDING: &str = "OUTBOX#PENDING";
pub fn idempotency(hash: &str) -> Key {
    Key::new(format!("IDEM#{hash}"), "IDEM")
}
/// A GitHub install state token, keyed by its SHA-256 (the token itself is never stored).
pub fn github_state(hash: &str) -> Key {
    Key::new(format!("GHSTATE#{hash}"), "GHSTATE")
}
/// A GitHub webhook delivery (`X-GitHub-Delivery`), remembered to answer redeliveries once.
pub fn github_delivery(id: &str) -> Key {
    Key::new(format!("GHDELIVERY#{id}"), "GHDELIVERY")
}
/// GSI1 partition of the git connections of one repository (`owner/repo`, lowercase),
/// sorted by app id: how a push finds its apps.
pub fn repo_connections_gsi(repo_full_name: &str) -> String {
    format!("REPO#{}", repo_full_name.to_ascii_lowercase())
}
/// GSI2 partition of the git connections through one GitHub App installation.
pub fn installation_connections_gsi(installation_id: i64) -> String {
    format!("GHINST#{installation_id}")
}
