//! `GET /local/github/setup`: the page a GitHub App's Setup URL points at. GitHub (or the
//! simulated one) sends the browser here after an install with `installation_id` and `state`;
//! the page lists what the installation can read, lets the person pick the repository and
//! branch, and completes the connection with `POST /api/v1/git/github/complete` under the
//! person's own token. Plain HTML and fetch; everything it shows is set as text.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const PAGE: &str = include_str!("setup.html");

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/local/github/setup", get(page))
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Its own script only, no framing, and requests to this origin only.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'; \
                 frame-ancestors 'none'",
            ),
        ],
        PAGE,
    )
}
