//! Evidence items named as people name them (an id or unique id prefix; a case by id, prefix or
//! agency reference): list, show, export, verify, custody. Police staff's views and exports
//! are recorded in the case's access log before anything is shown or written.
//!
//! Progress callbacks see `(done, total)` bytes and may return false to cancel.

use std::path::Path;

use casebridge_core::{CustodyView, Error, EvidenceView, Exported, Store};

use crate::access::log_access;
use crate::error::{AppError, ErrorCode, Result};

/// A case's evidence, oldest first; police staff's view is recorded: one access entry naming
/// the items shown.
pub fn list(store: &mut Store, case: &str) -> Result<Vec<EvidenceView>> {
    let case = store.resolve_case(case)?;
    let items = store.list_evidence(case)?;
    crate::access::log_view(store, case, items.iter().map(|e| e.id).collect(), "listed_evidence")?;
    Ok(items)
}

/// One item; police staff's view is recorded (with `reason`) in its case's access log first.
pub fn show(store: &mut Store, id: &str, reason: Option<&str>) -> Result<EvidenceView> {
    let id = store.resolve_evidence(id)?;
    let e = store.evidence(id)?;
    log_access(store, e.case_id, Some(id), "viewed", reason)?;
    Ok(e)
}

/// Writes an item's original bytes to the new file `out` (never overwrites), re-checking its
/// hash; custody `exported` is recorded, and police staff's export in the access log.
pub fn export(
    store: &mut Store,
    id: &str,
    out: &Path,
    reason: Option<&str>,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<Exported> {
    let id = store.resolve_evidence(id)?;
    let e = store.evidence(id)?;
    let exported = store.export_evidence(id, out, reason.map(str::to_string), &mut |n: u64| progress(n, e.size))?;
    log_access(store, e.case_id, Some(id), "exported", reason)?;
    Ok(exported)
}

/// Re-hashes an item's content and records custody `verified`; returns the item. Content
/// that fails its hash or its authentication fails with `corruption`, naming the item.
pub fn verify(store: &mut Store, id: &str, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<EvidenceView> {
    let id = store.resolve_evidence(id)?;
    let e = store.evidence(id)?;
    store.verify_evidence(id, &mut |n: u64| progress(n, e.size)).map_err(|err| damaged(id, err))?;
    Ok(e)
}

/// Content that fails its hash or its authentication is damage to this item (the core's
/// hash-mismatch text speaks of a partial output, which verifying has none of).
fn damaged(id: uuid::Uuid, e: Error) -> AppError {
    let what = match e {
        Error::HashMismatch => "its content does not match its recorded SHA-256".to_string(),
        Error::Crypto => "its content fails authentication".to_string(),
        Error::Corruption { what } => what,
        other => return other.into(),
    };
    AppError::new(ErrorCode::Corruption, format!("evidence {id} is damaged: {what}"))
}

/// An item's custody trail, oldest first; police staff's view is recorded in its case's
/// access log.
pub fn custody(store: &mut Store, id: &str) -> Result<Vec<CustodyView>> {
    let id = store.resolve_evidence(id)?;
    let trail = store.custody(id)?;
    let case = store.evidence(id)?.case_id;
    log_access(store, case, Some(id), "viewed_custody", None)?;
    Ok(trail)
}
