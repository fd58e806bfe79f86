//! The one error type every use case returns. The HTTP layer maps it to the wire envelope
//! in a single place (`axhub_http::error`).

use serde::Serialize;

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
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub category: Category,
    pub code: String,
    pub message: String,
    pub retryable: bool,
    pub fields: Vec<FieldError>,
    pub retry_after_ms: Option<u64>,
}

impl Error {
    pub fn new(category: Category, code: &str, message: impl Into<String>) -> Self {
        Self {
            category,
            code: code.to_owned(),
            message: message.into(),
            retryable: matches!(
                category,
                Category::RateLimited | Category::Unavailable | Category::Internal
            ),
            fields: Vec::new(),
            retry_after_ms: None,
        }
    }

    /// A single invalid field: `fields` names it so clients can point at it.
    pub fn field(name: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::new(Category::Validation, code, format!("{name}: {message}"));
        e.fields.push(FieldError {
            name: name.to_owned(),
            code: code.to_owned(),
            message,
        });
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Category::Validation, "bad_request", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Category::NotFound, "not_found", format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Category::PermissionDenied, "forbidden", message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(Category::Conflict, code, message)
    }

    pub fn precondition(code: &str, message: impl Into<String>) -> Self {
        Self::new(Category::PreconditionFailed, code, message)
    }

    pub fn unauthenticated(code: &str, message: impl Into<String>) -> Self {
        Self::new(Category::Unauthenticated, code, message)
    }

    /// A part of the contract this deployment cannot serve yet; always 503 with a message
    /// that says what is missing, never a silent success.
    pub fn unimplemented(message: impl Into<String>) -> Self {
        let mut e = Self::new(Category::Unavailable, "backend_unimplemented", message);
        e.retryable = false;
        e
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Category::Unavailable, "temporarily_unavailable", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Category::Internal, "internal", message)
    }

    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }
}
