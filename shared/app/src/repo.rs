//! Typed reads and item encoding over the store port.

use axhub_domain::{App, AppRole, Deployment, Error, GitConnection, Principal, TenantRole};
use axhub_store::{Index, Item, Query, SK};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

use crate::{Deps, keys, store_error};

/// Serializes a value into an item under `key`, with extra (index) attributes.
pub fn to_item<T: Serialize>(key: &axhub_store::Key, value: &T) -> Result<Item, Error> {
    let mut item = match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => return Err(Error::internal("could not encode an item")),
    };
    item.insert(axhub_store::PK.into(), Value::String(key.pk.clone()));
    item.insert(axhub_store::SK.into(), Value::String(key.sk.clone()));
    Ok(item)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, Error> {
    serde_json::from_value(Value::Object(item)).map_err(|e| {
        tracing::error!(error = %e, "undecodable item");
        Error::internal("a stored item could not be read")
    })
}

/// This service's own per-app state, next to the read model of the app.
#[derive(Debug, Clone, Default)]
pub struct AppDeployState {
    /// The deployment holding the app's one in-progress slot.
    pub active_deployment_id: Option<Uuid>,
    /// How many deployments the app ever had; also the `seq` of the newest.
    pub deployments_total: u64,
}

/// Everything about an app one request needs, read with a single keyed query.
#[derive(Debug, Clone)]
pub struct AppContext {
    pub app: App,
    pub state: AppDeployState,
    pub git: Option<GitConnection>,
}

pub async fn load_app(deps: &Deps, app_id: Uuid) -> Result<Option<AppContext>, Error> {
    let page = deps
        .store
        .query(Query::new(Index::Primary, keys::app_pk(app_id)).limit(20))
        .await
        .map_err(store_error)?;
    let (mut app, mut state_item, mut git) = (None, None, None);
    for item in page.items {
        match item.get(SK).and_then(Value::as_str) {
            // A deleted app leaves a tombstone (see ingest): it does not exist.
            Some(keys::META) if item.get("deleted") == Some(&Value::Bool(true)) => {}
            Some(keys::META) => app = Some(from_item::<App>(item)?),
            Some(keys::DEPLOY_STATE) => state_item = Some(item),
            Some(keys::GIT) => git = Some(from_item::<GitConnection>(item)?),
            _ => {}
        }
    }
    let Some(mut app) = app else { return Ok(None) };
    let mut state = AppDeployState::default();
    if let Some(item) = state_item {
        let id = |n: &str| {
            item.get(n)
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
        };
        state.active_deployment_id = id("active_deployment_id");
        state.deployments_total = item
            .get("deployments_total")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        app.staging_enabled = item
            .get("staging_enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        app.production_deployment_id = id("production_deployment_id");
        app.staging_deployment_id = id("staging_deployment_id");
    }
    Ok(Some(AppContext { app, state, git }))
}

pub async fn membership(
    deps: &Deps,
    tenant: Uuid,
    user: &str,
) -> Result<Option<TenantRole>, Error> {
    let item = deps
        .store
        .get(&keys::membership(tenant, user))
        .await
        .map_err(store_error)?;
    Ok(item
        .and_then(|i| i.get("role").cloned())
        .and_then(|r| serde_json::from_value(r).ok()))
}

/// The app and what the caller is to it. A missing app and an app the caller may not see
/// give the same 404.
pub async fn app_for(
    deps: &Deps,
    principal: &Principal,
    app_id: Uuid,
) -> Result<(AppContext, AppRole), Error> {
    let ctx = load_app(deps, app_id)
        .await?
        .ok_or_else(|| Error::not_found("app"))?;
    let membership = if principal.platform_admin {
        None
    } else {
        membership(deps, ctx.app.tenant_id, &principal.user_id).await?
    };
    let role = AppRole::of(principal, &ctx.app.owner_id, membership);
    role.require_reader("app")?;
    Ok((ctx, role))
}

pub async fn get_deployment(deps: &Deps, id: Uuid) -> Result<Option<Deployment>, Error> {
    match deps
        .store
        .get(&keys::deployment(id))
        .await
        .map_err(store_error)?
    {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// The deployment as an item with its two feed index keys.
pub fn deployment_item(d: &Deployment) -> Result<Item, Error> {
    let mut item = to_item(&keys::deployment(d.id), d)?;
    item.insert(
        "gsi1pk".into(),
        Value::String(keys::app_deployments_gsi(d.app_id)),
    );
    item.insert("gsi1sk".into(), Value::String(keys::seq_sk(d.seq)));
    item.insert(
        "gsi2pk".into(),
        Value::String(keys::tenant_deployments_gsi(d.tenant_id)),
    );
    item.insert("gsi2sk".into(), Value::String(d.id.to_string()));
    Ok(item)
}
