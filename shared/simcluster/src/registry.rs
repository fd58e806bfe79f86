//! The sim as the registry (`Registry`) and as the minter of push credentials
//! (`PushCredentials`).

use async_trait::async_trait;
use axhub_ports::cluster::{ClusterError, Secret};
use axhub_ports::registry::{
    ImageRef, PushCredentials, PushScope, Reference, Registry, RegistryError, pinned,
};
use sha2::{Digest, Sha256};

use crate::{SimCluster, State};

/// A sim credential: it names the tenant it may push for.
pub(crate) const CREDENTIAL_PREFIX: &str = "sim-push:";

/// Pushes a fresh manifest of `commit` under `tag_uri`; its digest.
pub(crate) fn push(s: &mut State, tag_uri: &str, commit: &str, salt: &str) -> Option<String> {
    let digest = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(format!("{tag_uri}#{salt}").as_bytes()))
    );
    let pin = pinned(tag_uri, &digest).ok()?;
    s.manifests.insert(pin, commit.to_owned());
    s.tags.insert(tag_uri.to_owned(), digest.clone());
    Some(digest)
}

fn registry_error(e: ClusterError) -> RegistryError {
    match e {
        ClusterError::Unavailable(m) => RegistryError::Unavailable(m),
        ClusterError::Refused(m) => RegistryError::Refused(m),
    }
}

/// The sim's registry holds the tags and manifests its builds pushed. URIs are parsed as the
/// real registry's are, so one the ECR adapter would refuse is refused here too.
#[async_trait]
impl Registry for SimCluster {
    async fn missing(&self, image_uris: &[String]) -> Result<Vec<String>, RegistryError> {
        let mut parsed = Vec::with_capacity(image_uris.len());
        for uri in image_uris {
            parsed.push((uri, ImageRef::parse(uri)?.reference));
        }
        self.with(|s| {
            parsed
                .iter()
                .filter(|(uri, reference)| match reference {
                    Reference::Tag(_) => !s.tags.contains_key(*uri),
                    Reference::Digest(_) => !s.manifests.contains_key(*uri),
                })
                .map(|(uri, _)| (*uri).clone())
                .collect()
        })
        .map_err(registry_error)
    }

    async fn digest(&self, tag_uri: &str) -> Result<Option<String>, RegistryError> {
        if let Reference::Digest(_) = ImageRef::parse(tag_uri)?.reference {
            return Err(RegistryError::Refused(format!(
                "{tag_uri:?} is not a tag URI"
            )));
        }
        self.with(|s| s.tags.get(tag_uri).cloned())
            .map_err(registry_error)
    }
}

#[async_trait]
impl PushCredentials for SimCluster {
    async fn mint(&self, scope: &PushScope) -> Result<Secret, RegistryError> {
        self.with(|_| ()).map_err(registry_error)?;
        Ok(Secret::new(format!(
            "{CREDENTIAL_PREFIX}{}:{}",
            scope.tenant_id.simple(),
            scope.deployment_id.simple()
        )))
    }
}
