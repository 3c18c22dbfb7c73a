//! Nothing readable lands on disk: after a case is filled with text carrying a unique marker,
//! no file of the store (header, journal, objects, every sled file) holds the marker, the
//! evidence's original file name, the profile's name, or the evidence's SHA-256 in any
//! encoding; `tmp/` is empty; and no command writes the marker to stderr. And the index's keys
//! (sled does not seal them) tell no story: no ids, no links between them, no times.

use std::fs;

use casebridge_core::{Passphrase, Role, Store};

use crate::harness::{copy_dir, in_process, s, seed, str_field, walk_files, Output, Profile, Rng, SeedGuard, NAME, PASS};

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn no_plaintext_in_any_store_file_or_log() {
    let seed = seed();
    let _guard = SeedGuard { test: "no_plaintext_in_any_store_file_or_log", seed };
    let mut rng = Rng::new(seed);
    let marker = rng.token(24);
    let file_name = format!("zeugenaussage-{}.txt", rng.token(12));

    let p = Profile::new();
    let mut outputs: Vec<Output> = Vec::new();
    let mut run = |args: &[&str]| -> Output {
        let out = p.cmd(args);
        out.ok();
        outputs.push(out.clone());
        out
    };

    let title = format!("Robbery {marker}");
    let summary = format!("Summary {marker}");
    let reference = format!("REF-{marker}");
    let tag = format!("tag-{marker}");
    let case =
        run(&["case", "new", "--title", &title, "--summary", &summary, "--reference", &reference, "--tag", &tag]).stdout.trim().to_string();
    run(&["note", "add", &case, &format!("Note {marker}")]);
    run(&["case", "edit", &case, "--title", &format!("Edited {marker}"), "--status", "active"]);

    let mut content = Vec::new();
    for i in 0..2000 {
        content.extend_from_slice(format!("line {i}: the witness {marker} says\n").as_bytes());
    }
    let input = p.write_file(&file_name, &content);
    let added = run(&["evidence", "add", &case, s(&input), "--description", &format!("Desc {marker}"), "--json"]).json();
    let id = str_field(&added[0], "id");
    let sha_hex = str_field(&added[0], "sha256");
    assert_eq!(sha_hex.len(), 64);
    let tmp_dir = p.store.join("tmp");
    let leftovers = fs::read_dir(&tmp_dir).map(|rd| rd.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "tmp/ must be empty after an import");

    // Reads, searches and an export: none of them may leave plaintext behind either.
    run(&["case", "list", "--search", &marker, "--json"]);
    run(&["case", "show", &case, "--json"]);
    run(&["evidence", "show", &id, "--json"]);
    run(&["evidence", "custody", &id, "--json"]);
    run(&["log", "--json"]);
    run(&["check", "--read-data", "--json"]);
    let exported = p.path("exported.txt");
    run(&["evidence", "export", &id, "--out", s(&exported)]);
    assert_eq!(fs::read(&exported).expect("export"), content);
    let leftovers = fs::read_dir(&tmp_dir).map(|rd| rd.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "tmp/ must be empty after an export");

    let sha_raw = hex::decode(&sha_hex).expect("hex");
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("the marker", marker.clone().into_bytes()),
        ("the original file name", file_name.clone().into_bytes()),
        ("the profile name", NAME.as_bytes().to_vec()),
        ("the SHA-256 (lowercase hex)", sha_hex.clone().into_bytes()),
        ("the SHA-256 (uppercase hex)", sha_hex.to_uppercase().into_bytes()),
        ("the SHA-256 (raw bytes)", sha_raw),
    ];
    let files = walk_files(&p.store);
    assert!(files.iter().any(|f| f.starts_with(p.store.join("index"))), "the walk should include the sled files: {files:?}");
    assert!(files.iter().any(|f| f.starts_with(p.store.join("objects"))), "the walk should include the objects: {files:?}");
    for f in &files {
        let bytes = fs::read(f).expect("read store file");
        for (what, needle) in &needles {
            if let Some(at) = find(&bytes, needle) {
                panic!("{} holds {what} at byte {at}", f.display());
            }
        }
    }

    // Nothing was written outside the store except what we asked for.
    let mut work: Vec<String> =
        fs::read_dir(p.path("")).expect("work").map(|e| e.expect("entry").file_name().to_string_lossy().into()).collect();
    work.sort();
    let mut expected = vec![file_name.clone(), "exported.txt".to_string()];
    expected.sort();
    assert_eq!(work, expected, "files in the working directory");
    let mut root: Vec<String> =
        fs::read_dir(p.root()).expect("root").map(|e| e.expect("entry").file_name().to_string_lossy().into()).collect();
    root.sort();
    assert_eq!(root, ["profile", "work"], "files next to the store");

    for out in &outputs {
        assert!(!out.stderr.contains(&marker), "stderr carries plaintext\n{out}");
        assert!(!out.stderr.contains(&file_name), "stderr carries the evidence file name\n{out}");
    }
    // Errors about an item must not echo its content either.
    let out = p.cmd(&["evidence", "export", &id, "--out", s(&exported)]);
    out.fails();
    assert!(!out.stderr.contains(&marker) && !out.stderr.contains(&sha_hex), "an error leaks plaintext\n{out}");
}

