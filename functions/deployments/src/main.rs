//! The `deployments` Lambda: the endpoint group's router under API Gateway (HTTP API).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    axhub_lambda::init_tracing();
    let state = axhub_lambda::deployments(&axhub_lambda::Vars::Process)?;
    lambda_http::run(deployments_fn::router(state)).await
}
