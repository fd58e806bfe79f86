//! `POST /local/events` (platform admins only): a neighbouring service's event as EventBridge
//! delivers it (`{"source", "detail-type", "detail"}`), applied exactly as the `events-ingest`
//! Lambda applies it: how a single-node install (or a test) feeds tenants, members, apps and
//! reviews without the platform's bus.

use axhub_app::ingest::{self, Applied};
use axhub_domain::{Error, ErrorCode};
use axhub_http::{ApiResult, AppState, Caller, JsonBody};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Default, Deserialize)]
struct Delivered {
    #[serde(default)]
    source: String,
    #[serde(default, rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    detail: Value,
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/local/events", post(deliver))
}

async fn deliver(
    State(s): State<AppState>,
    Caller(who): Caller,
    JsonBody(event): JsonBody<Delivered>,
) -> ApiResult<Json<Value>> {
    if !who.platform_admin {
        return Err(Error::new(
            ErrorCode::NotAdmin,
            "only a platform admin may deliver events",
        )
        .into());
    }
    for (name, value) in [
        ("source", &event.source),
        ("detail-type", &event.detail_type),
    ] {
        if value.is_empty() {
            return Err(Error::field(name, ErrorCode::Required, "must be given").into());
        }
    }
    let applied =
        ingest::apply_delivered(&s.deps, &event.source, &event.detail_type, &event.detail).await?;
    let applied = match applied {
        Applied::Applied => "applied",
        Applied::Stale => "stale",
        Applied::Ignored => "ignored",
    };
    Ok(Json(json!({"applied": applied})))
}
