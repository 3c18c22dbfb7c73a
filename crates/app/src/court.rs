//! Court material of a case (by id, unique id prefix or agency reference): the court report,
//! the court evidence package, and redacted copies of images. The work is done by
//! casebridge-court; here the case or item is found and the progress total is known.
//!
//! These return the court crate's own errors (the store's are one of their variants), so each
//! front end words them. Progress callbacks see `(done, total)` bytes.

use std::path::Path;

use casebridge_core::{AddedEvidence, ProvenanceRecord, Store};
use casebridge_court::package::{self, PackageError, PackageSummary};
use casebridge_court::redact::{self, RedactError, RedactOptions, Region, RegionMode};
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

/// How the regions of a redaction are made unreadable, as the desktop offers it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RedactMode {
    /// Pixelated and blurred until unreadable (`blur X,Y,W,H` in the provenance).
    #[default]
    Blur,
    /// Painted black (`fill X,Y,W,H`).
    Fill,
}

impl From<RedactMode> for RegionMode {
    fn from(m: RedactMode) -> RegionMode {
        match m {
            RedactMode::Blur => RegionMode::Blur,
            RedactMode::Fill => RegionMode::Fill,
        }
    }
}

/// A rectangle in pixels of the upright image (its natural size, whatever the zoom it was drawn
/// at), as the desktop sends it. JSON numbers: each must be a whole number from 0 to
/// 4294967295 (`bad_region` otherwise), so a crafted `-1` or `1.5` is refused by name, not by
/// the command's argument parser.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct PixelRegion {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl PixelRegion {
    /// The court crate's region, or `bad_region` naming the number that is not a pixel.
    fn to_region(self, n: usize) -> crate::Result<Region> {
        let px = |name: &str, v: f64| -> crate::Result<u32> {
            if v.is_finite() && v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
                // Checked whole and in range just above.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(v as u32)
            } else {
                Err(AppError::new(
                    ErrorCode::BadRegion,
                    format!("region {n}: {name} is {v}, not a whole number of pixels from 0 to {}; nothing was added", u32::MAX),
                ))
            }
        };
        Ok(Region { x: px("x", self.x)?, y: px("y", self.y)?, w: px("width", self.w)?, h: px("height", self.h)? })
    }
}

/// A redaction the desktop asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct RedactRequest {
    /// The regions to make unreadable (at most 64), in pixels of the upright image.
    pub regions: Vec<PixelRegion>,
    /// How.
    pub mode: RedactMode,
    /// Asked for metadata stripping (done in any case: a re-encoded copy carries none).
    pub strip_metadata: bool,
    /// Why (recorded in the case's access log).
    pub reason: Option<String>,
}

/// A redacted copy just made, as the desktop shows it: the new item and its provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Redacted {
    /// The derivative, as the evidence list shows it.
    pub item: crate::views::EvidenceItem,
    /// Its signed provenance: the original's id and hash, the operations in order (`strip-metadata`,
    /// `blur X,Y,W,H` or `fill X,Y,W,H`, ...), who made it and when.
    pub provenance: ProvenanceRecord,
    /// The original's file name.
    pub original_name: String,
    /// The maker's name, when known.
    pub by_name: Option<String>,
}

/// The desktop's redaction of the image item `id` (id or unique id prefix): police staff only
/// (`not_allowed` for a volunteer, whose desktop has no court material); each region checked
/// (`bad_region`), then [`redact()`]. Errors come with their own codes ([`redact_error`]); when one
/// is returned nothing was added.
pub fn redact_for_desktop(store: &mut Store, id: &str, req: &RedactRequest) -> crate::Result<Redacted> {
    if !crate::access::is_police_staff(store) {
        return Err(casebridge_core::Error::NotAllowed {
            what: "redaction from the desktop: it is court material, made by police staff; nothing was added".into(),
        }
        .into());
    }
    let regions = req.regions.iter().enumerate().map(|(n, r)| r.to_region(n + 1)).collect::<crate::Result<Vec<_>>>()?;
    let reason = req.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_string);
    let opts = RedactOptions { strip_metadata: req.strip_metadata, regions, mode: req.mode.into(), reason };
    let (added, provenance, _) = redact(store, id, &opts).map_err(redact_error)?;
    let evidence = store.evidence(added.id)?;
    let original_name = store.evidence(provenance.original_id)?.original_name;
    let by_name = store.member(provenance.by)?.map(|m| m.name);
    Ok(Redacted { item: crate::views::EvidenceItem { evidence, review_state: None }, provenance, original_name, by_name })
}

/// Redaction's errors as the app's, each with its own code (the court crate's word).
pub fn redact_error(e: RedactError) -> AppError {
    match e {
        RedactError::Store(e) => e.into(),
        e => AppError::new(ErrorCode::from_code(e.code()), e.to_string()),
    }
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
