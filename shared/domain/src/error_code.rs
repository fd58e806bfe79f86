//! Every error code the API answers with. The platform's codes (DESIGN §2) come first, then
//! the few this service invented where none fitted. A code decides its category, and with
//! it the HTTP status (`axhub_http::error::status_of`) and whether a retry can help, so a
//! call site names only the code.

use crate::Category;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // 400: the platform's validation codes.
    Required,
    InvalidValue,
    InvalidFormat,
    TooLong,
    BadRequest,
    // 401
    TokenMissing,
    TokenInvalid,
    TokenExpired,
    // 403
    Forbidden,
    NotAdmin,
    InsufficientScope,
    VersionNotApproved,
    // 404
    NotFound,
    // 409
    Conflict,
    InvalidStateTransition,
    AlreadyPromoted,
    StagingAlreadyEnabled,
    // 412
    SubdomainNotConfigured,
    GitConnectionRequired,
    StagingRequired,
    StagingNotEnabled,
    ProdDeployRequired,
    PendingReviewExists,
    ConfirmRequired,
    NotPromotable,
    /// The only retryable 412: the promotion in flight will end.
    PromoteInProgress,
    // 428
    GithubReloginRequired,
    // 429
    RateLimited,
    // 502
    BadGateway,
    // 503
    BackendUnimplemented,
    TemporarilyUnavailable,
    // 500
    Internal,

    // Invented here, where no platform code fits.
    /// 405: a known path, another method.
    MethodNotAllowed,
    /// 413: the body exceeds the limit.
    PayloadTooLarge,
    /// 415: a body that is not JSON.
    UnsupportedMediaType,
    /// 400: an `Idempotency-Key` sent again with another request.
    IdempotencyKeyReused,
    /// 400: the install flow's state token is unknown, expired or spent.
    InvalidOauthState,
    /// 400: the installation cannot read the repository it is asked to connect.
    InstallationVerificationFailed,
    /// 401: a webhook delivery without a valid signature.
    InvalidSignature,
    /// 412: a rollback to a deployment that never produced an image.
    ImageNotBuilt,
    /// 412: a rollback to a deployment that produced an image but did not succeed (failed,
    /// cancelled): only a release can be rolled back to.
    NotARelease,
    /// 412: the GitHub App was uninstalled from the connected repository's account.
    GithubInstallationMissing,
    /// 422: the bootstrap names no GitHub App installation.
    GithubAppNotInstalled,
    /// 412: the connected branch (or its repository) is gone.
    BranchNotFound,
}

impl ErrorCode {
    /// The wire form (snake_case), also what it serializes to.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Required => "required",
            InvalidValue => "invalid_value",
            InvalidFormat => "invalid_format",
            TooLong => "too_long",
            BadRequest => "bad_request",
            TokenMissing => "token_missing",
            TokenInvalid => "token_invalid",
            TokenExpired => "token_expired",
            Forbidden => "forbidden",
            NotAdmin => "not_admin",
            InsufficientScope => "insufficient_scope",
            VersionNotApproved => "version_not_approved",
            NotFound => "not_found",
            Conflict => "conflict",
            InvalidStateTransition => "invalid_state_transition",
            AlreadyPromoted => "already_promoted",
            StagingAlreadyEnabled => "staging_already_enabled",
            SubdomainNotConfigured => "subdomain_not_configured",
            GitConnectionRequired => "git_connection_required",
            StagingRequired => "staging_required",
            StagingNotEnabled => "staging_not_enabled",
            ProdDeployRequired => "prod_deploy_required",
            PendingReviewExists => "pending_review_exists",
            ConfirmRequired => "confirm_required",
            NotPromotable => "not_promotable",
            PromoteInProgress => "promote_in_progress",
            GithubReloginRequired => "github_relogin_required",
            RateLimited => "rate_limited",
            BadGateway => "bad_gateway",
            BackendUnimplemented => "backend_unimplemented",
            TemporarilyUnavailable => "temporarily_unavailable",
            Internal => "internal",
            MethodNotAllowed => "method_not_allowed",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            IdempotencyKeyReused => "idempotency_key_reused",
            InvalidOauthState => "invalid_oauth_state",
            InstallationVerificationFailed => "installation_verification_failed",
            InvalidSignature => "invalid_signature",
            ImageNotBuilt => "image_not_built",
            NotARelease => "not_a_release",
            GithubInstallationMissing => "github_installation_missing",
            GithubAppNotInstalled => "github_app_not_installed",
            BranchNotFound => "branch_not_found",
        }
    }

    /// The category the envelope reports; no wildcard, so a new code must pick one.
    pub fn category(self) -> Category {
        use ErrorCode::*;
        match self {
            Required
            | InvalidValue
            | InvalidFormat
            | TooLong
            | BadRequest
            | MethodNotAllowed
            | PayloadTooLarge
            | UnsupportedMediaType
            | IdempotencyKeyReused
            | InvalidOauthState
            | InstallationVerificationFailed => Category::Validation,
            TokenMissing | TokenInvalid | TokenExpired | InvalidSignature => {
                Category::Unauthenticated
            }
            Forbidden | NotAdmin | InsufficientScope | VersionNotApproved => {
                Category::PermissionDenied
            }
            NotFound => Category::NotFound,
            Conflict | InvalidStateTransition | AlreadyPromoted | StagingAlreadyEnabled => {
                Category::Conflict
            }
            SubdomainNotConfigured
            | GitConnectionRequired
            | StagingRequired
            | StagingNotEnabled
            | ProdDeployRequired
            | PendingReviewExists
            | ConfirmRequired
            | NotPromotable
            | PromoteInProgress
            | GithubReloginRequired
            | ImageNotBuilt
            | NotARelease
            | GithubInstallationMissing
            | GithubAppNotInstalled
            | BranchNotFound => Category::PreconditionFailed,
            RateLimited => Category::RateLimited,
            BadGateway | BackendUnimplemented | TemporarilyUnavailable => Category::Unavailable,
            Internal => Category::Internal,
        }
    }

    /// Whether the same request may succeed later: transient categories, except a backend
    /// that is not built yet, plus the one precondition that ends by itself.
    pub fn retryable(self) -> bool {
        match self {
            ErrorCode::BackendUnimplemented => false,
            ErrorCode::PromoteInProgress => true,
            _ => matches!(
                self.category(),
                Category::RateLimited | Category::Unavailable | Category::Internal
            ),
        }
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_follows_the_category_with_two_exceptions() {
        assert!(ErrorCode::TemporarilyUnavailable.retryable());
        assert!(!ErrorCode::BackendUnimplemented.retryable());
        assert!(ErrorCode::PromoteInProgress.retryable());
        assert!(!ErrorCode::StagingRequired.retryable());
        assert_eq!(
            ErrorCode::GithubReloginRequired.to_string(),
            "github_relogin_required"
        );
    }
}
