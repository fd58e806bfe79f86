//! The image a deployment runs, pinned by digest: what a build pushed (the digest it reported,
//! or the registry's for its tag), or, without `force_rebuild`, the image an earlier build of
//! the same commit pushed, when the registry's tag still names exactly that digest.
//!
//! Workloads run `repo@sha256:…`, never a tag: a tag can be moved by anyone who may push to
//! the repository, a digest names one manifest for good.

use axhub_domain::{Deployment, Error};
use axhub_ports::registry::{PushScope, RegistryError, digest_of, pinned};

use crate::Deps;
use crate::state::deployments;

/// How many of the app's latest deployments are searched for an earlier build of the commit.
const REUSE_LOOKBACK: u32 = 50;

/// Registry failures in the platform's words: unreachable is retried by the job, refused is
/// the operators' to fix (logged) and fails nothing of the tenant's by itself.
pub(super) fn registry_error(e: RegistryError) -> Error {
    match e {
        RegistryError::Unavailable(detail) => {
            tracing::warn!(%detail, "registry unavailable");
            Error::unavailable("the image registry cannot be reached right now; retry shortly")
        }
        RegistryError::Refused(detail) => {
            tracing::error!(%detail, "the registry refused a request");
            Error::internal("the platform could not complete the request on the image registry")
        }
    }
}

/// The pinned image of an earlier build of `d`'s commit, when the registry's `tag_uri` still
/// names the digest that build recorded; None means build. A tag that names another digest
/// was moved outside the platform: it is logged and the commit rebuilt, never trusted.
pub(super) async fn reusable(
    deps: &Deps,
    d: &Deployment,
    tag_uri: &str,
) -> Result<Option<String>, Error> {
    let Some(registry) = &deps.registry else {
        return Ok(None);
    };
    let earlier = deployments::history(deps, d.app_id, d.seq, REUSE_LOOKBACK).await?;
    let Some(recorded) = earlier
        .iter()
        .filter(|e| e.id != d.id && e.commit_sha == d.commit_sha)
        .find_map(|e| e.image_uri.as_deref().and_then(digest_of))
    else {
        return Ok(None);
    };
    let current = registry.digest(tag_uri).await.map_err(registry_error)?;
    match current {
        Some(current) if current == recorded => {
            pinned(tag_uri, &current).map(Some).map_err(registry_error)
        }
        Some(current) => {
            tracing::warn!(
                deployment_id = %d.id, tag_uri, %recorded, %current,
                "the image tag names another digest than its build pushed; rebuilding"
            );
            Ok(None)
        }
        None => Ok(None),
    }
}

/// The pinned image a finished build pushed: its reported digest, else the one the registry
/// names for its tag; None when there is neither (the push was lost). Whether the registry
/// holds it is [`held`]'s to say, once, in the pushing stage.
pub(super) async fn pin(
    deps: &Deps,
    tag_uri: &str,
    reported: Option<String>,
) -> Result<Option<String>, Error> {
    let digest = match reported {
        Some(digest) => digest,
        None => match deps
            .registry()?
            .digest(tag_uri)
            .await
            .map_err(registry_error)?
        {
            Some(digest) => digest,
            None => return Ok(None),
        },
    };
    pinned(tag_uri, &digest).map(Some).map_err(registry_error)
}

/// Whether the registry holds the pinned image.
pub(super) async fn held(deps: &Deps, pin: &str) -> Result<bool, Error> {
    let missing = deps
        .registry()?
        .missing(&[pin.to_owned()])
        .await
        .map_err(registry_error)?;
    Ok(missing.is_empty())
}

/// What a build's push credential may reach: the tenant's repositories under the registry.
pub(super) fn push_scope(deps: &Deps, d: &Deployment, tenant_id: uuid::Uuid) -> PushScope {
    PushScope {
        deployment_id: d.id,
        tenant_id,
        repository_prefix: format!(
            "{}/{}",
            deps.pipeline.registry.trim_end_matches('/'),
            tenant_id.simple()
        ),
    }
}
