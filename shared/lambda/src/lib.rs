//! Cold-start wiring shared by every Lambda: configuration from the environment (set by
//! template.yaml), the DynamoDB store, the authenticator, JSON logs.

use std::sync::Arc;

use anyhow::{Context, bail};
use axhub_app::Deps;
use axhub_auth::{AuthConfig, Authenticator, JwtKeys};
use axhub_aws::DynamoStore;
use axhub_http::AppState;
use jsonwebtoken::Algorithm;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// JSON logs for CloudWatch; level from `RUST_LOG` (default info).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .without_time()
        .init();
}

/// Token verification from `AXHUB_JWKS_URL` + `AXHUB_JWT_ALGORITHM` (RS256 | ES256), or
/// `AXHUB_JWT_SECRET` (HS256); `AXHUB_JWT_ISSUER` and `AXHUB_JWT_AUDIENCE` when set.
pub fn auth_config_from_env() -> anyhow::Result<AuthConfig> {
    let keys = match (env("AXHUB_JWKS_URL"), env("AXHUB_JWT_SECRET")) {
        (Some(url), _) => {
            let algorithm = match env("AXHUB_JWT_ALGORITHM").as_deref() {
                Some("RS256") | None => Algorithm::RS256,
                Some("ES256") => Algorithm::ES256,
                Some(other) => bail!("AXHUB_JWT_ALGORITHM must be RS256 or ES256, not {other}"),
            };
            JwtKeys::Jwks { url, algorithm }
        }
        (None, Some(secret)) => JwtKeys::Hs256 {
            secret: secret.into_bytes(),
        },
        (None, None) => bail!("set AXHUB_JWKS_URL (production) or AXHUB_JWT_SECRET"),
    };
    Ok(AuthConfig {
        keys,
        issuer: env("AXHUB_JWT_ISSUER"),
        audience: env("AXHUB_JWT_AUDIENCE"),
    })
}

/// The state every HTTP Lambda serves with: DynamoDB table `AXHUB_TABLE`, cursor secret
/// `AXHUB_CURSOR_SECRET`.
pub async fn http_state_from_env() -> anyhow::Result<AppState> {
    let table = env("AXHUB_TABLE").context("AXHUB_TABLE is not set")?;
    let cursor_secret = env("AXHUB_CURSOR_SECRET").context("AXHUB_CURSOR_SECRET is not set")?;
    let store = DynamoStore::from_env(&table).await;
    let deps = Arc::new(Deps::new(Arc::new(store), cursor_secret.as_bytes()));
    let auth = Arc::new(Authenticator::new(auth_config_from_env()?, deps.clone()));
    Ok(AppState { deps, auth })
}
