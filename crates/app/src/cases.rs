//! Cases, notes and evidence (investigators): the use cases over an open [`Store`].

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{CaseDetailOf, CaseEdit, CaseFilter, NewCase, ReviewState, Store, SubmissionView};
use uuid::Uuid;

use crate::access::log_access;
use crate::error::{AppError, Result};
use crate::views::{Act, CaseMember, CaseSort, CaseStatus, CaseSummary, CaseView, CustodyView, EvidenceItem, Preview, Thumbnail};

/// Largest preview the UI may ask for: the content travels base64 in one IPC message.
pub const MAX_PREVIEW_BYTES: u64 = 64 * 1024 * 1024;

/// Parses an id the UI sends.
pub fn parse_id(field: &str, s: &str) -> Result<Uuid> {
    Uuid::parse_str(s.trim()).map_err(|_| AppError::invalid(field, format!("'{s}' is not an id")))
}

/// Parses the case list's status filter as the UI sends it: blank is no filter.
pub fn parse_status(status: Option<&str>) -> Result<Option<CaseStatus>> {
    Ok(status.map(str::trim).filter(|s| !s.is_empty()).map(str::parse).transpose()?)
}

/// The case list: optionally only cases with an item matching `search` (the full-text
/// engine over titles, summaries, references, tags, notes, evidence, briefs and submissions;
/// an index is built in memory for this call), only those with `status`, in the order `sort`
/// (with a search, [`CaseSort::Updated`] is the engine's ranking, best first).
/// Police staff's view is recorded: one access entry naming the cases shown.
pub fn list(store: &mut Store, search: Option<&str>, status: Option<CaseStatus>, sort: CaseSort) -> Result<Vec<CaseSummary>> {
    list_with(store, None, search, status, sort)
}

/// [`list`] searching with `index` (kept up to date with `store` by the caller), or with one
/// built for this call when `index` is None.
pub fn list_with(
    store: &mut Store,
    index: Option<&crate::search::SearchIndex>,
    search: Option<&str>,
    status: Option<CaseStatus>,
    sort: CaseSort,
) -> Result<Vec<CaseSummary>> {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let mut cases: Vec<CaseSummary> = match (search, index) {
        (None, _) => matching(store, &CaseFilter { status, search: None })?,
        (Some(text), Some(index)) => crate::search::cases(store, index, text, status)?.into_iter().map(|h| h.case).collect(),
        (Some(text), None) => crate::search::cases_once(store, text, status)?.into_iter().map(|h| h.case).collect(),
    };
    match sort {
        // The store's own order (most recently changed first), or the search's ranking.
        CaseSort::Updated => {}
        CaseSort::Title => cases.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()).then(a.id.cmp(&b.id))),
        // Case ids are UUIDv7: they sort by creation time.
        CaseSort::Created => cases.sort_by_key(|c| std::cmp::Reverse(c.id)),
    }
    crate::access::log_case_list(store, cases.iter().map(|c| c.id).collect())?;
    Ok(cases)
}

/// Opens a case; returns its id.
pub fn create(store: &mut Store, title: &str, summary: Option<String>, reference: Option<String>, tags: Vec<String>) -> Result<Uuid> {
    Ok(store.create_case(NewCase { title: title.to_string(), summary, reference, tags, category: None })?)
}

/// Opens a case with every field of [`NewCase`] (its category too); returns its id.
pub fn create_case(store: &mut Store, new: NewCase) -> Result<Uuid> {
    Ok(store.create_case(new)?)
}

/// A case with its evidence and notes; police staff's view is recorded in its access log.
pub fn get(store: &mut Store, id: &str) -> Result<CaseView> {
    let id = parse_id("case id", id)?;
    let detail = store.case(id)?;
    log_access(store, id, None, "viewed", None)?;
    let submissions: Vec<SubmissionView> = store.submissions()?.into_iter().filter(|s| s.case_id == id).collect();
    let states = review_states(&submissions);
    let case = detail.map_evidence(|items| with_review_states(items, &states));
    let acted_by = acted_by(store, &case, &submissions);
    Ok(CaseView { case, acted_by })
}

