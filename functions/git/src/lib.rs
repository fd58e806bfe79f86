//! The `git` endpoint group: the app's GitHub connection (read, register, retarget, remove),
//! the GitHub App install flow (install/start → GitHub → complete), the agent's direct
//! connect, and the installation picker (accounts, repositories).

use axhub_app::git::{
    self, AccountList, CompletedConnection, ConnectRepository, ConnectionStatus, ConnectionView,
    RegisterConnection, UpdateBranch,
};
use axhub_domain::{Error, validate};
use axhub_http::{
    ApiResult, AppId, AppState, Caller, ErrorEnvelope, InstallationId, JsonBody, QueryMap, Routes,
};
use axhub_ports::github::{Account, Repository, RepositoryPage};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(
        get_connection,
        register,
        update_branch,
        disconnect,
        connect,
        install_start,
        complete,
        accounts,
        repositories
    ),
    components(schemas(
        ConnectionStatus,
        ConnectionView,
        CompletedConnection,
        RegisterConnection,
        ConnectRepository,
        UpdateBranch,
        AccountList,
        Account,
        RepositoryPage,
        Repository,
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
        .get("/api/v1/apps/{appID}/git-connection", get_connection)
        .post("/api/v1/apps/{appID}/git-connection", register)
        .patch("/api/v1/apps/{appID}/git-connection", update_branch)
        .delete("/api/v1/apps/{appID}/git-connection", disconnect)
        .post("/api/v1/apps/{appID}/git/github/connect", connect)
        .get(
            "/api/v1/apps/{appID}/git/github/install/start",
            install_start,
        )
        .post("/api/v1/git/github/complete", complete)
        .get("/api/v1/github/accounts", accounts)
        .get(
            "/api/v1/github/installations/{installationID}/repositories",
            repositories,
        )
}

/// The Lambda's whole router.
pub fn router(state: AppState) -> Router {
    axhub_http::finish(routes().into_router(), state)
}

/// 앱의 GitHub 연결 상태를 discriminated union 으로 반환한다.
#[utoipa::path(
    get, path = "/api/v1/apps/{appID}/git-connection", tag = "deployments",
    operation_id = "deployGetApiV1AppsByAppIDGitConnection",
    params(("appID" = Uuid, Path, description = "앱 UUID")),
    responses(
        (status = 200, description = "GitHub 연결 상태 (connected discriminator)", body = ConnectionStatus),
    )
)]
async fn get_connection(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
) -> ApiResult<Json<ConnectionStatus>> {
    Ok(Json(git::status(&s.deps, &who, app_id).await?))
}

