//! The `lifecycle` Lambda: the endpoint group's router under API Gateway (HTTP API).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    axhub_lambda::init_tracing();
    let state = axhub_lambda::lifecycle(&axhub_lambda::Vars::Process)?;
    lambda_http::run(lifecycle_fn::router(state)).await
}
