//! `/local/admin/…`: the operator's actions of [`crate::admin`] over HTTP, for platform admins
//! (what `axhub-local admin …` does on the data directory, for an install that is running).

use axhub_domain::{Error, ErrorCode};
use axhub_http::{ApiResult, AppState, Caller, JsonBody};
use axum::extract::{Path, State};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde_json::Value;

use crate::admin::{
    self, Action, AppAction, AppAdd, MemberAction, MemberAdd, PatAction, PatCreate, PatRevoke,
    TenantAction, TenantAdd, TokenFor,
};

/// The routes; `jwt_secret` signs the tokens `/local/admin/tokens` mints.
pub fn routes(jwt_secret: Vec<u8>) -> Router<AppState> {
    let secret = std::sync::Arc::new(jwt_secret);
    let with = |make: fn(Value) -> Result<Action, Error>| {
        let secret = secret.clone();
        move |State(s): State<AppState>, Caller(who), JsonBody(body): JsonBody<Value>| {
            let secret = secret.clone();
            async move {
                require_platform_admin(who.platform_admin)?;
                let out = admin::run(&s.deps, &secret, make(body)?).await?;
                ApiResult::Ok(Json(out))
            }
        }
    };
    let revoke = {
        let secret = secret.clone();
        move |State(s): State<AppState>, Caller(who), Path(id): Path<String>| {
            let secret = secret.clone();
            async move {
                require_platform_admin(who.platform_admin)?;
                let action = Action::Pat(PatAction::Revoke(PatRevoke { id }));
                ApiResult::Ok(Json(admin::run(&s.deps, &secret, action).await?))
            }
        }
    };
    Router::new()
        .route(
            "/local/admin/tenants",
            post(with(|b| {
                Ok(Action::Tenant(TenantAction::Add(parse::<TenantAdd>(b)?)))
            })),
        )
        .route(
            "/local/admin/members",
            post(with(|b| {
                Ok(Action::Member(MemberAction::Add(parse::<MemberAdd>(b)?)))
            })),
        )
        .route(
            "/local/admin/apps",
            post(with(|b| {
                Ok(Action::App(AppAction::Add(parse::<AppAdd>(b)?)))
            })),
        )
        .route(
            "/local/admin/tokens",
            post(with(|b| Ok(Action::Token(parse::<TokenFor>(b)?)))),
        )
        .route(
            "/local/admin/pats",
            post(with(|b| {
                Ok(Action::Pat(PatAction::Create(parse::<PatCreate>(b)?)))
            })),
        )
        .route("/local/admin/pats/{id}", delete(revoke))
}

fn require_platform_admin(platform_admin: bool) -> Result<(), Error> {
    if platform_admin {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::NotAdmin,
            "only a platform admin may administer this install",
        ))
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, Error> {
    serde_json::from_value(body)
        .map_err(|e| Error::bad_request(format!("the body is not understood: {e}")))
}
