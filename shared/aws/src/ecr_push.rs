//! Push credentials for one build on ECR (`axhub_ports::PushCredentials`): the build-push role
//! is assumed with a session policy that narrows it to the build's tenant, and the session's
//! credentials are turned into an ECR registry login (`GetAuthorizationToken`) written as a
//! Docker `config.json`.
//!
//! # What the credential can do
//!
//! An assumed role's permissions are the intersection of the role's policies and the session
//! policy. The role (template.yaml `BuildPushRole`) may push to every repository under the
//! platform's registry prefix; the session policy of each build names only
//! `repository/{prefix}/{tenant}/*` of the registry's account and region. So a hostile
//! Dockerfile that reads the credential in its build can push only to its own tenant's
//! repositories; no other tenant's image can be overwritten with it.
//!
//! # How long it lives
//!
//! The session lasts [`SESSION_SECONDS`] (STS's minimum is 900 s; a build may run 30 minutes).
//! ECR's login token is valid for up to 12 hours whatever made it (an ECR rule, not ours): the
//! cluster adapter therefore deletes the Secret holding it as soon as the build ends, and the
//! Job's TTL removes it with the Job. The session is named after the deployment
//! (`build-{id}`), so CloudTrail shows which build pushed what.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sdk_ecr::config::http::HttpResponse;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use axhub_ports::PushCredentials;
use axhub_ports::cluster::Secret;
use axhub_ports::registry::{PushScope, RegistryError};
use serde_json::json;

use crate::ecr::registry_account;
use crate::sdk::Failure;

/// How long a build's STS session lasts.
pub const SESSION_SECONDS: i32 = 3600;

/// What a build may do in its tenant's repositories: push (and read back the layers and
/// manifests it pushes, which kaniko does to skip layers that are already there).
const PUSH_ACTIONS: [&str; 7] = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
];

/// Push credentials on ECR through the build-push role.
#[derive(Debug, Clone)]
pub struct EcrPushCredentials {
    config: SdkConfig,
    role_arn: String,
}

impl EcrPushCredentials {
    /// `config` is the function's own AWS configuration (its role assumes `role_arn`).
    pub fn new(config: SdkConfig, role_arn: impl Into<String>) -> Self {
        Self {
            config,
            role_arn: role_arn.into(),
        }
    }
}

/// The registry host and the repository path of a prefix (`{host}/{path}`).
fn split_prefix(prefix: &str) -> Result<(&str, &str), RegistryError> {
    match prefix.trim_end_matches('/').split_once('/') {
        Some((host, path)) if !path.is_empty() => Ok((host, path)),
        _ => Err(RegistryError::Refused(format!(
            "{prefix:?} is not a registry host with a repository path"
        ))),
    }
}

/// The session policy of a build: log in to the registry, push below the tenant's prefix.
pub fn session_policy(scope: &PushScope, region: &str) -> Result<String, RegistryError> {
    let (host, path) = split_prefix(&scope.repository_prefix)?;
    let account = registry_account(host, Some(region))
        .map_err(|why| RegistryError::Refused(format!("{:?}: {why}", scope.repository_prefix)))?;
    let partition = if host.ends_with(".amazonaws.com.cn") {
        "aws-cn"
    } else {
        "aws"
    };
    let repositories = format!("arn:{partition}:ecr:{region}:{account}:repository/{path}/*");
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [
            // GetAuthorizationToken takes no resource: the login itself grants nothing.
            {"Sid": "Login", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Sid": "PushOwnTenant", "Effect": "Allow", "Action": PUSH_ACTIONS, "Resource": repositories},
        ],
    })
    .to_string())
}

/// kaniko's `config.json` for one registry host: the ECR token is `base64("AWS:{password}")`,
/// which is what Docker's `auth` field holds.
pub fn docker_config(host: &str, authorization_token: &str) -> String {
    json!({"auths": {host: {"auth": authorization_token}}}).to_string()
}

