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
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{AppError, ErrorCode};

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

/// What the desktop shows before making court material: the agency a package is anchored to
/// and the command that checks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CourtInfo {
    /// The agency's name, when one is pinned.
    pub agency_name: Option<String>,
    /// Its root key fingerprint (hex): the court obtains it from the agency out of band and
    /// passes it to `casebridge-verify --agency-root`.
    pub agency_root_fingerprint: Option<String>,
}

/// The agency court packages of this store are anchored to.
pub fn info(store: &Store) -> crate::Result<CourtInfo> {
    let agency = package::anchoring_agency(store).map_err(package_error)?;
    Ok(CourtInfo {
        agency_name: agency.as_ref().map(|a| a.name.clone()),
        agency_root_fingerprint: agency.as_ref().map(|a| a.root_fingerprint()),
    })
}

/// The report writer's errors as the app's, each with its own code.
pub fn report_error(e: ReportError) -> AppError {
    match e {
        ReportError::Store(e) => e.into(),
        e @ (ReportError::WouldOverwrite { .. } | ReportError::PartialExists { .. }) => AppError::new(ErrorCode::Exists, e.to_string()),
        e @ ReportError::Write { .. } => AppError::new(ErrorCode::Io, e.to_string()),
        e => AppError::new(ErrorCode::InvalidInput, e.to_string()),
    }
}

/// The package exporter's errors as the app's, each with its own code.
pub fn package_error(e: PackageError) -> AppError {
    match e {
        PackageError::Core(e) => e.into(),
        PackageError::Trust(e) => e.into(),
        e @ PackageError::NotEmpty { .. } => AppError::new(ErrorCode::NotEmpty, e.to_string()),
        e @ PackageError::Io { .. } => AppError::new(ErrorCode::Io, e.to_string()),
        e => AppError::new(ErrorCode::InvalidInput, e.to_string()),
    }
}

/// The court report's format, as the desktop offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// PDF, A4, numbered pages.
    Pdf,
    /// One self-contained HTML file.
    Html,
}

impl From<ReportFormat> for report::Format {
    fn from(f: ReportFormat) -> report::Format {
        match f {
            ReportFormat::Pdf => report::Format::Pdf,
            ReportFormat::Html => report::Format::Html,
        }
    }
}
