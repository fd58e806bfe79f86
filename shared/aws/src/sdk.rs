//! How an AWS SDK call failed, the same for every service: each adapter maps the outcome to
//! its own port's error (service codes it knows, "retry later", or a backend fault). The SDKs
//! share these error types (re-exports of the smithy runtime), so one function serves all.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

pub(crate) enum Failure<'a> {
    /// The service answered with an error code (the adapter decides what it means).
    Service {
        code: Option<&'a str>,
        message: Option<&'a str>,
        status: Option<u16>,
    },
    /// Timeouts, connection failures, 5xx without a readable answer: retry later.
    Unavailable(String),
    /// Anything else.
    Backend(String),
}

/// Classifies `err` of operation `op`. Texts carry the operation and the service's words,
/// never the request, its signature or credentials.
pub(crate) fn classify<'a, E>(op: &str, err: &'a SdkError<E, HttpResponse>) -> Failure<'a>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(_) => Failure::Service {
            code: err.code(),
            message: err.message(),
            status: err.raw_response().map(|r| r.status().as_u16()),
        },
        SdkError::TimeoutError(_) => Failure::Unavailable(format!("{op}: timed out")),
        SdkError::DispatchFailure(_) => {
            Failure::Unavailable(format!("{op}: {}", DisplayErrorContext(err)))
        }
        SdkError::ResponseError(_) => {
            let text = format!("{op}: unreadable response: {}", DisplayErrorContext(err));
            if err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() >= 500)
            {
                Failure::Unavailable(text)
            } else {
                Failure::Backend(text)
            }
        }
        _ => Failure::Backend(format!("{op}: {}", DisplayErrorContext(err))),
    }
}
