//! The demo's one error type. Messages say what is wrong; hints that name `casebridge`
//! commands and flags are the CLI's to add.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::MANIFEST_FILE;

/// Everything making or serving the demo can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The demo directory given is a file.
    #[error("{} is not a directory; give a new or empty directory for the demo", path.display())]
    NotADirectory {
        /// What was given.
        path: PathBuf,
    },

    /// The directory holds something else than a demo.
    #[error("{} is not empty and holds no Casebridge demo (no {MANIFEST_FILE}); give a new or empty directory", dir.display())]
    NotADemo {
        /// The directory.
        dir: PathBuf,
    },

    /// An earlier setup in this directory stopped before it wrote the manifest.
    #[error("an earlier demo setup in {} did not finish", dir.display())]
    Unfinished {
        /// The directory.
        dir: PathBuf,
    },

    /// The demo exists and its profiles are enrolled at another address than the one asked for.
    #[error("the demo in {} is enrolled at {endpoint}, not {listen}", dir.display())]
    ListenMismatch {
        /// The address asked for.
        listen: SocketAddr,
        /// The demo directory.
        dir: PathBuf,
        /// Where its profiles are enrolled.
        endpoint: String,
    },

    /// A file or directory of the demo cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },

    /// The manifest is not one this version reads.
    #[error("cannot read {}: {reason}", path.display())]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A file or directory of the demo cannot be written.
    #[error("cannot write {}: {source}; nothing was written", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },

    /// Making the demo failed part way; the directory holds an unfinished setup.
    #[error("the demo could not be created: {source}")]
    NotCreated {
        /// The demo directory.
        dir: PathBuf,
        /// What failed.
        source: Box<DemoError>,
    },

    /// The endpoint could not start serving the demo.
    #[error("the demo endpoint could not start on {listen}: {source}")]
    EndpointStart {
        /// The address it was to listen on.
        listen: SocketAddr,
        /// Why.
        source: casebridge_agency::AgencyError,
    },

    /// The endpoint failed while setting the demo up or serving it.
    #[error(transparent)]
    Endpoint(#[from] casebridge_agency::AgencyError),

    /// The endpoint running the setup did not answer on its admin socket.
    #[error("the demo endpoint's admin socket did not answer")]
    AdminSilent,

    /// The endpoint answered an invite request with something else than an invite.
    #[error("the endpoint answered an unexpected invite: {0}")]
    UnexpectedInvite(serde_json::Error),

    /// The process cannot listen for Ctrl-C and SIGTERM, so it could not stop cleanly.
    #[error("cannot listen for Ctrl-C and SIGTERM: {0}")]
    Signal(io::Error),

    /// An error of the trust layer (the agency directory); its message is shown as is.
    #[error(transparent)]
    Trust(#[from] casebridge_trust::TrustError),

    /// An error of the shared use cases; its message is shown as is.
    #[error("{}", .0.message)]
    App(casebridge_app::AppError),

    /// A bug in the demo itself.
    #[error("internal: {0}")]
    Internal(String),

    /// Writing the manifest or the caller's output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
}

impl From<casebridge_app::AppError> for DemoError {
    fn from(e: casebridge_app::AppError) -> DemoError {
        DemoError::App(e)
    }
}

/// Result alias of the demo.
pub type Result<T, E = DemoError> = std::result::Result<T, E>;
