//! What the client is configured with, and what makes a configuration unusable. Base URLs
//! are configurable (GitHub Enterprise, tests).

use std::time::Duration;

use crate::vault;

/// Everything the client needs; secrets included, so no `Debug`.
#[derive(Clone)]
pub struct GitHubConfig {
    /// REST API base, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`.
    pub api_url: String,
    /// Web base, e.g. `https://github.com`: install pages and the OAuth token endpoint.
    pub web_url: String,
    pub app_id: String,
    pub app_slug: String,
    /// The App's private key (PEM, PKCS#1 as GitHub hands it out, or PKCS#8).
    pub private_key_pem: String,
    /// The App's OAuth client id and secret (refreshing user tokens).
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
    /// AES-256 key of the user token vault (32 bytes).
    pub token_key: Vec<u8>,
    /// Per request, whole answer included.
    pub timeout: Duration,
    /// Tries per request (5xx, timeouts, broken connections).
    pub attempts: u32,
    /// Pause before the second try; doubled each time.
    pub backoff: Duration,
}

impl GitHubConfig {
    /// github.com's URLs and the default timeouts: 8 s per try, 3 tries, 200 ms backoff.
    pub fn new(
        app_id: impl Into<String>,
        app_slug: impl Into<String>,
        private_key_pem: impl Into<String>,
    ) -> Self {
        Self {
            api_url: "https://api.github.com".into(),
            web_url: "https://github.com".into(),
            app_id: app_id.into(),
            app_slug: app_slug.into(),
            private_key_pem: private_key_pem.into(),
            client_id: String::new(),
            client_secret: String::new(),
            webhook_secret: String::new(),
            token_key: Vec::new(),
            timeout: Duration::from_secs(8),
            attempts: 3,
            backoff: Duration::from_millis(200),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the GitHub App private key is not a valid RSA PEM key")]
    PrivateKey,
    #[error(transparent)]
    TokenKey(#[from] vault::BadKey),
    #[error("the GitHub App id must not be empty")]
    AppId,
    #[error("the webhook secret must not be empty")]
    WebhookSecret,
    #[error("could not build the HTTP client: {0}")]
    Http(String),
}

impl GitHubConfig {
    /// The checks that need nothing but the configuration; the private and token keys are
    /// checked where they are parsed.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.app_id.trim().is_empty() {
            return Err(ConfigError::AppId);
        }
        if self.webhook_secret.is_empty() {
            return Err(ConfigError::WebhookSecret);
        }
        Ok(())
    }
}
