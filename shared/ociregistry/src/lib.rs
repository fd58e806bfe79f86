//! The registry port (`axhub_ports::Registry`) on any registry that speaks the OCI
//! distribution API (`registry:2`, Harbor, GHCR with a token, ECR through its v2 endpoint):
//! for axhub-local driving a real cluster (`--kubeconfig`). Which images exist is asked with
//! `HEAD /v2/{repository}/manifests/{reference}`, which downloads nothing and answers the
//! manifest's digest in `Docker-Content-Digest`.
//!
//! Credentials come from a Docker `config.json` (`auths.{host}.auth`, basic auth), the same
//! file the builds push with ([`StaticPushCredentials`]). Registries on `localhost` or
//! `127.0.0.1` are spoken to over plain HTTP (as Docker does for them), every other over
//! HTTPS. The bearer-token challenge of Docker Hub style registries is not followed: such a
//! registry answers 401, which is refused, naming it.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use axhub_ports::cluster::Secret;
use axhub_ports::registry::{
    ImageRef, PushCredentials, PushScope, Reference, Registry, RegistryError,
};
use serde_json::Value;

/// Every manifest type a build may push: an index or a single image, OCI or Docker.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// The registry port over the OCI distribution API.
pub struct OciRegistry {
    http: reqwest::Client,
    /// Host → the `auth` of its `config.json` entry (base64 `user:password`).
    auths: HashMap<String, String>,
}

/// The `auths` of a Docker `config.json`.
fn auths_of(docker_config: &str) -> Result<HashMap<String, String>, RegistryError> {
    let config: Value = serde_json::from_str(docker_config)
        .map_err(|e| RegistryError::Refused(format!("the registry config is not JSON: {e}")))?;
    Ok(config
        .get("auths")
        .and_then(Value::as_object)
        .map(|auths| {
            auths
                .iter()
                .filter_map(|(host, entry)| {
                    let auth = entry.get("auth")?.as_str()?.to_owned();
                    // Entries may be written as URLs (`https://host/v1/`): the host is the key.
                    let host = host
                        .trim_start_matches("https://")
                        .trim_start_matches("http://")
                        .split('/')
                        .next()?
                        .to_owned();
                    Some((host, auth))
                })
                .collect()
        })
        .unwrap_or_default())
}

impl OciRegistry {
    /// `docker_config`: the Docker `config.json` with the registry's credentials, if any.
    pub fn new(docker_config: Option<&str>) -> Result<Self, RegistryError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| RegistryError::Refused(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            http,
            auths: match docker_config {
                Some(c) => auths_of(c)?,
                None => HashMap::new(),
            },
        })
    }

    /// The digest of the manifest `image` names, None when the registry has none.
    async fn head(&self, uri: &str, image: &ImageRef<'_>) -> Result<Option<String>, RegistryError> {
        let reference = match image.reference {
            Reference::Tag(t) => t,
            Reference::Digest(d) => d,
        };
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            base_url(image.host),
            image.repository
        );
        let mut request = self.http.head(&url).header("accept", ACCEPT);
        if let Some(auth) = self.auths.get(image.host) {
            request = request.header("authorization", format!("Basic {auth}"));
        }
        let answer = request
            .send()
            .await
            .map_err(|e| RegistryError::Unavailable(format!("HEAD {uri}: {}", e.without_url())))?;
        let status = answer.status().as_u16();
        match status {
            200 => {
                let digest = answer
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .or_else(|| match image.reference {
                        Reference::Digest(d) => Some(d.to_owned()),
                        Reference::Tag(_) => None,
                    });
                match digest {
                    Some(d) if axhub_ports::registry::is_digest(&d) => Ok(Some(d)),
                    _ => Err(RegistryError::Refused(format!(
                        "HEAD {uri}: the registry answered no sha256 digest"
                    ))),
                }
            }
            404 => Ok(None),
            429 | 500..=599 => Err(RegistryError::Unavailable(format!("HEAD {uri}: {status}"))),
            // 401/403: the credential is missing, wrong, or may not read this repository.
            _ => Err(RegistryError::Refused(format!("HEAD {uri}: {status}"))),
        }
    }
}

/// Plain HTTP for a registry on this machine, HTTPS for every other.
fn base_url(host: &str) -> String {
    let name = host.split(':').next().unwrap_or(host);
    if name == "localhost" || name == "127.0.0.1" {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    }
}

#[async_trait]
impl Registry for OciRegistry {
    async fn missing(&self, image_uris: &[String]) -> Result<Vec<String>, RegistryError> {
        let mut parsed = Vec::with_capacity(image_uris.len());
        for uri in image_uris {
            parsed.push((uri, ImageRef::parse(uri)?));
        }
        let mut missing = Vec::new();
        for (uri, image) in parsed {
            if self.head(uri, &image).await?.is_none() {
                missing.push(uri.clone());
            }
        }
        Ok(missing)
    }

    async fn digest(&self, tag_uri: &str) -> Result<Option<String>, RegistryError> {
        let image = ImageRef::parse(tag_uri)?;
        if let Reference::Digest(_) = image.reference {
            return Err(RegistryError::Refused(format!(
                "{tag_uri:?} is not a tag URI"
            )));
        }
        self.head(tag_uri, &image).await
    }
}

/// The operator's own registry credential, handed to every build: for a single-node install
/// whose tenants the operator trusts. It is not narrowed to a tenant (a registry without a
/// token service cannot mint one per build); the builds still get it in their own Secret,
/// removed when they end.
pub struct StaticPushCredentials {
    docker_config: String,
}

impl StaticPushCredentials {
    /// `docker_config`: a Docker `config.json`; None pushes anonymously (`{"auths": {}}`).
    pub fn new(docker_config: Option<String>) -> Self {
        Self {
            docker_config: docker_config.unwrap_or_else(|| r#"{"auths":{}}"#.to_owned()),
        }
    }
}

#[async_trait]
impl PushCredentials for StaticPushCredentials {
    async fn mint(&self, _scope: &PushScope) -> Result<Secret, RegistryError> {
        Ok(Secret::new(self.docker_config.clone()))
    }
}
