//! Flipped bits are found and named: `check --read-data --json` exits 1 and its problems name
//! the affected item (an evidence id, a journal record, a case id). And whatever bit of
//! whatever file is flipped, no command panics.

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    copy_dir, flip_bit, in_process, object_files, populate, run, s, seed, str_field, walk_files, Output, Profile, Rng, SeedGuard,
};

/// Runs `check --read-data --json`, asserts it fails (exit 1, ok = false) and returns the
/// problems as (code, item) pairs.
#[track_caller]
fn check_fails(p: &Profile) -> (Output, Vec<(String, String)>) {
    let out = p.cmd(&["check", "--read-data", "--json"]);
    assert_eq!(out.code, Some(1), "check must exit 1 when something is wrong\n{out}");
    out.no_panic();
    let v = out.json();
    assert_eq!(v["ok"], Value::Bool(false), "{out}");
    let problems: Vec<(String, String)> = v["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("problems should be an array\n{out}"))
        .iter()
        .map(|p| (str_field(p, "code"), str_field(p, "item")))
        .collect();
    assert!(!problems.is_empty(), "ok = false needs at least one problem\n{out}");
    (out, problems)
}

/// Journal records as (offset of the LEN field, LEN). A record is
/// `LEN u32 || NOT_LEN u32 || NONCE || CIPHERTEXT || TAG` (docs/FORMAT.md).
fn journal_records(path: &Path) -> Vec<(u64, u32)> {
    let bytes = fs::read(path).expect("read journal");
    let mut pos = 28usize;
    let mut out = Vec::new();
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes"));
        let not_len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
        assert_eq!(len, !not_len, "record header at {pos}");
        out.push((pos as u64, len));
        pos += 8 + len as usize;
    }
    assert_eq!(pos, bytes.len(), "the journal should parse into whole records");
    out
}

fn journal(p: &Profile) -> std::path::PathBuf {
    p.store.join("journal").join("journal.cbj")
}

#[test]
fn flipped_bit_in_an_object_names_the_evidence() {
    let p = Profile::new();
    let pop = populate(&p);
    p.check_ok();
    // The 2.5 MiB item has by far the largest object file.
    let big = &pop.evidence[1];
    let mut objects = object_files(&p.store);
    objects.sort_by_key(|f| fs::metadata(f).expect("meta").len());
    let target = objects.last().expect("objects");
    let len = fs::metadata(target).expect("meta").len();
    assert!(len > 2 * 1024 * 1024, "the largest object should be the 2.5 MiB item");
    flip_bit(target, (len / 2) * 8 + 3);

    let (out, problems) = check_fails(&p);
    let naming: Vec<_> = problems.iter().filter(|(_, item)| item.contains(&big.0)).collect();
    assert!(!naming.is_empty(), "a problem must name evidence {}\n{out}", big.0);
    for (id, _, _) in pop.evidence.iter().filter(|e| e.0 != big.0) {
        assert!(!problems.iter().any(|(_, item)| item.contains(id.as_str())), "intact evidence {id} must not be blamed\n{out}");
    }

    // The damaged item cannot be exported (and leaves no partial file); the others can.
    let bad = p.path("bad.bin");
    p.cmd(&["evidence", "export", &big.0, "--out", s(&bad)]).fails();
    assert!(!bad.exists(), "a failed export must remove its partial output");
    let good = p.path("good.bin");
    p.cmd(&["evidence", "export", &pop.evidence[2].0, "--out", s(&good)]).ok();
}

#[test]
fn flipped_bit_in_a_journal_record_names_the_record() {
    let p = Profile::new();
    populate(&p);
    let path = journal(&p);
    let records = journal_records(&path);
    let k = records.len() / 2;
    let (start, len) = records[k];
    // Inside the sealed body (after LEN, NOT_LEN and the 12-byte nonce).
    let byte = start + 8 + 12 + u64::from(len - 12) / 2;
    flip_bit(&path, byte * 8 + 5);

    let (out, problems) = check_fails(&p);
    assert!(
        problems.iter().any(|(_, item)| item.contains("journal record") && item.contains(&k.to_string())),
        "a problem must name journal record {k}\n{out}"
    );
    // Reading still works from the index.
    p.cmd(&["case", "list", "--json"]).ok();
}

