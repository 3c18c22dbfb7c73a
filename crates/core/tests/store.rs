//! Store behaviour at the library level: unlocking, locking, journal tails and damage.
#![allow(clippy::unwrap_used)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use casebridge_core::{CaseFilter, Error, EvidenceOptions, KdfParams, NewCase, Passphrase, Role, Store, JOURNAL_DIR, JOURNAL_FILE};
use casebridge_testkit::fixtures::{new_store as create_store, PASS};

fn new_store() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let mut s = create_store(&dir, "Tester", Role::Investigator);
    s.create_case(NewCase { title: "first".into(), ..Default::default() }).unwrap();
    (tmp, dir)
}

fn journal(dir: &Path) -> PathBuf {
    dir.join(JOURNAL_DIR).join(JOURNAL_FILE)
}

#[test]
fn wrong_passphrase_is_a_clear_error() {
    let (_t, dir) = new_store();
    let err = Store::open(&dir, &Passphrase::new("not the passphrase")).err().unwrap();
    assert!(matches!(err, Error::WrongPassphrase), "{err}");
    assert!(err.to_string().contains("wrong passphrase"));
}

#[test]
fn second_open_gets_in_use_not_a_hang() {
    let (_t, dir) = new_store();
    let _held = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
    let err = Store::open(&dir, &Passphrase::new(PASS)).err().unwrap();
    assert!(matches!(err, Error::InUse { .. }), "{err}");
    assert!(err.to_string().contains("store is in use"));
}

#[test]
fn create_refuses_existing_store_and_non_empty_dir() {
    let (_t, dir) = new_store();
    let err = Store::create(&dir, &Passphrase::new(PASS), "X", Role::Volunteer, KdfParams::INSECURE_FOR_TESTS).err().unwrap();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    let other = dir.parent().unwrap().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("notes.txt"), b"mine").unwrap();
    let err = Store::create(&other, &Passphrase::new(PASS), "X", Role::Volunteer, KdfParams::INSECURE_FOR_TESTS).err().unwrap();
    assert!(matches!(err, Error::NotEmpty { .. }), "{err}");
    assert_eq!(fs::read(other.join("notes.txt")).unwrap(), b"mine");
}

#[test]
fn short_passphrase_refused_at_create() {
    let tmp = tempfile::tempdir().unwrap();
    let err =
        Store::create(&tmp.path().join("p"), &Passphrase::new("short"), "X", Role::Volunteer, KdfParams::INSECURE_FOR_TESTS).err().unwrap();
    assert!(matches!(err, Error::PassphraseTooShort { len: 5, min: 10 }), "{err}");
    assert!(!tmp.path().join("p").exists());
}

#[test]
fn torn_tail_is_cut_and_acknowledged_records_survive() {
    let (_t, dir) = new_store();
    let before = fs::metadata(journal(&dir)).unwrap().len();
    // An append that never completed: a length prefix promising more than was written.
    let mut f = OpenOptions::new().append(true).open(journal(&dir)).unwrap();
    f.write_all(&500u32.to_le_bytes()).unwrap();
    f.write_all(&(!500u32).to_le_bytes()).unwrap();
    f.write_all(&[0xAB; 40]).unwrap();
    drop(f);
    let mut s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
    assert_eq!(fs::metadata(journal(&dir)).unwrap().len(), before, "torn tail not cut");
    assert_eq!(s.list_cases(&CaseFilter::default()).unwrap().len(), 1);
    s.create_case(NewCase { title: "second".into(), ..Default::default() }).unwrap();
    assert!(s.check(true, &mut |_| {}).unwrap().ok);
}

#[test]
fn damaged_journal_refuses_changes_and_check_names_the_record() {
    let (_t, dir) = new_store();
    {
        let mut s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
        s.create_case(NewCase { title: "second".into(), ..Default::default() }).unwrap();
    }
    // Lose the index so that the damaged record must be read on open.
    fs::remove_dir_all(dir.join(casebridge_core::INDEX_DIR)).unwrap();
    let mut bytes = fs::read(journal(&dir)).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0x01; // inside the last record's ciphertext
    fs::write(journal(&dir), &bytes).unwrap();
    let mut s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
    let err = s.create_case(NewCase { title: "third".into(), ..Default::default() }).err().unwrap();
    assert!(matches!(err, Error::JournalDamaged { .. }), "{err}");
    let report = s.check(false, &mut |_| {}).unwrap();
    assert!(!report.ok);
    assert!(
        report.problems.iter().any(|p| p.code == "journal_record_damaged" && p.item.starts_with("journal record")),
        "{:?}",
        report.problems
    );
    drop(s);
    assert_eq!(fs::read(journal(&dir)).unwrap(), bytes, "a damaged journal must never be rewritten");
}

