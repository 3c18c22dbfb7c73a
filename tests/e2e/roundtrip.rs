//! Bytes in equal bytes out: the hash `evidence add` reports is the one `sha256sum` computes,
//! and `evidence export` writes back exactly the original bytes, at the chunk boundaries and
//! for a 300 MB file. Export never overwrites.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::harness::{file_sha256, output, s, sha256sum, str_field, Profile};

const MIB: u64 = 1024 * 1024;

/// Asserts `a` and `b` are byte-identical, with `cmp` (which streams).
#[track_caller]
fn assert_identical(a: &Path, b: &Path) {
    let out = output(Command::new("cmp").arg(a).arg(b));
    assert!(
        out.status.success(),
        "{} and {} differ: {}{}",
        a.display(),
        b.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn chunk_boundary_sizes_roundtrip() {
    let p = Profile::new();
    let case = p.new_case("Round trip");
    let sizes = [0, 1, MIB, MIB + 1, 3 * MIB - 1];
    let files: Vec<_> = sizes.iter().enumerate().map(|(i, &n)| p.random_file(&format!("in-{n}.bin"), n, 100 + i as u64)).collect();

    // One command, several files: the JSON array answers in the order given.
    let mut args = vec!["evidence", "add", &case];
    args.extend(files.iter().map(|f| s(f)));
    args.push("--json");
    let added = p.json(&args);
    let added = added.as_array().expect("evidence add --json prints an array");
    assert_eq!(added.len(), files.len(), "one entry per file: {added:?}");

    for ((file, &size), item) in files.iter().zip(&sizes).zip(added) {
        let id = str_field(item, "id");
        let sha = str_field(item, "sha256");
        assert_eq!(sha, sha256sum(file), "reported sha256 of the {size}-byte file");
        assert_eq!(item["size"].as_u64(), Some(size), "reported size: {item}");

        let out = p.path(&format!("out-{size}.bin"));
        p.cmd(&["evidence", "export", &id, "--out", s(&out)]).ok();
        assert_eq!(file_sha256(&out), (sha.clone(), size), "exported hash and size of the {size}-byte file");
        assert_identical(file, &out);

        let shown = p.json(&["evidence", "show", &id, "--json"]);
        assert_eq!(str_field(&shown, "sha256"), sha);
        assert_eq!(shown["size"].as_u64(), Some(size));
    }
    let check = p.check_ok();
    assert_eq!(check["objects_checked"].as_u64(), Some(sizes.len() as u64), "{check}");
    assert_eq!(check["bytes_checked"].as_u64(), Some(sizes.iter().sum::<u64>()), "{check}");
}

/// 300 MB of incompressible data, written to disk in a streaming way (never held in memory).
#[test]
fn three_hundred_megabytes_roundtrip() {
    const SIZE: u64 = 300_000_000;
    let p = Profile::new();
    let case = p.new_case("Large video");
    let input = p.random_file("cctv.bin", SIZE, 300);
    let expected = sha256sum(&input);

    let added = p.json(&["evidence", "add", &case, s(&input), "--json"]);
    let item = &added[0];
    assert_eq!(str_field(item, "sha256"), expected, "reported sha256 equals sha256sum's");
    assert_eq!(item["size"].as_u64(), Some(SIZE));

    let out = p.path("cctv-export.bin");
    p.cmd(&["evidence", "export", &str_field(item, "id"), "--out", s(&out)]).ok();
    assert_eq!(fs::metadata(&out).expect("export exists").len(), SIZE);
    assert_identical(&input, &out);
    assert_eq!(sha256sum(&out), expected);
}

#[test]
fn export_refuses_to_overwrite_and_leaves_the_file_alone() {
    let p = Profile::new();
    let case = p.new_case("Overwrite");
    let (id, _) = p.add_evidence(&case, &p.write_file("evidence.txt", b"the original evidence\n"));
    let target = p.write_file("precious.txt", b"something the user wants to keep\n");
    let before = fs::metadata(&target).expect("meta").modified().expect("mtime");
    std::thread::sleep(std::time::Duration::from_millis(20));

    let out = p.cmd(&["evidence", "export", &id, "--out", s(&target)]);
    out.fails_with("already exists");
    assert_eq!(fs::read(&target).expect("read"), b"something the user wants to keep\n", "the existing file must be unchanged\n{out}");
    assert_eq!(fs::metadata(&target).expect("meta").modified().expect("mtime"), before, "not even touched\n{out}");

    // A refused export is not an export: the custody trail has only the import.
    let custody = p.json(&["evidence", "custody", &id, "--json"]);
    let actions: Vec<_> = custody.as_array().expect("array").iter().map(|c| str_field(c, "action")).collect();
    assert_eq!(actions, ["imported"], "custody after a refused export: {custody}");

    // And a fresh path works, and is recorded.
    let fresh = p.path("fresh.txt");
    p.cmd(&["evidence", "export", &id, "--out", s(&fresh)]).ok();
    assert_eq!(fs::read(&fresh).expect("read"), b"the original evidence\n");
    let custody = p.json(&["evidence", "custody", &id, "--json"]);
    let actions: Vec<_> = custody.as_array().expect("array").iter().map(|c| str_field(c, "action")).collect();
    assert_eq!(actions, ["imported", "exported"], "{custody}");
}
