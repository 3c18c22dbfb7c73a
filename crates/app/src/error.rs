//! The one error type of the use cases, and the shape in which errors cross to the UI.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An error as the UI (and any other caller) sees it: a stable machine `code` and a `message`
/// for people that says what was wrong and what to do.
///
/// Codes come from the layer that failed: the store's `casebridge_core::Error::code()`
/// (`wrong_passphrase`, `passphrase_too_short`, `unknown_case`, ...), the trust layer's reason
/// codes (`signer_revoked`, ...), the sync client's codes (`connection`,
/// `certificate_mismatch`, ...), or this crate's own (the `AppError::*` constructors below:
/// `locked`, `locked_out`, `not_enrolled`, `cancelled`, ...). Messages never carry
/// passphrases, keys or evidence content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// Stable machine-readable code.
    pub code: String,
    /// What was wrong and what to do, for people.
    pub message: String,
}

/// Result alias of this crate.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// An error with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError { code: code.into(), message: message.into() }
    }

    /// The profile is locked: unlock it first.
    pub fn locked() -> AppError {
        AppError::new("locked", "the profile is locked: unlock it with your passphrase")
    }

    /// There is no profile in the store directory yet.
    pub fn no_profile(dir: &std::path::Path) -> AppError {
        AppError::new("no_store", format!("there is no profile at {} yet: create one first", dir.display()))
    }

    /// The profile has not enrolled at an agency endpoint.
    pub fn not_enrolled() -> AppError {
        AppError::new("not_enrolled", "this profile is not enrolled at an agency endpoint: enrol with the invite code the agency gave you")
    }

    /// Work was cancelled on request.
    pub fn cancelled(what: impl Into<String>) -> AppError {
        AppError::new("cancelled", what)
    }

    /// A value given by the caller is not acceptable (same code as the store's own).
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> AppError {
        AppError::new("invalid_input", format!("invalid {field}: {reason}"))
    }

    /// No job with this id is running.
    pub fn unknown_job(job: &str) -> AppError {
        AppError::new("unknown_job", format!("no job '{job}' is running (it may have finished already)"))
    }

    /// A file the user chose cannot be read or imported; nothing was imported.
    pub fn bad_file(path: &std::path::Path, reason: impl std::fmt::Display) -> AppError {
        AppError::new("bad_file", format!("cannot import {}: {reason}; nothing was imported", path.display()))
    }

    /// An internal failure (a thread or runtime that could not start, a task that stopped).
    pub fn internal(what: impl std::fmt::Display) -> AppError {
        AppError::new("internal", format!("{what}; try again, and report it if it persists"))
    }
}

impl From<casebridge_core::Error> for AppError {
    fn from(e: casebridge_core::Error) -> AppError {
        AppError::new(e.code(), e.to_string())
    }
}

impl From<casebridge_trust::TrustError> for AppError {
    fn from(e: casebridge_trust::TrustError) -> AppError {
        AppError::new(e.reason.code(), e.message)
    }
}

impl From<casebridge_sync::SyncError> for AppError {
    fn from(e: casebridge_sync::SyncError) -> AppError {
        AppError::new(e.code(), e.to_string())
    }
}

/// A short, human reason for an I/O error on a file the user named.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_come_from_the_layer_that_failed() {
        let core: AppError = casebridge_core::Error::WrongPassphrase.into();
        assert_eq!(core.code, "wrong_passphrase");
        let trust: AppError = casebridge_trust::TrustError::new(casebridge_trust::Reason::SignerRevoked, "revoked").into();
        assert_eq!((trust.code.as_str(), trust.message.as_str()), ("signer_revoked", "revoked"));
        let sync: AppError = casebridge_sync::SyncError::Cancelled.into();
        assert_eq!(sync.code, "cancelled");
        let json = serde_json::to_value(AppError::locked()).unwrap();
        assert_eq!(json["code"], "locked");
        assert!(json["message"].as_str().unwrap().contains("unlock"));
    }
}
