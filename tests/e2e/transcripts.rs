//! Exact transcripts of user-facing errors: exit code, stdout and stderr, so that a change of
//! wording shows in review. Temp paths are replaced by `<STORE>` and `<TMP>`.
//!
//! Each error test also checks that nothing was changed by the refused command.

use std::fs;

use serde_json::Value;

use crate::harness::{assert_same_tree, s, snapshot, Output, Profile};

/// An id no store holds.
const ABSENT: &str = "01890000-0000-7000-8000-000000000000";

/// The transcript of a run, with temp paths made stable.
fn transcript(p: &Profile, out: &Output) -> String {
    assert!(!out.timed_out, "{out}");
    let code = out.code.map_or("signal".to_string(), |c| c.to_string());
    let text = format!("exit {code}\n--- stdout ---\n{}--- stderr ---\n{}", out.stdout, out.stderr);
    text.replace(s(&p.store), "<STORE>").replace(s(p.root()), "<TMP>")
}

#[track_caller]
fn assert_transcript(p: &Profile, out: &Output, expected: &str) {
    let got = transcript(p, out);
    assert_eq!(got, expected, "\n--- got ---\n{got}\n--- expected ---\n{expected}\n");
}

/// Evidence items of a case, and whether the store holds any object at all.
fn evidence_count(p: &Profile, case: &str) -> usize {
    p.json(&["evidence", "list", case, "--json"]).as_array().expect("array").len()
}

fn no_objects(p: &Profile) -> bool {
    crate::harness::object_files(&p.store).is_empty()
}

#[test]
fn case_new_prints_only_the_id() {
    let p = Profile::new();
    let out = p.cmd(&["case", "new", "--title", "Stolen bikes"]);
    out.ok();
    assert!(out.stderr.is_empty(), "nothing on stderr\n{out}");
    assert!(out.stdout.ends_with('\n') && out.stdout.lines().count() == 1, "one line\n{out}");
    let id = uuid::Uuid::parse_str(out.stdout.trim()).unwrap_or_else(|e| panic!("not a UUID ({e})\n{out}"));
    assert_eq!(id.get_version_num(), 7, "case ids are UUIDv7 (they sort by creation time)");
    assert_eq!(out.stdout, format!("{id}\n"), "the hyphenated lowercase form");
    // It is the id of a case that exists.
    assert_eq!(p.json(&["case", "show", &id.to_string(), "--json"])["title"], Value::from("Stolen bikes"));
}

#[test]
fn unknown_case() {
    let p = Profile::new();
    let before = snapshot(&p.store);
    let out = p.cmd(&["case", "show", ABSENT]);
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\n\
         error: no case matches '01890000-0000-7000-8000-000000000000': use an id or reference from `casebridge case list`\n",
    );
    let out = p.cmd(&["note", "add", "BER-2026-999999", "a note"]);
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\n\
         error: no case matches 'BER-2026-999999': use an id or reference from `casebridge case list`\n",
    );
    let file = p.write_file("f.txt", b"text\n");
    p.cmd(&["evidence", "add", ABSENT, s(&file)]).fails_with("no case matches");
    let after = snapshot(&p.store);
    let journal = "journal/journal.cbj";
    assert_eq!(before.get(journal), after.get(journal), "the journal must not change");
    assert!(no_objects(&p), "no object may be stored for an unknown case");
}

#[test]
fn unknown_evidence() {
    let p = Profile::new();
    let out = p.cmd(&["evidence", "show", ABSENT]);
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\n\
         error: no evidence item matches '01890000-0000-7000-8000-000000000000': use an id from `casebridge evidence list CASE`\n",
    );
}

#[test]
fn evidence_add_of_a_missing_file_adds_nothing() {
    let p = Profile::new();
    let case = p.new_case("Missing files");
    let out = p.cmd(&["evidence", "add", &case, "missing.bin"]);
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\nerror: cannot import missing.bin: no such file; nothing was imported\n",
    );
    assert_eq!(evidence_count(&p, &case), 0);

    // Files are checked before anything is imported: a good file before a missing one is not
    // imported either.
    let good = p.write_file("good.txt", b"a good file\n");
    let out = p.cmd(&["evidence", "add", &case, s(&good), "missing.bin"]);
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\nerror: cannot import missing.bin: no such file; nothing was imported\n",
    );
    assert_eq!(evidence_count(&p, &case), 0, "nothing was imported");
    assert!(no_objects(&p), "no object was stored");
    let kinds: Vec<Value> = p.json(&["log", "--json"]).as_array().expect("array").iter().map(|e| e["kind"].clone()).collect();
    assert!(!kinds.iter().any(|k| k.as_str().is_some_and(|k| k.contains("evidence"))), "no evidence event: {kinds:?}");

    // A directory is not a file.
    let dir = p.path("a-directory");
    fs::create_dir(&dir).expect("mkdir");
    p.cmd(&["evidence", "add", &case, s(&dir)]).fails_with("nothing was imported");
    assert_eq!(evidence_count(&p, &case), 0);
}

