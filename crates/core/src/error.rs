//! The one error type of `casebridge-core`.
//!
//! Every variant names something the caller can act on. None of them carries plaintext:
//! no titles, notes, file names of evidence, hashes of evidence or key material. Paths that
//! appear are paths the *user* gave us (a file to import, a place to export to) or the store
//! directory itself, never names derived from evidence.
//!
//! Messages are product text for every caller, the desktop as much as the command line: they
//! say what to do in the product's words ("run a full check", "rebuild the index"), never as a
//! command or a flag of one front end. The CLI adds its commands to them (crates/cli/src/error.rs).

use std::path::PathBuf;

/// Errors of the Casebridge store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The passphrase did not unlock the store (or the header was altered).
    #[error("wrong passphrase: the store could not be unlocked (nothing was changed)")]
    WrongPassphrase,

    /// The passphrase is too short to protect evidence.
    #[error("passphrase too short: it has {len} characters; use at least {min} (a few unrelated words work well)")]
    PassphraseTooShort {
        /// Characters in the rejected passphrase.
        len: usize,
        /// The minimum.
        min: usize,
    },

    /// Another process holds the store.
    #[error("store is in use by another process: {path} (close the other casebridge window or command and try again)")]
    InUse {
        /// The store directory.
        path: PathBuf,
    },

    /// There is no store at the path.
    #[error("no store at {path}: create a profile there first")]
    NoStore {
        /// The directory that was expected to hold a store.
        path: PathBuf,
    },

    /// `init` was asked to create a store where one already exists.
    #[error("a store already exists at {path}; nothing was changed")]
    AlreadyExists {
        /// The store directory.
        path: PathBuf,
    },

    /// The store directory is not empty and holds something other than a store.
    #[error("{path} is not empty and is not a Casebridge store; choose an empty or new directory")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },

    /// The store was written by a newer (or unknown) format version.
    #[error("unsupported {what} format version {found} (this casebridge reads version {supported}); upgrade casebridge")]
    UnsupportedVersion {
        /// Which file kind.
        what: &'static str,
        /// The version found.
        found: u32,
        /// The version this build supports.
        supported: u32,
    },

    /// A file of the store is damaged: its bytes do not parse or fail authentication.
    #[error("store damaged: {what}; run a full check of the store (reading all evidence) for a report")]
    Corruption {
        /// What is damaged (a description with no plaintext).
        what: String,
    },

    /// The index (sled) is damaged or out of step; it can be rebuilt from the journal.
    #[error("the index is damaged ({what}); rebuild the index from the journal")]
    IndexDamaged {
        /// What failed.
        what: String,
    },

    /// The journal is damaged, so new changes are refused until it is repaired.
    #[error("the journal is damaged at record {record}; new changes are refused. Check the store and restore it from a backup")]
    JournalDamaged {
        /// The first damaged record (0-based).
        record: u64,
    },

    /// Authenticated decryption failed. Deliberately says nothing more.
    #[error("decryption failed: data is damaged or was altered")]
    Crypto,

    /// No case matches the given id or reference.
    #[error("no case matches '{query}': use an id or reference from the list of cases")]
    UnknownCase {
        /// What the user typed.
        query: String,
    },

    /// More than one case matches an id prefix.
    #[error("'{query}' matches {count} cases: give more of the id")]
    AmbiguousCase {
        /// What the user typed.
        query: String,
        /// How many matched.
        count: usize,
    },

    /// No evidence item matches the given id.
    #[error("no evidence item matches '{query}': use an id from the case's evidence list")]
    UnknownEvidence {
        /// What the user typed.
        query: String,
    },

    /// More than one evidence item matches an id prefix.
    #[error("'{query}' matches {count} evidence items: give more of the id")]
    AmbiguousEvidence {
        /// What the user typed.
        query: String,
        /// How many matched.
        count: usize,
    },

    /// No record of this kind matches (briefs, submissions).
    #[error("no {what} matches '{query}': {hint}")]
    NotFound {
        /// What kind of record (`brief`, `submission`).
        what: &'static str,
        /// What the user typed.
        query: String,
        /// Where to find valid ids.
        hint: &'static str,
    },

    /// This profile's role may not do this.
    #[error("{what}")]
    NotAllowed {
        /// What was refused and why.
        what: String,
    },

    /// A value given by the user is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which input.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// The export target exists already.
    #[error("{path} already exists; casebridge never overwrites files: choose another path")]
    WouldOverwrite {
        /// The target path.
        path: PathBuf,
    },

    /// Content read back from the store did not match its recorded hash.
    #[error("evidence content does not match its recorded SHA-256")]
    HashMismatch,

    /// Imported events contradict events already held (a fork or a broken link).
    #[error("events conflict with what this store holds: {what}")]
    ChainConflict {
        /// What conflicts (ids and sequence numbers only).
        what: String,
    },

    /// An imported event would create a record (evidence, submission, brief, case, note,
    /// derivation) whose id another event already created: records are created once.
    #[error("{what} already exists; a second creation with the same id is refused (nothing was imported)")]
    RecordExists {
        /// The record (kind and id).
        what: String,
    },

    /// An imported event's hybrid clock is further ahead of this store's clock than
    /// [`crate::MAX_CLOCK_SKEW_MS`] allows (a wrong clock, or an attempt to saturate ours).
    #[error("{what} is dated {ahead_secs} s ahead of this device's clock (at most {max_secs} s are accepted); check the sender's clock (nothing was imported)")]
    ClockSkew {
        /// Whose event (member and sequence).
        what: String,
        /// How far ahead, in seconds.
        ahead_secs: u64,
        /// The bound, in seconds.
        max_secs: u64,
    },

    /// The operation was cancelled; nothing was committed.
    #[error("cancelled; nothing was changed")]
    Cancelled,

    /// An I/O error on a path the user gave, or on the store directory.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing ("reading", "writing", ...).
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The place the sealed objects live (a bucket, a directory) failed: unreachable, refused
    /// the credentials, or answered in a way a store cannot use.
    #[error("{action} {object} in the object store failed: {reason}")]
    ObjectStorage {
        /// What was being done ("reading", "storing", "listing", ...).
        action: &'static str,
        /// Which object (`object <keyed name>`, never a content hash) or `objects` for the
        /// whole store.
        object: String,
        /// Why (the backend's words; never content, never a secret).
        reason: String,
    },

    /// A refusal with its own reason code (deletion and withdrawal: `tombstone_unknown_item`,
    /// `tombstone_mismatch`, `case_on_hold`, `evidence_deleted`, `not_your_submission`,
    /// `submission_accepted`, `already_withdrawn`); the message says what was refused and why.
    #[error("{message}")]
    Refused {
        /// The reason code.
        code: &'static str,
        /// What was refused and why (ids only, never content).
        message: String,
    },

    /// sled reported an error.
    #[error("index error: {0}; if it persists, rebuild the index")]
    Index(#[from] sled::Error),
}

