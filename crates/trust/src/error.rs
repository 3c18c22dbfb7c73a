//! Errors of the trust layer. Every rejection of a bundle, credential or list carries a
//! [`Reason`]: a stable code that `bundle verify` prints and tests assert on.

use std::fmt;

/// Why something was rejected. The `code()` strings are a contract (CLI JSON, test vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The file is not a Casebridge bundle (bad magic).
    NotABundle,
    /// A format version this build does not read.
    UnsupportedVersion,
    /// Sealed to another agency's key: this agency cannot open it.
    SealedToOtherAgency,
    /// The sealed layer fails authentication (altered or truncated ciphertext).
    SealDamaged,
    /// The manifest names a different recipient agency than the one that opened it (re-sealed).
    RecipientMismatch,
    /// A declared length is over its bound; rejected before allocating.
    DeclaredSizeTooLarge,
    /// The sender's signature over the manifest does not verify.
    BadSignature,
    /// The manifest does not parse or is inconsistent.
    ManifestInvalid,
    /// The credential was not issued by this agency (or is malformed).
    UnknownSigner,
    /// The credential binds a different key than the one that signed.
    KeyMismatch,
    /// The credential was not valid at the time the bundle was signed.
    CredentialExpired,
    /// The signer's credential is revoked.
    SignerRevoked,
    /// The revocation list has expired: too stale for this decision.
    RevocationListExpired,
    /// A revocation list older than one already seen (rollback).
    RevocationRollback,
    /// An event inside the bundle fails its signature or does not parse.
    EventInvalid,
    /// An evidence event names content the bundle does not carry.
    BlobMissing,
    /// A chunk arrived out of order (reordered or duplicated).
    ChunkOutOfOrder,
    /// A chunk is longer than allowed or than its blob has left.
    ChunkInvalid,
    /// A blob's content does not match its declared SHA-256.
    BlobHashMismatch,
    /// The stream ended early.
    Truncated,
    /// Bytes after the end marker.
    TrailingData,
    /// The bundle was already imported (a no-op, not an error, when opening).
    Replay,
    /// A sequence number at or below one already seen from this sender, with another bundle id.
    SequenceRollback,
    /// The bundle does not link to the sender's previous bundle.
    ChainBroken,
    /// Events conflict with events already held (a fork).
    ChainConflict,
    /// Not the intended holder (a credential for another key, a receipt for another bundle...).
    WrongHolder,
    /// A sealed bundle was given without the agency's sealing key to open it.
    SealingKeyRequired,
    /// Input/output failed.
    Io,
    /// A shared store the records live in (a cluster agency's database) could not be reached
    /// or refused: nothing was changed; the same request may succeed later.
    Unavailable,
    /// The local store or agency directory refused the operation.
    Store,
    /// The sender may not contribute these events (access rules of the endpoint).
    Forbidden,
    /// A credential request names a member id already bound to another key.
    MemberIdTaken,
    /// An event's author holds no credential of this agency for the key that signed it.
    AuthorNotCredentialed,
    /// An event creates a record (evidence, submission, brief, case, note) whose id is already
    /// taken by another event.
    RecordExists,
    /// An event's clock is further ahead of the receiver's than the bounded skew allows.
    ClockSkew,
    /// A submission lists items that are not evidence the sender added in the same bundle.
    SubmissionItemInvalid,
    /// The endpoint accepts only bundles sealed to its agency.
    NotSealed,
    /// An invite for an existing member names a member the agency never issued a credential to.
    UnknownMember,
    /// An investigator sent events of a case whose team they are not on.
    NotOnTeam,
    /// A team change from someone who is neither a supervisor nor the case's lead, or one that
    /// would remove the lead.
    TeamChangeForbidden,
    /// Something only a supervisor may do (a legal hold) from another member.
    SupervisorOnly,
    /// A name disclosure does not open its credential's name commitment (another name, salt,
    /// serial or member).
    NameMismatch,
    /// A notice is not signed by the pinned agency's key, or names another agency.
    NoticeNotFromAgency,
    /// A notice is addressed to another member than this profile.
    NoticeNotForYou,
    /// A tombstone is not signed by the agency's root key, or names another agency.
    TombstoneNotFromAgency,
    /// A tombstone names an item the store does not hold.
    TombstoneUnknownItem,
    /// A tombstone names another case or content than the item held.
    TombstoneMismatch,
    /// Deletion of an item of a case under legal hold (a tombstone, a withdrawal).
    CaseOnHold,
    /// A withdrawal of a submission another member made.
    NotYourSubmission,
    /// A withdrawal of a submission with an accepted item.
    SubmissionAccepted,
    /// Retention rules that do not parse or break a rule (named in the message).
    RetentionRulesInvalid,
    /// A note amendment (`note_amended`) by another member than the note's author.
    AmendmentNotAuthor,
    /// A note amendment of a note neither the receiver nor the bundle holds.
    AmendedNoteUnknown,
}

