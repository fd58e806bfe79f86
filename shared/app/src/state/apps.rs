//! The app: its read model (`APP#{id}` / `META`, fed by the apps and review services) and this
//! service's own state next to it (`APP#{id}` / `DEPLOYSTATE`: the one in-progress slot, the
//! counters, staging, the pointers). One keyed query on `APP#{id}` reads both together with the
//! git connection (`GIT`).

use axhub_domain::{App, Environment, Error, GitConnection};
use axhub_store::{Cond, Index, Item, Key, Query, SK, TxOp, Update};
use serde_json::Value;
use uuid::Uuid;

use super::codec::{from_item, index, to_item};
use super::{Guard, UnitOfWork, app_pk as pk, git, reviews};
use crate::{Deps, store_error};

pub const META: &str = "META";
pub const DEPLOY_STATE: &str = "DEPLOYSTATE";

/// Attributes of [`App`] that are this service's own (kept on `DEPLOYSTATE`): never written
/// from, nor overwritten by, the apps service's events.
pub const SERVICE_OWNED: [&str; 3] = [STAGING_ENABLED, PRODUCTION_POINTER, STAGING_POINTER];

const ACTIVE_CHANGE: &str = "active_change_id";
const ACTIVE_KIND: &str = "active_change_kind";
const DEPLOYMENTS_TOTAL: &str = "deployments_total";
const RELEASES_TOTAL: &str = "releases_total";
const STAGING_ENABLED: &str = "staging_enabled";
const PRODUCTION_POINTER: &str = "production_deployment_id";
const STAGING_POINTER: &str = "staging_deployment_id";
const STAGING_CLAIM: &str = "staging_claim_id";
const STAGING_CLAIM_UNTIL: &str = "staging_claim_until";
const PRODUCTION_SCHEMA_SEQ: &str = "production_schema_seq";
const OPS_DISCARDED_THROUGH: &str = "ops_discarded_through";
const DELETED: &str = "deleted";
const APPROVED: &str = "approved";

/// The app's read-model item.
pub fn key(app: Uuid) -> Key {
    Key::new(pk(app), META)
}

/// This service's own state of the app.
pub fn state_key(app: Uuid) -> Key {
    Key::new(pk(app), DEPLOY_STATE)
}

/// A change that holds the app's one in-progress slot (DESIGN §6: one change per app at a
/// time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveChange {
    Deployment(Uuid),
    Rollback(Uuid),
    /// A promotion, by its review request id.
    Promotion(Uuid),
}

impl ActiveChange {
    pub fn id(self) -> Uuid {
        match self {
            ActiveChange::Deployment(id)
            | ActiveChange::Rollback(id)
            | ActiveChange::Promotion(id) => id,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            ActiveChange::Deployment(_) => "deployment",
            ActiveChange::Rollback(_) => "rollback",
            ActiveChange::Promotion(_) => "promotion",
        }
    }

    /// What it is, for messages: `deployment 0190…`.
    pub fn describe(self) -> String {
        format!("{} {}", self.kind(), self.id())
    }
}

/// This service's own per-app state, next to the read model of the app.
#[derive(Debug, Clone, Default)]
pub struct AppDeployState {
    /// The change holding the app's one in-progress slot.
    pub active: Option<ActiveChange>,
    /// How many deployments the app ever had; also the `seq` of the newest.
    pub deployments_total: u64,
    /// How many releases (succeeded deployments) the app ever had.
    pub releases_total: u64,
    /// A `PUT …/staging` in progress, and until when (unix seconds) it holds the claim.
    pub staging_claim: Option<(Uuid, i64)>,
    /// The highest schema op applied to the production database, as the last promotion
    /// recorded it.
    pub production_schema_seq: u64,
    /// Schema ops up to this seq will never be promoted: recorded before staging was forked
    /// (already in production's structure) or discarded when staging was turned off.
    pub ops_discarded_through: u64,
}

/// Everything about an app one request needs, read with a single keyed query.
#[derive(Debug, Clone)]
pub struct AppContext {
    pub app: App,
    pub state: AppDeployState,
    pub git: Option<GitConnection>,
}

impl AppContext {
    /// Whether the change with this id holds the app's in-progress slot.
    pub fn holds_slot(&self, change: Uuid) -> bool {
        self.state.active.map(ActiveChange::id) == Some(change)
    }
}

