//! axum glue shared by every endpoint group: the error envelope, request ids, the caller,
//! typed path ids, JSON bodies, list responses, route tables, the OpenAPI document, and the
//! routes every function serves.

pub mod body;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod path;
pub mod request_id;
pub mod routes;

use std::sync::Arc;

use axhub_app::Deps;
use axhub_auth::Authenticator;
use axum::Router;
use axum::routing::get;

pub use body::JsonBody;
pub use error::{ApiError, ApiResult, ErrorEnvelope};
pub use extract::{Caller, QueryMap, idempotency_key};
pub use path::{AppId, BootstrapId, DeploymentId, InstallationId, ReviewRequestId, TenantId};
pub use routes::Routes;

/// Built once per process (per Lambda cold start) and cloned into every request.
#[derive(Clone)]
pub struct AppState {
    pub deps: Arc<Deps>,
    pub auth: Arc<Authenticator>,
}

/// Wraps a function's routes with what every function needs: request ids, the error
/// envelope, `/healthz`, the whole API's OpenAPI document and a JSON 404 for unknown paths.
pub fn finish(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(openapi::PATH, get(openapi::serve))
        .fallback(|| async { ApiError(axhub_domain::Error::not_found("route")) })
        .with_state(state)
        .layer(axum::middleware::from_fn(request_id::layer))
}

/// The list envelope of every collection: never a bare array.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ListResponse<T: serde::Serialize> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; empty when there is none.
    pub next_cursor: String,
    pub total: u64,
}

impl<T: serde::Serialize> From<axhub_app::paging::ListPage<T>> for ListResponse<T> {
    fn from(p: axhub_app::paging::ListPage<T>) -> Self {
        Self {
            items: p.items,
            next_cursor: p.next_cursor,
            total: p.total,
        }
    }
}

/// A listing's `limit` (1–100, default 20), `offset` and `cursor`, validated.
pub fn list_params(q: &QueryMap) -> Result<axhub_app::paging::ListParams, ApiError> {
    use axhub_domain::validate;
    Ok(axhub_app::paging::ListParams {
        limit: validate::limit(q.get("limit"), 20, 100)?,
        offset: validate::offset(q.get("offset"))?,
        cursor: q.get("cursor").map(str::to_owned),
    })
}
