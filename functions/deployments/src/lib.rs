//! The `deployments` endpoint group: history, trigger, inspect, cancel, tenant feed, rollback,
//! diagnosis and runtime logs.

use axhub_app::deployments::{self, CreateDeployment};
use axhub_app::diagnosis;
use axhub_app::logs::{self, LogQuery};
use axhub_app::rollback::{self, RollbackRequest};
use axhub_domain::diagnosis::Diagnosis;
use axhub_domain::logs::{LogEntry, LogPage};
use axhub_domain::{Deployment, validate};
use axhub_http::{
    ApiResult, AppId, AppState, Caller, DeploymentId, ErrorEnvelope, JsonBody, ListResponse,
    QueryMap, Routes, TenantId, idempotency_key, list_params,
};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(list, create, get_one, cancel, rollback, diagnosis, runtime_logs, tenant_feed),
    components(schemas(
        Deployment, CreateDeployment, RollbackRequest, Diagnosis, LogPage, LogEntry, ErrorEnvelope
    )),
    tags((name = "deployments", description = "배포 트리거·상태·취소·롤백"))
)]
pub struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// The group's routes, without the shared layers (axhub-local merges several groups).
pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/apps/{appID}/deployments", list)
        .post("/api/v1/apps/{appID}/deployments", create)
        .get("/api/v1/apps/{appID}/deployments/{did}", get_one)
        .post("/api/v1/apps/{appID}/deployments/{did}/cancel", cancel)
        .post("/api/v1/apps/{appID}/deployments/{did}/rollback", rollback)
        .get("/api/v1/apps/{appID}/diagnosis", diagnosis)
        .get("/api/v1/apps/{appID}/logs", runtime_logs)
        .get("/api/v1/tenants/{tenantID}/deployments", tenant_feed)
}

/// The Lambda's whole router.
pub fn router(state: AppState) -> Router {
    axhub_http::finish(routes().into_router(), state)
}

type Page = ListResponse<Deployment>;

/// 앱의 배포 이력을 최신순으로 반환한다.
#[utoipa::path(
    get, path = "/api/v1/apps/{appID}/deployments", tag = "deployments",
    operation_id = "deployGetApiV1AppsByAppIDDeployments",
    params(
        ("appID" = Uuid, Path, description = "앱 UUID"),
        ("limit" = Option<i32>, Query, minimum = 1, maximum = 100, description = "페이지 크기 (1~100, 기본 20)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "offset (기본 0)"),
        ("cursor" = Option<String>, Query, description = "직전 응답의 next_cursor"),
    ),
    responses(
        (status = 200, description = "배포 목록", body = Page),
    )
)]
async fn list(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    q: QueryMap,
) -> ApiResult<Json<Page>> {
    Ok(Json(ListResponse::from(
        deployments::list(&s.deps, &who, app_id, list_params(&q)?).await?,
    )))
}

/// 앱 owner / 테넌트 admin / platform admin 이 수동으로 새 배포를 시작한다.
#[utoipa::path(
    post, path = "/api/v1/apps/{appID}/deployments", tag = "deployments",
    operation_id = "deployPostApiV1AppsByAppIDDeployments",
    params(
        ("appID" = Uuid, Path, description = "앱 UUID"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "재시도 시 첫 응답을 돌려받는 키"),
    ),
    request_body(content = Option<CreateDeployment>, content_type = "application/json"),
    responses(
        (status = 202, description = "트리거된 배포", body = Deployment),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 412, body = ErrorEnvelope),
    )
)]
async fn create(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    headers: HeaderMap,
    JsonBody(input): JsonBody<CreateDeployment>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers);
    let created = deployments::create(&s.deps, &who, app_id, input, key.as_deref()).await?;
    Ok(replayed(
        (StatusCode::ACCEPTED, Json(created.body)).into_response(),
        created.replayed,
    ))
}

/// Marks an answer that repeats the first one given for its `Idempotency-Key`.
fn replayed(mut resp: Response, replayed: bool) -> Response {
    if replayed {
        resp.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    resp
}

/// 특정 배포의 현재 상태와 상세를 반환한다.
#[utoipa::path(
    get, path = "/api/v1/apps/{appID}/deployments/{did}", tag = "deployments",
    operation_id = "deployGetApiV1AppsByAppIDDeploymentsByDid",
    params(("appID" = Uuid, Path, description = "앱 UUID"), ("did" = Uuid, Path, description = "배포 UUID")),
    responses(
        (status = 200, description = "배포 상세", body = Deployment),
    )
)]
async fn get_one(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    DeploymentId(did): DeploymentId,
) -> ApiResult<Json<Deployment>> {
    Ok(Json(deployments::get(&s.deps, &who, app_id, did).await?))
}

