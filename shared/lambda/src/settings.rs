//! The settings each client is built from, read and checked at cold start: a missing or
//! malformed variable stops the function there, with its name, even for a client that is
//! only built on first use.

use anyhow::{Context, bail};
use axhub_auth::{AuthConfig, JwtKeys};
use axhub_github::GitHubConfig;
use jsonwebtoken::Algorithm;

use crate::Vars;

/// What every function reads: the table (`AXHUB_TABLE`) and the key of list cursors
/// (`AXHUB_CURSOR_SECRET`).
pub struct Core {
    pub table: String,
    pub cursor_secret: String,
}

impl Core {
    pub fn from(vars: &Vars) -> anyhow::Result<Self> {
        Ok(Self {
            table: vars.require("AXHUB_TABLE")?,
            cursor_secret: vars.require("AXHUB_CURSOR_SECRET")?,
        })
    }
}

/// Token verification from `AXHUB_JWKS_URL` + `AXHUB_JWT_ALGORITHM` (RS256 | ES256), which
/// also needs `AXHUB_JWT_ISSUER` and `AXHUB_JWT_AUDIENCE`: without them any token the issuer
/// signed, for any service, would be accepted. `AXHUB_JWT_SECRET` (HS256, local setups)
/// takes them when set.
pub fn auth_config_from(vars: &Vars) -> anyhow::Result<AuthConfig> {
    let issuer = vars.get("AXHUB_JWT_ISSUER");
    let audience = vars.get("AXHUB_JWT_AUDIENCE");
    let keys = match (vars.get("AXHUB_JWKS_URL"), vars.get("AXHUB_JWT_SECRET")) {
        (Some(url), _) => {
            let algorithm = match vars.get("AXHUB_JWT_ALGORITHM").as_deref() {
                Some("RS256") | None => Algorithm::RS256,
                Some("ES256") => Algorithm::ES256,
                Some(other) => bail!("AXHUB_JWT_ALGORITHM must be RS256 or ES256, not {other}"),
            };
            for (name, value) in [
                ("AXHUB_JWT_ISSUER", &issuer),
                ("AXHUB_JWT_AUDIENCE", &audience),
            ] {
                if value.is_none() {
                    bail!("{name} is required with AXHUB_JWKS_URL");
                }
            }
            JwtKeys::Jwks { url, algorithm }
        }
        (None, Some(secret)) => JwtKeys::Hs256 {
            secret: secret.into_bytes(),
        },
        (None, None) => bail!("set AXHUB_JWKS_URL (production) or AXHUB_JWT_SECRET"),
    };
    Ok(AuthConfig {
        keys,
        issuer,
        audience,
    })
}

/// The GitHub App from the environment, or `None` when `AXHUB_GITHUB_APP_ID` is unset (the
/// GitHub operations then answer 503 `backend_unimplemented`). `AXHUB_GITHUB_APP_SLUG`,
/// `AXHUB_GITHUB_PRIVATE_KEY` (PEM; `\n` escapes are accepted), `AXHUB_GITHUB_CLIENT_ID`,
/// `AXHUB_GITHUB_CLIENT_SECRET`, `AXHUB_GITHUB_WEBHOOK_SECRET` and `AXHUB_GITHUB_TOKEN_KEY`
/// (64 hex characters: the AES-256 key of stored user tokens) are then required;
/// `AXHUB_GITHUB_API_URL` and `AXHUB_GITHUB_WEB_URL` default to github.com's.
pub fn github_config_from(vars: &Vars) -> anyhow::Result<Option<GitHubConfig>> {
    let Some(app_id) = vars.get("AXHUB_GITHUB_APP_ID") else {
        return Ok(None);
    };
    let need = |n: &str| {
        vars.get(n)
            .with_context(|| format!("{n} is required with AXHUB_GITHUB_APP_ID"))
    };
    let mut config = GitHubConfig::new(
        app_id,
        need("AXHUB_GITHUB_APP_SLUG")?,
        need("AXHUB_GITHUB_PRIVATE_KEY")?.replace("\\n", "\n"),
    );
    if let Some(url) = vars.get("AXHUB_GITHUB_API_URL") {
        config.api_url = url;
    }
    if let Some(url) = vars.get("AXHUB_GITHUB_WEB_URL") {
        config.web_url = url;
    }
    config.client_id = need("AXHUB_GITHUB_CLIENT_ID")?;
    config.client_secret = need("AXHUB_GITHUB_CLIENT_SECRET")?;
    config.webhook_secret = need("AXHUB_GITHUB_WEBHOOK_SECRET")?;
    config.token_key = hex::decode(need("AXHUB_GITHUB_TOKEN_KEY")?.trim())
        .context("AXHUB_GITHUB_TOKEN_KEY must be hex")?;
    if config.token_key.len() != 32 {
        bail!("AXHUB_GITHUB_TOKEN_KEY must be 64 hex characters (an AES-256 key)");
    }
    // Only the PEM is read here; signing with it (the client's own check) waits for the
    // first GitHub call, with the rest of the client.
    jsonwebtoken::EncodingKey::from_rsa_pem(config.private_key_pem.as_bytes())
        .context("AXHUB_GITHUB_PRIVATE_KEY must be the App's RSA private key (PEM)")?;
    Ok(Some(config))
}

