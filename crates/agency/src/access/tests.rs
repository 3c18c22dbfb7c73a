//! Briefs, submissions, reviews and the feed's access rules, across real stores: an
//! investigator, two volunteers and an agency-side store that relays events between them
//! under the endpoint's rules (moved here from crates/core/tests/briefs.rs with the rules).

use std::path::PathBuf;

use super::{content_allowed, feed};
use casebridge_core::{
    Area, CustodyAction, EventKind, KdfParams, NewBrief, NewCase, Passphrase, ProfileEvent, ReviewDecision, Role, SignedEvent, Store,
    SubmitOptions,
};
use uuid::Uuid;

const PASS: &str = "correct horse battery staple";

fn store(tmp: &tempfile::TempDir, name: &str, role: Role) -> Store {
    Store::create(&tmp.path().join(name), &Passphrase::new(PASS), name, role, KdfParams::INSECURE_FOR_TESTS).unwrap()
}

/// The agency id the relaying store's notices name.
const AGENCY: Uuid = Uuid::from_u128(0xa6e9c1);

/// Moves every event `to` may see from `from` into `to`, content first (as sync does); a
/// volunteer's notices are kept as they come (their signature is the endpoint's and the
/// client's concern: tests/attacks/notices.rs). Returns how many events or notices came.
fn relay(from: &mut Store, to: &mut Store, role: Role) -> usize {
    let me = to.whoami().member_id;
    let page = feed(from, AGENCY, me, role, 0, 100_000).unwrap();
    if !role.is_staff() {
        assert!(page.events.is_empty(), "a volunteer is sent no events");
        assert!(page.notices.iter().all(|n| n.to == me && n.agency_id == AGENCY));
        let n = page.notices.len();
        to.record_locals(page.notices.into_iter().map(|notice| ProfileEvent::NoticeStored { notice, document: String::new() }).collect())
            .unwrap();
        return n;
    }
    assert!(page.notices.is_empty(), "staff are sent the events, no notices");
    for ev in &page.events {
        if let EventKind::EvidenceAdded { object, .. } = &ev.body().kind {
            if !to.has_content(&object.sha256) {
                let mut buf = Vec::new();
                from.read_content(&object.sha256, object.size, &mut buf, &mut |_| true).unwrap();
                to.import_content(&mut buf.as_slice(), &object.sha256, object.size, &mut |_| true).unwrap();
            }
        }
    }
    to.import_events(&page.events, vec![]).unwrap();
    page.events.len()
}

/// Moves everything (a supervisor's view: every case, whatever its team).
fn all(from: &mut Store, to: &mut Store) {
    relay(from, to, Role::Supervisor);
}