impl Error {
    /// A stable, machine-readable code for this error (used by the CLI's JSON output and the
    /// desktop shell's `{code, message}` errors).
    pub fn code(&self) -> &'static str {
        match self {
            Error::WrongPassphrase => "wrong_passphrase",
            Error::PassphraseTooShort { .. } => "passphrase_too_short",
            Error::InUse { .. } => "store_in_use",
            Error::NoStore { .. } => "no_store",
            Error::AlreadyExists { .. } => "already_exists",
            Error::NotEmpty { .. } => "not_empty",
            Error::UnsupportedVersion { .. } => "unsupported_version",
            Error::Corruption { .. } => "corruption",
            Error::IndexDamaged { .. } => "index_damaged",
            Error::JournalDamaged { .. } => "journal_damaged",
            Error::Crypto => "crypto",
            Error::UnknownCase { .. } => "unknown_case",
            Error::AmbiguousCase { .. } => "ambiguous_case",
            Error::UnknownEvidence { .. } => "unknown_evidence",
            Error::AmbiguousEvidence { .. } => "ambiguous_evidence",
            Error::Invalid { .. } => "invalid_input",
            Error::NotFound { .. } => "not_found",
            Error::NotAllowed { .. } => "not_allowed",
            Error::WouldOverwrite { .. } => "would_overwrite",
            Error::HashMismatch => "hash_mismatch",
            Error::ChainConflict { .. } => "chain_conflict",
            Error::RecordExists { .. } => "record_exists",
            Error::ClockSkew { .. } => "clock_skew",
            Error::Cancelled => "cancelled",
            Error::Io { .. } => "io",
            Error::ObjectStorage { .. } => "object_storage",
            Error::Refused { code, .. } => code,
            Error::Index(_) => "index",
        }
    }

    /// The bare description of a problem, without advice (for reports that list problems).
    pub fn detail(&self) -> String {
        match self {
            Error::Corruption { what } => what.clone(),
            Error::IndexDamaged { what } => what.clone(),
            e => e.to_string(),
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }

    /// An [`Error::ObjectStorage`] about object `name` (a keyed name; empty for the whole
    /// store), for [`crate::ObjectBackend`] implementations.
    pub fn objects(action: &'static str, name: &str, reason: impl std::fmt::Display) -> Error {
        let object = if name.is_empty() { "objects".to_string() } else { format!("object {name}") };
        Error::ObjectStorage { action, object, reason: reason.to_string() }
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Error {
        Error::Corruption { what: what.into() }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
        Error::Invalid { field, reason: reason.into() }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