/// Replaces a case's tags (the store's `case_edited` event with `tags`; an empty list removes
/// them all).
pub fn set_tags(store: &mut Store, case_id: &str, tags: Vec<String>) -> Result<()> {
    let case = parse_id("case id", case_id)?;
    Ok(store.edit_case(case, CaseEdit { tags: Some(tags), ..CaseEdit::default() })?)
}

/// Sets a case's status (the store's `case_edited` event).
pub fn set_status(store: &mut Store, case_id: &str, status: CaseStatus) -> Result<()> {
    let case = parse_id("case id", case_id)?;
    Ok(store.edit_case(case, CaseEdit { status: Some(status), ..CaseEdit::default() })?)
}

/// Cases as the store lists them, most recently changed first: those with `filter`'s status
/// and text. Police staff's view is recorded: one access entry naming the cases shown.
pub fn matching(store: &mut Store, filter: &CaseFilter) -> Result<Vec<casebridge_core::CaseSummary>> {
    let cases = store.list_cases(filter)?;
    crate::access::log_case_list(store, cases.iter().map(|c| c.id).collect())?;
    Ok(cases)
}

/// A case by id, unique id prefix or agency reference, with its evidence and notes as the
/// store holds them; police staff's view is recorded (with `reason`) in its access log.
pub fn show(store: &mut Store, case: &str, reason: Option<&str>) -> Result<casebridge_core::CaseDetail> {
    let id = store.resolve_case(case)?;
    let detail = store.case(id)?;
    log_access(store, id, None, "viewed", reason)?;
    Ok(detail)
}

/// Changes a case (by id, unique id prefix or agency reference); returns its id.
pub fn edit(store: &mut Store, case: &str, edit: CaseEdit) -> Result<Uuid> {
    let id = store.resolve_case(case)?;
    store.edit_case(id, edit)?;
    Ok(id)
}

/// Adds `member` (a member id) to a case's team (case by id, unique id prefix or agency
/// reference); returns the case id. Only a supervisor or the case's lead may; the agency holds
/// the sender to the same rule at the next sync (`team_change_forbidden`).
pub fn assign(store: &mut Store, case: &str, member: &str) -> Result<Uuid> {
    let id = store.resolve_case(case)?;
    store.assign(id, parse_id("member id", member)?)?;
    Ok(id)
}

/// Removes `member` from a case's team (never its lead); the same rule as [`assign`].
pub fn unassign(store: &mut Store, case: &str, member: &str) -> Result<Uuid> {
    let id = store.resolve_case(case)?;
    store.unassign(id, parse_id("member id", member)?)?;
    Ok(id)
}

/// Puts a case under legal hold (supervisors only); returns the case id.
pub fn hold(store: &mut Store, case: &str, reason: &str) -> Result<Uuid> {
    let id = store.resolve_case(case)?;
    store.place_hold(id, reason)?;
    Ok(id)
}

/// Releases a case's legal hold (supervisors only); returns the case id.
pub fn release(store: &mut Store, case: &str, reason: &str) -> Result<Uuid> {
    let id = store.resolve_case(case)?;
    store.release_hold(id, reason)?;
    Ok(id)
}

/// Adds a note to a case (by id, unique id prefix or agency reference); returns its id.
pub fn note(store: &mut Store, case: &str, text: &str) -> Result<Uuid> {
    let case = store.resolve_case(case)?;
    Ok(store.add_note(case, text)?)
}