/// A flipped high bit in a record's LEN field makes the record look like it runs past the end
/// of the file, which is also what a torn (unacknowledged) last write looks like. It is damage
/// all the same: `check` must name the record, and `store rebuild` (which rescans the journal
/// from the start) must not cut the acknowledged records after it.
#[test]
fn flipped_length_field_is_damage_not_a_torn_tail() {
    let p = Profile::new();
    populate(&p);
    let path = journal(&p);
    let records = journal_records(&path);
    let k = records.len() / 2;
    let (start, _) = records[k];
    let size_before = fs::metadata(&path).expect("meta").len();
    flip_bit(&path, (start + 3) * 8 + 7); // the top bit of LEN (u32 LE)

    let (out, problems) = check_fails(&p);
    assert!(
        problems.iter().any(|(_, item)| item.contains("journal record") && item.contains(&k.to_string())),
        "a problem must name journal record {k}, not call acknowledged records a torn tail\n{out}"
    );
    let rebuild = p.cmd(&["store", "rebuild"]);
    rebuild.no_panic();
    assert_eq!(fs::metadata(&path).expect("meta").len(), size_before, "acknowledged journal records were cut off (data loss)\n{rebuild}");
}

/// The cases named by some problem.
fn named<'a>(cases: &'a [String], problems: &[(String, String)]) -> Vec<&'a String> {
    cases.iter().filter(|c| problems.iter().any(|(_, item)| item.contains(c.as_str()))).collect()
}

// Index keys are keyed (docs/FORMAT.md, "Index keys"): a test holding the disk, like a thief,
// cannot tell which key is which case, so it damages whichever record comes first and lets
// `check` say which case that was.
#[test]
fn flipped_bit_in_a_sealed_index_value_names_the_case() {
    let p = Profile::new();
    let pop = populate(&p);
    let key = in_process(|| {
        let db = sled::open(p.store.join("index")).expect("open index with sled");
        let tree = db.open_tree("cases").expect("cases tree");
        let (key, v) = tree.iter().next().expect("a case record").expect("read");
        let mut v = v.to_vec();
        let mid = v.len() / 2;
        v[mid] ^= 0x10;
        tree.insert(&key, v).expect("insert");
        db.flush().expect("flush");
        key.to_vec()
    });
    let (out, problems) = check_fails(&p);
    assert!(problems.iter().any(|(_, item)| item.contains(&hex::encode(&key))), "a problem must name the damaged index key\n{out}");
    let named = named(&pop.cases, &problems);
    assert_eq!(named.len(), 1, "exactly the damaged case must be named (the other is intact)\n{out}");
    let case = named[0];

    // Reading the damaged case fails cleanly; a rebuild from the journal repairs it.
    p.cmd(&["case", "show", case, "--json"]).fails();
    p.cmd(&["store", "rebuild"]).ok();
    p.check_ok();
    assert_eq!(str_field(&p.json(&["case", "show", case, "--json"]), "id"), *case);
}

#[test]
fn swapped_index_values_of_two_cases_are_both_reported() {
    let p = Profile::new();
    let pop = populate(&p);
    in_process(|| {
        let db = sled::open(p.store.join("index")).expect("open index with sled");
        let tree = db.open_tree("cases").expect("cases tree");
        let entries: Vec<_> = tree.iter().map(|kv| kv.expect("read")).collect();
        assert_eq!(entries.len(), 2, "populate makes two cases");
        let ((ka, va), (kb, vb)) = (&entries[0], &entries[1]);
        tree.insert(ka, vb).expect("insert");
        tree.insert(kb, va).expect("insert");
        db.flush().expect("flush");
    });
    let (out, problems) = check_fails(&p);
    assert_eq!(named(&pop.cases, &problems).len(), 2, "a problem must name each case\n{out}");
    // Neither case is shown with the other's content.
    for c in &pop.cases {
        let show = p.cmd(&["case", "show", c, "--json"]);
        show.no_panic();
        if show.success() {
            assert_eq!(str_field(&show.json(), "id"), *c, "case show returned another case's record\n{show}");
        }
    }
}

