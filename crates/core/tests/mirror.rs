//! Copies of one store mirroring each other's journals (`raw_records`, `append_raw`,
//! `truncate_journal`), and objects held outside the store directory (`open_with`): what the
//! cluster agency's replicas do with the journal in the database and the objects in a bucket.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use casebridge_core::{
    CaseFilter, Error, EvidenceOptions, FileObjects, NewCase, ObjectBackend, Passphrase, Role, Store, JOURNAL_DIR, JOURNAL_FILE,
};
use casebridge_testkit::bytes::write_file;
use casebridge_testkit::files::copy_dir;
use casebridge_testkit::fixtures::{new_store, PASS};

/// Store `a` with one case, and `b` a copy of it made while it was closed. Both open with
/// their objects in `a`'s directory (as replicas share one bucket).
struct Pair {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    a: Store,
    b: Store,
}

fn shared(root: &Path) -> Arc<dyn ObjectBackend> {
    Arc::new(FileObjects::new(&root.join("a")))
}

fn pair() -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let mut a = new_store(&root.join("a"), "Agency", Role::Investigator);
    a.create_case(NewCase { title: "before the copy".into(), ..Default::default() }).unwrap();
    drop(a);
    copy_dir(&root.join("a"), &root.join("b"));
    let pass = Passphrase::new(PASS);
    let a = Store::open_with(&root.join("a"), &pass, shared(&root)).unwrap();
    let b = Store::open_with(&root.join("b"), &pass, shared(&root)).unwrap();
    Pair { _tmp: tmp, root, a, b }
}

/// Some of everything on `s`: a case, a note, an evidence file.
fn write_some(s: &mut Store, dir: &Path, seed: u64) {
    let case = s.create_case(NewCase { title: format!("case {seed}"), ..Default::default() }).unwrap();
    s.add_note(case, &format!("note {seed}")).unwrap();
    let file = write_file(dir, &format!("photo-{seed}.bin"), 300_000 + seed as usize, seed);
    s.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
}

/// Everything a member sees of a store, as text (the views' Debug forms).
fn views(s: &Store) -> String {
    let mut out = String::new();
    for c in s.list_cases(&CaseFilter::default()).unwrap() {
        out.push_str(&format!("{c:?}\n{:?}\n{:?}\n", s.case(c.id).unwrap(), s.list_evidence(c.id).unwrap()));
    }
    let page = s.events_after(0, 100_000).unwrap();
    for e in page.events {
        out.push_str(&casebridge_core::to_hex(&e.hash()));
    }
    out
}

fn journal_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join(JOURNAL_DIR).join(JOURNAL_FILE)).unwrap()
}

/// Copies what `from` has and `to` lacks.
fn mirror(from: &Store, to: &mut Store) {
    let recs = from.raw_records(to.journal_len(), usize::MAX).unwrap();
    to.append_raw(&recs).unwrap();
}

#[test]
fn a_copy_takes_the_records_of_the_original_and_then_sees_what_it_sees() {
    let mut p = pair();
    let n0 = p.a.journal_len();
    assert_eq!(p.b.journal_len(), n0);
    write_some(&mut p.a, &p.root, 1);
    write_some(&mut p.a, &p.root, 2);
    assert!(p.a.journal_len() > n0);
    assert_ne!(views(&p.a), views(&p.b));

    // In pages, as a replica reads the database.
    while p.b.journal_len() < p.a.journal_len() {
        let recs = p.a.raw_records(p.b.journal_len(), 2).unwrap();
        assert!(!recs.is_empty() && recs.len() <= 2);
        p.b.append_raw(&recs).unwrap();
    }
    assert_eq!(views(&p.a), views(&p.b));
    assert_eq!(journal_bytes(&p.root.join("a")), journal_bytes(&p.root.join("b")), "the journals are byte for byte the same");
    let report = p.b.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.objects_checked, 2);

    // The copy continues its own chain (same profile) after the mirrored records, and the
    // original takes those back.
    write_some(&mut p.b, &p.root, 3);
    mirror(&p.b, &mut p.a);
    assert_eq!(views(&p.a), views(&p.b));
    assert!(p.a.check(true, &mut |_| {}).unwrap().ok);

    // What was applied survives a reopen (it is in the journal, not only in memory).
    let want = views(&p.b);
    drop(p.b);
    let b = Store::open_with(&p.root.join("b"), &Passphrase::new(PASS), shared(&p.root)).unwrap();
    assert_eq!(views(&b), want);
    assert!(b.raw_records(b.journal_len(), 10).unwrap().is_empty());
    let err = b.raw_records(b.journal_len() + 1, 10).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
}

