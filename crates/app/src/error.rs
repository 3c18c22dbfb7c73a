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
    pub code: ErrorCode,
    /// What was wrong and what to do, for people.
    pub message: String,
}

/// Declares [`ErrorCode`] from one list of variants and their words, so each word is written
/// once: serde's names, [`ErrorCode::as_str`] and [`ErrorCode::from_code`] all come from it.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $word:literal, )*) => {
        /// The stable machine code of an [`AppError`]: serialised as its snake_case word, a
        /// TypeScript union of those words for the UI.
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* #[serde(rename = $word)] $variant, )*
            /// A code this build does not name: an agency endpoint's own code that the sync
            /// client passes on (`invite_used`, `too_many_downloads`, ...), as it came.
            #[serde(untagged)]
            Other(String),
        }

        impl ErrorCode {
            /// The code's word, as serialised.
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$variant => $word, )*
                    ErrorCode::Other(code) => code,
                }
            }

            /// The code a lower layer names by its word (the store's, the trust layer's and the
            /// sync client's `code()`); a word this build does not name is kept as it is.
            pub fn from_code(code: &str) -> ErrorCode {
                match code {
                    $( $word => ErrorCode::$variant, )*
                    other => ErrorCode::Other(other.to_string()),
                }
            }
        }
    };
}