/// 진행 중 배포를 cancelled 로 전환해 in-progress 슬롯을 즉시 해제한다.
#[utoipa::path(
    post, path = "/api/v1/apps/{appID}/deployments/{did}/cancel", tag = "deployments",
    operation_id = "deployPostApiV1AppsByAppIDDeploymentsByDidCancel",
    params(("appID" = Uuid, Path, description = "앱 UUID"), ("did" = Uuid, Path, description = "배포 UUID")),
    responses(
        (status = 204, description = "취소 요청됨"),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
    )
)]
async fn cancel(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    DeploymentId(did): DeploymentId,
) -> ApiResult<StatusCode> {
    deployments::cancel(&s.deps, &who, app_id, did).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 테넌트의 모든 앱에 걸친 최근 배포를 최신순으로 반환한다.
#[utoipa::path(
    get, path = "/api/v1/tenants/{tenantID}/deployments", tag = "deployments",
    operation_id = "deployGetApiV1TenantsByTenantIDDeployments",
    params(
        ("tenantID" = Uuid, Path, description = "테넌트 UUID"),
        ("limit" = Option<i32>, Query, minimum = 1, maximum = 100, description = "개수 (1~100, 기본 20)"),
        ("cursor" = Option<String>, Query, description = "직전 응답의 next_cursor"),
    ),
    responses(
        (status = 200, description = "최근 배포 목록", body = Page),
    )
)]
async fn tenant_feed(
    State(s): State<AppState>,
    Caller(who): Caller,
    TenantId(tenant_id): TenantId,
    q: QueryMap,
) -> ApiResult<Json<Page>> {
    let limit = validate::limit(q.get("limit"), 20, 100)?;
    Ok(Json(ListResponse::from(
        deployments::tenant_feed(&s.deps, &who, tenant_id, limit, q.get("cursor")).await?,
    )))
}

/// 지정한 (이미 빌드된) 배포의 이미지로 K8s 디플로이먼트를 갱신한다. 새 deployment row 는 만들지 않는다.
#[utoipa::path(
    post, path = "/api/v1/apps/{appID}/deployments/{did}/rollback", tag = "deployments",
    operation_id = "deployPostApiV1AppsByAppIDDeploymentsByDidRollback",
    params(
        ("appID" = Uuid, Path, description = "앱 UUID"),
        ("did" = Uuid, Path, description = "롤백 대상 (소스) 배포 UUID"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "재시도 시 첫 응답을 돌려받는 키"),
    ),
    request_body(content = Option<RollbackRequest>, content_type = "application/json"),
    responses(
        (status = 202, description = "롤백 접수됨 (비동기 적용)"),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 412, body = ErrorEnvelope),
    )
)]
async fn rollback(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    DeploymentId(did): DeploymentId,
    headers: HeaderMap,
    JsonBody(input): JsonBody<RollbackRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers);
    let accepted = rollback::request(&s.deps, &who, app_id, did, input, key.as_deref()).await?;
    Ok(replayed(
        StatusCode::ACCEPTED.into_response(),
        accepted.replayed,
    ))
}

/// 현재 K8s rollout 상태를 읽어 배포 실패 원인과 신뢰 불가 앱 출력 signal 을 분리해 반환한다.
#[utoipa::path(
    get, path = "/api/v1/apps/{appID}/diagnosis", tag = "deployments",
    operation_id = "deployGetApiV1AppsByAppIDDiagnosis",
    params(("appID" = Uuid, Path, description = "앱 UUID")),
    responses(
        (status = 200, description = "라이브 배포 진단", body = Diagnosis),
        (status = 403, body = ErrorEnvelope),
    )
)]
async fn diagnosis(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
) -> ApiResult<Json<Diagnosis>> {
    Ok(Json(diagnosis::diagnosis(&s.deps, &who, app_id).await?))
}

/// 배포된 앱 파드의 runtime stdout/stderr 를 한 페이지 반환한다. backward (기본) 는 최신부터 과거로, forward 는 cursor 이후 새 로그만 (~2초 주기 폴링하면 tail).
#[utoipa::path(
    get, path = "/api/v1/apps/{appID}/logs", tag = "deployments",
    operation_id = "deployGetApiV1AppsByAppIDLogs",
    params(
        ("appID" = Uuid, Path, description = "앱 UUID"),
        ("direction" = Option<String>, Query, description = "backward (기본) | forward"),
        ("cursor" = Option<String>, Query, description = "이어보기 커서 (직전 응답의 next_cursor)"),
        ("since" = Option<String>, Query, format = DateTime, description = "시작 시각 (RFC3339; forward 기본: 지금)"),
        ("until" = Option<String>, Query, format = DateTime, description = "상한 시각 (RFC3339)"),
        ("limit" = Option<i32>, Query, minimum = 1, maximum = 1000, description = "페이지 크기 (1~1000, 기본 100)"),
    ),
    responses(
        (status = 200, description = "로그 페이지", body = LogPage),
        (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 503, body = ErrorEnvelope),
    )
)]
async fn runtime_logs(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    q: QueryMap,
) -> ApiResult<Json<LogPage>> {
    let query = LogQuery::parse(|name| q.get(name))?;
    Ok(Json(logs::read(&s.deps, &who, app_id, query).await?))
}