#[test]
fn bad_captured_at() {
    let p = Profile::new();
    let case = p.new_case("Times");
    let file = p.write_file("f.txt", b"text\n");
    let out = p.cmd(&["evidence", "add", &case, s(&file), "--captured-at", "yesterday"]);
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\n\
         error: invalid --captured-at 'yesterday': expected RFC 3339 such as 2026-03-14T09:30:00+01:00\n",
    );
    // A time without an offset is ambiguous, so it is refused too.
    let out = p.cmd(&["evidence", "add", &case, s(&file), "--captured-at", "2024-03-15T10:00:00"]);
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\n\
         error: invalid --captured-at '2024-03-15T10:00:00': expected RFC 3339 such as 2026-03-14T09:30:00+01:00\n",
    );
    assert_eq!(evidence_count(&p, &case), 0);
    assert!(no_objects(&p));
}

#[test]
fn bad_location() {
    let p = Profile::new();
    let case = p.new_case("Places");
    let file = p.write_file("f.txt", b"text\n");
    let cases = [
        ("91,0", "error: invalid location: latitude 91 is outside -90..90\n"),
        ("52.5,200", "error: invalid location: longitude 200 is outside -180..180\n"),
        ("abc", "error: invalid location: 'abc' is not LAT,LON (for example 52.52,13.405)\n"),
        ("52.5", "error: invalid location: '52.5' is not LAT,LON (for example 52.52,13.405)\n"),
    ];
    for (value, stderr) in cases {
        let out = p.cmd(&["evidence", "add", &case, s(&file), "--location", value]);
        assert_transcript(&p, &out, &format!("exit 1\n--- stdout ---\n--- stderr ---\n{stderr}"));
    }
    p.cmd(&["evidence", "add", &case, s(&file), "--location", "nan,1"]).fails_with("invalid location");
    assert_eq!(evidence_count(&p, &case), 0);
    assert!(no_objects(&p));
}

#[test]
fn init_with_a_short_passphrase() {
    let p = Profile::empty();
    let out = p.cmd_with(&["init", "--name", "Vera Brandt"], |c| {
        c.env("CASEBRIDGE_PASSPHRASE", "short");
    });
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\n\
         error: passphrase too short: it has 5 characters; use at least 10 (a few unrelated words work well)\n",
    );
    assert!(!p.store.exists(), "no store directory may be left behind");
    let mut left: Vec<_> = fs::read_dir(p.root()).expect("root").map(|e| e.expect("entry").file_name()).collect();
    left.sort();
    assert_eq!(left, ["work"], "no staging directory may be left behind");
}

#[test]
fn init_on_an_existing_store_changes_nothing() {
    let p = Profile::new();
    p.new_case("Existing data");
    let before = snapshot(&p.store);
    let out = p.cmd(&["init", "--name", "Someone Else"]);
    assert_transcript(&p, &out, "exit 1\n--- stdout ---\n--- stderr ---\nerror: a store already exists at <STORE>; nothing was changed\n");
    assert_same_tree(&before, &snapshot(&p.store), "after a refused init");
    p.cmd(&["case", "list"]).ok();
}

#[test]
fn no_store_at_the_path() {
    let p = Profile::empty();
    let out = p.cmd(&["case", "list"]);
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\nerror: no store at <STORE>: create one with `casebridge init --name NAME`\n",
    );
    assert!(!p.store.exists(), "reading must not create a store directory");
}

#[test]
fn wrong_passphrase() {
    let p = Profile::new();
    let out = p.cmd_with(&["case", "list"], |c| {
        c.env("CASEBRIDGE_PASSPHRASE", crate::harness::WRONG_PASS);
    });
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\nerror: wrong passphrase: the store could not be unlocked (nothing was changed)\n",
    );
}

#[test]
fn invalid_status_and_empty_title() {
    let p = Profile::new();
    let case = p.new_case("Statuses");
    let out = p.cmd(&["case", "edit", &case, "--status", "weird"]);
    assert_transcript(
        &p,
        &out,
        "exit 1\n--- stdout ---\n--- stderr ---\nerror: invalid status: 'weird' is not one of open, active, suspended, closed\n",
    );
    let out = p.cmd(&["case", "new", "--title", "  "]);
    assert_transcript(&p, &out, "exit 1\n--- stdout ---\n--- stderr ---\nerror: invalid title: it is empty\n");
    assert_eq!(p.json(&["case", "list", "--json"]).as_array().map(Vec::len), Some(1));
}
