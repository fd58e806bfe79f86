//! The `bootstraps` Lambda: the endpoint group's router under API Gateway (HTTP API).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    axhub_lambda::init_tracing();
    let state = axhub_lambda::bootstraps(&axhub_lambda::Vars::Process)?;
    lambda_http::run(bootstraps_fn::router(state)).await
}