error_codes! {
    // This crate's own.
    /// The profile is locked: unlock it first.
    Locked = "locked",
    /// The in-memory search index failed (the store is unchanged).
    SearchEngine = "search_engine",
    /// Too many wrong passphrases: unlocking is paused for a while.
    LockedOut = "locked_out",
    /// The profile is not enrolled at an agency endpoint.
    NotEnrolled = "not_enrolled",
    /// The profile is enrolled at more than one agency; sync supports one.
    MultipleAgencies = "multiple_agencies",
    /// The profile holds no credential from its agency.
    NoCredential = "no_credential",
    /// The profile's credential is revoked, expired or not yet valid.
    CredentialNotValid = "credential_not_valid",
    /// The endpoint answered for another agency than the invite code names.
    AgencyMismatch = "agency_mismatch",
    /// An invite code that cannot be read.
    InvalidInvite = "invalid_invite",
    /// An invite made for an existing member (a new device) needs a new profile: this one
    /// already holds case work or a credential under its own member id.
    ProfileNotFresh = "profile_not_fresh",
    /// No job with this id is running.
    UnknownJob = "unknown_job",
    /// A file the user chose cannot be read, imported or written.
    BadFile = "bad_file",
    /// The file to write exists already.
    Exists = "exists",
    /// Another job holds what this one needs.
    Busy = "busy",
    /// This system names no data directory for the profile.
    NoDataDir = "no_data_dir",
    /// The app's settings file cannot be read.
    SettingsDamaged = "settings_damaged",
    /// An internal failure (a thread or runtime that could not start).
    Internal = "internal",
    // Redaction's (`casebridge_court::redact::RedactError::code`).
    /// Redaction: neither metadata stripping nor a region was asked for.
    NothingToRedact = "nothing_to_redact",
    /// Redaction: a region's numbers are not whole pixels from 0 up.
    BadRegion = "bad_region",
    /// Redaction: a region has no width or no height.
    EmptyRegion = "empty_region",
    /// Redaction: more regions than one redaction takes.
    TooManyRegions = "too_many_regions",
    /// Redaction: a region crosses an edge of the image.
    RegionOutsideImage = "region_outside_image",
    /// Redaction: the item is not a JPEG or PNG image.
    NotAnImage = "not_an_image",
    /// Redaction: the image is too large to redact in memory.
    TooLarge = "too_large",
    /// Redaction: the item does not decode as the image its type says.
    UndecodableImage = "undecodable_image",
    /// Redaction: the redacted copy could not be encoded.
    EncodeFailed = "encode_failed",
    /// Redaction: the copy still carried EXIF (a defect, never expected).
    MetadataSurvived = "metadata_survived",
    /// Only police staff (investigators, supervisors) do this (opening an agency's bundles).
    StaffOnly = "staff_only",
    /// The folder chosen to write to does not exist.
    FolderMissing = "folder_missing",
    /// The path chosen as a folder is a file (or something else that is not a folder).
    NotAFolder = "not_a_folder",
    /// The folder chosen to write to cannot be written (read-only drive, permissions).
    NotWritable = "not_writable",
    /// The directory chosen as the agency's holds no agency.
    NotAnAgency = "not_an_agency",
    /// The agency runs as a cluster: its bundles are opened on its servers, not here.
    ClusterAgency = "cluster_agency",
    /// The agency passphrase is wrong: the agency keys were not unlocked.
    WrongAgencyPassphrase = "wrong_agency_passphrase",
    /// A file chosen as a receipt is not one (too large, not a signed receipt document).
    NotAReceipt = "not_a_receipt",
    /// A receipt for this bundle is held already; the first one stands.
    ReceiptHeld = "receipt_held",
    /// The receipt names a bundle this profile never sent (id, sequence or manifest differ).
    ReceiptNotSent = "receipt_not_sent",
    /// Map tiles: the file chosen does not exist or cannot be read.
    MissingFile = "missing_file",
    /// Map tiles: the file is not a PMTiles file (no magic, or shorter than a header).
    NotPmtiles = "not_pmtiles",
    /// Map tiles: a PMTiles version or compression the map cannot read.
    PmtilesUnsupported = "pmtiles_unsupported",
    /// Map tiles: the file holds raster images, not vector tiles (MVT).
    PmtilesNotVector = "pmtiles_not_vector",
    /// Map tiles: the header names sections outside the file, or impossible zooms or bounds.
    PmtilesDamaged = "pmtiles_damaged",
    // The store's (`casebridge_core::Error::code`).
    /// Store: `evidence_deleted` (the item's content was destroyed under a retention rule).
    EvidenceDeleted = "evidence_deleted",
    /// Store: `wrong_passphrase`.
    WrongPassphrase = "wrong_passphrase",
    /// Store: `passphrase_too_short`.
    PassphraseTooShort = "passphrase_too_short",
    /// Store: `store_in_use`.
    StoreInUse = "store_in_use",
    /// Store: `no_store`.
    NoStore = "no_store",
    /// Store: `already_exists`.
    AlreadyExists = "already_exists",
    /// Store: `not_empty`.
    NotEmpty = "not_empty",
    /// Store: `unsupported_version`.
    UnsupportedVersion = "unsupported_version",
    /// Store: `corruption`.
    Corruption = "corruption",
    /// Store: `index_damaged`.
    IndexDamaged = "index_damaged",
    /// Store: `journal_damaged`.
    JournalDamaged = "journal_damaged",
    /// Store: `crypto`.
    Crypto = "crypto",
    /// Store: `unknown_case`.
    UnknownCase = "unknown_case",
    /// Store: `ambiguous_case`.
    AmbiguousCase = "ambiguous_case",
    /// Store: `unknown_evidence`.
    UnknownEvidence = "unknown_evidence",
    /// Store: `ambiguous_evidence`.
    AmbiguousEvidence = "ambiguous_evidence",
    /// Store: `invalid_input`.
    InvalidInput = "invalid_input",
    /// Store: `not_found`.
    NotFound = "not_found",
    /// Store: `not_allowed`.
    NotAllowed = "not_allowed",
    /// Store: `would_overwrite`.
    WouldOverwrite = "would_overwrite",
    /// Store: `hash_mismatch`.
    HashMismatch = "hash_mismatch",
    /// Store: `chain_conflict`.
    ChainConflict = "chain_conflict",
    /// Store: `record_exists`.
    RecordExists = "record_exists",
    /// Store: `clock_skew`.
    ClockSkew = "clock_skew",
    /// Store: `cancelled`.
    Cancelled = "cancelled",
    /// Store: `io`.
    Io = "io",
    /// Store: `index`.
    Index = "index",
    // The trust layer's reasons (`casebridge_trust::Reason::code`).
    /// Trust layer: `not_a_bundle`.
    NotABundle = "not_a_bundle",
    /// Trust layer: `sealed_to_other_agency`.
    SealedToOtherAgency = "sealed_to_other_agency",
    /// Trust layer: `seal_damaged`.
    SealDamaged = "seal_damaged",
    /// Trust layer: `recipient_mismatch`.
    RecipientMismatch = "recipient_mismatch",
    /// Trust layer: `declared_size_too_large`.
    DeclaredSizeTooLarge = "declared_size_too_large",
    /// Trust layer: `bad_signature`.
    BadSignature = "bad_signature",
    /// Trust layer: `manifest_invalid`.
    ManifestInvalid = "manifest_invalid",
    /// Trust layer: `unknown_signer`.
    UnknownSigner = "unknown_signer",
    /// Trust layer: `key_mismatch`.
    KeyMismatch = "key_mismatch",
    /// Trust layer: `credential_expired`.
    CredentialExpired = "credential_expired",
    /// Trust layer: `signer_revoked`.
    SignerRevoked = "signer_revoked",
    /// Trust layer: `revocation_list_expired`.
    RevocationListExpired = "revocation_list_expired",
    /// Trust layer: `revocation_rollback`.
    RevocationRollback = "revocation_rollback",
    /// Trust layer: `event_invalid`.
    EventInvalid = "event_invalid",
    /// Trust layer: `blob_missing`.
    BlobMissing = "blob_missing",
    /// Trust layer: `chunk_out_of_order`.
    ChunkOutOfOrder = "chunk_out_of_order",
    /// Trust layer: `chunk_invalid`.
    ChunkInvalid = "chunk_invalid",
    /// Trust layer: `blob_hash_mismatch`.
    BlobHashMismatch = "blob_hash_mismatch",
    /// Trust layer: `truncated`.
    Truncated = "truncated",
    /// Trust layer: `trailing_data`.
    TrailingData = "trailing_data",
    /// Trust layer: `replay`.
    Replay = "replay",
    /// Trust layer: `sequence_rollback`.
    SequenceRollback = "sequence_rollback",
    /// Trust layer: `chain_broken`.
    ChainBroken = "chain_broken",
    /// Trust layer: `wrong_holder`.
    WrongHolder = "wrong_holder",
    /// Trust layer: `sealing_key_required`.
    SealingKeyRequired = "sealing_key_required",
    /// Trust layer: `unavailable` (the cluster database behind an agency's records).
    Unavailable = "unavailable",
    /// Trust layer: `store`.
    Store = "store",
    /// Trust layer: `forbidden`.
    Forbidden = "forbidden",
    /// Trust layer: `member_id_taken`.
    MemberIdTaken = "member_id_taken",
    /// Trust layer: `author_not_credentialed`.
    AuthorNotCredentialed = "author_not_credentialed",
    /// Trust layer: `submission_item_invalid`.
    SubmissionItemInvalid = "submission_item_invalid",
    /// Trust layer: `not_sealed`.
    NotSealed = "not_sealed",
    /// Trust layer: `unknown_member`.
    UnknownMember = "unknown_member",
    /// Trust layer: `not_on_team`.
    NotOnTeam = "not_on_team",
    /// Trust layer: `team_change_forbidden`.
    TeamChangeForbidden = "team_change_forbidden",
    /// Trust layer: `supervisor_only`.
    SupervisorOnly = "supervisor_only",
    /// Trust layer: `notice_not_from_agency`.
    NoticeNotFromAgency = "notice_not_from_agency",
    /// Trust layer: `notice_not_for_you`.
    NoticeNotForYou = "notice_not_for_you",
    /// A note amendment by another member than the note's author.
    AmendmentNotAuthor = "amendment_not_author",
    /// A note amendment of a note that is not held.
    AmendedNoteUnknown = "amended_note_unknown",
    // The sync client's (`casebridge_sync::SyncError::code`).
    /// Sync client: `connection`.
    Connection = "connection",
    /// Sync client: `certificate_mismatch`.
    CertificateMismatch = "certificate_mismatch",
    /// Sync client: `protocol`.
    Protocol = "protocol",
    /// Sync client: `config`.
    Config = "config",
    /// Sync client: `state_damaged`.
    StateDamaged = "state_damaged",
    /// Sync client: `gave_up`.
    GaveUp = "gave_up",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code compares equal to its word (what the JSON carries).
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Result alias of this crate.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError { code, message: message.into() }
    }

    /// The profile is locked: unlock it first.
    pub fn locked() -> AppError {
        AppError::new(ErrorCode::Locked, "the profile is locked: unlock it with your passphrase")
    }

    /// There is no profile in the store directory yet.
    pub fn no_profile(dir: &std::path::Path) -> AppError {
        AppError::new(ErrorCode::NoStore, format!("there is no profile at {} yet: create one first", dir.display()))
    }

    /// The profile has not enrolled at an agency endpoint.
    pub fn not_enrolled() -> AppError {
        AppError::new(
            ErrorCode::NotEnrolled,
            "this profile is not enrolled at an agency endpoint: enrol with the invite code the agency gave you",
        )
    }

    /// Work was cancelled on request.
    pub fn cancelled(what: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Cancelled, what)
    }

    /// A value given by the caller is not acceptable (same code as the store's own).
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> AppError {
        AppError::new(ErrorCode::InvalidInput, format!("invalid {field}: {reason}"))
    }

    /// No job with this id is running.
    pub fn unknown_job(job: &str) -> AppError {
        AppError::new(ErrorCode::UnknownJob, format!("no job '{job}' is running (it may have finished already)"))
    }

    /// A file the user chose cannot be read or imported; nothing was imported.
    pub fn bad_file(path: &std::path::Path, reason: impl std::fmt::Display) -> AppError {
        AppError::new(ErrorCode::BadFile, format!("cannot import {}: {reason}; nothing was imported", path.display()))
    }

    /// An internal failure (a thread or runtime that could not start, a task that stopped).
    pub fn internal(what: impl std::fmt::Display) -> AppError {
        AppError::new(ErrorCode::Internal, format!("{what}; try again, and report it if it persists"))
    }
}

impl From<casebridge_core::Error> for AppError {
    fn from(e: casebridge_core::Error) -> AppError {
        AppError::new(ErrorCode::from_code(e.code()), e.to_string())
    }
}

impl From<casebridge_search::SearchError> for AppError {
    fn from(e: casebridge_search::SearchError) -> AppError {
        match e {
            casebridge_search::SearchError::Store(e) => e.into(),
            other => AppError::new(ErrorCode::SearchEngine, other.to_string()),
        }
    }
}

impl From<casebridge_trust::TrustError> for AppError {
    fn from(e: casebridge_trust::TrustError) -> AppError {
        AppError::new(ErrorCode::from_code(e.reason.code()), e.message)
    }
}

impl From<casebridge_sync::SyncError> for AppError {
    fn from(e: casebridge_sync::SyncError) -> AppError {
        AppError::new(ErrorCode::from_code(e.code()), e.to_string())
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