#[test]
fn truncated_journal_behind_the_index_is_reported_not_ignored() {
    let (_t, dir) = new_store();
    let len = fs::metadata(journal(&dir)).unwrap().len();
    OpenOptions::new().write(true).open(journal(&dir)).unwrap().set_len(len - 100).unwrap();
    let err = Store::open(&dir, &Passphrase::new(PASS)).err().unwrap();
    assert!(matches!(err, Error::IndexDamaged { .. }), "{err}");
}

#[test]
fn passphrase_change_rewraps_only() {
    let (_t, dir) = new_store();
    let journal_before = fs::read(journal(&dir)).unwrap();
    {
        let mut s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
        s.change_passphrase(&Passphrase::new("an entirely new passphrase"), KdfParams::INSECURE_FOR_TESTS).unwrap();
    }
    assert_eq!(fs::read(journal(&dir)).unwrap(), journal_before);
    assert!(matches!(Store::open(&dir, &Passphrase::new(PASS)).err().unwrap(), Error::WrongPassphrase));
    let s = Store::open(&dir, &Passphrase::new("an entirely new passphrase")).unwrap();
    assert_eq!(s.list_cases(&CaseFilter::default()).unwrap()[0].title, "first");
}

#[test]
fn import_of_a_directory_or_missing_file_names_it_and_adds_nothing() {
    let (t, dir) = new_store();
    let mut s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
    let case = s.list_cases(&CaseFilter::default()).unwrap()[0].id;
    let missing = t.path().join("nope.jpg");
    let err = s.add_evidence(case, &missing, &EvidenceOptions::default(), &mut |_| true).err().unwrap();
    assert!(err.to_string().contains("nope.jpg"), "{err}");
    let err = s.add_evidence(case, t.path(), &EvidenceOptions::default(), &mut |_| true).err().unwrap();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert_eq!(s.list_evidence(case).unwrap().len(), 0);
}

#[test]
fn flipped_length_in_the_middle_is_damage_never_a_torn_tail() {
    let (_t, dir) = new_store();
    {
        let mut s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
        s.create_case(NewCase { title: "second".into(), ..Default::default() }).unwrap();
    }
    fs::remove_dir_all(dir.join(casebridge_core::INDEX_DIR)).unwrap();
    let mut bytes = fs::read(journal(&dir)).unwrap();
    // Record 0 starts right after the 28-byte journal header; flip the top bit of its length.
    bytes[28 + 3] ^= 0x80;
    fs::write(journal(&dir), &bytes).unwrap();
    let mut s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
    let report = s.check(false, &mut |_| {}).unwrap();
    assert!(report.problems.iter().any(|p| p.code == "journal_record_damaged"), "{:?}", report.problems);
    drop(s);
    assert_eq!(fs::read(journal(&dir)).unwrap(), bytes, "nothing may be cut");
}

#[test]
fn derivative_links_to_original_which_stays_unchanged_and_access_is_logged() {
    let (t, dir) = new_store();
    let mut s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
    let case = s.list_cases(&CaseFilter::default()).unwrap()[0].id;
    let f = t.path().join("orig.bin");
    fs::write(&f, b"original content").unwrap();
    let orig = s.add_evidence(case, &f, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let d = s
        .add_derivative(
            orig.id,
            &mut &b"redacted content"[..],
            "image/jpeg",
            "orig-redacted.jpg",
            vec!["strip-metadata".into()],
            &mut |_| true,
        )
        .unwrap();
    let view = s.evidence(d.id).unwrap();
    let prov = view.derived_from.unwrap();
    assert_eq!((prov.original_id, prov.original_sha256.as_str()), (orig.id, orig.sha256.as_str()));
    assert_eq!(s.evidence(orig.id).unwrap().sha256, orig.sha256);
    let custody = s.custody(orig.id).unwrap();
    assert_eq!(custody.last().unwrap().action, casebridge_core::CustodyAction::Redacted);
    s.record_access(case, Some(orig.id), "viewed", Some("review".into())).unwrap();
    // Issue 16: only a supervisor approves a disclosure; this store is an investigator's.
    let me = s.whoami().member_id;
    assert!(matches!(s.record_disclosure(case, me, "court order 12/2026"), Err(casebridge_core::Error::NotAllowed { .. })));
    let log = s.access_log(case).unwrap();
    assert_eq!((log.len(), log[0].action.as_str(), log[0].reason.as_deref()), (1, "viewed", Some("review")));
    assert_eq!(s.disclosures(case).unwrap().len(), 0, "the refused disclosure recorded nothing");
    drop(s);
    let (mut s, _) = Store::rebuild(&dir, &Passphrase::new(PASS)).unwrap();
    assert!(s.evidence(d.id).unwrap().derived_from.is_some());
    assert_eq!(s.access_log(case).unwrap().len(), 1);
    assert!(s.check(true, &mut |_| {}).unwrap().ok);
}

/// Regression (bundle bench, 10,000 photos): importing tens of thousands of events used one
/// sled transaction and held hundreds of MiB. The index is now brought up in bounded
/// transactions; everything must still be there, after a restart and after a rebuild.
#[test]
fn importing_more_events_than_one_index_batch_keeps_every_event() {
    let shm = std::path::Path::new("/dev/shm");
    let tmp = if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() };
    let pass = Passphrase::new(PASS);
    let mut b = create_store(&tmp.path().join("b"), "Sender", Role::Volunteer);
    let case = b.create_case(NewCase { title: "many notes".into(), ..Default::default() }).unwrap();
    for i in 0..4500 {
        b.add_note(case, &format!("note {i}")).unwrap();
    }
    let events = b.case_events(case, None).unwrap();
    assert_eq!(events.len(), 4501);
    let dir = tmp.path().join("a");
    let mut a = create_store(&dir, "Receiver", Role::Investigator);
    assert_eq!(a.import_events(&events, vec![]).unwrap(), 4501);
    assert_eq!(a.case(case).unwrap().notes.len(), 4500);
    assert!(a.check(false, &mut |_| {}).unwrap().ok);
    drop(a);
    let a = Store::open(&dir, &pass).unwrap();
    assert_eq!(a.case(case).unwrap().notes.len(), 4500);
    drop(a);
    let (mut a, report) = Store::rebuild(&dir, &pass).unwrap();
    assert_eq!(report.cases, 1);
    assert_eq!(a.case(case).unwrap().notes.len(), 4500);
    assert!(a.check(false, &mut |_| {}).unwrap().ok);
}

