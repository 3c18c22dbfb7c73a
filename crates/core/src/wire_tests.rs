//! The journal's wire format of every event kind, pinned literally.
//!
//! Events are signed as the exact bytes of their serialized body, and peers, bundles, the
//! independent verifier (crates/verify) and docs/FORMAT.md all read those bytes. The Rust types
//! may be arranged as the code needs (issue 14 moved this profile's bookkeeping into
//! [`ProfileEvent`]), but the bytes may not change: one event of each kind must read from, and
//! write back to, exactly the JSON below (the JSON written before that move).

use chrono::DateTime;
use uuid::Uuid;

use crate::event::{EventBody, Hlc};
use crate::model::{EventKind, ProfileEvent};

const A: &str = "00000000-0000-0000-0000-00000000000a";
const B: &str = "00000000-0000-0000-0000-00000000000b";
const C: &str = "00000000-0000-0000-0000-00000000000c";
const SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The body fields every event has, before the kind's own (`type` first).
fn head() -> String {
    format!(
        r#"{{"v":1,"author":"{A}","key":"{SHA}","seq":7,"prev":"{SHA}","hlc":{{"ms":1773477000000,"c":2}},"at":"2026-03-14T09:30:00+01:00","device":"{B}","#
    )
}

/// Each kind's own fields, as written on the wire.
fn kinds() -> Vec<String> {
    vec![
        r#""type":"profile_created","name":"Vera","role":"investigator""#.to_string(),
        format!(
            r#""type":"case_created","case_id":"{C}","reference":"BER-2026-000123","title":"Bikes","summary":null,"tags":["theft"],"status":"open""#
        ),
        format!(r#""type":"case_edited","case_id":"{C}","status":"active""#),
        format!(r#""type":"note_added","case_id":"{C}","note_id":"{A}","text":"a note""#),
        format!(r#""type":"note_amended","case_id":"{C}","note_id":"{A}","text":"a corrected note","reason":"typo""#),
        format!(
            r#""type":"evidence_added","evidence_id":"{A}","case_id":"{C}","object":{{"sha256":"{SHA}","size":12}},"media_type":"image/jpeg","original_name":"p.jpg","claimed_captured_at":"2026-03-14T09:30:00+01:00","claimed_location":{{"lat":52.52,"lon":13.405}},"extracted":{{"captured_at":null,"location":null,"camera":{{"make":"Apple","model":null}}}},"description":null"#
        ),
        format!(
            r#""type":"custody_recorded","evidence_id":"{A}","action":"received","reason":null,"sha256":"{SHA}","observed":{{"media_type":"text/plain","extracted":{{"captured_at":null,"location":null,"camera":null}}}}"#
        ),
        format!(
            r#""type":"evidence_derived","evidence_id":"{A}","original_id":"{B}","original_sha256":"{SHA}","sha256":"{SHA}","operations":["strip-metadata"]"#
        ),
        format!(r#""type":"access_recorded","case_id":"{C}","evidence_id":null,"action":"viewed","reason":"review""#),
        format!(r#""type":"disclosure_recorded","case_id":"{C}","member_id":"{A}","reason":"court order""#),
        format!(r#""type":"agency_pinned","agency_id":"{B}","public":"cHVibGlj""#),
        format!(r#""type":"credential_installed","agency_id":"{B}","member_id":"{A}","credential":"Y3JlZA==""#),
        format!(r#""type":"member_credential_stored","agency_id":"{B}","member_id":"{C}","credential":"Y3JlZA==""#),
        format!(r#""type":"revocation_stored","agency_id":"{B}","version":3,"list":"bGlzdA==""#),
        format!(
            r#""type":"bundle_exported","bundle_id":"{A}","agency_id":"{B}","bundle_seq":4,"manifest_hash":"{SHA}","case_id":"{C}","upto":17"#
        ),
        format!(
            r#""type":"bundle_imported","bundle_id":"{A}","agency_id":"{B}","sender":"{C}","bundle_seq":4,"manifest_hash":"{SHA}","events_added":5,"blobs":1"#
        ),
        format!(r#""type":"endpoint_set","agency_id":"{B}","url":"https://agency.example:8443","cert_sha256":"{SHA}""#),
        format!(r#""type":"receipt_stored","bundle_id":"{A}","receipt":"cmVjZWlwdA==""#),
        format!(
            r#""type":"notice_stored","notice":{{"id":"{C}","agency_id":"{B}","to":"{A}","at":"2026-03-14T09:30:00+01:00","type":"brief_withdrawn","case_id":"{C}","brief_id":"{A}"}},"document":"bm90aWNl""#
        ),
        format!(
            r#""type":"brief_published","case_id":"{C}","brief_id":"{A}","title":"Footage","text":"Dashcams","area":{{"lat":52.52,"lon":13.405,"radius_m":500.0}},"until":"2026-03-15T00:00:00+01:00","audience":[]"#
        ),
        format!(r#""type":"brief_withdrawn","case_id":"{C}","brief_id":"{A}""#),
        format!(
            r#""type":"submission_made","case_id":"{C}","brief_id":"{A}","submission_id":"{B}","items":["{A}"],"description":"balcony""#
        ),
        format!(r#""type":"team_assigned","case_id":"{C}","member_id":"{A}""#),
        format!(r#""type":"team_unassigned","case_id":"{C}","member_id":"{A}""#),
        format!(r#""type":"hold_placed","case_id":"{C}","reason":"12 Js 345/26""#),
        format!(r#""type":"hold_released","case_id":"{C}","reason":"proceedings closed""#),
        format!(r#""type":"submission_withdrawn","case_id":"{C}","submission_id":"{B}","reason":"wrong street""#),
        format!(
            r#""type":"tombstone_stored","tombstone":{{"id":"{C}","agency_id":"{B}","evidence_id":"{A}","case_id":"{C}","sha256":"{SHA}","rule":"rejected-30d","reason":"rejected, never accepted","deleted_at":"2026-04-14T09:30:00+02:00"}},"document":"dG9tYnN0b25l""#
        ),
        format!(
            r#""type":"review_decided","case_id":"{C}","submission_id":"{B}","items":[],"decision":"info_requested","reason":"which day?""#
        ),
    ]
}

fn body_json(kind: &str) -> String {
    format!("{}{kind}}}", head())
}

/// Every kind reads from its JSON and writes back the very same bytes.
#[test]
fn every_event_kind_round_trips_to_the_same_bytes() {
    let kinds = kinds();
    assert_eq!(kinds.len(), KIND_COUNT, "one of each event kind");
    for kind in &kinds {
        let json = body_json(kind);
        let body: EventBody = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(serde_json::to_string(&body).unwrap(), json);
        let name = kind.split('"').nth(3).unwrap();
        assert_eq!(body.kind.name(), name);
    }
}

/// A case's category (issue 16) is written when given and omitted when not, so bodies written
/// before it existed read and write back the same bytes (the literal in [`kinds`]).
#[test]
fn a_case_category_round_trips_and_is_omitted_when_absent() {
    let json = body_json(&format!(
        r#""type":"case_created","case_id":"{C}","reference":null,"title":"Bikes","summary":null,"tags":[],"status":"open","category":"burglary""#
    ));
    let body: EventBody = serde_json::from_str(&json).unwrap();
    assert!(matches!(&body.kind, EventKind::CaseCreated { category: Some(c), .. } if c == "burglary"));
    assert_eq!(serde_json::to_string(&body).unwrap(), json);
}

/// The profile's bookkeeping reads as [`EventKind::Profile`], the case history as the rest.
#[test]
fn profile_bookkeeping_reads_apart_from_case_history() {
    let local = [
        "agency_pinned",
        "credential_installed",
        "member_credential_stored",
        "revocation_stored",
        "bundle_exported",
        "bundle_imported",
        "endpoint_set",
        "receipt_stored",
        "notice_stored",
        "tombstone_stored",
    ];
    for kind in kinds() {
        let body: EventBody = serde_json::from_str(&body_json(&kind)).unwrap();
        let is_profile = matches!(body.kind, EventKind::Profile(_));
        assert_eq!(is_profile, local.contains(&body.kind.name()), "{}", body.kind.name());
        assert_eq!(body.kind.is_local(), is_profile);
    }
}

/// A profile event made in code writes the same bytes as the literal (the writing side).
#[test]
fn a_profile_event_made_in_code_writes_the_literal_bytes() {
    let (a, b): (Uuid, Uuid) = (A.parse().unwrap(), B.parse().unwrap());
    let body = EventBody {
        v: 1,
        author: a,
        key: SHA.into(),
        seq: 7,
        prev: SHA.into(),
        hlc: Hlc { ms: 1_773_477_000_000, c: 2 },
        at: DateTime::parse_from_rfc3339("2026-03-14T09:30:00+01:00").unwrap(),
        device: b,
        kind: ProfileEvent::EndpointSet { agency_id: b, url: "https://agency.example:8443".into(), cert_sha256: SHA.into() }.into(),
    };
    let expected =
        body_json(&format!(r#""type":"endpoint_set","agency_id":"{B}","url":"https://agency.example:8443","cert_sha256":"{SHA}""#));
    assert_eq!(serde_json::to_string(&body).unwrap(), expected);
}

/// An unknown kind is refused, as before (it matches no case event and no profile event).
#[test]
fn an_unknown_kind_is_refused() {
    assert!(serde_json::from_str::<EventBody>(&body_json(r#""type":"case_deleted","case_id":"x""#)).is_err());
}

/// Which kind an event is, as a number: an exhaustive match, so a kind added to [`EventKind`]
/// or [`ProfileEvent`] does not compile until it is numbered here, and then
/// [`every_kind_has_its_literal`] fails until it has its JSON in [`kinds`], and
/// [`every_kind_is_written_in_format_md`] until docs/FORMAT.md describes it.
fn kind_number(kind: &EventKind) -> usize {
    match kind {
        EventKind::ProfileCreated { .. } => 0,
        EventKind::CaseCreated { .. } => 1,
        EventKind::CaseEdited { .. } => 2,
        EventKind::NoteAdded { .. } => 3,
        EventKind::EvidenceAdded { .. } => 4,
        EventKind::CustodyRecorded { .. } => 5,
        EventKind::EvidenceDerived { .. } => 6,
        EventKind::AccessRecorded { .. } => 7,
        EventKind::DisclosureRecorded { .. } => 8,
        EventKind::BriefPublished { .. } => 9,
        EventKind::BriefWithdrawn { .. } => 10,
        EventKind::SubmissionMade { .. } => 11,
        EventKind::ReviewDecided { .. } => 12,
        EventKind::Profile(p) => match p {
            ProfileEvent::AgencyPinned { .. } => 13,
            ProfileEvent::CredentialInstalled { .. } => 14,
            ProfileEvent::MemberCredentialStored { .. } => 15,
            ProfileEvent::RevocationStored { .. } => 16,
            ProfileEvent::BundleExported { .. } => 17,
            ProfileEvent::BundleImported { .. } => 18,
            ProfileEvent::EndpointSet { .. } => 19,
            ProfileEvent::ReceiptStored { .. } => 20,
            ProfileEvent::NoticeStored { .. } => 21,
            ProfileEvent::TombstoneStored { .. } => 27,
        },
        EventKind::TeamAssigned { .. } => 22,
        EventKind::TeamUnassigned { .. } => 23,
        EventKind::HoldPlaced { .. } => 24,
        EventKind::HoldReleased { .. } => 25,
        EventKind::SubmissionWithdrawn { .. } => 26,
        EventKind::NoteAmended { .. } => 28,
    }
}

/// How many kinds [`kind_number`] numbers.
const KIND_COUNT: usize = 29;

#[test]
fn every_kind_has_its_literal() {
    let mut seen = [false; KIND_COUNT];
    for kind in kinds() {
        let body: EventBody = serde_json::from_str(&body_json(&kind)).unwrap();
        seen[kind_number(&body.kind)] = true;
    }
    let missing: Vec<usize> = (0..KIND_COUNT).filter(|n| !seen[*n]).collect();
    assert!(missing.is_empty(), "event kinds numbered {missing:?} have no literal JSON in kinds()");
}

/// docs/FORMAT.md's table of event kinds has a row for every kind, naming each of its fields.
#[test]
fn every_kind_is_written_in_format_md() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/FORMAT.md")).unwrap();
    let section = doc.split("\n## Events\n").nth(1).and_then(|s| s.split("\n## ").next()).expect("FORMAT.md has a section '## Events'");
    // The table of kinds: the rows under its header, up to the first line that is not a row.
    let table = section.split("\n| type | fields |\n").nth(1).expect("FORMAT.md \"Events\" has the table `| type | fields |`");
    let events: String = table.lines().take_while(|l| l.starts_with('|')).collect::<Vec<_>>().join("\n");
    let mut rows = 0;
    for kind in kinds() {
        let value: serde_json::Value = serde_json::from_str(&format!("{{{kind}}}")).unwrap();
        let name = value["type"].as_str().unwrap();
        let row = events
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")) || l.starts_with(&format!("| `{name}` (*local*) |")))
            .unwrap_or_else(|| panic!("docs/FORMAT.md \"Events\" has no row for the event kind `{name}`"));
        rows += 1;
        for field in value.as_object().unwrap().keys().filter(|k| *k != "type") {
            // `field` alone, or `field {sub, fields}` for an object.
            let named = row.contains(&format!("`{field}`")) || row.contains(&format!("`{field} {{"));
            assert!(named, "docs/FORMAT.md \"Events\": the row of `{name}` does not name its field `{field}`");
        }
    }
    let documented = events.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(documented, rows, "docs/FORMAT.md \"Events\" has rows for kinds the code does not have");
}
