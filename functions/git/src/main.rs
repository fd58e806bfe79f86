//! The `git` Lambda: the GitHub connection endpoint group under API Gateway (HTTP API).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    axhub_lambda::init_tracing();
    let state = axhub_lambda::git(&axhub_lambda::Vars::Process)?;
    lambda_http::run(git_fn::router(state)).await
}
