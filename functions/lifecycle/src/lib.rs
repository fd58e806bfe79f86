//! The `lifecycle` endpoint group: releases, staging on and off, promote-preflight and
//! promotion retry: the guarded paths by which production changes once an app has staging.

use axhub_app::preflight::{self, Preflight, PreflightOp};
use axhub_app::promotion;
use axhub_app::releases::{self, ReleaseView};
use axhub_app::staging::{self, DisableStaging};
use axhub_domain::{Error, ErrorCode, validate};
use axhub_http::{
    ApiResult, AppId, AppState, Caller, ErrorEnvelope, JsonBody, ListResponse, QueryMap,
    ReviewRequestId, Routes, list_params,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(releases, preflight, enable_staging, disable_staging, retry_promotion),
    components(schemas(ReleaseView, Preflight, PreflightOp, DisableStaging, ErrorEnvelope)),
    tags((name = "deployments", description = "배포 트리거·상태·취소·롤백"))
)]
pub struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// The group's routes, without the shared layers (axhub-local merges several groups).
pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/apps/{appID}/releases", releases)
        .get("/api/v1/apps/{appID}/releases/promote-preflight", preflight)
        .put("/api/v1/apps/{appID}/staging", enable_staging)
        .delete("/api/v1/apps/{appID}/staging", disable_staging)
        .post(
            "/api/v1/apps/{appID}/promotions/{requestID}/retry",
            retry_promotion,
        )
}

/// The Lambda's whole router.
pub fn router(state: AppState) -> Router {
    axhub_http::finish(routes().into_router(), state)
}

type ReleasePage = ListResponse<ReleaseView>;

/// 성공한 배포에 부여된 버전 목록을 최신 버전부터 반환한다.
#[utoipa::path(
    get, path = "/api/v1/apps/{appID}/releases", tag = "deployments",
    operation_id = "deployGetApiV1AppsByAppIDReleases",
    params(
        ("appID" = Uuid, Path, description = "앱 UUID"),
        ("limit" = Option<i32>, Query, minimum = 1, maximum = 100, description = "개수 (1~100, 기본 20)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "시작 위치 (기본 0)"),
        ("cursor" = Option<String>, Query, description = "직전 응답의 next_cursor"),
    ),
    responses(
        (status = 200, description = "버전 목록", body = ReleasePage),
    )
)]
async fn releases(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    q: QueryMap,
) -> ApiResult<Json<ReleasePage>> {
    let params = list_params(&q)?;
    Ok(Json(ListResponse::from(
        releases::list(&s.deps, &who, app_id, params).await?,
    )))
}

/// 지정 버전을 promote 할 수 있는지 점검한다: 이미지 레지스트리 존재 여부, staging↔prod 가 다른 env 키 목록, 이번 promote 에 실릴 스키마 변경 목록(삭제성 표시).
#[utoipa::path(
    get, path = "/api/v1/apps/{appID}/releases/promote-preflight", tag = "deployments",
    operation_id = "deployGetApiV1AppsByAppIDReleasesPromotePreflight",
    params(
        ("appID" = Uuid, Path, description = "앱 UUID"),
        ("deployment_id" = Uuid, Query, description = "점검 대상 버전의 배포 UUID"),
    ),
    responses(
        (status = 200, description = "점검 결과", body = Preflight),
        (status = 403, body = ErrorEnvelope), (status = 412, body = ErrorEnvelope),
    )
)]
async fn preflight(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    q: QueryMap,
) -> ApiResult<Json<Preflight>> {
    let Some(raw) = q.get("deployment_id").filter(|v| !v.is_empty()) else {
        return Err(Error::field("deployment_id", ErrorCode::Required, "is required").into());
    };
    let deployment_id = validate::uuid("deployment_id", raw)?;
    Ok(Json(
        preflight::preflight(&s.deps, &who, app_id, deployment_id).await?,
    ))
}

/// 앱의 스테이징 환경을 켠다: 노코드 DB 스키마를 구조 복제(fork)하고 옵트인 플래그를 저장한 뒤 현재 prod 버전을 staging 에 비동기 seed 한다.
#[utoipa::path(
    put, path = "/api/v1/apps/{appID}/staging", tag = "deployments",
    operation_id = "deployPutApiV1AppsByAppIDStaging",
    params(("appID" = Uuid, Path, description = "앱 UUID")),
    responses(
        (status = 202, description = "옵트인 접수 — staging seed 는 비동기 진행"),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 412, body = ErrorEnvelope),
    )
)]
async fn enable_staging(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
) -> ApiResult<StatusCode> {
    staging::enable(&s.deps, &who, app_id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// 앱의 스테이징 환경을 끈다: staging 파드·호스트·스키마·미 promote 변경 기록이 함께 폐기된다.
#[utoipa::path(
    delete, path = "/api/v1/apps/{appID}/staging", tag = "deployments",
    operation_id = "deployDeleteApiV1AppsByAppIDStaging",
    params(("appID" = Uuid, Path, description = "앱 UUID")),
    request_body(content = Option<DisableStaging>, content_type = "application/json"),
    responses(
        (status = 204, description = "스테이징 꺼짐"),
        (status = 403, body = ErrorEnvelope), (status = 412, body = ErrorEnvelope),
    )
)]
async fn disable_staging(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    JsonBody(input): JsonBody<DisableStaging>,
) -> ApiResult<StatusCode> {
    staging::disable(&s.deps, &who, app_id, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 실패했거나 promoting 에 갇힌 promote 를 다시 실행한다. 이미 반영된 스키마 변경은 건너뛴다.
#[utoipa::path(
    post, path = "/api/v1/apps/{appID}/promotions/{requestID}/retry", tag = "deployments",
    operation_id = "deployPostApiV1AppsByAppIDPromotionsByRequestIDRetry",
    params(
        ("appID" = Uuid, Path, description = "앱 UUID"),
        ("requestID" = Uuid, Path, description = "심사 요청 UUID"),
    ),
    responses(
        (status = 202, description = "재시도 접수됨"),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 412, body = ErrorEnvelope),
    )
)]
async fn retry_promotion(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    ReviewRequestId(request_id): ReviewRequestId,
) -> ApiResult<StatusCode> {
    promotion::retry(&s.deps, &who, app_id, request_id).await?;
    Ok(StatusCode::ACCEPTED)
}
