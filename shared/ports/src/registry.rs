//! The registry port: which images the container registry holds, whatever the registry is
//! (ECR through `aws`, or the simulated cluster of axhub-local and tests). The promote
//! preflight names the images a promotion would need that are gone (`missing_images`); a
//! build can be skipped when its image is there already.
//!
//! Images are named by URI, as the cluster runs them: `{host}/{repository}:{tag}` or
//! `{host}/{repository}@sha256:{hex}` (`ImageRef::parse` takes them apart).

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached, or shed the request (throttling, a server error):
    /// retry later.
    #[error("registry unavailable: {0}")]
    Unavailable(String),
    /// The request was wrong in a way retrying won't fix: a URI that is not an image URI
    /// (the message names it), an image on a registry the adapter does not serve, a role
    /// that may not read the registry.
    #[error("registry refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait Registry: Send + Sync + 'static {
    /// The URIs of `image_uris` the registry does not hold, in input order: a filter of the
    /// input, so a URI given twice and missing is named twice, and an empty answer means
    /// every image is there (an empty input asks the registry nothing).
    ///
    /// A tag is held while it names an image (tags can move: this says nothing about which
    /// image); a digest while that manifest is stored. A repository that does not exist holds
    /// nothing, so its images are missing, not an error.
    ///
    /// All or nothing: every URI is parsed before the registry is asked, and one that does
    /// not parse refuses the whole call, naming it. The answer is a snapshot; an image can be
    /// deleted (a lifecycle policy, an operator) right after it was found.
    async fn missing(&self, image_uris: &[String]) -> Result<Vec<String>, RegistryError>;

    /// The digest (`sha256:…`) of the image a tag URI names now, None when the registry holds
    /// no image under that tag (or no such repository). A URI that is not a tag URI is
    /// refused. Tags move: the answer says where the tag points at this moment, which is
    /// what a reuse compares with the digest a build recorded.
    async fn digest(&self, tag_uri: &str) -> Result<Option<String>, RegistryError>;
}

/// A registry credential for one build: a Docker `config.json` that may push to the
/// repositories of one tenant only, short-lived (see each adapter for how short).
#[async_trait]
pub trait PushCredentials: Send + Sync + 'static {
    /// A credential for `build`'s push: scoped to `{registry}/{tenant}/…`, never to another
    /// tenant's repositories.
    async fn mint(&self, scope: &PushScope) -> Result<crate::cluster::Secret, RegistryError>;
}

/// What a push credential is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushScope {
    /// The build it is for (named in the credential's session, for the audit trail).
    pub deployment_id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    /// The URI prefix every image of the tenant is under: `{registry}/{tenant}` (no `/` at
    /// the end). The credential may push below it and nowhere else.
    pub repository_prefix: String,
}

/// `{host}/{repository}@{digest}`: the image a tag URI named, pinned to its manifest, so a
/// workload runs exactly what the build pushed even if the tag is moved later.
pub fn pinned(tag_uri: &str, digest: &str) -> Result<String, RegistryError> {
    let image = ImageRef::parse(tag_uri)?;
    if !is_digest(digest) {
        return Err(RegistryError::Refused(format!(
            "{digest:?} is not a sha256 digest"
        )));
    }
    Ok(format!("{}/{}@{digest}", image.host, image.repository))
}

/// The digest of a digest URI (`…@sha256:…`), None for a tag URI or what does not parse.
pub fn digest_of(uri: &str) -> Option<&str> {
    match ImageRef::parse(uri).ok()?.reference {
        Reference::Digest(d) => Some(d),
        Reference::Tag(_) => None,
    }
}

/// An image URI taken apart. Borrowed from the URI it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageRef<'a> {
    /// The registry's host name, with its port if the URI gives one
    /// (`123456789012.dkr.ecr.us-east-1.amazonaws.com`, `localhost:5000`).
    pub host: &'a str,
    /// The repository inside the registry: one or more `/`-separated components
    /// (`tenant/app`).
    pub repository: &'a str,
    pub reference: Reference<'a>,
}

