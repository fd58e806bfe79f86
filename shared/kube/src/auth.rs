//! Bearer tokens that expire (EKS's last 15 minutes): a tower layer puts a fresh one on every
//! request, fetching a new one from a [`TokenSource`] when the cached one has less than
//! [`REFRESH_MARGIN`] left.
//!
//! kube's own refreshing auth (exec plugins, token files) runs a program or reads a file; a
//! trait lets the token come from code (AWS credentials of the Lambda) and from tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use axhub_ports::cluster::ClusterError;
use http::Request;
use http::header::{AUTHORIZATION, HeaderValue};
use kube::Client;
use kube::client::ClientBuilder;
use tokio::sync::Mutex;
use tower::buffer::BufferLayer;
use tower::{BoxError, Layer, Service};

/// A token is refreshed when it has less than this left, so that it does not expire between
/// being put on a request and the server checking it.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Where bearer tokens come from.
#[async_trait]
pub trait TokenSource: Send + Sync + 'static {
    /// A new token and when it expires.
    async fn token(&self) -> Result<(String, SystemTime), ClusterError>;
}

/// The current token of a source, fetched again when it is about to expire.
pub struct CachedToken {
    source: Box<dyn TokenSource>,
    // A tokio mutex held across the fetch: concurrent requests wait for one refresh instead of
    // all fetching their own.
    current: Mutex<Option<(String, SystemTime)>>,
}

impl CachedToken {
    pub fn new(source: impl TokenSource) -> Self {
        Self {
            source: Box::new(source),
            current: Mutex::new(None),
        }
    }

    /// A token valid for at least [`REFRESH_MARGIN`] (as far as its source said).
    pub async fn get(&self) -> Result<String, ClusterError> {
        let mut current = self.current.lock().await;
        if let Some((token, expiry)) = current.as_ref()
            && *expiry > SystemTime::now() + REFRESH_MARGIN
        {
            return Ok(token.clone());
        }
        let (token, expiry) = self.source.token().await?;
        *current = Some((token.clone(), expiry));
        Ok(token)
    }
}

/// Layer putting `Authorization: Bearer <token>` on every request.
#[derive(Clone)]
pub struct BearerTokenLayer {
    tokens: Arc<CachedToken>,
}

impl BearerTokenLayer {
    pub fn new(source: impl TokenSource) -> Self {
        Self {
            tokens: Arc::new(CachedToken::new(source)),
        }
    }
}

impl<S> Layer<S> for BearerTokenLayer {
    type Service = BearerToken<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerToken {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

#[derive(Clone)]
pub struct BearerToken<S> {
    inner: S,
    tokens: Arc<CachedToken>,
}

impl<S, B> Service<Request<B>> for BearerToken<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service that was polled ready goes into the future; a clone stays for the next
        // poll_ready (tower's usual dance for services whose call must await first).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let tokens = self.tokens.clone();
        Box::pin(async move {
            // A ClusterError boxed here comes back out of kube as `Error::Service`, where
            // `crate::error` finds it again and keeps its kind.
            let token = tokens.get().await.map_err(BoxError::from)?;
            let mut value = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
                BoxError::from(ClusterError::Refused(
                    "the token source gave a token that is not a valid header value".to_owned(),
                ))
            })?;
            value.set_sensitive(true);
            request.headers_mut().insert(AUTHORIZATION, value);
            inner.call(request).await.map_err(Into::into)
        })
    }
}

/// A kube client on `config` (server URL, CA, timeouts) whose requests carry tokens of
/// `source`. Any credentials in `config` are dropped: the token layer authenticates.
///
/// Must be called inside a tokio runtime (the client spawns its buffer workers).
pub fn client_with_token_source(
    mut config: kube::Config,
    source: impl TokenSource,
) -> Result<Client, ClusterError> {
    config.auth_info = Default::default();
    bound_timeouts(&mut config);
    let builder = ClientBuilder::try_from(config)
        .map_err(|e| ClusterError::Refused(format!("kube client configuration: {e}")))?;
    // kube's default stack is a BoxService, which cannot be cloned; the buffer in front of it
    // can, which the token layer needs to await the token before calling it.
    Ok(builder
        .with_layer(&BufferLayer::new(1024))
        .with_layer(&BearerTokenLayer::new(source))
        .build())
}

/// How long connecting to the API server may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long one API request may wait for its answer (kube's default is almost 5 minutes,
/// for watches; this adapter never watches).
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Bounds every request: a cluster that stops answering costs a worker's record its time
/// budget, not the whole batch's.
pub fn bound_timeouts(config: &mut kube::Config) {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.write_timeout = Some(READ_TIMEOUT);
}

/// The configuration of an EKS cluster from what `DescribeCluster` says: its endpoint and the
/// base64 PEM of its certificate authority.
pub async fn eks_config(
    endpoint: &str,
    certificate_authority_data: &str,
) -> Result<kube::Config, ClusterError> {
    use kube::config::{
        Cluster, Context, KubeConfigOptions, Kubeconfig, NamedCluster, NamedContext,
    };

    let kubeconfig = Kubeconfig {
        clusters: vec![NamedCluster {
            name: "eks".to_owned(),
            cluster: Some(Cluster {
                server: Some(endpoint.to_owned()),
                certificate_authority_data: Some(certificate_authority_data.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        contexts: vec![NamedContext {
            name: "eks".to_owned(),
            context: Some(Context {
                cluster: "eks".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }],
        current_context: Some("eks".to_owned()),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| ClusterError::Refused(format!("EKS cluster configuration: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_request_to_the_cluster_is_bounded_in_time() {
        let ca = include_str!("../../../tests/fixtures/eks-ca.pem");
        let ca = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ca);
        let mut config = eks_config("https://127.0.0.1:9", &ca).await.unwrap();
        bound_timeouts(&mut config);
        assert_eq!(config.connect_timeout, Some(CONNECT_TIMEOUT));
        assert_eq!(config.read_timeout, Some(READ_TIMEOUT));
        assert_eq!(config.write_timeout, Some(READ_TIMEOUT));
        assert!(READ_TIMEOUT < std::time::Duration::from_secs(60));
    }
}