/// Asserts `b` refuses `recs` with an error naming the record, and is unchanged.
fn refused(b: &mut Store, root: &Path, recs: &[Vec<u8>], why: &str) {
    let before_len = b.journal_len();
    let before_views = views(b);
    let before_bytes = journal_bytes(&root.join("b"));
    let err = b.append_raw(recs).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Invalid { .. } | Error::ChainConflict { .. }), "{why}: {msg}");
    assert!(msg.contains("nothing was appended"), "{why}: {msg}");
    assert_eq!(b.journal_len(), before_len, "{why}");
    assert_eq!(views(b), before_views, "{why}");
    assert_eq!(journal_bytes(&root.join("b")), before_bytes, "{why}");
}

#[test]
fn tampered_reordered_repeated_cut_and_foreign_records_are_refused_and_change_nothing() {
    let mut p = pair();
    write_some(&mut p.a, &p.root, 1);
    let recs = p.a.raw_records(p.b.journal_len(), usize::MAX).unwrap();
    assert!(recs.len() >= 3);

    // A flipped bit anywhere in a record: in the length, the nonce, the ciphertext, the tag.
    for at in [0, 5, 9, recs[1].len() / 2, recs[1].len() - 1] {
        let mut bad = recs.clone();
        bad[1][at] ^= 0x01;
        refused(&mut p.b, &p.root, &bad, &format!("bit flipped at byte {at}"));
    }
    // Out of order, repeated, one left out.
    let mut swapped = recs.clone();
    swapped.swap(0, 1);
    refused(&mut p.b, &p.root, &swapped, "reordered");
    refused(&mut p.b, &p.root, &[recs[0].clone(), recs[0].clone()], "repeated");
    refused(&mut p.b, &p.root, &recs[1..], "the first left out");
    // Cut short, extended, empty, garbage.
    let mut cut = recs.clone();
    let n = cut[0].len() - 1;
    cut[0].truncate(n);
    refused(&mut p.b, &p.root, &cut, "cut short");
    let mut long = recs.clone();
    long[0].push(0);
    refused(&mut p.b, &p.root, &long, "extended");
    refused(&mut p.b, &p.root, &[Vec::new()], "empty");
    refused(&mut p.b, &p.root, &[vec![0xff; 64]], "garbage");
    // A good record after a bad one: nothing of the batch is taken.
    let mut tail_bad = recs.clone();
    let last = tail_bad.len() - 1;
    tail_bad[last][20] ^= 0x80;
    refused(&mut p.b, &p.root, &tail_bad, "bad last record of a batch");

    // Another store's records (its own key and store id), at the right position.
    let other_dir = p.root.join("other");
    let mut other = new_store(&other_dir, "Someone else", Role::Investigator);
    for i in 0..4 {
        other.create_case(NewCase { title: format!("x{i}"), ..Default::default() }).unwrap();
    }
    let foreign = other.raw_records(p.b.journal_len(), 1).unwrap();
    assert_eq!(foreign.len(), 1);
    refused(&mut p.b, &p.root, &foreign, "another store's record");

    // After all that, the honest batch is taken.
    p.b.append_raw(&recs).unwrap();
    assert_eq!(views(&p.a), views(&p.b));
    // ... and taking it again is refused: those positions are filled.
    refused(&mut p.b, &p.root, &recs, "already taken");
}