/// Which image of the repository a URI names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reference<'a> {
    /// The image the tag names now (`1a2b3c`, without the `:`).
    Tag(&'a str),
    /// The manifest with this digest (`sha256:` and 64 lowercase hex digits).
    Digest(&'a str),
}

impl<'a> ImageRef<'a> {
    /// Takes `uri` apart, or refuses it naming it and why.
    ///
    /// Stricter than Docker's reference grammar, on purpose: the host is required (Docker
    /// would assume Docker Hub), so is a tag or a digest (Docker would assume `latest`, a tag
    /// that moves), and a URI with both a tag and a digest is refused (a pull then goes by
    /// the digest and ignores the tag, which hides a mistake). The host is a DNS name with an
    /// optional port, or `localhost`; IP literals in brackets are not accepted. Digests are
    /// sha256, what ECR and Docker registries make of manifests.
    pub fn parse(uri: &'a str) -> Result<Self, RegistryError> {
        Self::parse_inner(uri)
            .map_err(|why| RegistryError::Refused(format!("{uri:?} is not an image URI: {why}")))
    }

    fn parse_inner(uri: &'a str) -> Result<Self, &'static str> {
        let (host, rest) = uri
            .split_once('/')
            .ok_or("it names no registry host (expected host/repository:tag)")?;
        if !is_host(host) {
            return Err("it names no registry host (expected host/repository:tag)");
        }
        let (repository, reference) = match rest.split_once('@') {
            Some((repository, digest)) => {
                if repository.contains(':') {
                    return Err("it names both a tag and a digest");
                }
                if !is_digest(digest) {
                    return Err("its digest is not sha256: and 64 lowercase hex digits");
                }
                (repository, Reference::Digest(digest))
            }
            None => {
                // Repository components cannot hold a ':', so the last one starts the tag.
                let (repository, tag) = rest.rsplit_once(':').ok_or("it names no tag or digest")?;
                if !is_tag(tag) {
                    return Err(
                        "its tag is not 1 to 128 of [A-Za-z0-9_.-], not starting with . or -",
                    );
                }
                (repository, Reference::Tag(tag))
            }
        };
        if !repository.split('/').all(is_path_component) {
            return Err(
                "its repository is not /-separated lowercase [a-z0-9] words joined by . _ or -",
            );
        }
        Ok(Self {
            host,
            repository,
            reference,
        })
    }
}

/// `localhost`, or a dotted DNS name, either with an optional `:port`. A first component
/// without a dot or a port is a repository component (`library/nginx`), not a host.
fn is_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    name.split('.').all(label_ok) && (name.contains('.') || port.is_some() || name == "localhost")
}

fn is_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first)
                && alnum(last)
                && bytes
                    .iter()
                    .all(|&b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => false,
    }
}

fn is_tag(tag: &str) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    (1..=128).contains(&tag.len()) && !tag.starts_with(['.', '-']) && tag.bytes().all(ok)
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn tagged_uris_are_taken_apart() {
        let uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tenant-1/app:1a2b3c";
        assert_eq!(
            ImageRef::parse(uri).unwrap(),
            ImageRef {
                host: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                repository: "tenant-1/app",
                reference: Reference::Tag("1a2b3c"),
            }
        );
        let local = ImageRef::parse("localhost:5000/a.b_c--d/e:V1.0-rc_1").unwrap();
        assert_eq!(local.host, "localhost:5000");
        assert_eq!(local.repository, "a.b_c--d/e");
        assert_eq!(local.reference, Reference::Tag("V1.0-rc_1"));
        assert_eq!(
            ImageRef::parse("registry:5000/app:t").unwrap().host,
            "registry:5000"
        );
        assert_eq!(
            ImageRef::parse("localhost/app:t").unwrap().host,
            "localhost"
        );
    }

    #[test]
    fn digest_uris_are_taken_apart() {
        let uri = format!("registry.example.com/tenant/app@{DIGEST}");
        assert_eq!(
            ImageRef::parse(&uri).unwrap(),
            ImageRef {
                host: "registry.example.com",
                repository: "tenant/app",
                reference: Reference::Digest(DIGEST),
            }
        );
    }

    #[test]
    fn a_tag_uri_is_pinned_to_a_digest() {
        let tag = "registry.example.com/tenant/app:1a2b3c";
        let pin = pinned(tag, DIGEST).unwrap();
        assert_eq!(pin, format!("registry.example.com/tenant/app@{DIGEST}"));
        assert_eq!(digest_of(&pin), Some(DIGEST));
        assert_eq!(digest_of(tag), None);
        assert!(pinned(tag, "sha256:abc").is_err());
        assert!(pinned("app", DIGEST).is_err());
    }

    #[test]
    fn what_is_not_an_image_uri_is_refused_by_name() {
        let long_tag = format!("r.io/app:{}", "t".repeat(129));
        let both = format!("r.io/app:t@{DIGEST}");
        let upper_digest = format!("r.io/app@{}", DIGEST.to_uppercase().replace("SHA", "sha"));
        let bad = [
            "",
            "app:tag",             // no host
            "library/nginx:1",     // "library" is a repository component, not a host
            "r.io/app",            // neither tag nor digest: no implicit `latest`
            "r.io/app:",           // empty tag
            "r.io/app:-x",         // a tag starts with [A-Za-z0-9_]
            long_tag.as_str(),     // tags are at most 128 characters
            "r.io/App:t",          // repositories are lowercase
            "r.io/:t",             // empty repository
            "r.io//app:t",         // empty component
            "r.io/app/:t",         // empty component
            "r.io/-app:t",         // components start with [a-z0-9]
            "r.io/app.:t",         // and end with one
            "r.io/a p:t",          // no spaces anywhere
            "r.io/app@sha256:abc", // short digest
            "r.io/app@md5:0123",   // only sha256
            upper_digest.as_str(), // digests are lowercase hex
            both.as_str(),         // tag and digest
            "r.io:/app:t",         // empty port
            "r.io:50000000/app:t", // port too long
            "-r.io/app:t",         // host labels do not start with -
            "r..io/app:t",         // empty host label
            "https://r.io/app:t",  // a URI of an image, not a URL
        ];
        for uri in bad {
            match ImageRef::parse(uri) {
                Err(RegistryError::Refused(m)) => {
                    assert!(m.contains(&format!("{uri:?}")), "{m} names {uri:?}")
                }
                other => panic!("{uri:?} parsed: {other:?}"),
            }
        }
    }
}
