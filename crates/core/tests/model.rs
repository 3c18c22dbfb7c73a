//! Model-based property test of the store: random operation sequences, with restarts,
//! index rebuilds and index loss, compared after every step against an in-memory model.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use casebridge_core::{CaseEdit, CaseFilter, CaseStatus, EvidenceOptions, NewCase, Passphrase, Role, Store, CHUNK_SIZE};
use casebridge_testkit::bytes::{xorshift_bytes, GOLDEN};
use casebridge_testkit::fixtures::{new_store, PASS};
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    NewCase { title: u8, reference: bool },
    Edit { case: usize, title: Option<u8>, summary: Option<u8>, status: Option<u8> },
    Note { case: usize, text: u8 },
    Evidence { case: usize, len: usize, seed: u8 },
    Export { ev: usize },
    Restart,
    Rebuild,
    LoseIndex,
}

fn op() -> impl Strategy<Value = Op> {
    let sizes = prop_oneof![Just(0usize), Just(1), 2usize..5000, Just(CHUNK_SIZE as usize), Just(CHUNK_SIZE as usize + 1)];
    prop_oneof![
        3 => (any::<u8>(), any::<bool>()).prop_map(|(title, reference)| Op::NewCase { title, reference }),
        3 => (any::<usize>(), any::<Option<u8>>(), any::<Option<u8>>(), proptest::option::of(0u8..4))
            .prop_map(|(case, title, summary, status)| Op::Edit { case, title, summary, status }),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(case, text)| Op::Note { case, text }),
        3 => (any::<usize>(), sizes, any::<u8>()).prop_map(|(case, len, seed)| Op::Evidence { case, len, seed }),
        1 => any::<usize>().prop_map(|ev| Op::Export { ev }),
        1 => Just(Op::Restart),
        1 => Just(Op::Rebuild),
        1 => Just(Op::LoseIndex),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct MCase {
    id: Uuid,
    title: String,
    summary: Option<String>,
    reference: Option<String>,
    status: CaseStatus,
    notes: Vec<String>,
    evidence: Vec<(Uuid, String, u64)>,
}

#[derive(Default)]
struct Model {
    cases: Vec<MCase>,
    custody_len: std::collections::BTreeMap<Uuid, usize>,
    evidence: Vec<(Uuid, Vec<u8>)>,
}

const STATUSES: [CaseStatus; 4] = [CaseStatus::Open, CaseStatus::Active, CaseStatus::Suspended, CaseStatus::Closed];

fn content(len: usize, seed: u8) -> Vec<u8> {
    xorshift_bytes(u64::from(seed).wrapping_mul(GOLDEN).wrapping_add(len as u64 + 1), len)
}

fn compare(store: &Store, model: &Model) {
    let mut listed = store.list_cases(&CaseFilter::default()).unwrap();
    listed.sort_by_key(|c| c.id);
    let mut expected = model.cases.clone();
    expected.sort_by_key(|c| c.id);
    assert_eq!(listed.len(), expected.len(), "case count");
    for (l, m) in listed.iter().zip(&expected) {
        assert_eq!((l.id, &l.title, l.status, l.evidence_count), (m.id, &m.title, m.status, m.evidence.len()));
        let d = store.case(m.id).unwrap();
        assert_eq!(d.summary, m.summary);
        assert_eq!(d.reference, m.reference);
        assert_eq!(d.notes.iter().map(|n| n.text.clone()).collect::<Vec<_>>(), m.notes);
        assert_eq!(d.evidence.iter().map(|e| (e.id, e.sha256.clone(), e.size)).collect::<Vec<_>>(), m.evidence);
        for (ev, _, _) in &m.evidence {
            assert_eq!(store.custody(*ev).unwrap().len(), model.custody_len[ev], "custody of {ev}");
        }
    }
}

fn run(ops: Vec<Op>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let pass = Passphrase::new(PASS);
    let mut store = Some(new_store(&dir, "Model Tester", Role::Investigator));
    let mut model = Model::default();
    let files: PathBuf = tmp.path().join("files");
    std::fs::create_dir(&files).unwrap();
    for (step, op) in ops.into_iter().enumerate() {
        let s = store.as_mut().unwrap();
        match op {
            Op::NewCase { title, reference } => {
                let reference = reference.then(|| format!("BER-2026-{title:06}"));
                let title = format!("case {title}");
                let id = s.create_case(NewCase { title: title.clone(), reference: reference.clone(), ..Default::default() }).unwrap();
                model.cases.push(MCase { id, title, summary: None, reference, status: CaseStatus::Open, notes: vec![], evidence: vec![] });
            }
            Op::Edit { case, title, summary, status } => {
                if model.cases.is_empty() {
                    continue;
                }
                let i = case % model.cases.len();
                let edit = CaseEdit {
                    title: title.map(|t| format!("renamed {t}")),
                    summary: summary.map(|t| format!("summary {t}")),
                    status: status.map(|x| STATUSES[x as usize]),
                    reference: None,
                    category: None,
                    tags: None,
                };
                let nothing = edit.title.is_none() && edit.summary.is_none() && edit.status.is_none();
                let r = s.edit_case(model.cases[i].id, edit.clone());
                if nothing {
                    assert!(r.is_err(), "an empty edit must be refused");
                    continue;
                }
                r.unwrap();
                let m = &mut model.cases[i];
                if let Some(t) = edit.title {
                    m.title = t;
                }
                if edit.summary.is_some() {
                    m.summary = edit.summary;
                }
                if let Some(st) = edit.status {
                    m.status = st;
                }
            }
            Op::Note { case, text } => {
                if model.cases.is_empty() {
                    continue;
                }
                let i = case % model.cases.len();
                let text = format!("note {text} at step {step}");
                s.add_note(model.cases[i].id, &text).unwrap();
                model.cases[i].notes.push(text);
            }
            Op::Evidence { case, len, seed } => {
                if model.cases.is_empty() {
                    continue;
                }
                let i = case % model.cases.len();
                let data = content(len, seed);
                let path = files.join(format!("f{step}.bin"));
                std::fs::write(&path, &data).unwrap();
                let added = s.add_evidence(model.cases[i].id, &path, &EvidenceOptions::default(), &mut |_| true).unwrap();
                assert_eq!(added.sha256, casebridge_core::to_hex(&casebridge_core::sha256(&data)));
                model.cases[i].evidence.push((added.id, added.sha256, data.len() as u64));
                model.custody_len.insert(added.id, 1);
                model.evidence.push((added.id, data));
            }
            Op::Export { ev } => {
                if model.evidence.is_empty() {
                    continue;
                }
                let (id, data) = model.evidence[ev % model.evidence.len()].clone();
                let out = files.join(format!("out{step}"));
                s.export_evidence(id, &out, None, &mut |_| true).unwrap();
                assert_eq!(std::fs::read(&out).unwrap(), data);
                *model.custody_len.get_mut(&id).unwrap() += 1;
            }
            Op::Restart => {
                drop(store.take());
                store = Some(Store::open(&dir, &pass).unwrap());
            }
            Op::Rebuild => {
                drop(store.take());
                store = Some(Store::rebuild(&dir, &pass).unwrap().0);
            }
            Op::LoseIndex => {
                drop(store.take());
                std::fs::remove_dir_all(dir.join(casebridge_core::INDEX_DIR)).unwrap();
                store = Some(Store::open(&dir, &pass).unwrap());
            }
        }
        compare(store.as_ref().unwrap(), &model);
    }
    let s = store.as_mut().unwrap();
    let report = s.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.evidence, model.evidence.len());
    check_dir_clean(&dir);
}

fn check_dir_clean(dir: &Path) {
    assert_eq!(std::fs::read_dir(dir.join(casebridge_core::TMP_DIR)).unwrap().count(), 0, "tmp/ must be empty");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 200, .. ProptestConfig::default() })]

    #[test]
    fn store_matches_model_across_restarts_and_rebuilds(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops);
    }
}

/// Pinned: an index deleted right after the first case must come back from the journal alone.
#[test]
fn lose_index_after_first_case() {
    run(vec![Op::NewCase { title: 1, reference: true }, Op::LoseIndex, Op::Note { case: 0, text: 2 }, Op::Restart]);
}