#[test]
fn two_copies_that_both_wrote_cannot_take_each_others_records() {
    // A fork: both copies signed the next event of the same profile. The records open at
    // their position (same key, same position), but the chain refuses the second.
    let mut p = pair();
    p.a.create_case(NewCase { title: "on a".into(), ..Default::default() }).unwrap();
    p.b.create_case(NewCase { title: "on b".into(), ..Default::default() }).unwrap();
    let from_b = p.b.raw_records(p.a.journal_len() - 1, 1).unwrap();
    let before = views(&p.a);
    // At position n the record of b would replace a's record: refused since a holds it; b's
    // record cannot take position n+1 either (it was sealed for n).
    let err = p.a.append_raw(&from_b).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert_eq!(views(&p.a), before);

    // After a rolls back its own record, b's record fits at n (the rollback a replica does
    // when the database took the other copy's append).
    let n = p.a.journal_len() - 1;
    p.a.truncate_journal(n).unwrap();
    p.a.append_raw(&from_b).unwrap();
    assert_eq!(views(&p.a), views(&p.b));
}

#[test]
fn forked_chain_is_refused_even_where_the_position_fits() {
    // c is a third copy that wrote two events of the profile; b wrote one. b's journal has
    // length n+1, c's n+2: c's record n+1 opens at b's position n+1, but its chain links to
    // c's own record n, not to b's.
    let mut p = pair();
    // A third copy, made while b is closed.
    drop(p.b);
    copy_dir(&p.root.join("b"), &p.root.join("c"));
    p.b = Store::open_with(&p.root.join("b"), &Passphrase::new(PASS), shared(&p.root)).unwrap();
    let mut c = Store::open_with(&p.root.join("c"), &Passphrase::new(PASS), shared(&p.root)).unwrap();
    c.create_case(NewCase { title: "c1".into(), ..Default::default() }).unwrap();
    c.create_case(NewCase { title: "c2".into(), ..Default::default() }).unwrap();
    p.b.create_case(NewCase { title: "b1".into(), ..Default::default() }).unwrap();
    let c_second = c.raw_records(p.b.journal_len(), 1).unwrap();
    let before = journal_bytes(&p.root.join("b"));
    let err = p.b.append_raw(&c_second).unwrap_err();
    assert!(matches!(err, Error::ChainConflict { .. }), "{err}");
    assert!(err.to_string().contains("nothing was appended"), "{err}");
    assert_eq!(journal_bytes(&p.root.join("b")), before);
}

#[test]
fn truncate_rolls_back_and_the_records_can_be_taken_again() {
    let mut p = pair();
    let n0 = p.b.journal_len();
    let before = views(&p.b);
    write_some(&mut p.a, &p.root, 1);
    mirror(&p.a, &mut p.b);
    let after = views(&p.b);
    assert_ne!(before, after);

    let err = p.b.truncate_journal(p.b.journal_len() + 1).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    p.b.truncate_journal(p.b.journal_len()).unwrap();
    assert_eq!(views(&p.b), after);

    p.b.truncate_journal(n0).unwrap();
    assert_eq!(p.b.journal_len(), n0);
    assert_eq!(views(&p.b), before);
    assert!(p.b.check(false, &mut |_| {}).unwrap().ok);
    // The evidence's object stays (shared; collection decides), but it is no longer named.
    assert_eq!(p.b.orphan_objects().unwrap().len(), 1);

    // The store writes on after a rollback: its own chain continues from what remains.
    p.b.truncate_journal(n0).unwrap();
    mirror(&p.a, &mut p.b);
    assert_eq!(views(&p.b), after);
    assert!(p.b.check(true, &mut |_| {}).unwrap().ok);

    // And a rolled-back store reopens as it was left.
    p.b.truncate_journal(n0).unwrap();
    drop(p.b);
    let mut b = Store::open_with(&p.root.join("b"), &Passphrase::new(PASS), shared(&p.root)).unwrap();
    assert_eq!(views(&b), before);
    b.create_case(NewCase { title: "after the rollback".into(), ..Default::default() }).unwrap();
    assert!(b.check(false, &mut |_| {}).unwrap().ok);
}