/// The app with its state and connection; `None` for a missing or deleted app.
pub async fn load(deps: &Deps, app_id: Uuid) -> Result<Option<AppContext>, Error> {
    let page = deps
        .store
        .query(Query::new(Index::Primary, pk(app_id)).limit(20))
        .await
        .map_err(store_error)?;
    let (mut app, mut state_item, mut connection) = (None, None, None);
    let mut reviewed = false;
    for item in page.items {
        match item.get(SK).and_then(Value::as_str) {
            // A deleted app leaves a tombstone (see ingest): it does not exist.
            Some(META) if item.get(DELETED) == Some(&Value::Bool(true)) => {}
            Some(META) => app = Some(from_item::<App>(item)?),
            Some(DEPLOY_STATE) => state_item = Some(item),
            Some(git::CONNECTION) => connection = Some(git::decode(item)?),
            Some(reviews::APP_REVIEW) => {
                reviewed = item.get(APPROVED) == Some(&Value::Bool(true));
            }
            _ => {}
        }
    }
    let Some(mut app) = app else { return Ok(None) };
    // Approved by the apps service's record, or by a review (which may have come first).
    app.approved |= reviewed;
    let mut state = AppDeployState::default();
    if let Some(item) = state_item {
        let id = |n: &str| {
            item.get(n)
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
        };
        let count = |n: &str| item.get(n).and_then(Value::as_u64).unwrap_or(0);
        state.active =
            id(ACTIVE_CHANGE).map(
                |active| match item.get(ACTIVE_KIND).and_then(Value::as_str) {
                    Some("rollback") => ActiveChange::Rollback(active),
                    Some("promotion") => ActiveChange::Promotion(active),
                    _ => ActiveChange::Deployment(active),
                },
            );
        state.deployments_total = count(DEPLOYMENTS_TOTAL);
        state.releases_total = count(RELEASES_TOTAL);
        state.production_schema_seq = count(PRODUCTION_SCHEMA_SEQ);
        state.ops_discarded_through = count(OPS_DISCARDED_THROUGH);
        state.staging_claim = id(STAGING_CLAIM).map(|c| {
            let until = item.get(STAGING_CLAIM_UNTIL).and_then(Value::as_i64);
            (c, until.unwrap_or(0))
        });
        app.staging_enabled = item
            .get(STAGING_ENABLED)
            .and_then(Value::as_bool)
            .unwrap_or(false);
        app.production_deployment_id = id(PRODUCTION_POINTER);
        app.staging_deployment_id = id(STAGING_POINTER);
    }
    Ok(Some(AppContext {
        app,
        state,
        git: connection,
    }))
}

/// The app, which must exist (a missing or deleted one is a 404).
pub async fn existing(deps: &Deps, app_id: Uuid) -> Result<AppContext, Error> {
    load(deps, app_id)
        .await?
        .ok_or_else(|| Error::not_found("app"))
}

/// The app's read-model item, without this service's own attributes, findable by its slug
/// (GSI1 `TENANTAPPS#{tenant}` / `SLUG#{slug}`) and subdomain (GSI2 `TENANTSUBDOMAINS#{tenant}`
/// / `{subdomain}`) within its tenant: how a bootstrap learns a name is taken. A deleted
/// app's tombstone has neither.
pub fn read_model_item(app: &App) -> Result<Item, Error> {
    let mut item = to_item(&key(app.id), app)?;
    for own in SERVICE_OWNED {
        item.remove(own);
    }
    index(
        &mut item,
        Index::Gsi1,
        slugs_pk(app.tenant_id),
        format!("SLUG#{}", app.slug),
    );
    if let Some(subdomain) = app.subdomain.as_deref().filter(|s| !s.is_empty()) {
        index(
            &mut item,
            Index::Gsi2,
            subdomains_pk(app.tenant_id),
            subdomain.to_owned(),
        );
    }
    Ok(item)
}

fn slugs_pk(tenant: Uuid) -> String {
    format!("TENANTAPPS#{tenant}")
}

fn subdomains_pk(tenant: Uuid) -> String {
    format!("TENANTSUBDOMAINS#{tenant}")
}

/// The app of the tenant with this slug, and the one with this subdomain, if any (other than
/// `except`).
pub async fn name_owners(
    deps: &Deps,
    tenant: Uuid,
    slug: &str,
    subdomain: &str,
    except: Uuid,
) -> Result<(Option<Uuid>, Option<Uuid>), Error> {
    let one = |index: Index, pk: String, sk: String| {
        Query::new(index, pk)
            .sk(axhub_store::SkCond::Between(sk.clone(), sk))
            .limit(2)
    };
    let (by_slug, by_subdomain) = tokio::join!(
        deps.store
            .query(one(Index::Gsi1, slugs_pk(tenant), format!("SLUG#{slug}"))),
        deps.store.query(one(
            Index::Gsi2,
            subdomains_pk(tenant),
            subdomain.to_owned()
        )),
    );
    let owner = |page: axhub_store::Page| {
        page.items
            .iter()
            .filter_map(|i| i.get("id").and_then(Value::as_str))
            .filter_map(|s| Uuid::parse_str(s).ok())
            .find(|id| *id != except)
    };
    Ok((
        owner(by_slug.map_err(store_error)?),
        owner(by_subdomain.map_err(store_error)?),
    ))
}

