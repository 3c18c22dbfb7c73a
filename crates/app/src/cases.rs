//! Cases, notes and evidence (investigators): the use cases over an open [`Store`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{CaseFilter, NewCase, Role, Store};
use uuid::Uuid;

use crate::error::{AppError, Result};
use crate::views::{CaseDetail, CaseSort, CaseSummary, CustodyView, EvidenceView, Preview};

/// Largest preview the UI may ask for: the content travels base64 in one IPC message.
pub const MAX_PREVIEW_BYTES: u64 = 64 * 1024 * 1024;

/// Parses an id the UI sends.
pub fn parse_id(field: &str, s: &str) -> Result<Uuid> {
    Uuid::parse_str(s.trim()).map_err(|_| AppError::invalid(field, format!("'{s}' is not an id")))
}

/// True for the roles whose accesses are logged: investigators and supervisors.
pub fn is_police_staff(store: &Store) -> bool {
    matches!(store.whoami().role, Role::Investigator | Role::Supervisor)
}

/// Records an access by police staff (`viewed`, `exported`, ...) to a case or one of its items
/// (LED 2016/680 Art. 25); does nothing for a volunteer. Called before material is shown, so
/// nothing is shown unlogged.
pub fn log_access(store: &mut Store, case: Uuid, evidence: Option<Uuid>, action: &str, reason: Option<&str>) -> Result<()> {
    if is_police_staff(store) {
        store.record_access(case, evidence, action, reason.map(str::to_string))?;
    }
    Ok(())
}

/// The case list: optionally only cases whose title, summary, reference or tags contain
/// `search` (any case), only those with `status`, in the order `sort`.
pub fn list(store: &Store, search: Option<&str>, status: Option<&str>, sort: CaseSort) -> Result<Vec<CaseSummary>> {
    let status = status.map(str::trim).filter(|s| !s.is_empty()).map(str::parse).transpose()?;
    let search = search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let mut cases: Vec<CaseSummary> = store.list_cases(&CaseFilter { status, search })?.into_iter().map(Into::into).collect();
    match sort {
        // The store's own order: most recently changed first.
        CaseSort::Updated => {}
        CaseSort::Title => cases.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()).then(a.id.cmp(&b.id))),
        // Case ids are UUIDv7: they sort by creation time.
        CaseSort::Created => cases.sort_by_key(|c| std::cmp::Reverse(c.id)),
    }
    Ok(cases)
}

/// Opens a case; returns its id.
pub fn create(store: &mut Store, title: &str, summary: Option<String>, reference: Option<String>, tags: Vec<String>) -> Result<Uuid> {
    Ok(store.create_case(NewCase { title: title.to_string(), summary, reference, tags })?)
}

/// A case with its evidence and notes; police staff's view is recorded in its access log.
pub fn get(store: &mut Store, id: &str) -> Result<CaseDetail> {
    let id = parse_id("case id", id)?;
    let detail = store.case(id)?;
    log_access(store, id, None, "viewed", None)?;
    Ok(detail.into())
}

/// Adds a note to a case; returns its id.
pub fn add_note(store: &mut Store, case_id: &str, text: &str) -> Result<Uuid> {
    let case = parse_id("case id", case_id)?;
    Ok(store.add_note(case, text)?)
}

/// A case's evidence, oldest first.
pub fn evidence_list(store: &Store, case_id: &str) -> Result<Vec<EvidenceView>> {
    let case = parse_id("case id", case_id)?;
    Ok(store.list_evidence(case)?.into_iter().map(Into::into).collect())
}

/// An item's custody trail.
pub fn custody(store: &Store, id: &str) -> Result<Vec<CustodyView>> {
    let id = parse_id("evidence id", id)?;
    Ok(store.custody(id)?.into_iter().map(Into::into).collect())
}

/// An item's content for display, when it is at most `max_bytes` long (and at most
/// [`MAX_PREVIEW_BYTES`]); read authenticated and re-hashed. Police staff's view is recorded
/// in the case's access log before the content is read.
pub fn preview(store: &mut Store, id: &str, max_bytes: u64) -> Result<Preview> {
    let id = parse_id("evidence id", id)?;
    let e = store.evidence(id)?;
    let limit = max_bytes.min(MAX_PREVIEW_BYTES);
    if e.size > limit {
        return Ok(Preview { media_type: e.media_type, data_base64: None, too_large: true });
    }
    log_access(store, e.case_id, Some(id), "viewed", None)?;
    let mut buf = Vec::with_capacity(usize::try_from(e.size).unwrap_or(0));
    store.read_content(&e.sha256, e.size, &mut buf, &mut |_| true)?;
    Ok(Preview { media_type: e.media_type, data_base64: Some(B64.encode(&buf)), too_large: false })
}
