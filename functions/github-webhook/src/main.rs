//! The `github-webhook` Lambda: GitHub's deliveries under API Gateway (HTTP API).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    axhub_lambda::init_tracing();
    let state = axhub_lambda::github_webhook(&axhub_lambda::Vars::Process)?;
    lambda_http::run(github_webhook_fn::router(state)).await
}
