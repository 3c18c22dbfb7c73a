//! Deletion under a tombstone (issue 16) at the store level: the item's object is destroyed,
//! its view says "deleted", reading it is refused with its own code, `check` and a rebuilt
//! index stay clean; a tombstone for an unknown item, another hash, or a held case is refused
//! and changes nothing.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use casebridge_core::{
    CaseEdit, EvidenceOptions, NewCase, Passphrase, Role, Store, Tombstone, CASE_ON_HOLD, EVIDENCE_DELETED, TOMBSTONE_MISMATCH,
    TOMBSTONE_UNKNOWN_ITEM,
};
use casebridge_testkit::fixtures::{new_store, PASS};
use uuid::Uuid;

const SECRET: &[u8] = b"bystander's face, plate KB-4711, retention test plaintext";

fn objects(dir: &Path) -> Vec<PathBuf> {
    walk(&dir.join("objects"))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    walk(dir).into_iter().filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))).collect()
}

fn tombstone(store: &Store, id: Uuid) -> Tombstone {
    let e = store.evidence(id).unwrap();
    Tombstone {
        id: Uuid::new_v4(),
        agency_id: Uuid::new_v4(),
        evidence_id: id,
        case_id: e.case_id,
        sha256: e.sha256,
        rule: "rejected-30d".into(),
        reason: Some("rejected, never accepted, 31 days old".into()),
        deleted_at: chrono::DateTime::parse_from_rfc3339("2026-05-01T10:00:00+02:00").unwrap(),
    }
}

/// A supervisor's store with a case and two items (one deleted later, one kept).
fn world(tmp: &Path) -> (PathBuf, Store, Uuid, Uuid, Uuid) {
    let dir = tmp.join("p");
    let mut s = new_store(&dir, "Sam Supervisor", Role::Supervisor);
    let case = s.create_case(NewCase { title: "Bike thefts".into(), category: Some("Burglary".into()), ..Default::default() }).unwrap();
    let f1 = tmp.join("photo.jpg");
    std::fs::write(&f1, SECRET).unwrap();
    let f2 = tmp.join("keep.txt");
    std::fs::write(&f2, b"kept content").unwrap();
    let gone = s
        .add_evidence(case, &f1, &EvidenceOptions { description: Some("the bystander".into()), ..Default::default() }, &mut |_| true)
        .unwrap()
        .id;
    let kept = s.add_evidence(case, &f2, &EvidenceOptions::default(), &mut |_| true).unwrap().id;
    (dir, s, case, gone, kept)
}

#[test]
fn a_tombstone_destroys_the_content_and_leaves_the_audit_trail() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, mut s, case, gone, kept) = world(tmp.path());
    assert_eq!(s.case(case).unwrap().category.as_deref(), Some("burglary"), "categories are kept lowercased");
    assert_eq!(objects(&dir).len(), 2);
    let t = tombstone(&s, gone);
    let deleted = s.apply_tombstones(vec![(t.clone(), "ZG9j".into())]).unwrap();
    assert_eq!(deleted, [gone]);
    // The content's object (with the wrapped item key) is gone; the kept item's stays.
    assert_eq!(objects(&dir).len(), 1);
    let view = s.evidence(gone).unwrap();
    let d = view.deleted.clone().expect("shown as deleted");
    assert_eq!(d.rule, "rejected-30d");
    assert_eq!(view.original_name, "", "the index keeps no name of a deleted item");
    assert_eq!(view.description, None);
    assert!(s.evidence(kept).unwrap().deleted.is_none());
    let err = s.export_evidence(gone, &tmp.path().join("out.jpg"), None, &mut |_| true).unwrap_err();
    assert_eq!(err.code(), EVIDENCE_DELETED, "{err}");
    assert!(err.to_string().contains("rejected-30d"), "{err}");
    let err = s.verify_evidence(gone, &mut |_| true).unwrap_err();
    assert_eq!(err.code(), EVIDENCE_DELETED);
    // A second application changes nothing.
    assert!(s.apply_tombstones(vec![(t, "ZG9j".into())]).unwrap().is_empty());
    let report = s.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!((report.deleted, report.orphan_objects), (1, 0));
    assert_eq!(s.tombstones(Some(case)).unwrap().len(), 1);
    drop(s);
    // Nothing of the plaintext anywhere in the store.
    assert!(contains(&dir, SECRET).is_empty());
    // A rebuilt index says the same.
    let (s, _) = Store::rebuild(&dir, &Passphrase::new(PASS)).unwrap();
    assert!(s.evidence(gone).unwrap().deleted.is_some());
    assert_eq!(s.evidence(kept).unwrap().size, 12);
}

