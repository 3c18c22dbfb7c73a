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
//! - [`verify_package`]: runs the five checks of the spec on a package directory and returns a
//!   [`Report`]: a summary (case, exporter, agency, members, items with their custody, flags)
//!   and every [`Problem`], each naming the affected file, event, item or member.
//! - [`Report::to_text`]: the deterministic text form the `casebridge-verify` binary prints
//!   (sorted, no absolute paths, no time of verification), ending with `VERIFIED` or
//!   `FAILED: N problem(s)` and one line per problem.
//!
//! ## Flow
//! ```no_run
//! let report = casebridge_verify::verify_package(std::path::Path::new("package"));
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
//! 5. With `agency.json`: identity self-signed, revocation list and every credential and
//!    receipt signed by its root key; a credential must name the member of its file name and
//!    the key that signed that member's events; revoked keys are flagged with the time.
//!
//! ## Not here
//! No network, no store, no private keys, no current time (a stale revocation list is judged
//! against the package's creation time).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod check;
pub mod format;
mod report;

use std::path::Path;

pub use report::{
    AgencyInfo, CaseInfo, Counts, CredentialInfo, CustodyInfo, ExporterInfo, ItemInfo, MemberInfo, PackageInfo, Problem, ReceiptInfo,
    Report, RevokedInfo,
};

/// Verifies the court evidence package in `dir`. Never panics on any content; a directory
/// that cannot be read is reported as a problem.
pub fn verify_package(dir: &Path) -> Report {
    check::verify(dir)
}
