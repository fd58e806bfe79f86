//! Typed path ids. Each reads its parameter by the name the spec gives it (`appID`, `did`,
//! …), which is also the name in the route pattern, and accepts one spelling per resource
//! only: a UUID in its hyphenated form (`domain::validate::uuid`), an installation id as a
//! plain positive integer. Anything else is a 400 naming the parameter.

use axhub_domain::{Error, ErrorCode, validate};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use uuid::Uuid;

use crate::ApiError;

/// The raw (percent-decoded) value of the path parameter `name`.
async fn raw<S: Send + Sync>(parts: &mut Parts, state: &S, name: &str) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| Error::field(name, ErrorCode::InvalidFormat, "is not valid UTF-8"))?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        // A handler asking for a parameter its route does not have: a bug, not bad input.
        .ok_or_else(|| ApiError(Error::internal(format!("the route has no {{{name}}}"))))
}

macro_rules! uuid_param {
    ($(#[$doc:meta])* $ty:ident = $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty(pub Uuid);

        impl $ty {
            /// The parameter's name in the route and in the spec.
            pub const PARAM: &'static str = $name;
        }

        impl<S: Send + Sync> FromRequestParts<S> for $ty {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let v = raw(parts, state, $name).await?;
                Ok(Self(validate::uuid($name, &v)?))
            }
        }
    };
}

uuid_param!(
    /// `{appID}`
    AppId = "appID"
);
uuid_param!(
    /// `{did}`: a deployment.
    DeploymentId = "did"
);
uuid_param!(
    /// `{tenantID}`
    TenantId = "tenantID"
);
uuid_param!(
    /// `{bootstrapID}`: an app bootstrap saga.
    BootstrapId = "bootstrapID"
);
uuid_param!(
    /// `{requestID}`: a review request (and its promotion).
    ReviewRequestId = "requestID"
);

/// `{installationID}`: GitHub's installation id, an integer ≥ 1 written in plain decimal
/// digits (no sign, no leading zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallationId(pub i64);

impl InstallationId {
    pub const PARAM: &'static str = "installationID";

    pub fn parse(raw: &str) -> Result<Self, Error> {
        let canonical = raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
        match raw.parse::<i64>() {
            Ok(n) if canonical && n > 0 => Ok(Self(n)),
            _ => Err(Error::field(
                Self::PARAM,
                ErrorCode::InvalidValue,
                "must be a positive integer",
            )),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for InstallationId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let v = raw(parts, state, Self::PARAM).await?;
        Ok(Self::parse(&v)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installation_ids_are_plain_positive_integers() {
        assert_eq!(InstallationId::parse("42").ok(), Some(InstallationId(42)));
        for bad in [
            "0",
            "-1",
            "+1",
            "01",
            "1.0",
            "",
            "x",
            "99999999999999999999",
        ] {
            assert!(InstallationId::parse(bad).is_err(), "{bad}");
        }
    }
}