fn failed<E>(op: &str, err: &SdkError<E, HttpResponse>) -> RegistryError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match crate::sdk::classify(op, err) {
        Failure::Unavailable(text) => RegistryError::Unavailable(text),
        Failure::Service {
            status: Some(s), ..
        } if s == 429 || s >= 500 => RegistryError::Unavailable(format!("{op}: {err}")),
        Failure::Service {
            code: Some("Throttling" | "ThrottlingException" | "ExpiredTokenException"),
            ..
        } => RegistryError::Unavailable(format!("{op}: throttled or expired")),
        Failure::Service { code, message, .. } => RegistryError::Refused(format!(
            "{op}: {}: {}",
            code.unwrap_or("unknown error"),
            message.unwrap_or("no message")
        )),
        Failure::Backend(text) => RegistryError::Refused(text),
    }
}

#[async_trait]
impl PushCredentials for EcrPushCredentials {
    async fn mint(&self, scope: &PushScope) -> Result<Secret, RegistryError> {
        let region = self
            .config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| RegistryError::Refused("no AWS region configured".into()))?;
        let policy = session_policy(scope, &region)?;
        let (host, _) = split_prefix(&scope.repository_prefix)?;
        let sts = aws_sdk_sts::Client::new(&self.config);
        let assumed = sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(format!("build-{}", scope.deployment_id.simple()))
            .policy(policy)
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| failed("AssumeRole", &e))?;
        let c = assumed.credentials.ok_or_else(|| {
            RegistryError::Unavailable("AssumeRole returned no credentials".into())
        })?;
        let expiry = std::time::SystemTime::try_from(c.expiration).ok();
        let session = Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            expiry,
            "build-push-session",
        );
        let ecr_config = aws_sdk_ecr::config::Builder::from(&self.config)
            .credentials_provider(session)
            .build();
        let ecr = aws_sdk_ecr::Client::from_conf(ecr_config);
        let login = ecr
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| failed("GetAuthorizationToken", &e))?;
        let token = login
            .authorization_data()
            .iter()
            .find_map(|d| d.authorization_token())
            .ok_or_else(|| RegistryError::Unavailable("ECR returned no login token".into()))?;
        Ok(Secret::new(docker_config(host, token)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn scope(prefix: &str) -> PushScope {
        PushScope {
            deployment_id: uuid::Uuid::nil(),
            tenant_id: uuid::Uuid::nil(),
            repository_prefix: prefix.into(),
        }
    }

    #[test]
    fn the_session_policy_names_only_the_tenants_repositories() {
        let policy = session_policy(
            &scope("123456789012.dkr.ecr.us-east-1.amazonaws.com/axhub/t1"),
            "us-east-1",
        )
        .unwrap();
        let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
        let push = &policy["Statement"][1];
        assert_eq!(
            push["Resource"],
            "arn:aws:ecr:us-east-1:123456789012:repository/axhub/t1/*"
        );
        assert_eq!(push["Action"].as_array().unwrap().len(), PUSH_ACTIONS.len());
        assert_eq!(
            policy["Statement"][0]["Action"],
            "ecr:GetAuthorizationToken"
        );
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 2);

        let cn = session_policy(
            &scope("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/t1"),
            "cn-north-1",
        )
        .unwrap();
        assert!(cn.contains("arn:aws-cn:ecr:cn-north-1:123456789012:repository/t1/*"));
    }

    #[test]
    fn a_prefix_that_is_not_an_ecr_repository_path_is_refused() {
        for prefix in [
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/",
            "registry.example.com/t1",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/t1",
        ] {
            assert!(
                matches!(
                    session_policy(&scope(prefix), "us-east-1"),
                    Err(RegistryError::Refused(_))
                ),
                "{prefix}"
            );
        }
    }

    #[test]
    fn the_docker_config_logs_in_to_the_one_host() {
        let config: serde_json::Value =
            serde_json::from_str(&docker_config("h.example", "QVdTOnB3")).unwrap();
        assert_eq!(
            config,
            json!({"auths": {"h.example": {"auth": "QVdTOnB3"}}})
        );
    }
}