#[test]
fn brief_submit_review_round_trip_with_access_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inv = store(&tmp, "inv", Role::Investigator);
    let mut agency = store(&tmp, "agency", Role::Supervisor);
    let mut vol = store(&tmp, "vol", Role::Volunteer);
    let mut other = store(&tmp, "other", Role::Volunteer);
    let (v_id, o_id) = (vol.whoami().member_id, other.whoami().member_id);

    let case = inv
        .create_case(NewCase {
            title: "Bike thefts".into(),
            summary: Some("internal: suspect is a neighbour".into()),
            ..Default::default()
        })
        .unwrap();
    inv.add_note(case, "internal note").unwrap();
    let area: Area = "52.52,13.405,500".parse().unwrap();
    let open = inv
        .publish_brief(NewBrief {
            case,
            title: "Footage wanted".into(),
            text: "Dashcams on Main St".into(),
            area: Some(area),
            ..Default::default()
        })
        .unwrap();
    let only_other = inv
        .publish_brief(NewBrief { case, title: "For other only".into(), text: "x".into(), audience: vec![o_id], ..Default::default() })
        .unwrap();
    all(&mut inv, &mut agency);

    // The volunteer sees the open brief only: no case, no note, no other brief.
    let n = relay(&mut agency, &mut vol, Role::Volunteer);
    assert_eq!(n, 1, "only the brief addressed to everyone reaches the volunteer");
    let briefs = vol.briefs(false).unwrap();
    assert_eq!(briefs.len(), 1);
    assert_eq!(briefs[0].id, open);
    assert_eq!(briefs[0].area, Some(area));
    assert!(vol.list_cases(&Default::default()).unwrap().is_empty(), "no internal case data reaches a volunteer");
    assert!(vol.brief(only_other).is_err());
    relay(&mut agency, &mut other, Role::Volunteer);
    assert_eq!(other.briefs(false).unwrap().len(), 2);

    // Submissions: volunteers only, to a brief held.
    let dir = tmp.path().join("files");
    std::fs::create_dir(&dir).unwrap();
    let files: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("p{i}.jpg"))).collect();
    for (i, f) in files.iter().enumerate() {
        std::fs::write(f, format!("photo {i}").repeat(100)).unwrap();
    }
    assert_eq!(inv.submit(open, &files, &SubmitOptions::default(), &mut |_| true).unwrap_err().code(), "not_allowed");
    let sub = vol
        .submit(open, &files, &SubmitOptions { description: Some("from my balcony".into()), ..Default::default() }, &mut |_| true)
        .unwrap();
    assert_eq!(sub.state.as_str(), "pending");
    assert_eq!(sub.items.len(), 2);
    let other_file = dir.join("other.jpg");
    std::fs::write(&other_file, b"another volunteer's photo").unwrap();
    let other_sub = other.submit(only_other, &[other_file], &SubmitOptions::default(), &mut |_| true).unwrap();

    // The volunteers' own events reach the agency (sync does this with bundles), then the investigator.
    for (src, id) in [(&mut vol, v_id), (&mut other, o_id)] {
        let evs: Vec<SignedEvent> = src.case_events(case, None).unwrap().into_iter().filter(|e| e.body().author == id).collect();
        for e in &evs {
            if let EventKind::EvidenceAdded { object, .. } = &e.body().kind {
                let mut buf = Vec::new();
                src.read_content(&object.sha256, object.size, &mut buf, &mut |_| true).unwrap();
                agency.import_content(&mut buf.as_slice(), &object.sha256, object.size, &mut |_| true).unwrap();
            }
        }
        agency.import_events(&evs, vec![]).unwrap();
    }
    assert_eq!(agency.submissions().unwrap().len(), 2, "agency holds both submissions");
    let items: Vec<(Uuid, String)> = sub.items.iter().map(|i| (i.evidence_id, i.sha256.clone())).collect();
    agency.record_received(&items).unwrap();
    // Custody "received" carries what the agency read from the content it holds (issue 12).
    let got = agency.custody(sub.items[0].evidence_id).unwrap();
    let received = got.iter().find(|c| c.action == casebridge_core::CustodyAction::Received).unwrap();
    let seen = received.observed.as_ref().expect("the agency's reading");
    assert_eq!((seen.media_type.as_str(), &seen.extracted), ("text/plain", &casebridge_core::Extracted::default()));
    all(&mut agency, &mut inv);
    assert_eq!(inv.submissions().unwrap().len(), 2);
    assert!(inv.evidence(sub.items[0].evidence_id).is_ok());

    // Content access: a supervisor anything held, an investigator their team's cases'; a
    // volunteer only their own.
    let sha = &sub.items[0].sha256;
    assert!(content_access(&agency, sha, v_id, Role::Volunteer).unwrap().is_some());
    assert_eq!(content_access(&agency, sha, o_id, Role::Volunteer).unwrap(), None);
    assert!(content_access(&agency, sha, Uuid::nil(), Role::Supervisor).unwrap().is_some());
    assert!(content_access(&agency, sha, inv.whoami().member_id, Role::Investigator).unwrap().is_some(), "the case's lead");
    assert_eq!(content_access(&agency, sha, Uuid::nil(), Role::Investigator).unwrap(), None, "an investigator off the team");
    assert!(content_access(&agency, "zz", v_id, Role::Volunteer).is_err());

    // Review: one item accepted, the other rejected with a reason.
    assert!(vol.review(sub.id, ReviewDecision::Accepted, &[], None).is_err());
    assert!(inv.review(sub.id, ReviewDecision::InfoRequested, &[], None).is_err(), "asking for info needs a reason");
    inv.review(sub.id, ReviewDecision::Accepted, &[sub.items[0].evidence_id], None).unwrap();
    let after = inv.review(sub.id, ReviewDecision::Rejected, &[sub.items[1].evidence_id], Some("blurred".into())).unwrap();
    assert_eq!(after.state.as_str(), "mixed");
    inv.review(other_sub.id, ReviewDecision::Rejected, &[], Some("not relevant".into())).unwrap();
    let custody: Vec<CustodyAction> = inv.custody(sub.items[0].evidence_id).unwrap().iter().map(|c| c.action).collect();
    assert_eq!(custody, vec![CustodyAction::Submitted, CustodyAction::Received, CustodyAction::Accepted]);
    all(&mut inv, &mut agency);

    // The volunteer sees both states and the reason, and nothing of the other volunteer.
    relay(&mut agency, &mut vol, Role::Volunteer);
    let mine = vol.submission(sub.id).unwrap();
    assert_eq!(mine.items[0].state.as_str(), "accepted");
    assert_eq!(mine.items[1].state.as_str(), "rejected");
    assert_eq!(mine.items[1].reason.as_deref(), Some("blurred"));
    assert_eq!(vol.submissions().unwrap().len(), 1, "never another volunteer's submissions");
    assert!(vol.submission(other_sub.id).is_err());
    assert_eq!(vol.custody(sub.items[0].evidence_id).unwrap().len(), 3);

    // Withdrawal reaches the volunteer and stops submissions.
    inv.withdraw_brief(open).unwrap();
    assert!(inv.withdraw_brief(open).is_err());
    all(&mut inv, &mut agency);
    relay(&mut agency, &mut vol, Role::Volunteer);
    assert!(vol.briefs(false).unwrap().is_empty());
    assert!(vol.submit(open, &files, &SubmitOptions::default(), &mut |_| true).is_err());
}

