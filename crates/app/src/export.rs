//! Exporting a case to a bundle file, signed by this profile and (normally) sealed to an
//! agency, through the one bundle writer ([`casebridge_trust::bundle::export`]): the whole case
//! to the agency this profile enrolled at ([`case_bundle`], the desktop's), or to an agency
//! named by its public file, from a journal position on ([`to_agency`], the command line's).

use std::path::Path;

use std::collections::BTreeMap;

use casebridge_core::Store;
use casebridge_trust::bundle::{self, ExportOptions, ExportSummary};
use casebridge_trust::{profile, AgencyPublic, AgencyPublicFile, Reason, TrustError};
use uuid::Uuid;

use crate::credentials::{self, Unusable};
use crate::error::{AppError, ErrorCode, Result};
use crate::outbox;

/// Checks, before any work, that `out` can be written: it must not exist (nothing is ever
/// overwritten) and its directory must (`bad_file` otherwise).
pub fn check_out(out: &Path) -> Result<()> {
    check_new_path(out, "file", "bundle", ErrorCode::BadFile)
}

/// Checks that `out` is a new file in an existing folder: empty is `invalid_input` on `field`
/// ("choose where to save the {what}"), an existing path (even a dangling link) `exists`, a
/// missing folder `missing`. The one check behind [`check_out`] and
/// [`crate::exchange::check_new_file`].
pub(crate) fn check_new_path(out: &Path, field: &str, what: &str, missing: ErrorCode) -> Result<()> {
    if out.as_os_str().is_empty() {
        return Err(AppError::invalid(field, format!("choose where to save the {what}")));
    }
    if out.symlink_metadata().is_ok() {
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
        return Err(AppError::new(missing, format!("cannot write {}: the folder {} does not exist", out.display(), dir.display())));
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
    outbox::export_pending(store, &agency, &cred, None)?;
    let opts = ExportOptions {
        case,
        since: None,
        agency: &agency,
        credential: &cred,
        seal: true,
        own_only: false,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    let mut cancelled = false;
    let result = bundle::export(store, &opts, out, &mut |n| {
        let go = progress(n);
        cancelled |= !go;
        go
    });
    match result {
        Ok(s) => {
            record_handover(store, case, &s, &agency.name)?;
            Ok(s)
        }
        Err(_) if cancelled => Err(AppError::cancelled(format!("export cancelled: {} was not written", out.display()))),
        Err(e) => Err(e.into()),
    }
}

/// Why a bundle could not be exported to an agency ([`to_agency`]).
#[derive(Debug)]
pub enum ExportError {
    /// The store refused (an unknown case, ...).
    Store(casebridge_core::Error),
    /// The trust layer refused (another key under a pinned agency id, a write that failed, ...).
    Trust(TrustError),
    /// This profile's credential from the agency cannot be used now: refused here, with
    /// advice, rather than by the agency.
    Credential {
        /// The agency.
        agency: Box<AgencyPublic>,
        /// Why not.
        why: Unusable,
    },
}

impl From<casebridge_core::Error> for ExportError {
    fn from(e: casebridge_core::Error) -> ExportError {
        ExportError::Store(e)
    }
}

impl From<TrustError> for ExportError {
    fn from(e: TrustError) -> ExportError {
        ExportError::Trust(e)
    }
}

/// What a bundle export to an agency is asked to carry.
#[derive(Clone, Copy, Debug)]
pub struct ToAgency<'a> {
    /// The case (id, unique id prefix or agency reference).
    pub case: &'a str,
    /// The recipient agency's public file: pinned on first use, and it must match the pin.
    pub agency: &'a AgencyPublicFile,
    /// Only events at or after this journal position.
    pub since: Option<u64>,
    /// Seal the bundle to the agency (else anyone holding it can read it).
    pub seal: bool,
}

/// Writes a case's events (from `since`) and evidence as one bundle to the new file `out`,
/// signed by this profile and sealed to the agency of `to.agency`, which is pinned if it is
/// not yet (and must be the pinned one). `progress` sees `(done, total)` content bytes, the
/// total being a bound. Returns the summary and the agency.
pub fn to_agency(
    store: &mut Store,
    to: ToAgency<'_>,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> std::result::Result<(ExportSummary, AgencyPublic), ExportError> {
    let case = store.resolve_case(to.case)?;
    // pin_agency refuses other keys under a pinned agency id; a list older than one held does
    // not matter for sending.
    if let Err(e) = profile::pin_agency(store, to.agency) {
        if e.reason != Reason::RevocationRollback {
            return Err(e.into());
        }
    }
    let (public, _) = to.agency.verify()?;
    let agency = profile::pinned(store, public.agency_id)?.unwrap_or(public);
    let cred_doc = match credentials::usable(store, &agency) {
        Ok((_, doc)) => doc,
        Err(Unusable::Trust(e)) => return Err(e.into()),
        Err(why) => return Err(ExportError::Credential { agency: Box::new(agency), why }),
    };
    // The content's total, each object once.
    let sizes: BTreeMap<String, u64> = store.case(case)?.evidence.iter().map(|e| (e.sha256.clone(), e.size)).collect();
    let total = sizes.values().fold(0u64, |a, b| a.saturating_add(*b));
    let opts = ExportOptions {
        case,
        since: to.since,
        agency: &agency,
        credential: &cred_doc,
        seal: to.seal,
        own_only: false,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    let summary = bundle::export(store, &opts, out, &mut |n: u64| progress(n, total))?;
    record_handover(store, case, &summary, &agency.name)?;
    Ok((summary, agency))
}

/// A bundle file written by hand is a transfer of what it carries: police staff record custody
/// `transferred` for each item whose content it carries and one access entry
/// (`bundle_exported`) naming them, once the file is complete. A volunteer's file carries a
/// submission, whose custody `submitted` already says so (and the agency takes nothing else
/// from a volunteer). Sync's own uploads never come here: they record nothing, so a sync does
/// not make new events that need another sync.
fn record_handover(store: &mut Store, case: Uuid, summary: &ExportSummary, agency: &str) -> casebridge_core::Result<()> {
    if !crate::access::is_police_staff(store) {
        return Ok(());
    }
    let reason = format!("bundle {} for {agency}", summary.bundle_id);
    store.record_transfer(case, &summary.items, "bundle_exported", &reason, true)
}
