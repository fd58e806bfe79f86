//! The one OpenAPI document of the Deploy API, served at `GET /api/v1/openapi.json` by every
//! HTTP function and by axhub-local.
//!
//! Each endpoint group describes its operations with `#[utoipa::path]` next to its handlers;
//! `contract` merges the groups and adds what is the same for every operation (security,
//! the shared error responses, the body rules of `JsonBody`). The result is kept as
//! `openapi.json` beside this crate and compiled in as text, so a Lambda serves the whole
//! contract without linking the other groups' handlers or building the document at cold
//! start. A scenario test (`edge::the_served_document_is_the_one_the_code_describes`)
//! regenerates it from the groups and fails when the file is stale; run it with
//! `AXHUB_WRITE_OPENAPI=1` to rewrite the file.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required};

use crate::ErrorEnvelope;

/// Where the document is served.
pub const PATH: &str = "/api/v1/openapi.json";

/// The generated document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// The file `DOCUMENT` is read from, for the test that regenerates it.
pub const DOCUMENT_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

const BEARER: &str = "bearerAuth";
const API_KEY: &str = "apiKey";

/// The shared error responses: (status, component name, description).
const ERRORS: &[(u16, &str, &str)] = &[
    (
        400,
        "BadRequest",
        "The request is invalid; `fields` names the parameters.",
    ),
    (
        401,
        "Unauthorized",
        "No credentials, or they are invalid or expired.",
    ),
    (403, "Forbidden", "The caller lacks the role or scope."),
    (
        404,
        "NotFound",
        "No such resource, or the caller may not see it.",
    ),
    (
        409,
        "Conflict",
        "The resource's state does not allow this now.",
    ),
    (
        412,
        "PreconditionFailed",
        "A precondition of the operation is not met.",
    ),
    (413, "PayloadTooLarge", "The body is too large."),
    (
        415,
        "UnsupportedMediaType",
        "A body that is not `application/json`.",
    ),
    (
        422,
        "UnprocessableEntity",
        "The request cannot be acted on as it is: `github_app_not_installed`.",
    ),
    (
        428,
        "PreconditionRequired",
        "The caller must sign in with GitHub again.",
    ),
    (
        429,
        "TooManyRequests",
        "Rate limited; `retry.after_ms` says when to retry.",
    ),
    (500, "InternalError", "An unexpected failure."),
    (502, "BadGateway", "GitHub answered unexpectedly."),
    (
        503,
        "Unavailable",
        "A dependency is unavailable or not implemented here.",
    ),
];

#[derive(OpenApi)]
#[openapi(paths(healthz, document), components(schemas(ErrorEnvelope)))]
struct Shared;

/// 프로세스 생존 확인.
#[utoipa::path(get, path = "/healthz", tag = "meta", operation_id = "getHealthz",
    responses((status = 200, description = "{\"status\":\"ok\"}")))]
#[allow(dead_code)]
fn healthz() {}

/// 이 API 의 OpenAPI 문서.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", operation_id = "getOpenapi",
    responses((status = 200, description = "OpenAPI 3.1 문서", content_type = "application/json")))]
#[allow(dead_code)]
fn document() {}

/// The whole contract from every group's description.
pub fn contract(
    groups: impl IntoIterator<Item = utoipa::openapi::OpenApi>,
) -> utoipa::openapi::OpenApi {
    let mut doc = Shared::openapi();
    for g in groups {
        doc.merge(g);
    }
    doc.info.title = "axhub-deploy".into();
    doc.info.description = Some("The Deploy API of the axhub platform".into());
    doc.info.version = "1".into();
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        BEARER.into(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components.security_schemes.insert(
        API_KEY.into(),
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Api-Key",
            "a personal access token, `axhub_pat_…`",
        ))),
    );
    for (status, name, description) in ERRORS {
        let body = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
            .build();
        let response = ResponseBuilder::new()
            .description(format!("{status}: {description}"))
            .content("application/json", body)
            .build();
        components.responses.insert((*name).into(), response.into());
    }
    if let Some(RefOr::T(Schema::Object(create))) = components.schemas.get_mut("CreateDeployment")
        && let Some(RefOr::T(Schema::Object(sha))) = create.properties.get_mut("commit_sha")
    {
        // Empty or absent: the connected branch's HEAD.
        sha.pattern = Some("^([0-9a-fA-F]{40})?$".into());
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let secured = path.starts_with("/api/v1/") && path != PATH;
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        // `/healthz` and the document itself answer 200 or not at all.
        let meta = path == "/healthz" || path == PATH;
        for op in ops.into_iter().flatten().filter(|_| !meta) {
            finish_operation(op, path, secured);
        }
    }
    doc
}

/// What every operation shares: its security and the error responses it can meet.
fn finish_operation(op: &mut Operation, path: &str, secured: bool) {
    let mut statuses = vec![400, 500, 503];
    if secured {
        op.security = Some(vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(API_KEY, Vec::<String>::new()),
        ]);
        // 403 too: a delegated token without the scope is refused on any operation.
        statuses.extend([401, 403]);
        if path.contains('{') {
            statuses.push(404);
        }
    }
    if let Some(body) = op.request_body.as_mut() {
        let body: &mut RequestBody = body;
        // utoipa leaves `required` out for an `Option` body; say it.
        body.required.get_or_insert(Required::False);
        if secured {
            // The rules of `JsonBody`; the webhook reads its body raw.
            statuses.extend([413, 415]);
        }
    }
    // Error statuses a handler lists itself (403, 409, …) get the shared response too.
    let listed: Vec<u16> = op
        .responses
        .responses
        .keys()
        .filter_map(|k| k.parse::<u16>().ok())
        .filter(|s| *s >= 400)
        .collect();
    statuses.extend(listed);
    for (status, name, _) in ERRORS {
        if statuses.contains(status) {
            op.responses.responses.insert(
                status.to_string(),
                RefOr::Ref(Ref::from_response_name(*name)),
            );
        }
    }
}
