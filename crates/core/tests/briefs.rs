//! Briefs, submissions, reviews and the feed's access rules, across real stores: an
//! investigator, two volunteers and an agency-side store that relays events between them.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use casebridge_core::{Area, CustodyAction, EventKind, NewBrief, NewCase, ReviewDecision, Role, SignedEvent, Store, SubmitOptions};
use uuid::Uuid;

fn store(tmp: &tempfile::TempDir, name: &str, role: Role) -> Store {
    casebridge_testkit::fixtures::new_store(&tmp.path().join(name), name, role)
}

/// Moves every event `to` may see from `from` into `to`, content first (as sync does).
fn relay(from: &mut Store, to: &mut Store, role: Role) -> usize {
    let me = to.whoami().member_id;
    let page = from.feed(me, role, 0, 100_000).unwrap();
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

fn all(from: &mut Store, to: &mut Store) {
    relay(from, to, Role::Investigator);
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
    assert_eq!(sub.state, "pending");
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

    // Content access: staff anything held; a volunteer only their own.
    let sha = &sub.items[0].sha256;
    assert!(agency.content_access(sha, v_id, Role::Volunteer).unwrap().is_some());
    assert_eq!(agency.content_access(sha, o_id, Role::Volunteer).unwrap(), None);
    assert!(agency.content_access(sha, Uuid::nil(), Role::Investigator).unwrap().is_some());
    assert!(agency.content_access("zz", v_id, Role::Volunteer).is_err());

    // Review: one item accepted, the other rejected with a reason.
    assert!(vol.review(sub.id, ReviewDecision::Accepted, &[], None).is_err());
    assert!(inv.review(sub.id, ReviewDecision::InfoRequested, &[], None).is_err(), "asking for info needs a reason");
    inv.review(sub.id, ReviewDecision::Accepted, &[sub.items[0].evidence_id], None).unwrap();
    let after = inv.review(sub.id, ReviewDecision::Rejected, &[sub.items[1].evidence_id], Some("blurred".into())).unwrap();
    assert_eq!(after.state, "mixed");
    inv.review(other_sub.id, ReviewDecision::Rejected, &[], Some("not relevant".into())).unwrap();
    let custody: Vec<CustodyAction> = inv.custody(sub.items[0].evidence_id).unwrap().iter().map(|c| c.action).collect();
    assert_eq!(custody, vec![CustodyAction::Submitted, CustodyAction::Received, CustodyAction::Accepted]);
    all(&mut inv, &mut agency);

    // The volunteer sees both states and the reason, and nothing of the other volunteer.
    relay(&mut agency, &mut vol, Role::Volunteer);
    let mine = vol.submission(sub.id).unwrap();
    assert_eq!(mine.items[0].state, "accepted");
    assert_eq!(mine.items[1].state, "rejected");
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
        let page = inv.feed(me, Role::Investigator, cursor, 10).unwrap();
        seen += page.events.len();
        assert!(page.cursor > cursor);
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    // profile_created + case + 25 notes (the feed of another member: nil is not the author).
    assert_eq!(seen, 27);
    assert!(inv.feed(me, Role::Investigator, cursor, 10).unwrap().events.is_empty());
    assert_eq!(inv.feed(me, Role::Investigator, cursor + 1, 10).unwrap_err().code(), "invalid_input");
    // New events after the cursor appear on the next pull; a volunteer sees none of them.
    inv.add_note(case, "late").unwrap();
    assert_eq!(inv.feed(me, Role::Investigator, cursor, 10).unwrap().events.len(), 1);
    assert!(inv.feed(me, Role::Volunteer, 0, 1000).unwrap().events.is_empty());
}

/// The recipient's own reading of content it holds (issue 12): equal to reading the file, for
/// real phone photos; only the head of large non-images is read; nothing is written unsealed.
#[test]
fn a_store_reads_the_content_it_holds_as_the_file_says() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = store(&tmp, "agency", Role::Supervisor);
    let photos = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/photos");
    let mut n = 0;
    for entry in std::fs::read_dir(&photos).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("jpg") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let sha = casebridge_core::to_hex(&casebridge_core::sha256(&bytes));
        s.import_content(&mut bytes.as_slice(), &sha, bytes.len() as u64, &mut |_| true).unwrap();
        let seen = s.observe_content(&sha, bytes.len() as u64).unwrap();
        let media = casebridge_core::metadata::sniff_media_type(&casebridge_core::metadata::read_head(&path).unwrap());
        assert_eq!(seen.media_type, media);
        assert_eq!(seen.extracted, casebridge_core::metadata::extract(&path, &media), "{}", path.display());
        assert!(seen.extracted.location.is_some(), "{}: the vectors carry GPS", path.display());
        n += 1;
    }
    assert_eq!(n, 3);
    // A large non-image: sniffed from its head, no EXIF looked for.
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let sha = casebridge_core::to_hex(&casebridge_core::sha256(&big));
    s.import_content(&mut big.as_slice(), &sha, big.len() as u64, &mut |_| true).unwrap();
    let seen = s.observe_content(&sha, big.len() as u64).unwrap();
    assert_eq!((seen.media_type.as_str(), seen.extracted), ("application/octet-stream", casebridge_core::Extracted::default()));
    // Content not held is an error, not an empty reading.
    assert!(s.observe_content(&"ab".repeat(32), 10).is_err());
}

/// Custody events written before `observed` existed still parse, and events without it are
/// written byte for byte as before (the field is left out, not `null`): old signatures hold.
#[test]
fn custody_without_observed_parses_and_is_written_as_before() {
    let old = r#"{"type":"custody_recorded","evidence_id":"0190b5a0-0000-7000-8000-000000000001","action":"received","reason":null,"sha256":"ab"}"#;
    let kind: EventKind = serde_json::from_str(old).unwrap();
    assert!(matches!(&kind, EventKind::CustodyRecorded { observed: None, action: CustodyAction::Received, .. }));
    assert_eq!(serde_json::to_string(&kind).unwrap(), old);
    let new = r#"{"type":"custody_recorded","evidence_id":"0190b5a0-0000-7000-8000-000000000001","action":"received","reason":null,"sha256":"ab","observed":{"media_type":"image/jpeg","extracted":{"captured_at":"2026-03-14T09:30:00+01:00","location":{"lat":52.5298,"lon":13.4015},"camera":{"make":"Canon","model":"EOS R6"}}}}"#;
    let kind: EventKind = serde_json::from_str(new).unwrap();
    let EventKind::CustodyRecorded { observed: Some(o), .. } = &kind else { panic!("{kind:?}") };
    assert_eq!(o.extracted.camera.as_ref().and_then(|c| c.make.as_deref()), Some("Canon"));
    assert_eq!(serde_json::to_string(&kind).unwrap(), new);
}