impl UnitOfWork {
    /// Writes a new app's read model (the bootstrap saga's app step): holds only if no app
    /// has this id. It carries no `version`, so the apps service's first event about it
    /// replaces it (docs/decisions.md: who owns the app record).
    pub fn create_app(&mut self, app: &App) -> Result<(), Error> {
        self.push(
            TxOp::Put {
                item: read_model_item(app)?,
                cond: Some(Cond::NotExists),
            },
            None,
        );
        Ok(())
    }

    /// Removes an app this service created and nobody adopted yet (a failed bootstrap):
    /// only while the item is still ours (no `version` from the apps service).
    pub fn withdraw_app(&mut self, app_id: Uuid) {
        self.push(
            TxOp::Delete {
                key: key(app_id),
                cond: Some(Cond::Or(vec![Cond::NotExists, Cond::has_not("version")])),
            },
            None,
        );
    }
}

/// Writes the app's read-model fields (seeding; events go through `ingest`).
pub async fn put_read_model(deps: &Deps, app: &App) -> Result<(), Error> {
    deps.store
        .put(read_model_item(app)?, None)
        .await
        .map_err(store_error)
}

/// Marks the app as opted in to staging (or not) without forking anything: for seeding
/// fixtures only; `staging::enable` is the operation.
pub async fn set_staging_enabled(deps: &Deps, app_id: Uuid, enabled: bool) -> Result<(), Error> {
    deps.store
        .update(
            &state_key(app_id),
            Update::new().set(STAGING_ENABLED, enabled),
            None,
        )
        .await
        .map_err(store_error)?;
    Ok(())
}

fn pointer_attr(env: Environment) -> &'static str {
    match env {
        Environment::Production => PRODUCTION_POINTER,
        Environment::Staging => STAGING_POINTER,
    }
}

/// The condition that a counter still has the value read (missing reads as 0).
fn counter_is(name: &str, seen: u64) -> Cond {
    if seen == 0 {
        Cond::has_not(name)
    } else {
        Cond::eq(name, seen)
    }
}

/// The condition that some change holds the app's in-progress slot.
pub fn slot_held() -> Cond {
    Cond::has(ACTIVE_CHANGE)
}

/// A release moved by a finished deployment: the counter it saw and where the pointer goes.
#[derive(Debug, Clone, Copy)]
pub struct NewRelease {
    pub releases_seen: u64,
    pub environment: Environment,
    pub deployment_id: Uuid,
}

impl UnitOfWork {
    /// Takes the app's one in-progress slot for `change`: holds only if the slot is free.
    /// A deployment also counts as the app's deployment number `seen_total + 1`, only if
    /// nobody counted one since (so `seq` stays dense).
    pub fn claim_slot(&mut self, app_id: Uuid, change: ActiveChange, seen_total: Option<u64>) {
        let mut update = Update::new()
            .set(ACTIVE_CHANGE, change.id().to_string())
            .set(ACTIVE_KIND, change.kind());
        let mut conds = vec![Cond::has_not(ACTIVE_CHANGE)];
        if let Some(seen) = seen_total {
            update = update.set(DEPLOYMENTS_TOTAL, seen + 1);
            conds.push(counter_is(DEPLOYMENTS_TOTAL, seen));
        }
        self.update_state(app_id, update, conds);
    }

    /// What a finished deployment changes on its app: frees the slot it holds, and for a
    /// success counts the release and moves the environment's pointer to it.
    pub fn settle_app(
        &mut self,
        app_id: Uuid,
        free_slot_of: Option<Uuid>,
        release: Option<NewRelease>,
    ) {
        let mut update = Update::new();
        let mut conds = Vec::new();
        if let Some(d) = free_slot_of {
            update = update.remove(ACTIVE_CHANGE).remove(ACTIVE_KIND);
            conds.push(Cond::eq(ACTIVE_CHANGE, d.to_string()));
        }
        if let Some(r) = release {
            update = update
                .set(RELEASES_TOTAL, r.releases_seen + 1)
                .set(pointer_attr(r.environment), r.deployment_id.to_string());
            conds.push(counter_is(RELEASES_TOTAL, r.releases_seen));
        }
        if !conds.is_empty() {
            self.update_state(app_id, update, conds);
        }
    }

