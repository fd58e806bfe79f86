//! The `github-webhook` endpoint: `POST /webhooks/github`. No bearer token: GitHub signs
//! every delivery with the webhook secret (`X-Hub-Signature-256`), checked in constant time
//! before anything else. A delivery that asks for work (a push to a branch, an uninstall, a
//! removed repository) is recorded with that work and queued for the deploy worker, and
//! answered 202 `queued` at once; everything else is answered 202 `ignored`, a redelivery 202
//! `duplicate`.

use axhub_app::git::webhook::{self, Delivery, SkippedApp, WebhookOutcome};
use axhub_http::{ApiResult, AppState, ErrorEnvelope, Routes};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use utoipa::OpenApi;

/// GitHub caps webhook payloads at 25 MB; API Gateway at 10 MB, Lambda at 6 MB.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    paths(receive),
    components(schemas(WebhookOutcome, SkippedApp, ErrorEnvelope)),
    tags((name = "webhooks", description = "GitHub push → 자동 배포"))
)]
pub struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// The endpoint's route, without the shared layers (axhub-local merges several groups).
pub fn routes() -> Routes {
    Routes::new().route(
        Method::POST,
        "/webhooks/github",
        post(receive).layer(DefaultBodyLimit::max(MAX_PAYLOAD)),
    )
}

/// The Lambda's whole router.
pub fn router(state: AppState) -> Router {
    axhub_http::finish(routes().into_router(), state)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// GitHub webhook 수신: 기록 후 큐에 넣고 즉시 202 (push → 연결된 branch 면 배포, trigger_source=webhook).
#[utoipa::path(
    post, path = "/webhooks/github", tag = "webhooks",
    operation_id = "postWebhooksGithub",
    params(
        ("X-GitHub-Event" = String, Header, description = "push, installation, installation_repositories, …"),
        ("X-GitHub-Delivery" = String, Header, description = "delivery id (deduplicated)"),
        ("X-Hub-Signature-256" = String, Header, description = "sha256=HMAC(webhook secret, body)"),
    ),
    request_body(content = String, description = "GitHub's event payload (JSON)", content_type = "application/json"),
    responses(
        (status = 202, description = "접수됨: queued (워커가 배포/연결 해제), ignored, duplicate", body = WebhookOutcome),
        (status = 401, body = ErrorEnvelope), (status = 413, body = ErrorEnvelope),
    )
)]
async fn receive(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<WebhookOutcome>)> {
    let outcome = webhook::receive(
        &s.deps,
        Delivery {
            event: header(&headers, "x-github-event"),
            delivery_id: header(&headers, "x-github-delivery"),
            signature: header(&headers, "x-hub-signature-256"),
            body: &body,
        },
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(outcome)))
}
