//! The ECR adapter of the registry port (`axhub_ports::Registry`): which image URIs name
//! images that ECR does not hold, asked with `DescribeImages` (metadata only).
//!
//! # How it asks
//!
//! The URIs are grouped by registry (the account in the host) and repository; each group is
//! asked in one `DescribeImages` call per 100 images (the API's limit for `imageIds`), each
//! image by its tag or its digest. `DescribeImages` has no per-image failures: when any image
//! of the call is not there, the whole call fails with `ImageNotFoundException` (AWS and moto
//! alike). A batch that fails so is split in halves and each half asked again, down to single
//! images, so a batch with every image present (the usual preflight) costs one call, and `k`
//! missing images of `n` cost about `2k·log2(n)` more. `RepositoryNotFoundException` makes
//! every image of the repository missing.
//!
//! `BatchGetImage` would name the missing images in one call (its `failures`), but it is a
//! pull: it downloads manifests, needs pull rights, and ECR records it as the image's last
//! pull, which lifecycle and archive rules read; a preflight must not keep images alive.
//!
//! `digest` asks `DescribeImages` for one tag and answers the digest of the image it names.
//!
//! An image that ECR holds but has moved to its archive (`imageStatus` ARCHIVED or
//! ACTIVATING) cannot be pulled, so it is missing too. Where ECR's answer leaves doubt (a
//! successful call that does not list an image asked for), the image is missing: for both
//! users of the port, a false "missing" costs a refused promotion or a rebuild, a false
//! "there" costs a rollout that cannot pull its image.
//!
//! # Which registries
//!
//! A client serves one region: a URI whose host is not an ECR registry of that region
//! (`{account}.dkr.ecr.{region}.amazonaws.com`, the FIPS, China and dual-stack forms too) is
//! refused, never answered from the wrong registry. The account in the host is passed as
//! `registryId`, so a registry of another account is asked where the role may read it.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_ecr::Client;
use aws_sdk_ecr::config::http::HttpResponse;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::{ImageDetail, ImageIdentifier, ImageStatus};
use axhub_ports::Registry;
use axhub_ports::registry::{ImageRef, Reference, RegistryError};

use crate::sdk::Failure;

/// The most `imageIds` one `DescribeImages` call takes.
const MAX_IMAGE_IDS: usize = 100;

/// The registry port on ECR.
#[derive(Debug, Clone)]
pub struct EcrRegistry {
    client: Client,
}

impl EcrRegistry {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client following the standard AWS configuration of the environment (region,
    /// credentials, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_ECR`, profiles).
    pub async fn client_from_env() -> Client {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Client::new(&conf)
    }

    pub async fn from_env() -> Self {
        Self::new(Self::client_from_env().await)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Which of `wanted` (one repository's images, each once) are missing.
    async fn missing_in<'a>(
        &self,
        registry_id: &str,
        repository: &str,
        wanted: &[Reference<'a>],
    ) -> Result<HashSet<Reference<'a>>, RegistryError> {
        let mut missing = HashSet::new();
        let mut todo: Vec<&[Reference<'a>]> = wanted.chunks(MAX_IMAGE_IDS).collect();
        while let Some(batch) = todo.pop() {
            match self.describe(registry_id, repository, batch).await? {
                Described::Details(details) => {
                    missing.extend(batch.iter().filter(|r| !held(&details, r)).copied());
                }
                Described::ImageNotFound if batch.len() == 1 => {
                    missing.extend(batch.iter().copied());
                }
                Described::ImageNotFound => {
                    // Some image of the batch is missing, ECR does not say which.
                    let (a, b) = batch.split_at(batch.len() / 2);
                    todo.push(a);
                    todo.push(b);
                }
                Described::RepositoryNotFound => return Ok(wanted.iter().copied().collect()),
            }
        }
        Ok(missing)
    }

    /// One `DescribeImages` call for `batch` (1..=100 images of one repository).
    async fn describe(
        &self,
        registry_id: &str,
        repository: &str,
        batch: &[Reference<'_>],
    ) -> Result<Described, RegistryError> {
        let ids = batch.iter().map(|r| match r {
            Reference::Tag(tag) => ImageIdentifier::builder().image_tag(*tag).build(),
            Reference::Digest(digest) => ImageIdentifier::builder().image_digest(*digest).build(),
        });
        let out = self
            .client
            .describe_images()
            .registry_id(registry_id)
            .repository_name(repository)
            .set_image_ids(Some(ids.collect()))
            .send()
            .await;
        match out {
            Ok(out) => Ok(Described::Details(out.image_details.unwrap_or_default())),
            Err(e) => describe_failed(repository, e),
        }
    }
}

/// What a `DescribeImages` call said.
#[derive(Debug)]
enum Described {
    Details(Vec<ImageDetail>),
    /// Some image of the call is not in the repository.
    ImageNotFound,
    RepositoryNotFound,
}

/// Whether `details` show the image `r` names, pullable.
fn held(details: &[ImageDetail], r: &Reference<'_>) -> bool {
    details.iter().any(|d| {
        let named = match r {
            Reference::Tag(tag) => d.image_tags().iter().any(|t| t == tag),
            Reference::Digest(digest) => d.image_digest() == Some(*digest),
        };
        // No status is an answer from before ECR's archive existed (or moto): active.
        named && matches!(d.image_status(), None | Some(ImageStatus::Active))
    })
}

/// The account of an ECR registry host of `region`, or why the host is not one.
pub(crate) fn registry_account<'h>(host: &'h str, region: Option<&str>) -> Result<&'h str, String> {
    let not_ecr = || format!("{host} is not an ECR registry host");
    // {account}.dkr.ecr[-fips].{region}.amazonaws.com[.cn] or
    // {account}.dkr-ecr[-fips].{region}.on.aws (dual-stack).
    let (account, rest) = host.split_once('.').ok_or_else(not_ecr)?;
    let (rest, suffixes): (&str, &[&str]) = [
        ("dkr.ecr.", &["amazonaws.com", "amazonaws.com.cn"][..]),
        ("dkr.ecr-fips.", &["amazonaws.com"][..]),
        ("dkr-ecr.", &["on.aws"][..]),
        ("dkr-ecr-fips.", &["on.aws"][..]),
    ]
    .iter()
    .find_map(|(prefix, suffixes)| Some((rest.strip_prefix(prefix)?, *suffixes)))
    .ok_or_else(not_ecr)?;
    let (host_region, suffix) = rest.split_once('.').ok_or_else(not_ecr)?;
    let suffix_ok = suffixes.contains(&suffix);
    let region_ok = !host_region.is_empty()
        && host_region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_ecr());
    }
    if !suffix_ok || !region_ok {
        return Err(not_ecr());
    }
    match region {
        Some(r) if r == host_region => Ok(account),
        Some(r) => Err(format!(
            "{host} is a registry of {host_region}; this client reads {r}"
        )),
        None => Err(format!(
            "{host} is a registry of {host_region}; this client has no region"
        )),
    }
}

