//! The service's errors: the Local Module's error codes, the answer a refused request
//! gets, and errors starting the service.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::live::LiveError;

/// The Local Module's error codes.
pub mod codes {
    /// Bad or missing credentials.
    pub const BAD_CREDENTIALS: u32 = 4010;
    /// The service's status does not allow the operation.
    pub const UNACCEPTABLE_STATUS: u32 = 4045;
    /// Offline check impossible: the allowed sync period is exceeded.
    pub const OFFLINE_CHECK_IMPOSSIBLE: u32 = 4050;
    /// The sale is already registered.
    pub const ALREADY_SOLD: u32 = 4070;
    /// A required parameter is missing.
    pub const MISSING_PARAMETER: u32 = 6010;
    /// The request body cannot be read.
    pub const BAD_BODY: u32 = 6011;
    /// A parameter has a bad value.
    pub const BAD_VALUE: u32 = 6020;
    /// Internal error.
    pub const INTERNAL: u32 = 5040;
}

/// Errors starting or running the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration file cannot be read or parsed.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The configuration is unsafe or unusable.
    #[error("{0}")]
    Refused(String),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The index cannot be used.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

/// An error answer in the LM's shape: `{"errorCode": n, "reason": "…"}`.
#[derive(Debug)]
pub struct LmError {
    status: StatusCode,
    code: u32,
    reason: String,
}

impl LmError {
    pub(crate) fn new(status: StatusCode, code: u32, reason: impl Into<String>) -> LmError {
        LmError {
            status,
            code,
            reason: reason.into(),
        }
    }

    pub(crate) fn bad_request(code: u32, reason: impl Into<String>) -> LmError {
        LmError::new(StatusCode::BAD_REQUEST, code, reason)
    }

    pub(crate) fn internal(reason: impl Into<String>) -> LmError {
        LmError::new(StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL, reason)
    }

    pub(crate) fn from_live(e: LiveError) -> LmError {
        match e {
            LiveError::Stale { .. } => {
                LmError::bad_request(codes::OFFLINE_CHECK_IMPOSSIBLE, e.to_string())
            }
            LiveError::AlreadySold { .. } => {
                LmError::new(StatusCode::CONFLICT, codes::ALREADY_SOLD, e.to_string())
            }
            LiveError::InvalidCode { .. }
            | LiveError::Ambiguous { .. }
            | LiveError::NotSold { .. }
            | LiveError::Duplicate { .. } => LmError::bad_request(codes::BAD_VALUE, e.to_string()),
            other => LmError::internal(other.to_string()),
        }
    }
}

/// The reason of an error answer, kept on the response for the log line.
#[derive(Clone, Debug)]
pub(crate) struct ErrorReason(pub(crate) String);

impl IntoResponse for LmError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "errorCode": self.code, "reason": self.reason });
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .extensions_mut()
            .insert(ErrorReason(format!("{}: {}", self.code, self.reason)));
        response
    }
}
