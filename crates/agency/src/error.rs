//! The one error type of `casebridge-agency` (for the library API: starting the server,
//! certificates, admin calls). Errors answered to HTTP clients are [`crate::api::ApiError`].

use std::path::{Path, PathBuf};

use casebridge_trust::TrustError;

/// What went wrong starting, running or administering the endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgencyError {
    /// The agency directory, its keys or its documents refused the operation.
    #[error(transparent)]
    Trust(#[from] TrustError),

    /// The endpoint's own case store refused the operation.
    #[error(transparent)]
    Store(#[from] casebridge_core::Error),

    /// Reading or writing a file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", ...).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },

    /// The cluster's database or object store cannot be used (unreachable, refused, a newer
    /// schema, a bucket missing): the message names which and why, never a password.
    #[error("{0}")]
    Unavailable(String),

    /// The TLS certificate or key could not be made or loaded.
    #[error("TLS: {0}")]
    Tls(String),

    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another endpoint running? choose another port with --listen)")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },

    /// An admin request was not valid (names what to change).
    #[error("{0}")]
    Invalid(String),

    /// The running endpoint refused an admin request.
    #[error("the running endpoint refused the request: {message} [{code}]")]
    Admin {
        /// HTTP status.
        status: u16,
        /// Error code from the endpoint.
        code: String,
        /// Message from the endpoint.
        message: String,
    },

    /// A server task failed unexpectedly.
    #[error("the endpoint failed: {0}")]
    Internal(String),
}

/// Result alias.
pub type Result<T, E = AgencyError> = std::result::Result<T, E>;

impl AgencyError {
    /// An I/O error on `path`.
    pub(crate) fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AgencyError {
        let path = path.to_path_buf();
        move |source| AgencyError::Io { what, path, source }
    }
}
