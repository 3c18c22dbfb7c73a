//! # casebridge-verify
//!
//! An independent verifier of Casebridge court evidence packages (docs/FORMAT.md, "Court
//! evidence package"). It depends only on the format, re-implemented here from the spec, and
//! on public keys: a third party can check a package without Casebridge's store or keys. It
//! shares no code with the exporter (crates/court) or the store (crates/core): a second
//! implementation from the same text, so a misreading of the spec on one side shows up as a
//! failure on the other.
//!
//! ## Main types
//! - [`AgencyRoot`]: the trust anchor, the fingerprint (SHA-256 of the Ed25519 root public key)
//!   of the agency the package must chain to, obtained from the agency out of band. Everything
//!   in a package can be re-signed by whoever made it; only this value, given from outside,
//!   ties the package to the real agency.
//! - [`verify_package`]: runs the five checks of the spec on a package directory against an
//!   optional [`AgencyRoot`] and returns a [`Report`]: a summary (case, exporter, agency,
//!   members, items with their custody, flags) and every [`Problem`], each naming the affected
//!   file, event, item or member.
//! - [`Report::to_text`]: the deterministic text form the `casebridge-verify` binary prints
//!   (sorted, no absolute paths, no time of verification), ending with `VERIFIED`,
//!   `FAILED: N problem(s)` and one line per problem, or (no problem, but no anchor given)
//!   `NOT ANCHORED: pass --agency-root <fingerprint>`.
//!
//! ## Flow
//! ```no_run
//! use casebridge_verify::{verify_package, AgencyRoot};
//! let root: AgencyRoot = "0a1b...".parse().expect("64 hex digits");
//! let report = verify_package(std::path::Path::new("package"), Some(&root));
//! print!("{}", report.to_text());
//! std::process::exit(if report.verified { 0 } else { 1 });
//! ```
//!
//! ## The checks
//! 1. `manifest.json` is a `court-package` signed document whose signature verifies with the
//!    key it names, which is the exporter's key. Without a verified manifest nothing else is
//!    vouched for: only `SHA256SUMS` is compared with the files present.
//! 2. Every listed file exists with its size and SHA-256; nothing else is present; the layout is
//!    the spec's; `SHA256SUMS` says the same as the manifest.
//! 3. Every event is a valid envelope, in the manifest's order with the manifest's body hash;
//!    each author's chain increases, links where neighbours are present, never forks; every
//!    event belongs to the case.
//! 4. Every item's original hashes to its `evidence_added` hash; custody and provenance events
//!    name that hash.
//! 5. `agency.json` is present, its identity self-signed, and (anchored) its root key has the
//!    given fingerprint; the revocation list and every credential and receipt are signed by that
//!    root key. Every event author and the exporter hold a credential in the package for the
//!    member of its file name, of that agency, binding the key that signed their events (and
//!    the manifest), valid when each of their events was dated; no event (and no manifest) is
//!    dated at or after its key's revocation. A revocation of a key that signed nothing after
//!    it is flagged. Every name disclosure (`names/<member id>.json`) opens the name commitment
//!    of that member's credential (`SHA-256("casebridge-name-v1" || salt || name)`); names are
//!    printed only from such disclosures, every other member by the manifest's pseudonym.
//!
//! ## Not here
//! No network, no store, no private keys, no current time (a stale revocation list is judged
//! against the package's creation time).

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod access_log;
mod check;
pub mod format;
mod report;

use std::path::Path;

pub use report::{
    AgencyInfo, CaseInfo, Counts, CredentialInfo, CustodyInfo, ExporterInfo, ItemInfo, MemberInfo, ObservedInfo, PackageInfo, Problem,
    ReceiptInfo, Report, RevokedInfo, TombstoneInfo, NOT_ANCHORED_LINE,
};

/// Verifies the court evidence package in `dir`, anchored to `agency_root` when given. Never
/// panics on any content; a directory that cannot be read is reported as a problem.
///
/// Without an anchor every check still runs, but the report is never verified: its verdict is
/// `NOT ANCHORED` (or `FAILED` when something is wrong), because a package whose every
/// signature was made by its forger passes every check that does not look outside it.
pub fn verify_package(dir: &Path, agency_root: Option<&AgencyRoot>) -> Report {
    check::verify(dir, agency_root)
}

/// The fingerprint of an agency's Ed25519 root public key (lowercase hex SHA-256 of its 32
/// bytes, as `casebridge agency show --json` prints it as `root_fingerprint`): the value a
/// package is anchored to. Public, so compared plainly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgencyRoot(String);

impl AgencyRoot {
    /// The fingerprint, 64 lowercase hex digits.
    pub fn fingerprint(&self) -> &str {
        &self.0
    }
}

/// A value given as an [`AgencyRoot`] that is not 64 hex digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadAgencyRoot;

impl std::fmt::Display for BadAgencyRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an agency root fingerprint is 64 hex digits (the SHA-256 of the agency's root public key)")
    }
}

impl std::error::Error for BadAgencyRoot {}

impl std::str::FromStr for AgencyRoot {
    type Err = BadAgencyRoot;

    /// Accepts 64 hex digits in either case (surrounding spaces ignored, as pasted).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        if format::is_hex_digest(&s) {
            Ok(AgencyRoot(s))
        } else {
            Err(BadAgencyRoot)
        }
    }
}
