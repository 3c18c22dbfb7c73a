//! Access chains (issue 16, docs/FORMAT.md "Access chains"): every access entry has its place
//! in a chain per (author, key, case), so a store that holds another member's entries with one
//! left out says so in `check` (`access_chain_gap`), while whole chains check clean.
#![allow(clippy::unwrap_used)]

use casebridge_core::{EventKind, NewCase, Role, SignedEvent, Store};
use casebridge_testkit::fixtures::new_store;
use uuid::Uuid;

fn codes(store: &mut Store) -> Vec<String> {
    store.check(false, &mut |_| {}).unwrap().problems.into_iter().map(|p| p.code).collect()
}

/// An investigator with a case and `n` views of it, and the case's events.
fn viewer(dir: &std::path::Path, n: usize) -> (Store, Uuid, Vec<SignedEvent>) {
    let mut a = new_store(dir, "Viewer", Role::Investigator);
    let case = a.create_case(NewCase { title: "Hit and run".into(), ..Default::default() }).unwrap();
    for i in 0..n {
        a.record_access(case, None, "viewed", Some(format!("look {i}"))).unwrap();
    }
    let events = a.case_events(case, None).unwrap();
    (a, case, events)
}

fn access_seq(ev: &SignedEvent) -> Option<u64> {
    match &ev.body().kind {
        EventKind::AccessRecorded { access_seq, .. } => *access_seq,
        _ => None,
    }
}

#[test]
fn entries_chain_per_author_and_case_from_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, case, events) = viewer(&tmp.path().join("a"), 3);
    let other = a.create_case(NewCase { title: "Burglary".into(), ..Default::default() }).unwrap();
    a.record_access(other, None, "viewed", None).unwrap();
    let seqs: Vec<u64> = events.iter().filter_map(access_seq).collect();
    assert_eq!(seqs, [1, 2, 3], "one chain per case, counted from 1");
    let other_seqs: Vec<u64> = a.case_events(other, None).unwrap().iter().filter_map(access_seq).collect();
    assert_eq!(other_seqs, [1], "another case's chain starts again at 1");
    // The case list's entries (no single case) chain on their own, naming the cases shown.
    a.record_access_of(Uuid::nil(), None, vec![case, other], "listed_cases", None).unwrap();
    let listed = a.access_log_of_no_case().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].item_ids, [case, other]);
    assert_eq!(listed[0].access_seq, Some(1));
    assert!(codes(&mut a).is_empty(), "whole chains check clean");
}

#[test]
fn a_left_out_access_entry_is_a_gap_in_check() {
    let tmp = tempfile::tempdir().unwrap();
    let (_a, _case, events) = viewer(&tmp.path().join("a"), 3);
    // Another member's store receives the case without the second view: the per-key chain
    // allows that (need to know leaves holes in others' chains), the access chain does not.
    let mut b = new_store(&tmp.path().join("b"), "Supervisor", Role::Supervisor);
    let kept: Vec<SignedEvent> = events.iter().filter(|e| access_seq(e) != Some(2)).cloned().collect();
    assert_eq!(kept.len() + 1, events.len());
    b.import_events(&kept, Vec::new()).unwrap();
    let found = codes(&mut b);
    assert_eq!(found, ["access_chain_gap"], "{found:?}");

    // The whole case checks clean.
    let mut c = new_store(&tmp.path().join("c"), "Supervisor", Role::Supervisor);
    c.import_events(&events, Vec::new()).unwrap();
    assert!(codes(&mut c).is_empty());

    // A chain whose first entry is missing is a gap too (entry 1 of 3 left out).
    let mut d = new_store(&tmp.path().join("d"), "Supervisor", Role::Supervisor);
    let kept: Vec<SignedEvent> = events.iter().filter(|e| access_seq(e) != Some(1)).cloned().collect();
    d.import_events(&kept, Vec::new()).unwrap();
    assert_eq!(codes(&mut d), ["access_chain_gap"]);

    // A prefix (the last entries not yet received) is no gap: the chain says nothing past its end.
    let mut e = new_store(&tmp.path().join("e"), "Supervisor", Role::Supervisor);
    let kept: Vec<SignedEvent> = events.iter().filter(|e| access_seq(e) != Some(3)).cloned().collect();
    e.import_events(&kept, Vec::new()).unwrap();
    assert!(codes(&mut e).is_empty());
}

#[test]
fn old_entries_without_a_chain_still_read() {
    // An entry as recorded before chains existed: no item_ids, access_seq, access_prev.
    let body =
        r#"{"type":"access_recorded","case_id":"0190a0c4-0000-7000-8000-000000000001","evidence_id":null,"action":"viewed","reason":null}"#;
    let kind: EventKind = serde_json::from_str(body).unwrap();
    match kind {
        EventKind::AccessRecorded { item_ids, access_seq, access_prev, .. } => {
            assert!(item_ids.is_empty());
            assert_eq!(access_seq, None);
            assert_eq!(access_prev, None);
        }
        other => panic!("{other:?}"),
    }
}
