//! Nothing readable lands on disk: after a case is filled with text carrying a unique marker,
//! no file of the store (header, journal, objects, every sled file) holds the marker, the
//! evidence's original file name, the profile's name, or the evidence's SHA-256 in any
//! encoding; `tmp/` is empty; and no command writes the marker to stderr.

use std::fs;

use crate::harness::{s, seed, str_field, walk_files, Output, Profile, Rng, SeedGuard, NAME};

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
