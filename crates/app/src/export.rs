//! Exporting a case to a bundle file: the same signed (and sealed) bundle `casebridge bundle
//! export` writes, through the same writer ([`casebridge_trust::bundle::export`]), addressed to
//! the agency this profile enrolled at.

use std::path::Path;

use casebridge_core::Store;
use casebridge_trust::bundle::{self, ExportOptions, ExportSummary};
use uuid::Uuid;

use crate::error::{AppError, ErrorCode, Result};
use crate::outbox;

/// Checks, before any work, that `out` can be written: it must not exist (nothing is ever
/// overwritten) and its directory must.
pub fn check_out(out: &Path) -> Result<()> {
    if out.as_os_str().is_empty() {
        return Err(AppError::invalid("file", "choose where to save the bundle"));
    }
    if out.exists() || out.symlink_metadata().is_ok() {
        return Err(AppError::new(
            ErrorCode::Exists,
            format!("{} already exists; casebridge never overwrites files: choose another name", out.display()),
        ));
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(AppError::new(
            ErrorCode::BadFile,
            format!("cannot write {}: the folder {} does not exist", out.display(), dir.display()),
        ));
    }
    Ok(())
}

/// The content bytes of a case: the progress total.
pub fn case_bytes(store: &Store, case: Uuid) -> Result<u64> {
    Ok(store.case(case)?.evidence.iter().map(|e| e.size).fold(0u64, u64::saturating_add))
}

/// Writes the whole case `case` as one bundle to `out`, signed by this profile and sealed to
/// the agency it enrolled at (its credential must be valid: `not_enrolled`,
/// `credential_not_valid` otherwise). `progress` sees content bytes written and may return false
/// to cancel (`cancelled`; no file is left).
///
/// Whatever this profile recorded and sync has not yet sealed into the outbox is sealed there
/// first: a bundle export advances the point from which sync exports, and nothing must be
/// skipped by it.
pub fn case_bundle(store: &mut Store, case: Uuid, out: &Path, progress: &mut dyn FnMut(u64) -> bool) -> Result<ExportSummary> {
    check_out(out)?;
    let (agency, _, cred) = outbox::agency(store)?;
    outbox::export_pending(store, &agency, &cred)?;
    let opts = ExportOptions {
        case,
        since: None,
        agency: &agency,
        credential: &cred,
        seal: true,
        own_only: false,
        bundle_id: None,
        sync_point: None,
    };
    let mut cancelled = false;
    let result = bundle::export(store, &opts, out, &mut |n| {
        let go = progress(n);
        cancelled |= !go;
        go
    });
    match result {
        Ok(s) => Ok(s),
        Err(_) if cancelled => Err(AppError::cancelled(format!("export cancelled: {} was not written", out.display()))),
        Err(e) => Err(e.into()),
    }
}