#[test]
fn a_tombstone_for_an_unknown_item_another_hash_or_a_held_case_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, mut s, case, gone, _) = world(tmp.path());
    let records = s.journal_records();

    let mut unknown = tombstone(&s, gone);
    unknown.evidence_id = Uuid::new_v4();
    assert_eq!(s.apply_tombstones(vec![(unknown, "ZG9j".into())]).unwrap_err().code(), TOMBSTONE_UNKNOWN_ITEM);

    let mut other = tombstone(&s, gone);
    other.sha256 = "0".repeat(64);
    assert_eq!(s.apply_tombstones(vec![(other, "ZG9j".into())]).unwrap_err().code(), TOMBSTONE_MISMATCH);

    s.place_hold(case, "12 Js 345/26").unwrap();
    let records = records + 1;
    let err = s.apply_tombstones(vec![(tombstone(&s, gone), "ZG9j".into())]).unwrap_err();
    assert_eq!(err.code(), CASE_ON_HOLD, "{err}");
    // All or none: a good tombstone beside a refused one is not applied either.
    assert_eq!(s.journal_records(), records);
    assert_eq!(objects(&dir).len(), 2);
    assert!(s.evidence(gone).unwrap().deleted.is_none());
    // Released, the same tombstone applies.
    s.release_hold(case, "proceedings closed").unwrap();
    assert_eq!(s.apply_tombstones(vec![(tombstone(&s, gone), "ZG9j".into())]).unwrap(), [gone]);
}

#[test]
fn shared_content_stays_while_another_item_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, mut s, case, gone, _) = world(tmp.path());
    // The same bytes imported again as a second item: one object for both.
    let again = s.add_evidence(case, &tmp.path().join("photo.jpg"), &EvidenceOptions::default(), &mut |_| true).unwrap().id;
    assert_eq!(objects(&dir).len(), 2);
    s.apply_tombstones(vec![(tombstone(&s, gone), "ZG9j".into())]).unwrap();
    assert_eq!(objects(&dir).len(), 2, "the other item still names the content");
    assert!(s.deleted_content_held().unwrap().is_empty(), "content a live item names is not left over");
    let mut out = Vec::new();
    let e = s.evidence(again).unwrap();
    s.read_content(&e.sha256, e.size, &mut out, &mut |_| true).unwrap();
    assert_eq!(out, SECRET);
    s.apply_tombstones(vec![(tombstone(&s, again), "ZG9j".into())]).unwrap();
    assert_eq!(objects(&dir).len(), 1);
    assert!(s.check(true, &mut |_| {}).unwrap().ok);
}

/// A deletion in two steps (a cluster replica records first, destroys after its journal's
/// commit): recorded, the content is still held and listed as such; destroyed, the list is
/// empty and the object gone; a second pass destroys nothing. Reopened between the steps (a
/// crash), the store still lists it: nothing is forgotten.
#[test]
fn a_deletion_recorded_but_not_destroyed_is_listed_until_it_is_completed() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, mut s, _, gone, kept) = world(tmp.path());
    assert!(s.deleted_content_held().unwrap().is_empty());
    let t = tombstone(&s, gone);
    let name = s.content_object_name(&t.sha256).unwrap();
    assert!(!name.contains(&t.sha256), "the keyed name is not the hash");
    assert_eq!(s.record_tombstones(vec![(t, "ZG9j".into())]).unwrap(), [gone]);
    assert_eq!(objects(&dir).len(), 2, "recording destroys nothing");
    assert_eq!(s.deleted_content_held().unwrap(), [(gone, name.clone())]);
    drop(s);
    let s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
    assert_eq!(s.deleted_content_held().unwrap(), [(gone, name)], "a crash between the steps forgets nothing");
    assert_eq!(s.shred_deleted().unwrap(), 1);
    assert_eq!(objects(&dir).len(), 1);
    assert!(s.deleted_content_held().unwrap().is_empty());
    assert_eq!(s.shred_deleted().unwrap(), 0, "nothing left to destroy");
    assert!(s.evidence(kept).unwrap().deleted.is_none());
}

/// A case's category decides which retention rule deletes it: an investigator (its lead, even)
/// cannot change it once the case exists, and nothing is recorded; a supervisor can; an edit
/// that names the category it already has changes nothing and is not refused.
#[test]
fn only_a_supervisor_changes_a_case_s_category() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inv = new_store(&tmp.path().join("i"), "Ivo Investigator", Role::Investigator);
    let case = inv.create_case(NewCase { title: "Bike thefts".into(), category: Some("burglary".into()), ..Default::default() }).unwrap();
    let before = inv.journal_len();
    let edit = |category: &str| CaseEdit { category: Some(category.into()), ..Default::default() };
    let err = inv.edit_case(case, edit("exempt")).unwrap_err();
    assert_eq!(err.code(), "not_allowed", "{err}");
    assert!(err.to_string().contains("retention"), "{err}");
    assert_eq!(inv.journal_len(), before, "nothing recorded");
    assert_eq!(inv.case(case).unwrap().category.as_deref(), Some("burglary"));
    inv.edit_case(case, CaseEdit { category: Some("Burglary".into()), title: Some("Bike thefts, Mitte".into()), ..Default::default() })
        .unwrap();

    let mut sup = new_store(&tmp.path().join("s"), "Sam Supervisor", Role::Supervisor);
    let case = sup.create_case(NewCase { title: "Garage".into(), category: Some("burglary".into()), ..Default::default() }).unwrap();
    sup.edit_case(case, edit("fraud")).unwrap();
    assert_eq!(sup.case(case).unwrap().category.as_deref(), Some("fraud"));
}
