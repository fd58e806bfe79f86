//! The one error type every use case returns. The HTTP layer maps it to the wire envelope
//! in a single place (`axhub_http::error`).

use serde::Serialize;

use crate::ErrorCode;

/// Error categories of the wire contract (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Validation,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    Conflict,
    PreconditionFailed,
    RateLimited,
    Unavailable,
    Internal,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Validation => "validation",
            Category::Unauthenticated => "unauthenticated",
            Category::PermissionDenied => "permission_denied",
            Category::NotFound => "not_found",
            Category::Conflict => "conflict",
            Category::PreconditionFailed => "precondition_failed",
            Category::RateLimited => "rate_limited",
            Category::Unavailable => "unavailable",
            Category::Internal => "internal",
        }
    }
}

/// One invalid input field, named as the caller sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub name: String,
    pub code: ErrorCode,
    pub message: String,
}

/// `category` and `retryable` start as the code says (`ErrorCode::category`, `retryable`);
/// they are fields so callers can match on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub category: Category,
    pub code: ErrorCode,
    pub message: String,
    pub retryable: bool,
    pub fields: Vec<FieldError>,
    pub retry_after_ms: Option<u64>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            category: code.category(),
            code,
            message: message.into(),
            retryable: code.retryable(),
            fields: Vec::new(),
            retry_after_ms: None,
        }
    }

    /// A single invalid field: `fields` names it so clients can point at it.
    pub fn field(name: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::new(code, format!("{name}: {message}"));
        e.fields.push(FieldError {
            name: name.to_owned(),
            code,
            message,
        });
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// The next three say at the call site which kind of code is meant; the category still
    /// comes from the code alone.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        debug_assert_eq!(code.category(), Category::Conflict, "{code}");
        Self::new(code, message)
    }

    pub fn precondition(code: ErrorCode, message: impl Into<String>) -> Self {
        debug_assert_eq!(code.category(), Category::PreconditionFailed, "{code}");
        Self::new(code, message)
    }

    pub fn unauthenticated(code: ErrorCode, message: impl Into<String>) -> Self {
        debug_assert_eq!(code.category(), Category::Unauthenticated, "{code}");
        Self::new(code, message)
    }

    /// A part of the contract this deployment cannot serve yet; always 503 with a message
    /// that says what is missing, never a silent success.
    pub fn unimplemented(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BackendUnimplemented, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }
}