    /// A conditional update of the app's own state.
    fn update_state(&mut self, app_id: Uuid, update: Update, conds: Vec<Cond>) {
        self.push(
            TxOp::Update {
                key: state_key(app_id),
                update,
                cond: Some(Cond::And(conds)),
            },
            Some(Guard::AppState),
        );
    }

    /// Ends a change of production (a rollback, a promotion) on its app: frees the slot it
    /// holds and, when it succeeded, moves the production pointer from `from` (as read when
    /// it took the slot) to `to`. `schema_seq` records how far the production database's
    /// schema now is (a promotion applies ops even when its rollout then fails).
    pub fn end_production_change(
        &mut self,
        app_id: Uuid,
        change: ActiveChange,
        moved: Option<(Option<Uuid>, Uuid)>,
        schema_seq: Option<u64>,
    ) {
        let mut update = Update::new().remove(ACTIVE_CHANGE).remove(ACTIVE_KIND);
        if let Some(seq) = schema_seq {
            update = update.set(PRODUCTION_SCHEMA_SEQ, seq);
        }
        let mut conds = vec![Cond::eq(ACTIVE_CHANGE, change.id().to_string())];
        if let Some((from, to)) = moved {
            update = update.set(PRODUCTION_POINTER, to.to_string());
            conds.push(match from {
                Some(p) => Cond::eq(PRODUCTION_POINTER, p.to_string()),
                None => Cond::has_not(PRODUCTION_POINTER),
            });
        }
        self.update_state(app_id, update, conds);
    }
}

/// Staging's opt-in, in three steps so that a `PUT …/staging` that fails half-way leaves
/// nothing: a claim (one enabler at a time, for a bounded time: a crashed enabler's claim
/// expires), the fork of the database outside the store, then the opt-in itself, which
/// releases the claim.
impl UnitOfWork {
    /// Claims the right to enable staging until `until` (unix seconds): holds only if staging
    /// is off and nobody else's claim is live at `now`.
    pub fn claim_staging(&mut self, app_id: Uuid, claim: Uuid, now: i64, until: i64) {
        let update = Update::new()
            .set(STAGING_CLAIM, claim.to_string())
            .set(STAGING_CLAIM_UNTIL, until);
        let conds = vec![
            Cond::Or(vec![
                Cond::has_not(STAGING_ENABLED),
                Cond::eq(STAGING_ENABLED, false),
            ]),
            Cond::Or(vec![
                Cond::has_not(STAGING_CLAIM),
                Cond::lt(STAGING_CLAIM_UNTIL, now),
            ]),
        ];
        self.update_state(app_id, update, conds);
    }

    /// Gives a claim up (the enable failed); nothing if another claim replaced it.
    pub fn release_staging_claim(&mut self, app_id: Uuid, claim: Uuid) {
        let update = Update::new()
            .remove(STAGING_CLAIM)
            .remove(STAGING_CLAIM_UNTIL);
        self.update_state(
            app_id,
            update,
            vec![Cond::eq(STAGING_CLAIM, claim.to_string())],
        );
    }

    /// Turns staging on under `claim`: staging's pointer starts at production's release (the
    /// seed), and every op recorded so far is behind the fork.
    pub fn enable_staging(&mut self, app_id: Uuid, claim: Uuid, seed: Uuid, ops_through: u64) {
        let update = Update::new()
            .set(STAGING_ENABLED, true)
            .set(STAGING_POINTER, seed.to_string())
            .set(OPS_DISCARDED_THROUGH, ops_through)
            .remove(STAGING_CLAIM)
            .remove(STAGING_CLAIM_UNTIL);
        self.update_state(
            app_id,
            update,
            vec![Cond::eq(STAGING_CLAIM, claim.to_string())],
        );
    }

    /// Turns staging off, only while it is on and no change holds the app's slot; the ops
    /// recorded so far are never promoted.
    pub fn disable_staging(&mut self, app_id: Uuid, ops_through: u64) {
        let update = Update::new()
            .set(STAGING_ENABLED, false)
            .remove(STAGING_POINTER)
            .set(OPS_DISCARDED_THROUGH, ops_through);
        let conds = vec![
            Cond::eq(STAGING_ENABLED, true),
            Cond::has_not(ACTIVE_CHANGE),
        ];
        self.update_state(app_id, update, conds);
    }
}
