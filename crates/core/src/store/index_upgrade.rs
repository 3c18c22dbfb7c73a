//! An index written by an older version of this software is rebuilt on open (issue 12, part 5:
//! index format 2 keys every sled key; format 1 had plaintext ids, times and actors in them).

use std::path::Path;

use uuid::Uuid;

use super::*;
use crate::crypto::KdfParams;
use crate::index::{write_v1_for_tests, INDEX_FORMAT_VERSION};

const PASS: &str = "correct horse battery staple";

/// Every raw sled key of the index at `dir`, with its tree name.
fn raw_keys(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let db = crate::index::open_waiting(sled::Config::new().path(dir)).unwrap();
    let mut out = Vec::new();
    for name in db.tree_names() {
        for k in db.open_tree(&name).unwrap().iter().keys() {
            out.push((String::from_utf8_lossy(&name).into_owned(), k.unwrap().to_vec()));
        }
    }
    out
}

fn holds(keys: &[(String, Vec<u8>)], id: Uuid) -> bool {
    keys.iter().any(|(_, k)| k.windows(16).any(|w| w == id.as_bytes()))
}

#[test]
fn an_index_of_format_1_is_rebuilt_on_open_and_keeps_no_plaintext_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let pass = Passphrase::new(PASS);
    let mut store = Store::create(&dir, &pass, "Tester", Role::Investigator, KdfParams::INSECURE_FOR_TESTS).unwrap();
    let case = store.create_case(crate::NewCase { title: "Burglary".into(), ..Default::default() }).unwrap();
    store.add_note(case, "glass on the floor").unwrap();
    let file = tmp.path().join("statement.txt");
    std::fs::write(&file, b"I heard glass at 02:10.\n").unwrap();
    let ev = store.add_evidence(case, &file, &crate::EvidenceOptions::default(), &mut |_| true).unwrap().id;
    store.record_access(case, Some(ev), "viewed", Some("review".into())).unwrap();
    let before = (store.case(case).unwrap(), store.custody(ev).unwrap(), store.access_log(case).unwrap().len());

    // The same projection as format 1 wrote it: the logical keys in the clear.
    let tables = store.index.dump(&mut |t, _, msg| panic!("{}: {msg}", t.name()));
    let meta = store.index.meta().unwrap().unwrap();
    let master = store.master.clone();
    drop(store);
    let index_dir = dir.join(INDEX_DIR);
    std::fs::remove_dir_all(&index_dir).unwrap();
    write_v1_for_tests(&index_dir, &master, &tables, &meta).unwrap();
    let old = raw_keys(&index_dir);
    assert!(holds(&old, case) && holds(&old, ev), "the format-1 index has ids in its keys");
    assert!(!old.iter().any(|(t, k)| t == "meta" && k == b"version"), "format 1 records no version");

    // Opening rebuilds: the same state, a clean check, and no id left in any key.
    let mut store = Store::open(&dir, &pass).unwrap();
    assert_eq!((store.case(case).unwrap(), store.custody(ev).unwrap(), store.access_log(case).unwrap().len()), before);
    let report = store.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    drop(store);
    let new = raw_keys(&index_dir);
    assert!(!holds(&new, case) && !holds(&new, ev), "a key still holds an id after the upgrade");
    let version = new.iter().any(|(t, k)| t == "meta" && k == b"version");
    assert!(version, "the upgraded index records its version");
    let db = crate::index::open_waiting(sled::Config::new().path(&index_dir)).unwrap();
    assert_eq!(db.open_tree("meta").unwrap().get(b"version").unwrap().unwrap().as_ref(), INDEX_FORMAT_VERSION.to_be_bytes());
}

#[test]
fn an_index_of_an_unknown_version_is_rebuilt_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let pass = Passphrase::new(PASS);
    let mut store = Store::create(&dir, &pass, "Tester", Role::Investigator, KdfParams::INSECURE_FOR_TESTS).unwrap();
    let case = store.create_case(crate::NewCase { title: "Burglary".into(), ..Default::default() }).unwrap();
    drop(store);
    {
        let db = crate::index::open_waiting(sled::Config::new().path(dir.join(INDEX_DIR))).unwrap();
        db.open_tree("meta").unwrap().insert(b"version", &99u32.to_be_bytes()).unwrap();
        // A record this version could not read: it must be gone after the rebuild.
        db.open_tree("cases").unwrap().insert(b"junk", b"junk").unwrap();
        db.flush().unwrap();
    }
    let mut store = Store::open(&dir, &pass).unwrap();
    assert_eq!(store.list_cases(&crate::CaseFilter::default()).unwrap().len(), 1);
    assert_eq!(store.case(case).unwrap().title, "Burglary");
    assert!(store.check(false, &mut |_| {}).unwrap().ok);
}
