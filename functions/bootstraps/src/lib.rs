//! The `bootstraps` endpoint group: start an app bootstrap saga (template → repository →
//! first deployment), follow it, and the template catalog it starts from. The saga's steps run
//! in the `bootstrap-worker` function.

use axhub_app::bootstrap::{self, Accepted, BootstrapView, CreateBootstrap};
use axhub_app::templates::{self, Template, TemplateList};
use axhub_http::{
    ApiResult, AppState, BootstrapId, Caller, ErrorEnvelope, JsonBody, Routes, TenantId,
    idempotency_key,
};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(create, get_one, list_templates),
    components(schemas(
        CreateBootstrap,
        Accepted,
        BootstrapView,
        TemplateList,
        Template,
        ErrorEnvelope
    ))
)]
pub struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// The group's routes, without the shared layers (axhub-local merges several groups).
pub fn routes() -> Routes {
    Routes::new()
        .post("/api/v1/tenants/{tenantID}/app-bootstraps", create)
        .get(
            "/api/v1/tenants/{tenantID}/app-bootstraps/{bootstrapID}",
            get_one,
        )
        .get("/api/v1/templates", list_templates)
}

/// The Lambda's whole router.
pub fn router(state: AppState) -> Router {
    axhub_http::finish(routes().into_router(), state)
}

/// 템플릿 + 앱 메타로 GitHub repo 생성 + 템플릿 push + 자동 배포까지의 saga 를 비동기로 시작한다.
#[utoipa::path(
    post, path = "/api/v1/tenants/{tenantID}/app-bootstraps", tag = "deployments",
    operation_id = "deployPostApiV1TenantsByTenantIDAppBootstraps",
    params(
        ("tenantID" = Uuid, Path, description = "테넌트 UUID"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "재시도 시 첫 응답을 돌려받는 키"),
    ),
    request_body(content = CreateBootstrap, content_type = "application/json"),
    responses(
        (status = 202, description = "saga 시작 — bootstrap_id + status_url", body = Accepted),
        (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
    )
)]
async fn create(
    State(s): State<AppState>,
    Caller(who): Caller,
    TenantId(tenant): TenantId,
    headers: HeaderMap,
    JsonBody(input): JsonBody<CreateBootstrap>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers);
    let accepted = bootstrap::create(&s.deps, &who, tenant, input, key.as_deref()).await?;
    let replayed = accepted.replayed;
    let mut resp = (StatusCode::ACCEPTED, Json(accepted)).into_response();
    if replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// bootstrap_id 로 saga 진행 상태 조회. SPA 가 status=done/failed 까지 polling.
#[utoipa::path(
    get, path = "/api/v1/tenants/{tenantID}/app-bootstraps/{bootstrapID}", tag = "deployments",
    operation_id = "deployGetApiV1TenantsByTenantIDAppBootstrapsByBootstrapID",
    params(
        ("tenantID" = Uuid, Path, description = "테넌트 UUID"),
        ("bootstrapID" = Uuid, Path, description = "부트스트랩 UUID"),
    ),
    responses((status = 200, description = "진행 상태", body = BootstrapView))
)]
async fn get_one(
    State(s): State<AppState>,
    Caller(who): Caller,
    TenantId(tenant): TenantId,
    BootstrapId(id): BootstrapId,
) -> ApiResult<Json<BootstrapView>> {
    Ok(Json(bootstrap::get(&s.deps, &who, tenant, id).await?))
}

/// 앱 부트스트랩에 쓸 수 있는 템플릿 카탈로그. The platform's SDKs know this operation as the
/// apps service's (`appsGetApiV1Templates`); this service serves it because the bootstrap
/// reads the same catalog.
#[utoipa::path(
    get, path = "/api/v1/templates", tag = "apps",
    operation_id = "appsGetApiV1Templates",
    responses((status = 200, description = "템플릿 목록", body = TemplateList))
)]
async fn list_templates(
    State(s): State<AppState>,
    Caller(who): Caller,
) -> ApiResult<Json<TemplateList>> {
    Ok(Json(templates::list(&s.deps, &who)?))
}
