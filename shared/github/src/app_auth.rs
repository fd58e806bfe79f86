//! The App's own authentication: an RS256 JWT (`iss` = App id, `iat` 60 s in the past,
//! `exp` 9 minutes on), exchanged for installation access tokens that are cached until a few
//! minutes before they expire.

use std::collections::HashMap;
use std::sync::Mutex;

use axhub_domain::Error;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde::Serialize;

use crate::config::ConfigError;
use crate::transport::{Api, bad_gateway, now, send};
use crate::wire::AccessToken;

/// Installation tokens are used until this long before they expire.
const TOKEN_MARGIN_SECONDS: i64 = 5 * 60;

#[derive(Serialize)]
struct AppClaims<'a> {
    iat: i64,
    exp: i64,
    iss: &'a str,
}

/// The App's id and private key, and the installation tokens they have been exchanged for.
pub(crate) struct AppAuth {
    app_id: String,
    app_key: EncodingKey,
    /// installation id → (token, expires at, epoch seconds).
    installation_tokens: Mutex<HashMap<i64, (String, i64)>>,
}

impl AppAuth {
    /// `app_id` is used trimmed; the key is PEM (PKCS#1 or PKCS#8).
    pub(crate) fn new(app_id: &str, private_key_pem: &str) -> Result<Self, ConfigError> {
        let app_key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
            .map_err(|_| ConfigError::PrivateKey)?;
        Ok(Self {
            app_id: app_id.trim().to_owned(),
            app_key,
            installation_tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The App's own JWT: RS256, `iat` 60 s in the past against clock drift, 9 minutes valid.
    pub(crate) fn app_jwt(&self) -> Result<String, Error> {
        let now = now();
        let claims = AppClaims {
            iat: now - 60,
            exp: now + 9 * 60,
            iss: &self.app_id,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.app_key)
            .map_err(|_| Error::internal("could not sign the GitHub App JWT"))
    }

    /// An installation access token: cached, or asked for with the App JWT. `None` when the
    /// installation does not exist (any more) or is suspended.
    pub(crate) async fn installation_token(
        &self,
        api: &Api,
        installation: i64,
    ) -> Result<Option<String>, Error> {
        if let Ok(cache) = self.installation_tokens.lock()
            && let Some((token, expires)) = cache.get(&installation)
            && *expires - TOKEN_MARGIN_SECONDS > now()
        {
            return Ok(Some(token.clone()));
        }
        let jwt = self.app_jwt()?;
        let path = format!("/app/installations/{installation}/access_tokens");
        let answer = send(api.retry, "installation token", || {
            api.request(Method::POST, &path, &jwt)
        })
        .await?;
        match answer.status {
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => return Ok(None),
            StatusCode::UNAUTHORIZED => {
                tracing::error!("GitHub refused the App's JWT: check the App id and private key");
                return Err(bad_gateway("GitHub refused the App's credentials"));
            }
            _ => {}
        }
        let t: AccessToken = answer
            .expect_ok("the installation token request")?
            .json("the installation token request")?;
        let expires = time::OffsetDateTime::parse(
            &t.expires_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map(|d| d.unix_timestamp())
        .unwrap_or_else(|_| now() + 3600);
        if let Ok(mut cache) = self.installation_tokens.lock() {
            cache.insert(installation, (t.token.clone(), expires));
        }
        Ok(Some(t.token))
    }

    /// A token for one build: this installation, this one repository, `contents: read` and
    /// nothing else, never cached (each build gets its own, and it expires within the hour).
    /// The cached installation-wide token could read, and with the App's permissions write,
    /// every repository of the installation; a build's code must not hold that. `None` when
    /// the installation is gone or suspended, or no longer includes the repository.
    pub(crate) async fn repository_token(
        &self,
        api: &Api,
        installation: i64,
        repository: &str,
    ) -> Result<Option<String>, Error> {
        let jwt = self.app_jwt()?;
        let path = format!("/app/installations/{installation}/access_tokens");
        let body = serde_json::json!({
            "repositories": [repository],
            "permissions": {"contents": "read"},
        });
        let answer = send(api.retry, "repository token", || {
            api.request(Method::POST, &path, &jwt).json(&body)
        })
        .await?;
        match answer.status {
            // 422: the repository is not (any more) part of the installation.
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY => {
                return Ok(None);
            }
            StatusCode::UNAUTHORIZED => {
                tracing::error!("GitHub refused the App's JWT: check the App id and private key");
                return Err(bad_gateway("GitHub refused the App's credentials"));
            }
            _ => {}
        }
        let t: AccessToken = answer
            .expect_ok("the repository token request")?
            .json("the repository token request")?;
        Ok(Some(t.token))
    }
}