#[test]
fn feed_pages_and_cursor() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inv = store(&tmp, "inv", Role::Investigator);
    let case = inv.create_case(NewCase { title: "c".into(), ..Default::default() }).unwrap();
    for i in 0..25 {
        inv.add_note(case, &format!("n{i}")).unwrap();
    }
    let me = Uuid::nil();
    let mut cursor = 0;
    let mut seen = 0;
    loop {
        let page = feed(&inv, AGENCY, me, Role::Supervisor, cursor, 10).unwrap();
        seen += page.events.len();
        assert!(page.cursor > cursor);
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    // profile_created + case + 25 notes (the feed of another member: nil is not the author).
    assert_eq!(seen, 27);
    assert!(feed(&inv, AGENCY, me, Role::Supervisor, cursor, 10).unwrap().events.is_empty());
    assert_eq!(feed(&inv, AGENCY, me, Role::Supervisor, cursor + 1, 10).unwrap_err().code(), "invalid_input");
    // New events after the cursor appear on the next pull; a volunteer sees none of them.
    inv.add_note(case, "late").unwrap();
    assert_eq!(feed(&inv, AGENCY, me, Role::Supervisor, cursor, 10).unwrap().events.len(), 1);
    let page = feed(&inv, AGENCY, me, Role::Volunteer, 0, 1000).unwrap();
    assert!(page.events.is_empty() && page.notices.is_empty());
}

/// The case ids of the events `member` (an investigator) is served from `agency`.
fn cases_served(agency: &Store, member: Uuid, after: u64) -> Vec<Option<Uuid>> {
    let page = feed(agency, AGENCY, member, Role::Investigator, after, 100_000).unwrap();
    page.events.iter().map(|ev| agency.records().case_of(&ev.body().kind).unwrap()).collect()
}

