//! # casebridge-trust
//!
//! The trust layer between profiles and agencies (DESIGN.md §2, "Bundles"): agencies as data
//! (root signing key, sealing key, both at rest under a passphrase), credentials and their
//! requests, versioned revocation lists, receipts, and signed, sealed evidence bundles.
//!
//! ## Main types
//! - [`Agency`]: an unlocked agency directory: issues credentials, revokes, signs receipts,
//!   opens bundles sealed to it. [`AgencyPublicFile`] is what members pin.
//! - [`SignedDoc`]: the container of every signed statement (verify before parse).
//! - [`bundle::export`], [`bundle::verify`], [`bundle::open_into`]: the bundle format.
//! - [`verify_notice`]: an agency's signed word to one volunteer (a brief, its withdrawal, a
//!   decision), in place of the investigator's own events.
//! - [`TrustError`] with a [`Reason`] code for every rejection.
//!
//! ## Flow
//! agency init → member `credential request` → `agency issue` → member `credential install`
//! → `bundle export` (signed by the member, sealed to the agency) → agency `bundle open` into an
//! investigator's store → receipt back to the member.
//!
//! ## Not here
//! Network transport (crates/sync, crates/agency), the store itself (casebridge-core).

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod agency;
pub mod bundle;
mod credential;
mod doc;
mod error;
mod notice;
pub mod profile;
mod receipt;
pub mod records;
mod retention;
mod revocation;

pub use agency::{
    open_at_rest, receipt_record, seal_at_rest, verify_identity, Agency, AgencyPublic, AgencyPublicFile, Issued, AGENCY_IDENTITY,
    ENDPOINT_ACCESS, ISSUED_FOLDER, RECEIPTS_FOLDER, REVOCATION_RECORD,
};
pub use credential::{
    name_commitment, now, parse_duration, Credential, CredentialRequest, CredentialStatus, NameDisclosure, NamedCredential, CREDENTIAL,
    CREDENTIAL_REQUEST, NAME_COMMITMENT_TAG, NAME_SALT_LEN,
};
pub use doc::{fingerprint, SignedDoc, MAX_DOC_LEN};
pub use error::{Reason, Result, TrustError};
pub use notice::{is_noticed, notice_of, verify_notice, NOTICE};
pub use receipt::{Receipt, RECEIPT};
pub use records::{LocalRecords, RecordStore};
pub use retention::{
    store_tombstones, tombstone_id, verify_tombstone, RetentionRule, RetentionRules, RulesFile, SubmissionOutcome, MAX_AFTER_DAYS,
    MAX_RULES, RETENTION_RECORD, RETENTION_RULES, TOMBSTONE, WITHDRAWN_RULE,
};
pub use revocation::{RevocationList, Revoked, LIST_VALIDITY_DAYS, REVOCATION_LIST};
