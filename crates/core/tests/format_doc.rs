//! docs/FORMAT.md is the written format: these tests fail when the code gains an index tree or
//! a file in the store directory that the document does not describe, or the document keeps
//! one the code no longer has.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use casebridge_core::projection::Table;
use casebridge_core::{KdfParams, NewCase, Passphrase, Role, Store};

fn format_md() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/FORMAT.md")).unwrap()
}

/// The text of the section under `heading` (a whole `## ...` or `### ...` line), up to the next
/// heading of any level.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("FORMAT.md has no heading {heading:?}"));
    let body = &doc[start + heading.len() + 2..];
    let end = body.find("\n#").unwrap_or(body.len());
    &body[..end]
}

/// The first column of every row of the section's table, without its backquotes.
fn table_names(section: &str) -> BTreeSet<String> {
    section.lines().filter_map(|l| l.strip_prefix("| `")).filter_map(|l| l.split_once('`')).map(|(name, _)| name.to_string()).collect()
}

#[test]
fn every_index_tree_has_its_row_and_every_row_a_tree() {
    let doc = format_md();
    let documented = table_names(section(&doc, "### Index keys"));
    let mut trees: BTreeSet<String> = Table::ALL.iter().map(|t| t.name().to_string()).collect();
    trees.insert("meta".into());
    let missing: Vec<_> = trees.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&trees).collect();
    assert!(missing.is_empty(), "index trees without a row in FORMAT.md \"Index keys\": {missing:?}");
    assert!(stale.is_empty(), "FORMAT.md \"Index keys\" rows for trees the code does not have: {stale:?}");
    // Every tree's record (the key table's fourth column) is described in "Index records".
    let records: BTreeSet<&str> = section(&doc, "### Index records")
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split_once(" |"))
        .map(|(name, _)| name.trim_matches('`'))
        .collect();
    for row in section(&doc, "### Index keys").lines().filter(|l| l.starts_with("| `")) {
        let row = row.replace("\\|", "or"); // `\|\|` (concatenation) inside a cell
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (tree, record) = (cells[1], cells[4]);
        let described =
            records.iter().any(|r| record == *r || record.starts_with(&format!("{r} (")) || record.starts_with(&format!("{r}: ")))
                || record == "empty"
                || record.contains("raw bytes")
                || record.starts_with("see below");
        assert!(described, "FORMAT.md: the record of {tree} ({record:?}) has no row in \"Index records\"");
    }
}

#[test]
fn every_file_of_a_store_is_in_the_directory_layout() {
    let doc = format_md();
    let layout = section(&doc, "## Directory layout");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let pass = Passphrase::new("correct horse battery staple");
    let mut s = Store::create(&dir, &pass, "Tester", Role::Investigator, KdfParams::INSECURE_FOR_TESTS).unwrap();
    let case = s.create_case(NewCase { title: "first".into(), ..Default::default() }).unwrap();
    let file = tmp.path().join("photo.txt");
    std::fs::write(&file, b"not a photo, but content").unwrap();
    s.add_evidence(case, &file, &Default::default(), &mut |_| true).unwrap();
    drop(s);
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            // Below a folder: name the files of journal/ (objects/ names are keyed hashes,
            // index/ is sled's own).
            if name == "journal" {
                for f in std::fs::read_dir(entry.path()).unwrap() {
                    seen.insert(format!("journal/{}", f.unwrap().file_name().to_string_lossy()));
                }
            } else {
                seen.insert(format!("{name}/"));
            }
        } else {
            seen.insert(name);
        }
    }
    assert!(seen.len() >= 6, "the store has only {seen:?}");
    for path in &seen {
        assert!(
            layout.lines().any(|l| l.split_whitespace().next().is_some_and(|first| first == path || first.starts_with(path.as_str()))),
            "{path} is in a new store but not in FORMAT.md \"Directory layout\""
        );
    }
}