#[async_trait]
impl Registry for EcrRegistry {
    async fn digest(&self, tag_uri: &str) -> Result<Option<String>, RegistryError> {
        let region = self.client.config().region().map(|r| r.as_ref());
        let image = ImageRef::parse(tag_uri)?;
        let Reference::Tag(_) = image.reference else {
            return Err(RegistryError::Refused(format!(
                "{tag_uri:?} is not a tag URI"
            )));
        };
        let account = registry_account(image.host, region)
            .map_err(|why| RegistryError::Refused(format!("{tag_uri:?}: {why}")))?;
        let reference = [image.reference];
        Ok(
            match self.describe(account, image.repository, &reference).await? {
                Described::Details(details) => details
                    .iter()
                    .find(|d| held(std::slice::from_ref(*d), &image.reference))
                    .and_then(|d| d.image_digest())
                    .map(str::to_owned),
                Described::ImageNotFound | Described::RepositoryNotFound => None,
            },
        )
    }

    async fn missing(&self, image_uris: &[String]) -> Result<Vec<String>, RegistryError> {
        let region = self.client.config().region().map(|r| r.as_ref());
        // Every URI is checked before ECR is asked: the port answers all or nothing.
        let mut parsed = Vec::with_capacity(image_uris.len());
        for uri in image_uris {
            let image = ImageRef::parse(uri)?;
            let account = registry_account(image.host, region)
                .map_err(|why| RegistryError::Refused(format!("{uri:?}: {why}")))?;
            parsed.push((account, image));
        }
        // Per (account, repository), each image once, in first-seen order.
        let mut groups: Vec<((&str, &str), Vec<Reference<'_>>)> = Vec::new();
        let mut index: HashMap<(&str, &str), usize> = HashMap::new();
        for (account, image) in &parsed {
            let key = (*account, image.repository);
            let i = *index.entry(key).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            if !groups[i].1.contains(&image.reference) {
                groups[i].1.push(image.reference);
            }
        }
        // One repository after another: a preflight names a handful of images, and
        // sequential calls keep a slow registry from seeing bursts.
        let mut missing: HashSet<(&str, &str, Reference<'_>)> = HashSet::new();
        for ((account, repository), wanted) in &groups {
            for r in self.missing_in(account, repository, wanted).await? {
                missing.insert((*account, *repository, r));
            }
        }
        Ok(image_uris
            .iter()
            .zip(&parsed)
            .filter(|(_, (account, image))| {
                missing.contains(&(*account, image.repository, image.reference))
            })
            .map(|(uri, _)| uri.clone())
            .collect())
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// Maps a failed `DescribeImages` of `repository`: "not found" answers are answers, the rest
/// the port's errors. The text carries the operation, the error code and the service's
/// message (never the request, its signature or the credentials).
fn describe_failed<E>(
    repository: &str,
    err: SdkError<E, HttpResponse>,
) -> Result<Described, RegistryError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let op = format!("DescribeImages {repository}");
    let mapped = match crate::sdk::classify(&op, &err) {
        Failure::Service {
            code,
            message,
            status,
        } => service_failure(&op, code, message, status),
        Failure::Unavailable(text) => Err(RegistryError::Unavailable(text)),
        // The request could not be built or the answer not read, with no server fault to
        // blame: configuration, which retrying won't fix.
        Failure::Backend(text) => Err(RegistryError::Refused(text)),
    };
    if let Err(e) = &mapped {
        tracing::debug!(op, error = %e, "ECR call failed");
    }
    mapped
}

fn service_failure(
    op: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> Result<Described, RegistryError> {
    let text = format!(
        "{op}: {}: {}",
        code.unwrap_or("unknown error"),
        message.unwrap_or("no message")
    );
    match code.unwrap_or_default() {
        "ImageNotFoundException" => Ok(Described::ImageNotFound),
        "RepositoryNotFoundException" => Ok(Described::RepositoryNotFound),
        // Retrying later may succeed. The SDK retried throttling and server errors already
        // (standard retry mode), so these outlasted its attempts. An expired token is
        // refreshed by the credentials chain on the next call.
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "LimitExceededException"
        | "ServerException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "InternalFailure"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "ExpiredTokenException" => Err(RegistryError::Unavailable(text)),
        _ if status.is_some_and(|s| s == 429 || s >= 500) => Err(RegistryError::Unavailable(text)),
        // InvalidParameterException (a tag or digest ECR does not accept), AccessDenied,
        // unknown credentials: the request or the role is wrong.
        _ => Err(RegistryError::Refused(text)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn ecr_hosts_name_their_account_in_the_clients_region() {
        let east = Some("us-east-1");
        for host in [
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
            "123456789012.dkr-ecr.us-east-1.on.aws",
            "123456789012.dkr-ecr-fips.us-east-1.on.aws",
        ] {
            assert_eq!(
                registry_account(host, east).unwrap(),
                "123456789012",
                "{host}"
            );
        }
        assert_eq!(
            registry_account(
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                Some("cn-north-1")
            )
            .unwrap(),
            "123456789012"
        );
        let other = registry_account("123456789012.dkr.ecr.eu-west-1.amazonaws.com", east);
        assert!(other.unwrap_err().contains("this client reads us-east-1"));
        assert!(registry_account("123456789012.dkr.ecr.us-east-1.amazonaws.com", None).is_err());
        for host in [
            "registry.example.com",
            "localhost:5000",
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "1234567890ab.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
            "123456789012.dkr.ecr.us-east-1.on.aws",
            "123456789012.dkr-ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr..amazonaws.com",
            "public.ecr.aws",
        ] {
            assert!(
                registry_account(host, east)
                    .unwrap_err()
                    .contains("is not an ECR registry host"),
                "{host}"
            );
        }
    }

    #[test]
    fn not_found_answers_and_errors_map_to_the_port() {
        let m = |code: &str, status| service_failure("Op", Some(code), Some("msg"), Some(status));
        assert!(matches!(
            m("ImageNotFoundException", 400),
            Ok(Described::ImageNotFound)
        ));
        assert!(matches!(
            m("RepositoryNotFoundException", 400),
            Ok(Described::RepositoryNotFound)
        ));
        assert!(matches!(
            m("ThrottlingException", 400),
            Err(RegistryError::Unavailable(_))
        ));
        assert!(matches!(
            m("ServerException", 500),
            Err(RegistryError::Unavailable(_))
        ));
        assert!(matches!(
            m("Whatever", 503),
            Err(RegistryError::Unavailable(_))
        ));
        assert!(matches!(
            m("Whatever", 429),
            Err(RegistryError::Unavailable(_))
        ));
        assert_eq!(
            m("AccessDeniedException", 400).unwrap_err(),
            RegistryError::Refused("Op: AccessDeniedException: msg".into())
        );
        assert!(matches!(
            m("InvalidParameterException", 400),
            Err(RegistryError::Refused(_))
        ));
    }

    #[test]
    fn an_image_is_held_when_a_detail_names_it_and_it_is_active() {
        let detail = |status: Option<ImageStatus>| {
            ImageDetail::builder()
                .image_digest(DIGEST)
                .image_tags("v1")
                .image_tags("latest")
                .set_image_status(status)
                .build()
        };
        let active = [detail(None), detail(Some(ImageStatus::Active))];
        for d in &active {
            let details = std::slice::from_ref(d);
            assert!(held(details, &Reference::Tag("v1")));
            assert!(held(details, &Reference::Tag("latest")));
            assert!(held(details, &Reference::Digest(DIGEST)));
            assert!(!held(details, &Reference::Tag("v2")));
            assert!(!held(
                details,
                &Reference::Digest(&DIGEST.replace('0', "f"))
            ));
        }
        for status in [ImageStatus::Archived, ImageStatus::Activating] {
            assert!(!held(&[detail(Some(status))], &Reference::Tag("v1")));
        }
        assert!(!held(&[], &Reference::Tag("v1")));
    }
}
