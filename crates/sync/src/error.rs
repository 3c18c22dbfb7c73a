//! The one error type of the crate.

use std::path::PathBuf;

use casebridge_protocol::UploadState;
use uuid::Uuid;

/// The crate's result type.
pub type Result<T, E = SyncError> = std::result::Result<T, E>;

/// What went wrong while talking to the agency endpoint or handling the local sync files.
///
/// Messages never carry a token, a key or evidence content. The server's own `message` is
/// shown as the server wrote it (the endpoint promises it names no secret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The endpoint could not be reached, the connection was cut, or it timed out. Retryable.
    #[error("could not reach the agency endpoint {message}; check the network and try again")]
    Connection {
        /// What failed (the endpoint address and the transport's reason).
        message: String,
    },
    /// The endpoint presented a TLS certificate other than the pinned one. Not retried: either
    /// the address is wrong, the agency replaced its certificate, or someone is in between.
    #[error(
        "the agency endpoint presented a TLS certificate with fingerprint {presented}, not the pinned {expected}; \
         do not sync until the agency confirms its certificate changed"
    )]
    CertificateMismatch {
        /// The pinned SHA-256 fingerprint (hex).
        expected: String,
        /// The SHA-256 fingerprint of the certificate the server presented (hex).
        presented: String,
    },
    /// The endpoint answered with an error status (other than 409).
    #[error("the agency endpoint refused the request (HTTP {status}, {code}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The endpoint's machine-readable code (`forbidden`, `not_found`, ...).
        code: String,
        /// The endpoint's message for people.
        message: String,
    },
    /// The endpoint answered 409: this client's view of an upload was stale. The machine
    /// resynchronises from `state` when the answer carried one, else asks the server.
    #[error("the agency endpoint reports a conflict ({code}): {message}")]
    Conflict {
        /// The endpoint's machine-readable code.
        code: String,
        /// The endpoint's message for people.
        message: String,
        /// Where the upload stands, when the answer said so.
        state: Option<UploadState>,
    },
    /// The endpoint's answer was not what the protocol says (unreadable JSON, a wrong size,
    /// content that does not match its hash, a feed that goes backwards).
    #[error("the agency endpoint's answer was not understood: {message}")]
    Protocol {
        /// What was wrong with the answer.
        message: String,
    },
    /// The address, fingerprint or other setting given to the client is unusable.
    #[error("{message}")]
    Config {
        /// What is wrong and what to do.
        message: String,
    },
    /// A local file operation failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was being done ("read", "move", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The sync state file exists but cannot be read as JSON.
    #[error("the sync state file {path} is damaged ({message}); delete it to start over from the beginning of the feed")]
    StateDamaged {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        message: String,
    },
    /// Retryable failures kept coming without any progress; the retry policy gave up.
    #[error("gave up after {attempts} attempts without progress; the last error was: {last}")]
    GaveUp {
        /// Consecutive failed attempts.
        attempts: u32,
        /// The last failure.
        last: Box<SyncError>,
    },
    /// The cancel flag was raised. An interrupted upload resumes where it stopped next time.
    #[error("sync was cancelled; an interrupted upload resumes where it stopped next time")]
    Cancelled,
    /// One bundle of the outbox could not be uploaded; it stays in the outbox.
    #[error("bundle {bundle_id} was not uploaded and stays in the outbox: {error}")]
    Bundle {
        /// The bundle.
        bundle_id: Uuid,
        /// Why.
        error: Box<SyncError>,
    },
}

impl SyncError {
    /// True for failures worth retrying after a pause: connection failures, timeouts, 5xx
    /// and 429 answers. A 409 is handled by resynchronising, not by waiting.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Connection { .. } => true,
            SyncError::Server { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The HTTP status of a server answer, if this error is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            SyncError::Server { status, .. } => Some(*status),
            SyncError::Conflict { .. } => Some(409),
            SyncError::Bundle { error, .. } => error.status(),
            _ => None,
        }
    }

    /// A stable machine-readable code, for JSON output and the desktop UI: the server's code
    /// for server answers, otherwise one of `connection`, `certificate_mismatch`,
    /// `protocol`, `config`, `io`, `state_damaged`, `gave_up`, `cancelled`.
    pub fn code(&self) -> &str {
        match self {
            SyncError::Connection { .. } => "connection",
            SyncError::CertificateMismatch { .. } => "certificate_mismatch",
            SyncError::Server { code, .. } | SyncError::Conflict { code, .. } => code,
            SyncError::Protocol { .. } => "protocol",
            SyncError::Config { .. } => "config",
            SyncError::Io { .. } => "io",
            SyncError::StateDamaged { .. } => "state_damaged",
            SyncError::GaveUp { .. } => "gave_up",
            SyncError::Cancelled => "cancelled",
            SyncError::Bundle { error, .. } => error.code(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> SyncError {
        SyncError::Protocol { message: message.into() }
    }

    pub(crate) fn config(message: impl Into<String>) -> SyncError {
        SyncError::Config { message: message.into() }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> SyncError {
        SyncError::Io { action, path: path.into(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_retry_rules() {
        let server = |status| SyncError::Server { status, code: "x".into(), message: "m".into() };
        assert!(SyncError::Connection { message: "cut".into() }.is_retryable());
        for status in [500, 502, 503, 504, 429] {
            assert!(server(status).is_retryable(), "{status} must be retried");
        }
        for status in [400, 401, 403, 404, 413, 422] {
            assert!(!server(status).is_retryable(), "{status} must not be retried");
        }
        let conflict = SyncError::Conflict { code: "conflict".into(), message: "m".into(), state: None };
        assert!(!conflict.is_retryable());
        assert_eq!(conflict.status(), Some(409));
        assert!(!SyncError::CertificateMismatch { expected: "a".into(), presented: "b".into() }.is_retryable());
    }
}