/// GitHub App 설치 callback 후 SPA 가 state + installation_id + repo 를 전달해 앱과 GitHub 저장소를 연결한다.
#[utoipa::path(
    post, path = "/api/v1/apps/{appID}/git-connection", tag = "deployments",
    operation_id = "deployPostApiV1AppsByAppIDGitConnection",
    params(("appID" = Uuid, Path, description = "앱 UUID")),
    request_body(content = RegisterConnection, content_type = "application/json"),
    responses(
        (status = 201, description = "등록된 GitHub 연결", body = ConnectionView),
        (status = 403, body = ErrorEnvelope), (status = 428, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
async fn register(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    JsonBody(input): JsonBody<RegisterConnection>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let view = git::register(&s.deps, &who, app_id, input).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// GitHub 연결의 webhook 자동 배포 대상 branch 를 변경한다.
#[utoipa::path(
    patch, path = "/api/v1/apps/{appID}/git-connection", tag = "deployments",
    operation_id = "deployPatchApiV1AppsByAppIDGitConnection",
    params(("appID" = Uuid, Path, description = "앱 UUID")),
    request_body(content = UpdateBranch, content_type = "application/json"),
    responses(
        (status = 200, description = "갱신된 GitHub 연결", body = ConnectionView),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
    )
)]
async fn update_branch(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    JsonBody(input): JsonBody<UpdateBranch>,
) -> ApiResult<Json<ConnectionView>> {
    Ok(Json(
        git::update_branch(&s.deps, &who, app_id, input).await?,
    ))
}

/// 앱의 GitHub 연결을 해제한다. 이후 webhook push 는 매칭되지 않아 자동 배포가 멈춘다.
#[utoipa::path(
    delete, path = "/api/v1/apps/{appID}/git-connection", tag = "deployments",
    operation_id = "deployDeleteApiV1AppsByAppIDGitConnection",
    params(("appID" = Uuid, Path, description = "앱 UUID")),
    responses(
        (status = 204, description = "연결 해제됨 (no content)"),
        (status = 403, body = ErrorEnvelope),
    )
)]
async fn disconnect(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
) -> ApiResult<StatusCode> {
    git::disconnect(&s.deps, &who, app_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// InstallStart→Register 의 state 토큰 없이 앱과 GitHub 저장소를 연결한다 (MCP 에이전트용).
#[utoipa::path(
    post, path = "/api/v1/apps/{appID}/git/github/connect", tag = "deployments",
    operation_id = "deployPostApiV1AppsByAppIDGitGithubConnect",
    params(("appID" = Uuid, Path, description = "앱 UUID")),
    request_body(content = ConnectRepository, content_type = "application/json"),
    responses(
        (status = 201, description = "등록된 GitHub 연결", body = ConnectionView),
        (status = 403, body = ErrorEnvelope), (status = 428, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
async fn connect(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
    JsonBody(input): JsonBody<ConnectRepository>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let view = git::connect(&s.deps, &who, app_id, input).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// 앱에 연결할 GitHub App 의 설치 화면 URL 로 302 redirect 한다 (1회용 state 토큰 발급).
#[utoipa::path(
    get, path = "/api/v1/apps/{appID}/git/github/install/start", tag = "deployments",
    operation_id = "deployGetApiV1AppsByAppIDGitGithubInstallStart",
    params(("appID" = Uuid, Path, description = "앱 UUID")),
    responses(
        (status = 302, description = "GitHub App 설치 화면으로 redirect (Location 헤더)"),
        (status = 403, body = ErrorEnvelope),
    )
)]
async fn install_start(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppId(app_id): AppId,
) -> ApiResult<Response> {
    let url = git::install_start(&s.deps, &who, app_id).await?;
    let location = HeaderValue::from_str(&url)
        .map_err(|_| Error::internal("the install URL is not a valid header"))?;
    let mut resp = StatusCode::FOUND.into_response();
    resp.headers_mut().insert(header::LOCATION, location);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// GitHub install callback 후 SPA 가 state + installation_id + repo 를 전달해 연결한다 (앱은 state 바인딩에서 복원).
#[utoipa::path(
    post, path = "/api/v1/git/github/complete", tag = "deployments",
    operation_id = "deployPostApiV1GitGithubComplete",
    request_body(content = RegisterConnection, content_type = "application/json"),
    responses(
        (status = 201, description = "등록된 GitHub 연결 (app_id + tenant_slug 포함)", body = CompletedConnection),
        (status = 403, body = ErrorEnvelope), (status = 428, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
async fn complete(
    State(s): State<AppState>,
    Caller(who): Caller,
    JsonBody(input): JsonBody<RegisterConnection>,
) -> ApiResult<(StatusCode, Json<CompletedConnection>)> {
    let done = git::complete(&s.deps, &who, input).await?;
    Ok((StatusCode::CREATED, Json(done)))
}

/// 사용자의 GitHub user + 활성 organization + App 설치 현황을 합쳐 반환한다 (installation picker).
#[utoipa::path(
    get, path = "/api/v1/github/accounts", tag = "deployments",
    operation_id = "deployGetApiV1GithubAccounts",
    responses(
        (status = 200, description = "user + orgs dim list (User 본인 먼저, 그 다음 orgs)", body = AccountList),
        (status = 428, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
async fn accounts(State(s): State<AppState>, Caller(who): Caller) -> ApiResult<Json<AccountList>> {
    Ok(Json(git::accounts(&s.deps, &who).await?))
}

/// installationID 의 repo 목록 페이지를 반환 (호출자의 installation 만).
#[utoipa::path(
    get, path = "/api/v1/github/installations/{installationID}/repositories", tag = "deployments",
    operation_id = "deployGetApiV1GithubInstallationsByInstallationIDRepositories",
    params(
        ("installationID" = i64, Path, minimum = 1, description = "GitHub installation_id"),
        ("page" = Option<i32>, Query, minimum = 1, description = "1-based page (default 1)"),
        ("per_page" = Option<i32>, Query, minimum = 1, maximum = 100, description = "page size, max 100 (default 30)"),
    ),
    responses(
        (status = 200, description = "repos 페이지", body = RepositoryPage),
        (status = 403, body = ErrorEnvelope), (status = 428, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
async fn repositories(
    State(s): State<AppState>,
    Caller(who): Caller,
    InstallationId(installation): InstallationId,
    q: QueryMap,
) -> ApiResult<Json<RepositoryPage>> {
    let page = validate::page(q.get("page"))?;
    let per_page = validate::per_page(q.get("per_page"))?;
    Ok(Json(
        git::repositories(&s.deps, &who, installation, page, per_page).await?,
    ))
}
