//! SDK failures as the port's errors.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;
use axhub_store::StoreError;

use crate::sdk::Failure;

/// Maps an SDK error to the port's error. The text carries the operation, the error code
/// and the service's message (never the request, its signature or the credentials).
pub(super) fn sdk_error<E>(op: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mapped = match crate::sdk::classify(op, &err) {
        Failure::Service {
            code,
            message,
            status,
        } => service_error(op, code, message, status),
        Failure::Unavailable(text) => StoreError::Unavailable(text),
        Failure::Backend(text) => StoreError::Backend(text),
    };
    tracing::debug!(op, error = %mapped, "DynamoDB call failed");
    mapped
}

fn service_error(
    op: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> StoreError {
    let text = format!(
        "{op}: {}: {}",
        code.unwrap_or("unknown error"),
        message.unwrap_or("no message")
    );
    match code.unwrap_or_default() {
        "ConditionalCheckFailedException" => StoreError::ConditionFailed,
        "TransactionConflictException" => StoreError::Conflict,
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "InternalServerError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "TransactionInProgressException" => StoreError::Unavailable(text),
        "ValidationException"
        | "SerializationException"
        | "ItemCollectionSizeLimitExceededException"
        | "IdempotentParameterMismatchException" => StoreError::InvalidRequest(text),
        _ if status.is_some_and(|s| s >= 500) => StoreError::Unavailable(text),
        _ => StoreError::Backend(text),
    }
}

/// Maps the reasons of a TransactionCanceledException (one per operation, in order).
pub(super) fn cancellation_error(
    reasons: &[CancellationReason],
    message: Option<&str>,
) -> StoreError {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
    if codes.contains(&"TransactionConflict") {
        return StoreError::Conflict;
    }
    let failed: Vec<usize> = codes
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == "ConditionalCheckFailed")
        .map(|(i, _)| i)
        .collect();
    if !failed.is_empty() {
        return StoreError::TransactionCancelled { failed };
    }
    // Cancelled without a failed condition: throttling, validation or something unknown.
    let text = format!(
        "TransactWriteItems: transaction cancelled ({}): {}",
        codes.join(", "),
        message.unwrap_or("no message")
    );
    let any = |names: &[&str]| codes.iter().any(|c| names.contains(c));
    if any(&[
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    ]) {
        StoreError::Unavailable(text)
    } else if any(&["ValidationError", "ItemCollectionSizeLimitExceeded"]) {
        StoreError::InvalidRequest(text)
    } else {
        StoreError::Backend(text)
    }
}

pub(super) fn build_error(e: BuildError) -> StoreError {
    StoreError::Backend(format!("building a DynamoDB request: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    #[test]
    fn cancellation_reasons_map_to_port_errors() {
        let r = |codes: &[&str]| codes.iter().map(|c| reason(c)).collect::<Vec<_>>();
        assert_eq!(
            cancellation_error(
                &r(&[
                    "None",
                    "ConditionalCheckFailed",
                    "ConditionalCheckFailed",
                    "None"
                ]),
                None
            ),
            StoreError::TransactionCancelled { failed: vec![1, 2] }
        );
        assert_eq!(
            cancellation_error(&r(&["ConditionalCheckFailed", "TransactionConflict"]), None),
            StoreError::Conflict
        );
        assert!(matches!(
            cancellation_error(&r(&["None", "ThrottlingError"]), None),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            cancellation_error(&r(&["ValidationError"]), None),
            StoreError::InvalidRequest(_)
        ));
    }

    #[test]
    fn service_errors_map_to_port_errors() {
        let m = |code: &str, status| service_error("Op", Some(code), Some("msg"), Some(status));
        assert_eq!(
            m("ConditionalCheckFailedException", 400),
            StoreError::ConditionFailed
        );
        assert_eq!(m("TransactionConflictException", 400), StoreError::Conflict);
        assert!(matches!(
            m("ProvisionedThroughputExceededException", 400),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            m("ValidationException", 400),
            StoreError::InvalidRequest(_)
        ));
        assert!(matches!(m("Whatever", 503), StoreError::Unavailable(_)));
        assert_eq!(
            m("ResourceNotFoundException", 400),
            StoreError::Backend("Op: ResourceNotFoundException: msg".into())
        );
    }
}