/// ~30 seeded iterations: copy a populated store, flip one random bit in one random file
/// (header, journal, an object or a sled file), and run the everyday commands. Errors are
/// fine; a panic or a hang is not. A flipped header bit must give a clean error.
#[test]
fn random_bit_flips_never_panic() {
    const ITERATIONS: u64 = 30;
    let seed = seed();
    let _guard = SeedGuard { test: "random_bit_flips_never_panic", seed };
    let mut rng = Rng::new(seed);

    let template = Profile::new();
    let pop = populate(&template);
    let case = pop.cases[0].clone();
    let evidence = pop.evidence[1].0.clone();

    // (file kind, command) -> (succeeded, failed cleanly), printed at the end.
    let mut outcomes: std::collections::BTreeMap<(&str, String), (u32, u32)> = std::collections::BTreeMap::new();
    const KINDS: [&str; 4] = ["header", "journal", "object", "index"];
    for i in 0..ITERATIONS {
        let p = crate::harness::Profile::empty();
        copy_dir(&template.store, &p.store);
        let files: Vec<_> = walk_files(&p.store).into_iter().filter(|f| fs::metadata(f).map(|m| m.len() > 0).unwrap_or(false)).collect();
        let of_kind = |pred: &dyn Fn(&Path) -> bool| files.iter().filter(|f| pred(f)).cloned().collect::<Vec<_>>();
        // Rotate through the kinds so that 30 iterations cover each several times.
        let pool = match i % 4 {
            0 => of_kind(&|f| f.ends_with("casebridge.store")),
            1 => of_kind(&|f| f.ends_with("journal/journal.cbj")),
            2 => of_kind(&|f| f.starts_with(p.store.join("objects"))),
            _ => of_kind(&|f| f.starts_with(p.store.join("index"))),
        };
        assert!(!pool.is_empty(), "no file of kind {} in {files:?}", i % 4);
        let target = &pool[rng.below(pool.len() as u64) as usize];
        let len = fs::metadata(target).expect("meta").len();
        let bit = rng.below(len * 8);
        flip_bit(target, bit);
        let what =
            format!("iteration {i}: flipped bit {bit} of {} ({len} bytes)", target.strip_prefix(&p.store).expect("in store").display());

        let out_path = p.path("export.bin");
        let commands: [Vec<&str>; 4] = [
            vec!["check", "--read-data", "--json"],
            vec!["case", "list", "--json"],
            vec!["case", "show", &case, "--json"],
            vec!["evidence", "export", &evidence, "--out", s(&out_path)],
        ];
        for args in &commands {
            let out = run(p.command(args), Duration::from_secs(60));
            assert!(!out.timed_out, "{what}: the command hung\n{out}");
            assert_ne!(out.code, Some(101), "{what}: the command panicked\n{out}");
            assert!(!out.stderr.contains("panicked") && !out.stderr.contains("RUST_BACKTRACE"), "{what}: panic message\n{out}");
            if i % 4 == 0 {
                assert_eq!(out.code, Some(1), "{what}: a damaged header must give a clean error\n{out}");
                assert!(!out.stderr.trim().is_empty(), "{what}: the error must say why\n{out}");
            }
            if !out.success() {
                assert!(!out.stderr.trim().is_empty(), "{what}: a failure must say why\n{out}");
            }
            let e = outcomes.entry((KINDS[(i % 4) as usize], args[..2].join(" "))).or_default();
            if out.success() {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }
    eprintln!("random bit flips (seed {seed}): (file, command) -> (succeeded, failed cleanly)");
    for ((kind, cmd), (good, bad)) in &outcomes {
        eprintln!("  {kind:8} {cmd:18} {good:3} {bad:3}");
    }
}
