//! # casebridge-core
//!
//! The model, cryptography and encrypted local store of Casebridge. No UI, no network, no
//! async runtime: everything here runs (and is tested) as plain synchronous Rust.
//!
//! ## Main types
//! - [`Store`]: one profile's store directory, unlocked with a passphrase. It owns
//!   - the **journal** (system of record): an append-only file of signed, hash-chained events,
//!     each sealed with AES-256-GCM and fsynced before a change is reported;
//!   - the **index** (sled): the current state, a deterministic projection of the journal,
//!     every value sealed with its tree name and key as associated data, every key a keyed
//!     hash of the ids in it (no ids, links or times on disk); rebuildable;
//!   - the **objects**: evidence contents in write-once files, streamed in sealed chunks and
//!     named by a keyed hash of their SHA-256, held by an [`ObjectBackend`]: the store's own
//!     directory ([`FileObjects`]) unless the store is opened with another
//!     ([`Store::open_with`]; the cluster agency's bucket).
//! - The journal as a mirror ([`Store::raw_records`], [`Store::append_raw`],
//!   [`Store::truncate_journal`]): copies of one store exchange journal records byte for byte
//!   (the cluster agency's replicas follow the journal held in its database).
//! - [`SignedEvent`] / [`EventKind`]: the events (the case history, and this profile's own
//!   bookkeeping apart as [`ProfileEvent`]); [`projection::apply`] the rules that turn them into
//!   state.
//! - [`Records`] and [`Store::events_after`]: the records and the journal as held, for rules
//!   that live above the store (who may see what at the agency endpoint is casebridge-agency's).
//! - [`Passphrase`], [`KdfParams`]: unlocking (Argon2id).
//!
//! ## Flow
//! ```
//! use casebridge_core::{KdfParams, NewCase, Passphrase, Role, Store};
//! # let tmp = tempfile::tempdir().unwrap();
//! # let dir = tmp.path().join("profile");
//! # let kdf = KdfParams::INTERACTIVE; // tests use cheap parameters, see the `test-kdf` feature
//! let pass = Passphrase::new("correct horse battery staple");
//! let mut store = Store::create(&dir, &pass, "Det. Insp. Vera Brandt", Role::Investigator, kdf)?;
//! let case = store.create_case(NewCase { title: "Bike thefts, Mitte".into(), ..Default::default() })?;
//! store.add_note(case, "Witness saw a white van")?;
//! drop(store);
//!
//! let store = Store::open(&dir, &pass)?;
//! assert_eq!(store.case(case)?.notes.len(), 1);
//! # Ok::<(), casebridge_core::Error>(())
//! ```
//!
//! ## Not here
//! Bundles, credentials and sync (later crates), any network code, any UI.
//! See docs/FORMAT.md for byte layouts and docs/ARCHITECTURE.md for the map.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod access_chain;
mod crypto;
mod error;
mod event;
pub mod exif_write;
mod format;
mod index;
mod journal;
mod keyfile;
pub mod metadata;
mod model;
mod objects;
pub mod projection;
mod store;
#[cfg(test)]
mod wire_tests;

pub use crypto::{sha256, to_hex, verify_signature, KdfParams, Passphrase, MIN_PASSPHRASE_CHARS};
pub use error::{Error, Result};

/// How far ahead of this device's clock an imported event's hybrid clock may be, in
/// milliseconds (one hour): enough for clocks that drift, never enough to drag every store's
/// clock towards `u64::MAX`.
pub const MAX_CLOCK_SKEW_MS: u64 = 3_600_000;
pub use event::{fingerprint, EventBody, Hlc, SignedEvent};
pub use format::{CHUNK_SIZE, HEADER_FILE, INDEX_DIR, JOURNAL_DIR, JOURNAL_FILE, LOCK_FILE, OBJECTS_DIR, TMP_DIR};
pub use index::CACHE_CAPACITY;
pub use keyfile::{read_keyfile, write_keyfile};
pub use model::{
    Area, Camera, CaseStatus, CustodyAction, EventKind, Extracted, GeoPoint, Notice, NoticeKind, ObjectRef, Observed, ProfileEvent,
    ReviewDecision, ReviewState, Role, Tombstone,
};
pub use objects::{read_full, FileObjects, ObjectBackend, ObjectEntry, Progress};
pub use projection::{
    AccessRecord, BriefRecord, BundleRecord, CaseRecord, DisclosureRecord, EndpointRecord, HoldRecord, MemberRecord, ProvenanceRecord,
    ReviewRecord, SubmissionRecord, Table, TombstoneRecord, TrustRecord, WithdrawalRecord,
};
pub use store::Records;
pub use store::{
    AddedEvidence, CaseDetail, CaseDetailOf, CaseEdit, CaseFilter, CaseSummary, CheckReport, Claimed, CustodyView, DeletedView,
    EvidenceOptions, EvidenceView, Exported, HoldView, LogEntry, NewCase, NoteAmendmentView, NoteView, Problem, RebuildReport, Store,
    TeamMemberView, WhoAmI,
};
pub use store::{
    BriefView, ContentImporter, ContentObserver, DetachedSigner, EventPage, NewBrief, OrphanObject, OrphanSweep, SubmissionItem,
    SubmissionView, SubmitOptions,
};
pub use store::{
    ALREADY_WITHDRAWN, CASE_ON_HOLD, EVIDENCE_DELETED, MAX_WITHDRAWAL_REASON_CHARS, NOT_YOUR_SUBMISSION, SUBMISSION_ACCEPTED,
    TOMBSTONE_MISMATCH, TOMBSTONE_UNKNOWN_ITEM,
};
