//! EKS bearer tokens, as `aws eks get-token` and aws-iam-authenticator make them: a SigV4
//! presigned STS `GetCallerIdentity` URL naming the cluster in the signed `x-k8s-aws-id`
//! header, base64url-encoded behind `k8s-aws-v1.`. The API server calls STS with it to learn
//! which IAM role is calling.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use axhub_ports::cluster::ClusterError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::TokenSource;

/// The presigned URL itself is valid for 60 s (aws-iam-authenticator's value); EKS accepts the
/// token for 15 minutes after signing, which the token's own expiry stays under.
const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);
const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// Tokens for one EKS cluster, signed with the credentials of `credentials` (the Lambda's role
/// through `aws_config::SdkConfig::credentials_provider()`).
pub struct EksTokenSource {
    pub cluster_name: String,
    pub region: String,
    pub credentials: SharedCredentialsProvider,
}

#[async_trait]
impl TokenSource for EksTokenSource {
    async fn token(&self) -> Result<(String, SystemTime), ClusterError> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| ClusterError::Unavailable(format!("AWS credentials: {e}")))?;
        let now = SystemTime::now();
        let token = presigned_token(&self.cluster_name, &self.region, &credentials, now)?;
        // Temporary credentials that expire sooner make the token expire with them.
        let mut expiry = now + TOKEN_LIFETIME;
        if let Some(credentials_expiry) = credentials.expiry() {
            expiry = expiry.min(credentials_expiry);
        }
        Ok((token, expiry))
    }
}

/// The EKS token of `cluster_name`, signed at `now`.
pub fn presigned_token(
    cluster_name: &str,
    region: &str,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<String, ClusterError> {
    let signing_error = |e: &dyn std::fmt::Display| {
        ClusterError::Refused(format!("signing the EKS token failed: {e}"))
    };
    let url =
        format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| signing_error(&e))?
        .into();
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        [("x-k8s-aws-id", cluster_name)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| signing_error(&e))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| signing_error(&e))?
        .into_parts();
    let mut presigned = http::Request::get(url.as_str())
        .body(())
        .map_err(|e| signing_error(&e))?;
    instructions.apply_to_request_http1x(&mut presigned);
    Ok(format!(
        "k8s-aws-v1.{}",
        URL_SAFE_NO_PAD.encode(presigned.uri().to_string())
    ))
}