impl Reason {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NotABundle => "not_a_bundle",
            Reason::UnsupportedVersion => "unsupported_version",
            Reason::SealedToOtherAgency => "sealed_to_other_agency",
            Reason::SealDamaged => "seal_damaged",
            Reason::RecipientMismatch => "recipient_mismatch",
            Reason::DeclaredSizeTooLarge => "declared_size_too_large",
            Reason::BadSignature => "bad_signature",
            Reason::ManifestInvalid => "manifest_invalid",
            Reason::UnknownSigner => "unknown_signer",
            Reason::KeyMismatch => "key_mismatch",
            Reason::CredentialExpired => "credential_expired",
            Reason::SignerRevoked => "signer_revoked",
            Reason::RevocationListExpired => "revocation_list_expired",
            Reason::RevocationRollback => "revocation_rollback",
            Reason::EventInvalid => "event_invalid",
            Reason::BlobMissing => "blob_missing",
            Reason::ChunkOutOfOrder => "chunk_out_of_order",
            Reason::ChunkInvalid => "chunk_invalid",
            Reason::BlobHashMismatch => "blob_hash_mismatch",
            Reason::Truncated => "truncated",
            Reason::TrailingData => "trailing_data",
            Reason::Replay => "replay",
            Reason::SequenceRollback => "sequence_rollback",
            Reason::ChainBroken => "chain_broken",
            Reason::ChainConflict => "chain_conflict",
            Reason::WrongHolder => "wrong_holder",
            Reason::SealingKeyRequired => "sealing_key_required",
            Reason::Io => "io",
            Reason::Unavailable => "unavailable",
            Reason::Store => "store",
            Reason::Forbidden => "forbidden",
            Reason::MemberIdTaken => "member_id_taken",
            Reason::AuthorNotCredentialed => "author_not_credentialed",
            Reason::RecordExists => "record_exists",
            Reason::ClockSkew => "clock_skew",
            Reason::SubmissionItemInvalid => "submission_item_invalid",
            Reason::NotSealed => "not_sealed",
            Reason::UnknownMember => "unknown_member",
            Reason::NotOnTeam => "not_on_team",
            Reason::TeamChangeForbidden => "team_change_forbidden",
            Reason::SupervisorOnly => "supervisor_only",
            Reason::NameMismatch => "name_mismatch",
            Reason::NoticeNotFromAgency => "notice_not_from_agency",
            Reason::NoticeNotForYou => "notice_not_for_you",
            Reason::TombstoneNotFromAgency => "tombstone_not_from_agency",
            Reason::TombstoneUnknownItem => "tombstone_unknown_item",
            Reason::TombstoneMismatch => "tombstone_mismatch",
            Reason::CaseOnHold => "case_on_hold",
            Reason::NotYourSubmission => "not_your_submission",
            Reason::SubmissionAccepted => "submission_accepted",
            Reason::RetentionRulesInvalid => "retention_rules_invalid",
            Reason::AmendmentNotAuthor => "amendment_not_author",
            Reason::AmendedNoteUnknown => "amended_note_unknown",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejection or failure of the trust layer: a reason code and a message for people.
/// Messages carry ids, sequence numbers and sizes, never evidence content or secrets.
#[derive(Debug, thiserror::Error)]
#[error("{message} [{reason}]")]
pub struct TrustError {
    /// The reason code.
    pub reason: Reason,
    /// What was wrong and what to do.
    pub message: String,
}

impl TrustError {
    /// A new error.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        TrustError { reason, message: message.into() }
    }
}

impl From<casebridge_core::Error> for TrustError {
    fn from(e: casebridge_core::Error) -> Self {
        let reason = match &e {
            casebridge_core::Error::ChainConflict { .. } => Reason::ChainConflict,
            casebridge_core::Error::HashMismatch => Reason::BlobHashMismatch,
            casebridge_core::Error::RecordExists { .. } => Reason::RecordExists,
            casebridge_core::Error::ClockSkew { .. } => Reason::ClockSkew,
            casebridge_core::Error::Io { .. } => Reason::Io,
            casebridge_core::Error::Refused { code, .. } => match *code {
                casebridge_core::TOMBSTONE_UNKNOWN_ITEM => Reason::TombstoneUnknownItem,
                casebridge_core::TOMBSTONE_MISMATCH => Reason::TombstoneMismatch,
                casebridge_core::CASE_ON_HOLD => Reason::CaseOnHold,
                casebridge_core::NOT_YOUR_SUBMISSION => Reason::NotYourSubmission,
                casebridge_core::SUBMISSION_ACCEPTED => Reason::SubmissionAccepted,
                _ => Reason::Store,
            },
            _ => Reason::Store,
        };
        TrustError::new(reason, e.to_string())
    }
}

/// Result alias.
pub type Result<T, E = TrustError> = std::result::Result<T, E>;

pub(crate) fn io_err(what: &str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrustError {
    let what = what.to_string();
    let path = path.to_path_buf();
    move |e| TrustError::new(Reason::Io, format!("{what} {}: {e}", path.display()))
}