/// Amends a note (case by id, unique id prefix or agency reference; note by id or unique id
/// prefix among the case's notes): `text` replaces its current text, the original stays in
/// its history. Only the note's author may. Returns (case id, note id).
pub fn amend_note(store: &mut Store, case: &str, note: &str, text: &str, reason: Option<String>) -> Result<(Uuid, Uuid)> {
    let case = store.resolve_case(case)?;
    let q = note.trim().to_ascii_lowercase();
    let ids: Vec<Uuid> = store.case(case)?.notes.iter().map(|n| n.id).collect();
    let found: Vec<Uuid> = match Uuid::parse_str(&q) {
        Ok(id) => ids.into_iter().filter(|n| *n == id).collect(),
        Err(_) if q.len() >= 4 => ids.into_iter().filter(|n| n.to_string().starts_with(&q)).collect(),
        Err(_) => Vec::new(),
    };
    let note = match found.as_slice() {
        [one] => *one,
        [] => return Err(AppError::invalid("note", format!("'{}' is not a note of this case", note.trim()))),
        many => return Err(AppError::invalid("note", format!("'{}' matches {} notes: give more of the id", note.trim(), many.len()))),
    };
    store.amend_note(case, note, text, reason)?;
    Ok((case, note))
}

/// Amends a note (the desktop: exact ids).
pub fn note_amend(store: &mut Store, case_id: &str, note_id: &str, text: &str, reason: Option<String>) -> Result<()> {
    let case = parse_id("case id", case_id)?;
    let note = parse_id("note id", note_id)?;
    Ok(store.amend_note(case, note, text, reason)?)
}

/// Each submitted item's review state, by evidence id.
fn review_states(submissions: &[SubmissionView]) -> HashMap<Uuid, ReviewState> {
    submissions.iter().flat_map(|s| s.items.iter().map(|i| (i.evidence_id, i.state))).collect()
}

/// The store's items with their review states (none for an item no submission carried).
fn with_review_states(items: Vec<casebridge_core::EvidenceView>, states: &HashMap<Uuid, ReviewState>) -> Vec<EvidenceItem> {
    items.into_iter().map(|evidence| EvidenceItem { review_state: states.get(&evidence.id).copied(), evidence }).collect()
}

/// Who acted on a case, first action first: who opened it, wrote notes, added or submitted
/// evidence, and decided on submissions.
fn acted_by(store: &Store, case: &CaseDetailOf<EvidenceItem>, submissions: &[SubmissionView]) -> Vec<CaseMember> {
    let mut acts: Vec<(Uuid, Option<String>, Act)> = Vec::new();
    if let Some(by) = case.created_by {
        acts.push((by, None, Act::Opened));
    }
    for n in &case.notes {
        acts.push((n.author, n.author_name.clone(), Act::Noted));
    }
    for e in &case.evidence {
        let act = if e.review_state.is_some() { Act::Submitted } else { Act::AddedEvidence };
        acts.push((e.evidence.contributor, e.evidence.contributor_name.clone(), act));
    }
    for d in submissions.iter().flat_map(|s| s.decisions.iter()) {
        acts.push((d.by, None, Act::Reviewed));
    }
    let mut team: Vec<CaseMember> = Vec::new();
    for (member_id, name, act) in acts {
        let i = match team.iter().position(|m| m.member_id == member_id) {
            Some(i) => i,
            None => {
                team.push(CaseMember { member_id, name: None, acted: Vec::new() });
                team.len() - 1
            }
        };
        let m = &mut team[i];
        if m.name.is_none() {
            m.name = name;
        }
        if !m.acted.contains(&act) {
            m.acted.push(act);
        }
    }
    for m in &mut team {
        if m.name.is_none() {
            m.name = if m.member_id == store.whoami().member_id {
                Some(store.whoami().name.clone())
            } else {
                store.member(m.member_id).ok().flatten().map(|r| r.name)
            };
        }
    }
    team
}

/// Adds a note to a case; returns its id.
pub fn add_note(store: &mut Store, case_id: &str, text: &str) -> Result<Uuid> {
    let case = parse_id("case id", case_id)?;
    Ok(store.add_note(case, text)?)
}

