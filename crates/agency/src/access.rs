//! Who may see what at the endpoint: the feed filter and the content-access rule. The store
//! offers the records and the journal as they are ([`Store::records`], [`Store::events_after`]);
//! the policy over them is the endpoint's and lives here.
//!
//! - Supervisors see every case event and may fetch any content held.
//! - An investigator sees the events of the cases whose team they are on, as the agency holds
//!   the team now (issue 16: need to know), and may fetch the content of those cases' items. A
//!   member assigned to a team is sent the case's earlier events with their assignment; a
//!   member removed is sent their removal and nothing of the case after it.
//! - A volunteer is told of the briefs addressed to them (and their withdrawal), and of the
//!   review decisions and the `received`/`accepted` custody of their own submissions, and may
//!   fetch only the content of their own submissions. They are told by notices the agency
//!   signs ([`casebridge_trust::notice_of`]), never sent the events: an event names its
//!   author (an investigator's member id, key and device) and a brief its audience (other
//!   volunteers' member ids), which a volunteer never learns (issue 12).
//! - Tombstones (the agency's signed `tombstone_stored` records, issue 16) go to whoever may see
//!   the item: supervisors, the case's team, and the volunteer whose submission brought it.
//! - Nobody is sent a profile's own bookkeeping ([`casebridge_core::ProfileEvent`]) or their
//!   own events back.
//!
//! Every rule reads through `&Store`: the endpoint runs them under its store's read lock.

use casebridge_core::{CustodyAction, EventKind, Notice, ProfileEvent, Result, Role, SignedEvent, Store, Tombstone};
use uuid::Uuid;

/// Whether `member` (with `role`) may see `ev` (see the module doc).
pub(crate) fn visible_to(store: &Store, ev: &SignedEvent, member: Uuid, role: Role) -> Result<bool> {
    let b = ev.body();
    if b.kind.is_local() || b.author == member {
        return Ok(false);
    }
    if role == Role::Supervisor {
        return Ok(true);
    }
    let records = store.records();
    if role.is_staff() {
        return match &b.kind {
            // Their own place on a team: a removed member learns of it.
            EventKind::TeamAssigned { member_id, .. } | EventKind::TeamUnassigned { member_id, .. } if *member_id == member => Ok(true),
            kind => on_team_of(store, kind, member),
        };
    }
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

/// Whether `member` (with `role`) is sent tombstone `t`: a supervisor always, an investigator
/// on the case's team, a volunteer for an item of their own submission.
pub(crate) fn tombstone_visible_to(store: &Store, t: &Tombstone, member: Uuid, role: Role) -> Result<bool> {
    let records = store.records();
    Ok(match role {
        Role::Supervisor => true,
        r if r.is_staff() => records.case(t.case_id)?.is_some_and(|c| c.on_team(member)),
        _ => records.submission_of(t.evidence_id)?.is_some_and(|s| s.submitter == member),
    })
}

/// Whether `member` is on the team of the case `kind` belongs to, as held now. An event of no
/// case is not case data; one of a case the agency does not hold is for supervisors only.
fn on_team_of(store: &Store, kind: &EventKind, member: Uuid) -> Result<bool> {
    let records = store.records();
    match records.case_of(kind)? {
        None => Ok(true),
        Some(case) => Ok(records.case(case)?.is_some_and(|c| c.on_team(member))),
    }
}

/// A page of a member's feed: events for staff, notices (to be signed by the agency) for a
/// volunteer.
#[derive(Debug)]
pub(crate) struct FeedPage {
    /// The events the member may see, oldest first (staff only; a volunteer's is empty).
    pub events: Vec<SignedEvent>,
    /// What the agency tells a volunteer of the events it may see, oldest first.
    pub notices: Vec<Notice>,
    /// The agency's signed tombstones (base64) of items the member may see, oldest first.
    pub tombstones: Vec<String>,
    /// Record index to continue after.
    pub cursor: u64,
    /// More records follow.
    pub more: bool,
}

/// The feed for `member` of agency `agency_id`: what they may see ([`visible_to`]) of the
/// events after journal record `after`, reading at most `limit` records; for a volunteer as
/// the agency's notices instead of the events. The cursor is a record index.
///
/// An investigator's assignment to a team that they are still on comes after the case's
/// earlier events they may now see (their cursor went past those before they were on the
/// team); the member's store skips what it already holds.
pub(crate) fn feed(store: &Store, agency_id: Uuid, member: Uuid, role: Role, after: u64, limit: usize) -> Result<FeedPage> {
    let page = store.events_after(after, limit)?;
    let (mut events, mut notices, mut tombstones) = (Vec::new(), Vec::new(), Vec::new());
    for (at, ev) in (after..).zip(page.events) {
        if let EventKind::Profile(ProfileEvent::TombstoneStored { tombstone, document }) = &ev.body().kind {
            if tombstone_visible_to(store, tombstone, member, role)? {
                tombstones.push(document.clone());
            }
            continue;
        }
        if !visible_to(store, &ev, member, role)? {
            continue;
        }
        if !role.is_staff() {
            notices.extend(casebridge_trust::notice_of(agency_id, member, &ev));
            continue;
        }
        if let EventKind::TeamAssigned { case_id, member_id } = &ev.body().kind {
            if *member_id == member && role != Role::Supervisor && on_team_of(store, &ev.body().kind, member)? {
                events.extend(case_before(store, *case_id, at, member)?);
            }
        }
        events.push(ev);
    }
    // An item deleted since it was added: its tombstone comes with its `evidence_added` (the
    // content is gone, so the member's device must not ask for it), and again when the cursor
    // reaches the tombstone itself (applied once).
    for ev in &events {
        if let EventKind::EvidenceAdded { evidence_id, .. } = &ev.body().kind {
            if let Some(t) = store.tombstone(*evidence_id)? {
                if !tombstones.contains(&t.document) {
                    tombstones.push(t.document);
                }
            }
        }
    }
    Ok(FeedPage { events, notices, tombstones, cursor: page.cursor, more: page.more })
}

/// The events of `case` in the journal records before `before`, except `member`'s own and
/// local ones: what an assignment brings a new team member. Reads the journal up to there.
fn case_before(store: &Store, case: Uuid, before: u64, member: Uuid) -> Result<Vec<SignedEvent>> {
    const PAGE: usize = 1024;
    let records = store.records();
    let mut out = Vec::new();
    let mut at = 0;
    while at < before {
        let page = store.events_after(at, PAGE.min(usize::try_from(before - at).unwrap_or(PAGE)))?;
        for ev in page.events {
            let b = ev.body();
            if !b.kind.is_local() && b.author != member && records.case_of(&b.kind)? == Some(case) {
                out.push(ev);
            }
        }
        if page.cursor <= at {
            break;
        }
        at = page.cursor;
    }
    Ok(out)
}

/// Whether `member` may fetch the content with this SHA-256, by the records alone: a
/// supervisor any item's, an investigator an item's of a case whose team they are on, a
/// volunteer only the items of their own submissions. The size of the item, without
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
    let allowed = role == Role::Supervisor
        || (role.is_staff() && records.case(e.case_id)?.is_some_and(|c| c.on_team(member)))
        || (!role.is_staff()
            && records
                .submissions_by(member)?
                .into_iter()
                .flat_map(|s| s.items)
                .any(|i| matches!(records.evidence(i), Ok(Some(r)) if r.sha256 == e.sha256)));
    Ok(allowed.then_some(e.size))
}

#[cfg(test)]
mod tests;
