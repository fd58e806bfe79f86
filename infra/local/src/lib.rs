//! axhub-local: every endpoint group of axhub-deploy in one process, on SQLite.

pub mod demo;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axhub_app::Deps;
use axhub_auth::{AuthConfig, Authenticator, JwtKeys};
use axhub_http::AppState;
use axhub_sqlite::SqliteStore;
use axum::Router;

/// Every function's OpenAPI description, merged into one document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = deployments_fn::openapi();
    doc.info.title = "axhub-deploy".into();
    doc.info.description = Some("The Deploy API of the axhub platform".into());
    doc
}

/// Every function's routes on one router.
pub fn router(state: AppState) -> Router {
    axhub_http::finish(deployments_fn::routes(), state, openapi())
}

/// A secret kept in the data directory, made on first start, so tokens and cursors stay
/// valid across restarts.
fn persistent_secret(dir: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(name);
    if let Ok(s) = std::fs::read_to_string(&path)
        && let Ok(bytes) = hex::decode(s.trim())
    {
        return Ok(bytes);
    }
    let bytes: [u8; 32] = rand::random();
    std::fs::write(&path, hex::encode(bytes))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(bytes.to_vec())
}

pub struct Local {
    pub state: AppState,
    pub store: SqliteStore,
    pub jwt_secret: Vec<u8>,
    pub data_dir: PathBuf,
}

/// Opens the data directory (creating it) and builds the shared state.
pub fn open(data_dir: &Path, jwt_secret: Option<&str>) -> anyhow::Result<Local> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let store = SqliteStore::open(&data_dir.join("axhub.db"))
        .map_err(|e| anyhow::anyhow!("opening the store: {e}"))?;
    let jwt_secret = match jwt_secret {
        Some(s) => s.as_bytes().to_vec(),
        None => persistent_secret(data_dir, "jwt-secret")?,
    };
    let cursor_secret = persistent_secret(data_dir, "cursor-secret")?;
    let deps = Arc::new(Deps::new(Arc::new(store.clone()), &cursor_secret));
    let auth = Arc::new(Authenticator::new(
        AuthConfig {
            keys: JwtKeys::Hs256 {
                secret: jwt_secret.clone(),
            },
            issuer: None,
            audience: None,
        },
        deps.clone(),
    ));
    Ok(Local {
        state: AppState { deps, auth },
        store,
        jwt_secret,
        data_dir: data_dir.to_owned(),
    })
}