#[test]
fn unreadable_sled_files_are_set_aside_and_the_index_rebuilt_from_the_journal() {
    let (_t, dir) = new_store();
    // Garbage over sled's own files (what a SIGKILL mid-write can leave, spacejam/sled#1509).
    let index = dir.join("index");
    for entry in fs::read_dir(&index).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let len = fs::metadata(&path).unwrap().len().max(64);
            fs::write(&path, vec![0xA5u8; len as usize]).unwrap();
        }
    }
    let store = Store::open(&dir, &Passphrase::new(PASS)).expect("the journal rebuilds the index");
    let cases = store.list_cases(&CaseFilter::default()).unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].title, "first");
    assert!(dir.join("index.damaged").is_dir(), "the damaged index is kept aside, not deleted");
}

/// Sets the modification time of every object file `secs` into the past (objects are named
/// by a keyed hash, so a test can only reach all of them).
fn age_objects(dir: &Path, secs: u64) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
    for d in fs::read_dir(dir.join(casebridge_core::OBJECTS_DIR)).unwrap().flatten() {
        for f in fs::read_dir(d.path()).unwrap().flatten() {
            fs::File::open(f.path()).unwrap().set_modified(then).unwrap();
        }
    }
}

/// Content no evidence names (stored by an import whose events never came) is listed as an
/// orphan and removed once older than the cutoff; content evidence names is never removed;
/// content found held again by an import is young again. `check` is clean afterwards.
#[test]
fn unreferenced_objects_are_listed_and_removed_when_old() {
    let (_t, dir) = new_store();
    let mut s = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
    let case = s.list_cases(&CaseFilter::default()).unwrap()[0].id;
    let file = dir.parent().unwrap().join("kept.txt");
    fs::write(&file, b"named by evidence").unwrap();
    s.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let orphan: &[u8] = b"stored by a refused bundle";
    let sha = casebridge_core::to_hex(&casebridge_core::sha256(orphan));
    s.import_content(&mut &orphan[..], &sha, orphan.len() as u64, &mut |_| true).unwrap();
    let found = s.orphan_objects().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(s.check(false, &mut |_| {}).unwrap().orphan_objects, 1);

    // Young: kept.
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let sweep = s.remove_orphan_objects(hour_ago).unwrap();
    assert_eq!((sweep.removed, sweep.kept, sweep.kept_bytes), (0, 1, found[0].size));

    // Old, but found held again by an import: young again, kept.
    age_objects(&dir, 2 * 3600);
    assert!(s.content_importer().has_content(&sha));
    let sweep = s.remove_orphan_objects(hour_ago).unwrap();
    assert_eq!((sweep.removed, sweep.kept), (0, 1));
    age_objects(&dir, 2 * 3600);
    s.import_content(&mut &orphan[..], &sha, orphan.len() as u64, &mut |_| true).unwrap();
    assert_eq!(s.remove_orphan_objects(hour_ago).unwrap().removed, 0);

    // Old: removed; the evidence's content stays, however old.
    age_objects(&dir, 2 * 3600);
    let sweep = s.remove_orphan_objects(hour_ago).unwrap();
    assert_eq!((sweep.removed, sweep.removed_bytes, sweep.kept), (1, found[0].size, 0));
    assert!(!s.has_content(&sha));
    assert!(s.orphan_objects().unwrap().is_empty());
    let report = s.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!((report.orphan_objects, report.objects_checked), (0, 1));
}
