//! Who may see what at the endpoint: the feed filter and the content-access rule. The store
//! offers the records and the journal as they are ([`Store::records`], [`Store::events_after`]);
//! the policy over them is the endpoint's and lives here.
//!
//! - Investigators and supervisors see every case event and may fetch any content held.
//! - A volunteer sees the briefs addressed to them (and their withdrawal), and the review
//!   decisions and the `received`/`accepted` custody of their own submissions, and may fetch
//!   only the content of their own submissions.
//! - Nobody is sent a profile's own bookkeeping ([`casebridge_core::ProfileEvent`]) or their
//!   own events back.
//!
//! Every rule reads through `&Store`: the endpoint runs them under its store's read lock.

use casebridge_core::{CustodyAction, EventKind, EventPage, Result, Role, SignedEvent, Store};
use uuid::Uuid;

/// Whether `member` (with `role`) may see `ev` (see the module doc).
pub(crate) fn visible_to(store: &Store, ev: &SignedEvent, member: Uuid, role: Role) -> Result<bool> {
    let b = ev.body();
    if b.kind.is_local() || b.author == member {
        return Ok(false);
    }
    if role.is_staff() {
        return Ok(true);
    }
    let records = store.records();
    Ok(match &b.kind {
        EventKind::BriefPublished { brief_id, .. } | EventKind::BriefWithdrawn { brief_id, .. } => {
            records.brief(*brief_id)?.is_some_and(|r| r.is_addressed_to(member))
        }
        EventKind::ReviewDecided { submission_id, .. } => records.submission(*submission_id)?.is_some_and(|s| s.submitter == member),
        EventKind::CustodyRecorded { evidence_id, action: CustodyAction::Received | CustodyAction::Accepted, .. } => {
            records.submission_of(*evidence_id)?.is_some_and(|s| s.submitter == member)
        }
        _ => false,
    })
}

/// The feed for `member`: the events after journal record `after` that they may see
/// ([`visible_to`]), reading at most `limit` records. The cursor is a record index.
pub(crate) fn feed(store: &Store, member: Uuid, role: Role, after: u64, limit: usize) -> Result<EventPage> {
    let mut page = store.events_after(after, limit)?;
    let mut visible = Vec::with_capacity(page.events.len());
    for ev in page.events {
        if visible_to(store, &ev, member, role)? {
            visible.push(ev);
        }
    }
    page.events = visible;
    Ok(page)
}

/// Whether `member` may fetch the content with this SHA-256, by the records alone: staff any
/// item's, a volunteer only the items of their own submissions. The size of the item, without
/// asking whether the content is held: the endpoint asks that next, without holding its
/// store ([`casebridge_core::ContentImporter::content_held`]: in a cluster a request to the
/// bucket), and last, so that an object store that does not answer (an error: 503, never "no
/// such content", 404) tells nothing to whom the content is not available.
pub(crate) fn content_allowed(store: &Store, sha256: &str, member: Uuid, role: Role) -> Result<Option<u64>> {
    let records = store.records();
    let Some(e) = records.evidence_with_content(sha256)? else {
        return Ok(None);
    };
    // The same content may have come with several items: any of the member's own counts.
    let allowed = role.is_staff()
        || records
            .submissions_by(member)?
            .into_iter()
            .flat_map(|s| s.items)
            .any(|i| matches!(records.evidence(i), Ok(Some(r)) if r.sha256 == e.sha256));
    Ok(allowed.then_some(e.size))
}

#[cfg(test)]
mod tests;