/// A case's evidence, oldest first.
/// Police staff's view is recorded: one access entry naming the items shown.
pub fn evidence_list(store: &mut Store, case_id: &str) -> Result<Vec<EvidenceItem>> {
    let case = parse_id("case id", case_id)?;
    let items = store.list_evidence(case)?;
    crate::access::log_view(store, case, items.iter().map(|e| e.id).collect(), "listed_evidence")?;
    let submissions: Vec<SubmissionView> = store.submissions()?.into_iter().filter(|s| s.case_id == case).collect();
    Ok(with_review_states(items, &review_states(&submissions)))
}

/// An item's custody trail.
/// Police staff's view is recorded in the item's case's access log.
pub fn custody(store: &mut Store, id: &str) -> Result<Vec<CustodyView>> {
    let id = parse_id("evidence id", id)?;
    let case = store.evidence(id)?.case_id;
    log_access(store, case, Some(id), "viewed_custody", None)?;
    // The desktop contract does not carry what the agency observed (`observed`, custody
    // `received` only); the court report shows it.
    Ok(store.custody(id)?.into_iter().map(|c| CustodyView { observed: None, ..c }).collect())
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

/// Largest image a thumbnail is made from: decoding is the cost, and it runs per row.
pub const MAX_THUMBNAIL_SOURCE_BYTES: u64 = 16 * 1024 * 1024;

/// Largest image dimension decoded for a thumbnail (a decompression bomb is refused).
const MAX_THUMBNAIL_SOURCE_PX: u32 = 12_000;

/// A small downscaled copy of an image item (at most `max_px` on its longer side, clamped to
/// 16..=512), as a `data:` URL. JPEG and PNG items up to [`MAX_THUMBNAIL_SOURCE_BYTES`] only;
/// anything else gets none, with the reason. Police staff's view is recorded in the case's
/// access log (reason `thumbnail`) before the content is read.
pub fn thumbnail(store: &mut Store, id: &str, max_px: u32) -> Result<Thumbnail> {
    let id = parse_id("evidence id", id)?;
    let e = store.evidence(id)?;
    let none = |media_type: String, reason: &str| Ok(Thumbnail { media_type, data_url: None, reason: Some(reason.to_string()) });
    let format = match e.media_type.as_str() {
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/png" => image::ImageFormat::Png,
        _ => return none(e.media_type, "no thumbnail for this kind of file"),
    };
    if e.size > MAX_THUMBNAIL_SOURCE_BYTES {
        return none(e.media_type, "too large for a thumbnail: open it to view");
    }
    log_access(store, e.case_id, Some(id), "viewed", Some("thumbnail"))?;
    let mut buf = Vec::with_capacity(usize::try_from(e.size).unwrap_or(0));
    store.read_content(&e.sha256, e.size, &mut buf, &mut |_| true)?;
    match downscale(&buf, format, max_px.clamp(16, 512)) {
        Some((mime, bytes)) => {
            Ok(Thumbnail { media_type: e.media_type, data_url: Some(format!("data:{mime};base64,{}", B64.encode(bytes))), reason: None })
        }
        None => none(e.media_type, "the image could not be decoded"),
    }
}

/// Decodes `bytes` as `format` (within size limits) and encodes a copy at most `max_px` on its
/// longer side: JPEG, or PNG when the image has transparency. None when it does not decode.
fn downscale(bytes: &[u8], format: image::ImageFormat, max_px: u32) -> Option<(&'static str, Vec<u8>)> {
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_THUMBNAIL_SOURCE_PX);
    limits.max_image_height = Some(MAX_THUMBNAIL_SOURCE_PX);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().ok()?;
    let small = img.thumbnail(max_px, max_px);
    let mut out = Vec::new();
    if small.color().has_alpha() {
        small.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).ok()?;
        Some(("image/png", out))
    } else {
        let rgb = small.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&rgb).ok()?;
        Some(("image/jpeg", out))
    }
}
