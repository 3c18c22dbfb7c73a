//! The engine's tests: ranking, highlighting, prefixes, bad queries, and real stores
//! (incremental refresh, scope, nothing on disk).

use std::path::Path;

use casebridge_core::{CaseEdit, EvidenceOptions, KdfParams, NewCase, Passphrase, Role, Store};

use super::*;

fn entry(kind: HitKind, case: Uuid, fields: Vec<(SearchField, &str)>) -> Entry {
    Entry {
        kind,
        id: Uuid::now_v7(),
        case_id: case,
        case_title: Some("t".into()),
        brief_id: None,
        fields: fields.into_iter().map(|(f, t)| (f, t.to_string())).collect(),
    }
}

/// The text the ranges of a match cover, as JavaScript would slice it (UTF-16).
fn highlighted(m: &FieldMatch) -> Vec<String> {
    let units: Vec<u16> = m.snippet.encode_utf16().collect();
    m.ranges.iter().map(|r| String::from_utf16(&units[r.start as usize..r.end as usize]).unwrap()).collect()
}

#[test]
fn ranks_title_matches_above_body_text_and_reports_the_field() {
    let mut idx = SearchIndex::new().unwrap();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    idx.add(&entry(HitKind::Note, a, vec![(SearchField::Note, "the van was parked near the bakery for an hour, then left")])).unwrap();
    idx.add(&entry(HitKind::Case, b, vec![(SearchField::Title, "White van arson"), (SearchField::Summary, "fires at night")])).unwrap();
    idx.add(&entry(HitKind::Note, b, vec![(SearchField::Note, "nothing of interest")])).unwrap();
    idx.commit().unwrap();
    let hits = idx.search("van", 10).unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!((hits[0].kind, hits[0].case_id), (HitKind::Case, b), "the title hit ranks first");
    assert!(hits[0].score > hits[1].score);
    assert_eq!(hits[0].matches.len(), 1, "only the field that matched: {:?}", hits[0].matches);
    assert_eq!(hits[0].matches[0].field, SearchField::Title);
    assert_eq!(highlighted(&hits[0].matches[0]), ["van"]);
    assert_eq!((hits[1].kind, hits[1].matches[0].field), (HitKind::Note, SearchField::Note));
}

#[test]
fn every_word_must_match_and_the_last_is_a_prefix() {
    let mut idx = SearchIndex::new().unwrap();
    let c = Uuid::now_v7();
    idx.add(&entry(HitKind::Note, c, vec![(SearchField::Note, "A witness saw a white van")])).unwrap();
    idx.add(&entry(HitKind::Note, c, vec![(SearchField::Note, "The witness statement is missing")])).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.search("wit", 10).unwrap().len(), 2, "a prefix of the last word");
    let hits = idx.search("witness van", 10).unwrap();
    assert_eq!(hits.len(), 1, "both words");
    assert_eq!(highlighted(&hits[0].matches[0]), ["witness", "van"]);
    assert!(idx.search("van witness", 10).unwrap().len() == 1);
    assert!(idx.search("va wit", 10).unwrap().is_empty(), "only the last word is a prefix");
}