/// Every form an id could take inside a key: raw bytes, hex, hyphenated text, either case.
fn id_forms(id: uuid::Uuid) -> Vec<Vec<u8>> {
    let mut forms = vec![id.as_bytes().to_vec()];
    for text in [id.simple().to_string(), id.hyphenated().to_string()] {
        forms.push(text.to_uppercase().into_bytes());
        forms.push(text.into_bytes());
    }
    forms
}

/// Issue 12, part 5: a thief with the disk but not the passphrase reads the index's sled keys,
/// which are not sealed. After a whole story (case, notes, evidence, custody, access log, a
/// disclosure) no key of any tree may hold a case, evidence, note, member or device id in any
/// form, nor a big-endian millisecond timestamp of this session.
#[test]
fn index_keys_carry_no_ids_links_or_times() {
    // A supervisor: the story includes a disclosure, which only supervisors approve.
    let p = Profile::with_role(crate::harness::NAME, Role::Supervisor);
    let start_ms = chrono::Utc::now().timestamp_millis();
    let case = p.new_case("Burglary, Lindenstrasse");
    let other = p.new_case("Stolen bicycle");
    p.cmd(&["note", "add", &case, "Neighbour heard glass breaking"]).ok();
    p.cmd(&["case", "edit", &case, "--status", "active"]).ok();
    let (ev1, _) = p.add_evidence(&case, &p.write_file("statement.txt", b"I heard glass at 02:10.\n"));
    let (ev2, _) = p.add_evidence(&case, &p.write_file("photo.bin", b"not really a photo"));
    let (ev3, _) = p.add_evidence(&other, &p.write_file("receipt.txt", b"bike receipt\n"));
    // Custody (export, verify) and the access log (views with reasons, an export).
    p.cmd(&["evidence", "show", &ev1, "--reason", "checking the statement"]).ok();
    p.cmd(&["case", "show", &case, "--json"]).ok();
    p.cmd(&["evidence", "export", &ev2, "--out", s(&p.path("copy.bin")), "--reason", "for the prosecutor"]).ok();
    p.cmd(&["evidence", "verify", &ev3]).ok();
    let me = in_process(|| Store::open(&p.store, &Passphrase::new(PASS)).expect("open").whoami().clone());
    p.cmd(&["case", "disclose", &case, &me.member_id.to_string(), "--reason", "witness agreed"]).ok();
    let custody = p.json(&["evidence", "custody", &ev2, "--json"]);
    assert!(custody.as_array().is_some_and(|c| c.len() >= 2), "the story has custody entries: {custody}");
    let access = p.json(&["case", "access-log", &case, "--json"]);
    assert!(access.as_array().is_some_and(|a| a.len() >= 2), "the story has access-log entries: {access}");
    let shown = p.json(&["case", "show", &case, "--json"]);
    let notes: Vec<String> = shown["notes"].as_array().expect("notes").iter().map(|n| str_field(n, "id")).collect();
    assert_eq!(notes.len(), 1);
    let end_ms = chrono::Utc::now().timestamp_millis();

    let mut ids: Vec<(String, uuid::Uuid)> = Vec::new();
    for (what, id) in [("case", &case), ("case", &other), ("evidence", &ev1), ("evidence", &ev2), ("evidence", &ev3), ("note", &notes[0])] {
        ids.push((format!("{what} {id}"), uuid::Uuid::parse_str(id).expect("uuid")));
    }
    ids.push((format!("member {}", me.member_id), me.member_id));
    ids.push((format!("device {}", me.device_id), me.device_id));
    // A plausible time of this session: within a day of it, as a big-endian u64 or i64.
    let day = 24 * 3600 * 1000;
    let (lo, hi) = (start_ms - day, end_ms + day);

    // The thief's view: a copy of the index opened with sled directly.
    let copy = tempfile::tempdir().expect("temp dir");
    copy_dir(&p.store.join("index"), copy.path());
    let mut keys_seen = 0;
    in_process(|| {
        let db = sled::open(copy.path()).expect("open the copied index with sled");
        for name in db.tree_names() {
            let tree = db.open_tree(&name).expect("tree");
            let tree_name = String::from_utf8_lossy(&name).to_string();
            for key in tree.iter().keys() {
                let key = key.expect("key").to_vec();
                keys_seen += 1;
                for (what, id) in &ids {
                    for form in id_forms(*id) {
                        assert!(find(&key, &form).is_none(), "tree {tree_name}: key {} holds {what}", hex::encode(&key));
                    }
                }
                for w in key.windows(8) {
                    let v = i64::from_be_bytes(w.try_into().expect("8 bytes"));
                    assert!(!(lo..=hi).contains(&v), "tree {tree_name}: key {} holds a time of this session ({v} ms)", hex::encode(&key));
                }
            }
        }
    });
    // Cases, notes, evidence, links, custody, access, disclosure, members, chain: many keys.
    assert!(keys_seen > 20, "the walk saw only {keys_seen} keys");
    // And the store still works from those keys.
    let custody_after = p.json(&["evidence", "custody", &ev2, "--json"]);
    assert_eq!(custody_after.as_array().map(|c| c[..2].to_vec()), custody.as_array().map(|c| c[..2].to_vec()), "custody order");
    let access_after = p.json(&["case", "access-log", &case, "--json"]);
    assert_eq!(access_after.as_array().map(|a| a[..2].to_vec()), access.as_array().map(|a| a[..2].to_vec()), "access-log order");
    p.check_ok();
}
