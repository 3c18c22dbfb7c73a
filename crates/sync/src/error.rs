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
    /// Signing in to the endpoint (challenge and session) failed. Never a verdict on a bundle:
    /// a bundle that could not be sent because of it stays in the outbox.
    #[error("could not sign in to the agency endpoint: {error}")]
    Authentication {
        /// Why (the endpoint's answer, or the connection failure).
        error: Box<SyncError>,
    },
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
            SyncError::Server { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            SyncError::Authentication { error } | SyncError::Bundle { error, .. } => error.is_retryable(),
            _ => false,
        }
    }

    /// True when the endpoint refused for good what was sent: an answer in 4xx that is not
    /// about who is asking (401, 407), when (408 timeout, 425, 429 rate limiting), where the
    /// request went (404 and 405: no such upload or route; the upload machine resynchronises
    /// on 404) or a stale view (409, resynchronised). So 400, 403 (`forbidden`: e.g. the brief
    /// was withdrawn), 410, 413 (`too_large`), 422 (verification failed, `not_sealed`, ...) and
    /// the other 4xx. Sending the same bundle again would get the same answer, so the sync
    /// engine sets it aside instead (see [`Outbox::refuse`](crate::Outbox::refuse)).
    /// Failures while signing in ([`SyncError::Authentication`]), connection failures and 5xx
    /// are never refusals.
    pub fn is_refusal(&self) -> bool {
        match self {
            SyncError::Server { status, .. } => is_refusal_status(*status),
            SyncError::Bundle { error, .. } => error.is_refusal(),
            _ => false,
        }
    }

    /// The HTTP status of a server answer, if this error is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            SyncError::Server { status, .. } => Some(*status),
            SyncError::Conflict { .. } => Some(409),
            SyncError::Authentication { error } | SyncError::Bundle { error, .. } => error.status(),
            _ => None,
        }
    }

    /// A stable machine-readable code, for JSON output and the desktop UI: the server's code
    /// for server answers (also when signing in failed), otherwise one of `connection`, `certificate_mismatch`,
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
            SyncError::Authentication { error } | SyncError::Bundle { error, .. } => error.code(),
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

/// The classification of [`SyncError::is_refusal`] by HTTP status.
pub fn is_refusal_status(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 404 | 405 | 407 | 408 | 409 | 425 | 429)
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

    #[test]
    fn only_answers_about_the_bundle_itself_are_refusals() {
        let server = |status| SyncError::Server { status, code: "x".into(), message: "m".into() };
        for status in [400, 403, 410, 413, 415, 422, 451] {
            assert!(server(status).is_refusal(), "{status} refuses the bundle for good");
            assert!(!server(status).is_retryable(), "{status} is not retried");
        }
        // Who is asking, when, where, a stale view, the endpoint's own failures.
        for status in [401, 404, 405, 407, 408, 409, 425, 429, 500, 502, 503, 504, 200, 302] {
            assert!(!server(status).is_refusal(), "{status} is not a refusal of the bundle");
        }
        assert!(server(408).is_retryable(), "a request timeout is retried");
        let wrapped = SyncError::Bundle { bundle_id: Uuid::nil(), error: Box::new(server(422)) };
        assert!(wrapped.is_refusal());
        // Signing in failed: never a verdict on a bundle, whatever the status.
        for status in [400, 401, 403] {
            let auth = SyncError::Authentication { error: Box::new(server(status)) };
            assert!(!auth.is_refusal(), "{status} while signing in");
            assert_eq!(auth.status(), Some(status));
            assert_eq!(auth.code(), "x");
        }
        assert!(SyncError::Authentication { error: Box::new(SyncError::Connection { message: "cut".into() }) }.is_retryable());
        let conflict = SyncError::Conflict { code: "conflict".into(), message: "m".into(), state: None };
        assert!(!conflict.is_refusal());
        for other in [
            SyncError::Connection { message: "cut".into() },
            SyncError::Cancelled,
            SyncError::protocol("p"),
            SyncError::GaveUp { attempts: 8, last: Box::new(server(503)) },
            SyncError::CertificateMismatch { expected: "a".into(), presented: "b".into() },
        ] {
            assert!(!other.is_refusal(), "{other:?}");
        }
    }
}