#[test]
fn highlight_ranges_are_utf16_offsets_and_case_and_accents_fold() {
    let mut idx = SearchIndex::new().unwrap();
    let c = Uuid::now_v7();
    idx.add(&entry(HitKind::Note, c, vec![(SearchField::Note, "Zeugin 👀 im Café: Fahrrad gestohlen")])).unwrap();
    idx.commit().unwrap();
    let hits = idx.search("CAFE fahrrad", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(highlighted(&hits[0].matches[0]), ["Café", "Fahrrad"]);
}

#[test]
fn bad_queries_find_nothing_and_never_panic() {
    let mut idx = SearchIndex::new().unwrap();
    idx.add(&entry(HitKind::Note, Uuid::now_v7(), vec![(SearchField::Note, "a note about AND OR NOT title:x")])).unwrap();
    idx.commit().unwrap();
    for q in ["", "   ", "***", "\"", "title:", "(((", "\0", &"x".repeat(100_000), &"word ".repeat(1000), "AND OR"] {
        let _ = idx.search(q, 10).unwrap();
    }
    assert!(idx.search("", 10).unwrap().is_empty());
    assert!(idx.search("!!!", 10).unwrap().is_empty());
    // Query syntax is not syntax: `title:x` is two words.
    assert_eq!(idx.search("title:x", 10).unwrap().len(), 1);
}

#[test]
fn search_cases_groups_hits_by_case_best_first() {
    let mut idx = SearchIndex::new().unwrap();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for _ in 0..3 {
        idx.add(&entry(HitKind::Note, a, vec![(SearchField::Note, "graffiti on the wall")])).unwrap();
    }
    idx.add(&entry(HitKind::Case, b, vec![(SearchField::Title, "Graffiti")])).unwrap();
    idx.commit().unwrap();
    let cases = idx.search_cases("graffiti").unwrap();
    assert_eq!(cases.iter().map(|c| c.case_id).collect::<Vec<_>>(), [b, a]);
    assert_eq!(cases[1].hits, 3);
    assert_eq!(cases[0].best.as_ref().unwrap().matches[0].field, SearchField::Title);
    idx.remove_case(a);
    idx.commit().unwrap();
    assert_eq!(idx.search_cases("graffiti").unwrap().len(), 1);
}

#[test]
fn search_cases_returns_every_case_with_snippets_for_the_first_only() {
    let mut idx = SearchIndex::new().unwrap();
    let n = crate::SNIPPET_CASES + 25;
    for i in 0..n {
        idx.add(&entry(HitKind::Note, Uuid::now_v7(), vec![(SearchField::Note, &format!("bicycle stolen, note {i}"))])).unwrap();
    }
    idx.commit().unwrap();
    let cases = idx.search_cases("bicycle").unwrap();
    assert_eq!(cases.len(), n, "every matching case");
    assert!(cases[..crate::SNIPPET_CASES].iter().all(|c| c.best.as_ref().is_some_and(|b| !b.matches.is_empty())));
    assert!(cases[crate::SNIPPET_CASES..].iter().all(|c| c.best.is_none()));
    assert!(cases.windows(2).all(|w| w[0].score >= w[1].score), "best first");
}

fn store(dir: &Path, name: &str) -> Store {
    Store::create(dir, &Passphrase::new("correct horse battery staple"), name, Role::Investigator, KdfParams::INSECURE_FOR_TESTS).unwrap()
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_store_is_indexed_whole_then_kept_up_to_date_case_by_case() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = store(&tmp.path().join("s"), "Vera");
    let case = s
        .create_case(NewCase {
            title: "Bike thefts".into(),
            summary: Some("Racks at the station".into()),
            reference: Some("BER-2026-000123".into()),
            tags: vec!["bicycle".into()],
            category: None,
        })
        .unwrap();
    s.add_note(case, "A witness saw a white van").unwrap();
    let file = tmp.path().join("doorbell-camera.txt");
    std::fs::write(&file, b"frames of the camera").unwrap();
    let opts = EvidenceOptions { description: Some("Footage from the bakery".into()), ..Default::default() };
    s.add_evidence(case, &file, &opts, &mut |_| true).unwrap();
    let other = s.create_case(NewCase { title: "Graffiti".into(), summary: None, reference: None, tags: vec![], category: None }).unwrap();

    let before = files_under(tmp.path());
    let mut idx = SearchIndex::build(&s).unwrap();
    assert_eq!(idx.docs(), 4, "two cases, a note, an item");
    for (q, kind, field) in [
        ("station", HitKind::Case, SearchField::Summary),
        ("BER-2026-000123", HitKind::Case, SearchField::Reference),
        ("bicycle", HitKind::Case, SearchField::Tags),
        ("van", HitKind::Note, SearchField::Note),
        ("doorbell", HitKind::Evidence, SearchField::EvidenceName),
        ("bakery", HitKind::Evidence, SearchField::EvidenceDescription),
    ] {
        let hits = idx.search(q, 10).unwrap();
        assert_eq!(hits.len(), 1, "{q}");
        assert_eq!((hits[0].kind, hits[0].case_id, hits[0].matches[0].field), (kind, case, field), "{q}");
        assert_eq!(hits[0].case_title.as_deref(), Some("Bike thefts"));
    }
    assert_eq!(files_under(tmp.path()), before, "building the index wrote no file");

    // Nothing changed: nothing to do.
    assert_eq!(idx.refresh(&s).unwrap().cases, 0);
    // Events that change no indexed text touch no case.
    s.record_access(case, None, "viewed", None).unwrap();
    assert_eq!(idx.refresh(&s).unwrap().cases, 0);

    s.add_note(other, "Tags sprayed on the school").unwrap();
    s.edit_case(case, CaseEdit { title: Some("Bicycle thefts at Mitte".into()), ..CaseEdit::default() }).unwrap();
    let r = idx.refresh(&s).unwrap();
    assert_eq!(r.cases, 2, "only the two cases changed are indexed again");
    assert_eq!(idx.docs(), 5);
    assert_eq!(idx.search("school", 10).unwrap()[0].case_id, other);
    assert!(idx.search("thefts", 10).unwrap()[0].case_title.as_deref() == Some("Bicycle thefts at Mitte"));
    assert!(idx.search("mitte", 10).unwrap().len() == 1);
    assert_eq!(files_under(tmp.path()), files_under(tmp.path()), "stable");
}

#[test]
fn an_index_covers_only_what_its_store_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let mut vera = store(&tmp.path().join("vera"), "Vera");
    let case = vera.create_case(NewCase { title: "Arson".into(), summary: None, reference: None, tags: vec![], category: None }).unwrap();
    vera.add_note(case, "informant codename kestrel").unwrap();
    let mut tom = store(&tmp.path().join("tom"), "Tom");
    let own = tom.create_case(NewCase { title: "Arson too".into(), summary: None, reference: None, tags: vec![], category: None }).unwrap();
    let idx = SearchIndex::build(&tom).unwrap();
    assert!(idx.search("kestrel", 10).unwrap().is_empty());
    let hits = idx.search("arson", 10).unwrap();
    assert_eq!(hits.iter().map(|h| h.case_id).collect::<Vec<_>>(), [own]);
}
