//! The cold-start baseline: the smallest `lambda_http` + axum function, serving `/healthz`
//! the way every HTTP Lambda of axhub-deploy does, with nothing else built at start.

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(Router::new().route("/healthz", get(|| async { "ok" }))).await
}
