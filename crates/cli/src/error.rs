//! The CLI's one error type. Every message says what was wrong and what to do; the core's
//! messages already do, so they pass through unchanged.

use std::io;
use std::path::PathBuf;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An error of the store; its message is shown as is.
    #[error(transparent)]
    Core(#[from] casebridge_core::Error),

    /// No passphrase source was available.
    #[error(
        "no passphrase given: set CASEBRIDGE_PASSPHRASE, pass --passphrase-file FILE, or run casebridge in a terminal to be asked for it"
    )]
    NoPassphrase,

    /// `passphrase change` had no source for the new passphrase.
    #[error("no new passphrase given: set CASEBRIDGE_NEW_PASSPHRASE or run casebridge in a terminal to be asked for it")]
    NoNewPassphrase,

    /// An environment variable holds bytes that are not UTF-8.
    #[error("{var} is not valid UTF-8; set it to text")]
    NotUnicode {
        /// The variable.
        var: &'static str,
    },

    /// The passphrase file could not be read.
    #[error("cannot read the passphrase file {path}: {reason}")]
    PassphraseFile {
        /// The file given with --passphrase-file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// The passphrase file's first line is empty.
    #[error("the passphrase file {path} is empty: put the passphrase on its first line")]
    EmptyPassphraseFile {
        /// The file given with --passphrase-file.
        path: PathBuf,
    },

    /// The two passphrases typed at the prompt differ.
    #[error("the two passphrases differ; nothing was changed")]
    PassphraseMismatch,

    /// Reading from the terminal failed.
    #[error("cannot read the passphrase from the terminal: {0}")]
    Prompt(io::Error),

    /// There is no platform data directory to hold the default store.
    #[error("cannot find a data directory for this user: give --store DIR or set CASEBRIDGE_STORE")]
    NoDataDir,

    /// `--captured-at` is not RFC 3339 with an offset.
    #[error("invalid --captured-at '{value}': expected RFC 3339 such as 2026-03-14T09:30:00+01:00")]
    CapturedAt {
        /// What the user typed.
        value: String,
    },

    /// A file given to `evidence add` cannot be imported; checked before anything is imported.
    #[error("cannot import {path}: {reason}; nothing was imported")]
    BadFile {
        /// The file as the user gave it.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// An import failed after some files were already imported (and committed).
    #[error("{source} ({done} of {total} files were imported before this error and are listed on stdout)")]
    PartialImport {
        /// Files imported and committed.
        done: usize,
        /// Files asked for.
        total: usize,
        /// What went wrong with the next file.
        source: Box<CliError>,
    },

    /// `evidence verify` found damaged content.
    #[error("evidence {id} is damaged: {what}; run `casebridge check --read-data` for a full report")]
    Damaged {
        /// The evidence id.
        id: uuid::Uuid,
        /// What is wrong (no content).
        what: String,
    },

    /// `check` found problems (already printed).
    #[error("the check found {count} problem{s} (listed in the report)", s = if *count == 1 { "" } else { "s" })]
    CheckFailed {
        /// How many.
        count: usize,
    },

    /// Writing to stdout failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
}

impl CliError {
    /// True when stdout was closed by the reader (e.g. `casebridge log | head`), which is not
    /// worth an error message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Result alias of the CLI.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// A short, human reason for an I/O error on a file the user named.
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}
