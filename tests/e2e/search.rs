//! Issue 17 through the real CLI: `case list --search` runs the full-text engine (notes,
//! evidence, tags, references; ranked; `--json` adds the best match with its snippet and
//! ranges), tags are editable, and notes are corrected by signed amendments that keep the
//! original. Nothing of the index lands in the profile directory.

use serde_json::Value;

use crate::harness::{str_field, walk_files, Profile};

fn search(p: &Profile, text: &str) -> Vec<Value> {
    p.json(&["case", "list", "--search", text, "--json"]).as_array().expect("case list --json prints an array").clone()
}

fn ids(v: &[Value]) -> Vec<String> {
    v.iter().map(|c| str_field(c, "id")).collect()
}

#[test]
fn case_list_search_finds_words_in_notes_evidence_and_tags_ranked_with_snippets() {
    let p = Profile::new();
    let bikes = p.new_case("Bike thefts Mitte");
    let arson = p.new_case("Arson at the depot");
    let van = p.new_case("White van sightings");
    p.cmd(&["note", "add", &arson, "The caretaker saw a van leave at 22:31"]).ok();
    p.cmd(&["case", "edit", &bikes, "--tag", "bicycle", "--tag", "night"]).ok();
    p.add_evidence(&bikes, &p.write_file("doorbell-camera.txt", b"frames"));

    // A word only in a note finds the note's case, with the note as its match.
    let hits = search(&p, "caretaker");
    assert_eq!(ids(&hits), std::slice::from_ref(&arson));
    assert_eq!(str_field(&hits[0], "hit_kind"), "note");
    let m = &hits[0]["matches"][0];
    assert_eq!(str_field(m, "field"), "note");
    let snippet = str_field(m, "snippet");
    let r = &m["ranges"][0];
    let (start, end) = (r["start"].as_u64().unwrap() as usize, r["end"].as_u64().unwrap() as usize);
    assert_eq!(&snippet[start..end], "caretaker", "ASCII: UTF-16 offsets equal byte offsets");
    // The list's own fields are kept.
    assert_eq!(str_field(&hits[0], "title"), "Arson at the depot");
    assert!(hits[0]["evidence_count"].is_u64());

    // Ranked: a title match above a note match; the last word is a prefix.
    assert_eq!(ids(&search(&p, "van")), [van.clone(), arson.clone()]);
    assert_eq!(ids(&search(&p, "caret")), std::slice::from_ref(&arson));
    // Evidence names and edited tags are searched.
    assert_eq!(ids(&search(&p, "doorbell")), std::slice::from_ref(&bikes));
    assert_eq!(ids(&search(&p, "bicycle")), std::slice::from_ref(&bikes));
    assert_eq!(str_field(&search(&p, "bicycle")[0]["matches"][0], "field"), "tags");
    // The table keeps its format; nothing matching says so.
    let out = p.cmd(&["case", "list", "--search", "caretaker"]).ok().stdout.clone();
    assert!(out.starts_with("ID"), "{out}");
    assert!(out.contains("Arson at the depot") && !out.contains("Bike thefts"), "{out}");
    let none = p.cmd(&["case", "list", "--search", "zeppelin"]).ok().stdout.clone();
    assert!(none.contains("no cases match"), "{none}");
    // Query syntax and junk are words, never errors.
    for q in ["title:", "\"(", "***", "AND OR NOT", &"x".repeat(5000)] {
        p.cmd(&["case", "list", "--search", q, "--json"]).ok();
    }
    // Searching made no index file (the index lives in memory only; the store's own files
    // come and go as sled flushes, so names are checked, not the set), and no file holds a
    // searched word in plaintext.
    for f in walk_files(p.root()) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let index_file = [".managed.json", "meta.json", ".idx", ".term", ".pos", ".fieldnorm"].iter().any(|e| name.ends_with(e));
        assert!(!index_file, "a search index file in the profile: {}", f.display());
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(9).any(|w| w == b"caretaker"), "{} holds a note's word in plaintext", f.display());
    }
}

#[test]
fn tags_are_replaced_and_cleared_by_case_edit() {
    let p = Profile::new();
    let case = p.new_case("Graffiti");
    p.cmd(&["case", "edit", &case, "--tag", "school", "--tag", " spray ", "--tag", "school"]).ok();
    assert_eq!(p.json(&["case", "show", &case, "--json"])["tags"], serde_json::json!(["school", "spray"]));
    p.cmd(&["case", "edit", &case, "--clear-tags"]).ok();
    assert_eq!(p.json(&["case", "show", &case, "--json"])["tags"], serde_json::json!([]));
    assert!(search(&p, "school").is_empty(), "cleared tags are no longer found");
    p.cmd(&["case", "edit", &case, "--tag", "  "]).fails_with("blank");
    // Both at once is a usage error (clap's exit code 2), never a silent choice.
    let both = p.cmd(&["case", "edit", &case, "--tag", "a", "--clear-tags"]);
    assert_eq!(both.code, Some(2), "{both}");
    assert!(both.stderr.contains("cannot be used with"), "{both}");
    both.no_panic();
    let log = p.json(&["log", "--json"]);
    assert!(log.as_array().unwrap().iter().any(|e| str_field(e, "kind") == "case_edited"));
}

#[test]
fn a_note_is_amended_by_its_author_and_the_original_is_kept() {
    let p = Profile::new();
    let case = p.new_case("Hit and run");
    let note = p.cmd(&["note", "add", &case, "Arrival 22:13, a blue hatchback"]).ok().stdout.trim().to_string();
    p.cmd(&["note", "amend", &case, &note[..13], "--text", "Arrival 22:31, a blue hatchback", "--reason", "digits swapped"]).ok();
    let shown = p.json(&["case", "show", &case, "--json"]);
    let n = &shown["notes"][0];
    assert_eq!(str_field(n, "text"), "Arrival 22:31, a blue hatchback");
    assert_eq!(str_field(n, "original_text"), "Arrival 22:13, a blue hatchback");
    assert_eq!(str_field(&n["amendments"][0], "reason"), "digits swapped");
    // The search sees the current text only.
    assert_eq!(ids(&search(&p, "22:31")), std::slice::from_ref(&case));
    assert!(search(&p, "22:13").is_empty(), "the amended-away text is not found");
    // Both events are in the journal.
    let kinds: Vec<String> = p.json(&["log", "--json"]).as_array().unwrap().iter().map(|e| str_field(e, "kind")).collect();
    assert!(kinds.contains(&"note_added".to_string()) && kinds.contains(&"note_amended".to_string()), "{kinds:?}");
    // Bad input: the same text, an empty text, an unknown note; nothing changes.
    p.cmd(&["note", "amend", &case, &note, "--text", "Arrival 22:31, a blue hatchback"]).fails_with("nothing to amend");
    p.cmd(&["note", "amend", &case, &note, "--text", "   "]).fails();
    p.cmd(&["note", "amend", &case, "ffffffff", "--text", "x"]).fails_with("not a note of this case");
    assert_eq!(p.json(&["case", "show", &case, "--json"])["notes"][0]["amendments"].as_array().unwrap().len(), 1);
}