/// Need to know (issue 16): an investigator off a case's team is served nothing of it; a
/// supervisor everything; a member assigned later is sent the case's earlier events with the
/// assignment, and a removed member is sent their removal and nothing after it.
#[test]
fn the_feed_serves_a_case_to_its_team_and_supervisors_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lead = store(&tmp, "lead", Role::Investigator);
    let mut agency = store(&tmp, "agency", Role::Supervisor);
    let mut other = store(&tmp, "other", Role::Investigator);
    let other_id = other.whoami().member_id;
    let case = lead.create_case(NewCase { title: "Internal: suspect named".into(), ..Default::default() }).unwrap();
    lead.add_note(case, "the suspect's address").unwrap();
    all(&mut lead, &mut agency);
    assert_eq!(agency.records().case(case).unwrap().unwrap().team, vec![lead.whoami().member_id], "the opener leads the team");

    // Off the team: nothing of the case (the lead's profile_created is no case's).
    let start = 0;
    assert!(
        cases_served(&agency, other_id, start).iter().all(|c| *c != Some(case)),
        "an investigator off the team gets nothing of the case"
    );
    assert_eq!(relay(&mut agency, &mut other, Role::Investigator), 2, "the lead's and the agency's profile_created only");
    assert!(other.list_cases(&Default::default()).unwrap().is_empty());
    // A supervisor gets all of it.
    assert_eq!(feed(&agency, AGENCY, Uuid::nil(), Role::Supervisor, 0, 100_000).unwrap().events.len(), 4);
    let cursor = agency.journal_records();

    // Only the lead (or a supervisor) may assign; then the new member gets the earlier events.
    assert_eq!(other.assign(case, other_id).unwrap_err().code(), "unknown_case", "other does not even hold the case");
    lead.assign(case, other_id).unwrap();
    assert_eq!(lead.assign(case, other_id).unwrap_err().code(), "invalid_input", "already on the team");
    all(&mut lead, &mut agency);
    let served = cases_served(&agency, other_id, cursor);
    assert_eq!(served, vec![Some(case), Some(case), Some(case)], "case_created and the note come with the assignment");
    relay_after(&mut agency, &mut other, cursor);
    assert_eq!(other.case(case).unwrap().notes.len(), 1);
    assert!(other.case(case).unwrap().on_team);
    // On the team, the member is not its lead: they may not change it.
    assert_eq!(other.unassign(case, lead.whoami().member_id).unwrap_err().code(), "not_allowed");

    // Removed: the removal is served, nothing of the case after it.
    let cursor = agency.journal_records();
    lead.unassign(case, other_id).unwrap();
    assert_eq!(lead.unassign(case, lead.whoami().member_id).unwrap_err().code(), "invalid_input", "the lead stays");
    lead.add_note(case, "after the removal").unwrap();
    all(&mut lead, &mut agency);
    let served = feed(&agency, AGENCY, other_id, Role::Investigator, cursor, 100_000).unwrap();
    let kinds: Vec<&str> = served.events.iter().map(|e| e.body().kind.name()).collect();
    assert_eq!(kinds, vec!["team_unassigned"], "a removed member learns of it and gets nothing new");
    relay_after(&mut agency, &mut other, cursor);
    assert!(!other.case(case).unwrap().on_team, "the removed member's device knows");
    assert_eq!(other.case(case).unwrap().notes.len(), 1);

    // Content follows the team.
    let photo = tmp.path().join("p.txt");
    std::fs::write(&photo, b"a witness statement").unwrap();
    let added = lead.add_evidence(case, &photo, &Default::default(), &mut |_| true).unwrap();
    all(&mut lead, &mut agency);
    assert!(content_access(&agency, &added.sha256, lead.whoami().member_id, Role::Investigator).unwrap().is_some());
    assert_eq!(content_access(&agency, &added.sha256, other_id, Role::Investigator).unwrap(), None, "removed: no content");
    assert!(content_access(&agency, &added.sha256, other_id, Role::Supervisor).unwrap().is_some());
    assert!(agency.check(false, &mut |_| {}).unwrap().problems.is_empty());
    assert!(other.check(false, &mut |_| {}).unwrap().problems.is_empty());
}

/// [`relay`] from journal record `after` on, as an investigator.
fn relay_after(from: &mut Store, to: &mut Store, after: u64) {
    let me = to.whoami().member_id;
    let page = feed(from, AGENCY, me, Role::Investigator, after, 100_000).unwrap();
    to.import_events(&page.events, vec![]).unwrap();
}

/// What the content route answers, by the records and then the objects (as the endpoint asks
/// them: the objects without the store's lock).
fn content_access(store: &Store, sha256: &str, member: Uuid, role: Role) -> casebridge_core::Result<Option<u64>> {
    let Some(size) = content_allowed(store, sha256, member, role)? else {
        return Ok(None);
    };
    Ok(store.content_importer().content_held(sha256)?.then_some(size))
}
