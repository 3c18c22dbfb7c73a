//! Court material of a case (by id, unique id prefix or agency reference): the court report,
//! the court evidence package, and redacted copies of images. The work is done by
//! casebridge-court; here the case or item is found and the progress total is known.
//!
//! These return the court crate's own errors (the store's are one of their variants), so each
//! front end words them. Progress callbacks see `(done, total)` bytes.

use std::path::Path;

use casebridge_core::{AddedEvidence, ProvenanceRecord, Store};
use casebridge_court::package::{self, PackageError, PackageSummary};
use casebridge_court::redact::{self, RedactError, RedactOptions};
use casebridge_court::report::{self, ReportError, ReportOptions, Written};
use uuid::Uuid;

/// The content bytes of a case's evidence: the progress total of reading all of it.
fn evidence_bytes(store: &Store, case: Uuid) -> casebridge_core::Result<u64> {
    Ok(store.list_evidence(case)?.iter().map(|e| e.size).fold(0u64, u64::saturating_add))
}

/// Writes the court report of `case` to the new file `out` (PDF or HTML, per `opts`); the
/// report records its making in the case's access log.
pub fn report(
    store: &mut Store,
    case: &str,
    out: &Path,
    opts: &ReportOptions,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<Written, ReportError> {
    let case = store.resolve_case(case)?;
    let total = evidence_bytes(store, case)?;
    report::write(store, case, out, opts, &mut |n: u64| progress(n, total))
}

/// Writes the court evidence package of `case` into `out` (a new or empty directory); the
/// access is recorded (with `reason`) in the case's access log first.
pub fn package(
    store: &mut Store,
    case: &str,
    out: &Path,
    reason: Option<String>,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<PackageSummary, PackageError> {
    let case = store.resolve_case(case)?;
    let total = evidence_bytes(store, case)?;
    package::export_package_with(store, case, out, reason, &mut |n: u64| progress(n, total))
}

/// A redacted copy of an image item (id or unique id prefix), added as a new item; returns it
/// with its provenance (the original and the operations). The original is never modified.
pub fn redact(store: &mut Store, id: &str, opts: &RedactOptions) -> Result<(AddedEvidence, ProvenanceRecord, String), RedactError> {
    let original = store.resolve_evidence(id)?;
    let added = redact::redact(store, original, opts)?;
    let view = store.evidence(added.id)?;
    let prov = view
        .derived_from
        .ok_or_else(|| casebridge_core::Error::Corruption { what: format!("derivative {} has no provenance record", added.id) })?;
    Ok((added, prov, view.original_name))
}