/// The EKS cluster (`AXHUB_EKS_CLUSTER`, `AXHUB_EKS_ENDPOINT`, `AXHUB_EKS_CA_DATA`), the
/// registry images go to (`AXHUB_REGISTRY`), and the host builds clone from (that of
/// `AXHUB_GITHUB_WEB_URL` for GitHub Enterprise; github.com by default).
#[derive(Clone)]
pub struct Eks {
    pub cluster: String,
    pub endpoint: String,
    pub ca_data: String,
    pub registry: String,
    pub git_host: Option<String>,
    /// The cluster's pod and service CIDRs (`AXHUB_EKS_CLUSTER_CIDRS`, comma-separated): no
    /// build may reach them.
    pub cluster_cidrs: Vec<String>,
    /// The ingress controller's namespace (`AXHUB_EKS_INGRESS_NAMESPACE`).
    pub ingress_namespace: String,
}

impl Eks {
    pub fn from(vars: &Vars) -> anyhow::Result<Self> {
        Ok(Self {
            cluster: vars.require("AXHUB_EKS_CLUSTER")?,
            endpoint: vars.require("AXHUB_EKS_ENDPOINT")?,
            ca_data: vars.require("AXHUB_EKS_CA_DATA")?,
            registry: vars.require("AXHUB_REGISTRY")?,
            git_host: vars.get("AXHUB_GITHUB_WEB_URL").map(|url| host_of(&url)),
            cluster_cidrs: cidrs(&vars.require("AXHUB_EKS_CLUSTER_CIDRS")?)?,
            ingress_namespace: vars.require("AXHUB_EKS_INGRESS_NAMESPACE")?,
        })
    }
}

/// A comma-separated list of IPv4 CIDRs, each checked (`10.0.0.0/16`).
fn cidrs(list: &str) -> anyhow::Result<Vec<String>> {
    let parsed: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            let (ip, bits) = c.split_once('/').unwrap_or((c, ""));
            let ok = ip.parse::<std::net::Ipv4Addr>().is_ok()
                && bits.parse::<u8>().is_ok_and(|b| b <= 32);
            if ok {
                Ok(c.to_owned())
            } else {
                bail!("AXHUB_EKS_CLUSTER_CIDRS: {c:?} is not an IPv4 CIDR")
            }
        })
        .collect::<anyhow::Result<_>>()?;
    if parsed.is_empty() {
        bail!("AXHUB_EKS_CLUSTER_CIDRS must name the cluster's pod and service CIDRs");
    }
    Ok(parsed)
}

/// The host of a URL (`https://github.example.com/` → `github.example.com`).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_git_host_is_the_web_urls_host() {
        assert_eq!(
            super::host_of("https://github.example.com/"),
            "github.example.com"
        );
        assert_eq!(super::host_of("https://ghe.corp:8443/x"), "ghe.corp:8443");
        assert_eq!(super::host_of("github.com"), "github.com");
    }

    #[test]
    fn cluster_cidrs_are_ipv4_cidrs() {
        assert_eq!(
            super::cidrs("10.0.0.0/16, 172.20.0.0/16").unwrap(),
            ["10.0.0.0/16", "172.20.0.0/16"]
        );
        for bad in ["", "10.0.0.0", "10.0.0.0/33", "fd00::/8", "x/8"] {
            assert!(super::cidrs(bad).is_err(), "{bad:?}");
        }
    }
}
