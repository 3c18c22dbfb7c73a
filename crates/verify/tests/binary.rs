//! The `casebridge-verify` binary against packages built here by hand from docs/FORMAT.md
//! with ring alone (no Casebridge code), so that the verifier's reading of the spec is checked
//! against a third reading, not only against the exporter's: exit codes, deterministic output
//! wherever the package lies, and the rules that the exporter's packages never break
//! (forks, broken links, foreign events, custody naming another hash, unsafe paths, links).
//! The `issue_12_*` tests are the forger's side: packages whose every signature was made by
//! whoever built them, which only the agency root fingerprint given from outside can refuse.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const CASE: &str = "0195f2a4-0000-7000-8000-00000000c0de";
const OTHER_CASE: &str = "0195f2a4-0000-7000-8000-0000000bad00";
const AGENCY: &str = "0195f2a4-0000-7000-8000-00000000a9e0";
const ITEM_X: &str = "0195f2a4-0000-7000-8000-000000000001";
const ITEM_Y: &str = "0195f2a4-0000-7000-8000-000000000002";

fn sha(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, b))
}

fn pair(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

fn key_hex(p: &Ed25519KeyPair) -> String {
    hex::encode(p.public_key().as_ref())
}

/// A signed document container (FORMAT.md, "Signed documents").
fn doc(doc_type: &str, body: &Value, signer: &Ed25519KeyPair) -> Value {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut m = format!("casebridge/v1/doc/{doc_type}\0").into_bytes();
    m.extend_from_slice(&bytes);
    json!({"casebridge": "signed-document", "v": 1, "type": doc_type, "key": key_hex(signer),
           "sig": B64.encode(signer.sign(&m).as_ref()), "body": B64.encode(&bytes)})
}

/// One author's chain of events.
struct Author {
    pair: Ed25519KeyPair,
    member: String,
    seq: u64,
    prev: String,
}

impl Author {
    fn new(seed: u8, member: &str, first_seq: u64) -> Author {
        Author {
            pair: pair(seed),
            member: member.into(),
            seq: first_seq - 1,
            prev: if first_seq == 1 { ZEROS.into() } else { sha(b"gap") },
        }
    }

    /// The next event's envelope (FORMAT.md, "Events").
    fn event(&mut self, fields: Value) -> Vec<u8> {
        self.seq += 1;
        let mut body = json!({"v": 1, "author": self.member, "key": key_hex(&self.pair), "seq": self.seq, "prev": self.prev,
                              "hlc": {"ms": 1_700_000_000_000u64 + self.seq, "c": 0}, "at": format!("2026-03-14T09:{:02}:00+01:00", self.seq),
                              "device": "0195f2a4-0000-7000-8000-0000000de71c"});
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        let bytes = serde_json::to_vec(&body).unwrap();
        self.prev = sha(&bytes);
        let mut env = vec![1u8];
        env.extend_from_slice(self.pair.public_key().as_ref());
        env.extend_from_slice(self.pair.sign(&bytes).as_ref());
        env.extend_from_slice(&bytes);
        env
    }
}

fn added(id: &str, content: &[u8], name: &str) -> Value {
    json!({"type": "evidence_added", "evidence_id": id, "case_id": CASE, "object": {"sha256": sha(content), "size": content.len()},
           "media_type": "application/octet-stream", "original_name": name, "claimed_captured_at": null, "claimed_location": null,
           "extracted": {"captured_at": null, "location": null, "camera": null}, "description": null})
}

fn custody(id: &str, action: &str, content: &[u8]) -> Value {
    json!({"type": "custody_recorded", "evidence_id": id, "action": action, "reason": null, "sha256": sha(content)})
}

/// Everything that goes into a package; `write` lays it out and signs the manifest.
struct Package {
    exporter: Ed25519KeyPair,
    exporter_member: String,
    events: Vec<Vec<u8>>,
    originals: Vec<(String, Vec<u8>)>,
    extra_files: Vec<(String, Vec<u8>)>,
}

const X: &[u8] = b"the first original";
const Y: &[u8] = b"the second original, from a volunteer";
const INVESTIGATOR: &str = "0195f2a4-0000-7000-8000-0000000000aa";
const VOLUNTEER: &str = "0195f2a4-0000-7000-8000-0000000000bb";

/// The agency's real root key (its fingerprint is what the court obtains from the agency).
const ROOT: u8 = 9;
/// The investigator's and the volunteer's real keys.
const INVESTIGATOR_KEY: u8 = 1;
const VOLUNTEER_KEY: u8 = 2;
/// A forger's fresh key, and the root key of the agency the forger fabricates.
const FORGER_KEY: u8 = 50;
const LOOK_ALIKE_ROOT: u8 = 51;
/// What the forger puts in place of item X.
const FORGED_X: &[u8] = b"a forged first original";

/// A key's fingerprint, as `casebridge agency show` prints an agency's `root_fingerprint`.
fn fp(seed: u8) -> String {
    sha(pair(seed).public_key().as_ref())
}

/// A credential for `member`'s `key`, signed by `root`.
fn credential(root: &Ed25519KeyPair, member: &str, key: &str, role: &str, not_after: &str) -> Vec<u8> {
    let body = json!({"agency_id": AGENCY, "serial": "0195f2a4-0000-7000-8000-00000000000c", "member_id": member, "name": role, "role": role,
                      "key": key, "scopes": [], "not_before": "2026-01-01T00:00:00Z", "not_after": not_after,
                      "issued_at": "2026-01-01T00:00:00Z"});
    serde_json::to_vec_pretty(&doc("credential", &body, root)).unwrap()
}

/// A valid package: an investigator's case with item X, a volunteer's item Y (their chain
/// starts at 3: a case carries only its own events), an agency with both credentials and a
/// revocation list revoking nobody.
fn standard() -> Package {
    package(INVESTIGATOR_KEY, X, Some(ROOT))
}

/// The standard package's case, with the investigator's whole chain (and the manifest) signed
/// by key `inv_seed`, item X holding `x`, and `agency.json` with a credential for each author
/// signed by root key `root_seed` (same agency id and name whatever the key), or no agency
/// file and no credentials at all.
fn package(inv_seed: u8, x: &[u8], root_seed: Option<u8>) -> Package {
    let mut inv = Author::new(inv_seed, INVESTIGATOR, 1);
    let mut vol = Author::new(VOLUNTEER_KEY, VOLUNTEER, 3);
    let events = vec![
        inv.event(json!({"type": "case_created", "case_id": CASE, "reference": "BER-1", "title": "Bikes", "summary": null, "tags": [], "status": "open"})),
        inv.event(json!({"type": "note_added", "case_id": CASE, "note_id": "0195f2a4-0000-7000-8000-000000000007", "text": "seen"})),
        inv.event(added(ITEM_X, x, "x.jpg")),
        inv.event(custody(ITEM_X, "imported", x)),
        vol.event(added(ITEM_Y, Y, "y.jpg")),
        vol.event(custody(ITEM_Y, "imported", Y)),
        inv.event(custody(ITEM_Y, "verified", Y)),
    ];
    let mut extra_files = vec![("README.md".to_string(), b"# a package\n".to_vec())];
    if let Some(root_seed) = root_seed {
        let root = pair(root_seed);
        let identity = doc(
            "agency-identity",
            &json!({"agency_id": AGENCY, "name": "Test agency", "root_key": key_hex(&root), "sealing_recipient": "age1test", "created_at": "2026-01-01T00:00:00Z"}),
            &root,
        );
        let list = doc(
            "revocation-list",
            &json!({"agency_id": AGENCY, "version": 3, "issued_at": "2026-03-01T00:00:00Z", "expires_at": "2026-03-31T00:00:00Z", "entries": []}),
            &root,
        );
        let valid_until = "2027-01-01T00:00:00Z";
        extra_files.extend([
            ("agency.json".to_string(), serde_json::to_vec_pretty(&json!({"agency": identity, "revocation": list})).unwrap()),
            (format!("credentials/{INVESTIGATOR}.json"), credential(&root, INVESTIGATOR, &key_hex(&inv.pair), "investigator", valid_until)),
            (format!("credentials/{VOLUNTEER}.json"), credential(&root, VOLUNTEER, &key_hex(&vol.pair), "volunteer", valid_until)),
        ]);
    }
    Package {
        exporter: pair(inv_seed),
        exporter_member: INVESTIGATOR.into(),
        events,
        originals: vec![(ITEM_X.into(), x.to_vec()), (ITEM_Y.into(), Y.to_vec())],
        extra_files,
    }
}

impl Package {
    fn write(&self, dir: &Path) {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut events = Vec::new();
        for (i, env) in self.events.iter().enumerate() {
            let file = format!("events/{:06}.event", i + 1);
            events.push(json!({"file": file, "sha256": sha(&env[97..])}));
            files.push((file, env.clone()));
        }
        let mut items = Vec::new();
        for (id, content) in &self.originals {
            items.push(json!({"evidence_id": id, "file": format!("originals/{id}"), "sha256": sha(content), "size": content.len(),
                              "media_type": "application/octet-stream", "original_name": "n", "derived_from": null}));
            files.push((format!("originals/{id}"), content.clone()));
        }
        files.extend(self.extra_files.iter().cloned());
        files.sort();
        for (p, b) in &files {
            let full = dir.join(p);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, b).unwrap();
        }
        let listed: Vec<Value> = files.iter().map(|(p, b)| json!({"path": p, "sha256": sha(b), "size": b.len()})).collect();
        let manifest = json!({"v": 1, "package_id": "0195f2a4-0000-4000-8000-00000000bac0", "created_at": "2026-03-14T10:00:00+01:00",
            "case": {"id": CASE, "reference": "BER-1", "title": "Bikes", "status": "open"},
            "exporter": {"member_id": self.exporter_member, "name": "Inv", "role": "investigator", "key": key_hex(&self.exporter)},
            "events": events, "items": items, "files": listed});
        std::fs::write(dir.join("manifest.json"), serde_json::to_vec_pretty(&doc("court-package", &manifest, &self.exporter)).unwrap())
            .unwrap();
        let sums: String = files.iter().map(|(p, b)| format!("{}  {p}\n", sha(b))).collect();
        std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
    }
}

fn built(p: &Package) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pkg");
    std::fs::create_dir(&dir).unwrap();
    p.write(&dir);
    (tmp, dir)
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_casebridge-verify")).args(args).output().unwrap()
}

/// Runs the verifier anchored to the real agency root.
fn verify(dir: &Path) -> (i32, String) {
    verify_with(dir, &["--agency-root", &fp(ROOT)])
}

fn verify_with(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut a: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    a.push(dir.as_os_str());
    let out = run(&a);
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

fn assert_fails_naming(dir: &Path, check: u8, subject: &str) -> String {
    let (code, text) = verify(dir);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains(&format!("[check {check}] {subject}: ")), "no check {check} problem naming {subject}:\n{text}");
    text
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_hand_built_package_verifies_and_sha256sum_agrees() {
    let (_tmp, dir) = built(&standard());
    let (code, text) = verify(&dir);
    assert_eq!(code, 0, "{text}");
    assert!(text.ends_with("\nVERIFIED\n"), "{text}");
    assert!(text.contains("events       7 from 2 member(s)"), "{text}");
    assert!(
        text.contains("    custody imported 2026-03-14T09:04:00+01:00 by 0195f2a4-0000-7000-8000-0000000000bb (events/000006.event)"),
        "{text}"
    );
    assert!(text.contains(&format!("root key fingerprint {}", fp(ROOT))), "{text}");
    assert!(text.contains(&format!("anchor       agency root fingerprint {} (given with --agency-root)", fp(ROOT))), "{text}");
    let out = Command::new("/usr/bin/sha256sum").args(["-c", "SHA256SUMS"]).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn the_output_is_byte_identical_wherever_the_package_lies() {
    let (tmp, dir) = built(&standard());
    let elsewhere = tmp.path().join("a/much/deeper/copy");
    copy_dir(&dir, &elsewhere);
    let root = fp(ROOT);
    for args in [vec!["--agency-root", root.as_str()], vec!["--json", "--agency-root", root.as_str()]] {
        let outs: Vec<Output> = [&dir, &elsewhere]
            .iter()
            .map(|d| {
                let mut a: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
                a.push(d.as_os_str());
                run(&a)
            })
            .collect();
        assert_eq!(outs[0].status.code(), Some(0));
        assert_eq!(outs[0].stdout, outs[1].stdout, "{args:?}");
        assert!(!String::from_utf8_lossy(&outs[0].stdout).contains(tmp.path().to_str().unwrap()));
    }
    // Relative and absolute paths to the same package give the same report.
    let rel = Command::new(env!("CARGO_BIN_EXE_casebridge-verify"))
        .args(["--agency-root", &root, "pkg"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(rel.stdout, run(&["--agency-root".as_ref(), root.as_ref(), dir.as_os_str()]).stdout);
    let json: Value =
        serde_json::from_slice(&run(&["--json".as_ref(), "--agency-root".as_ref(), root.as_ref(), dir.as_os_str()]).stdout).unwrap();
    assert_eq!(json["verdict"], "VERIFIED");
    assert_eq!(json["members"].as_array().unwrap().len(), 2);
}

#[test]
fn exit_codes_separate_verified_failed_and_usage() {
    let (tmp, dir) = built(&standard());
    assert_eq!(run(&[]).status.code(), Some(2));
    let out = run(&["--frobnicate".as_ref(), dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option --frobnicate"));
    assert_eq!(run(&[tmp.path().join("missing").as_os_str()]).status.code(), Some(2));
    assert_eq!(run(&[dir.as_os_str(), dir.as_os_str()]).status.code(), Some(2));
    assert_eq!(run(&["--help".as_ref()]).status.code(), Some(0));
    std::fs::write(dir.join("originals").join(ITEM_X), b"the first originaL").unwrap();
    let out = run(&["--json".as_ref(), dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "FAILED");
    assert!(json["problems"].as_array().unwrap().iter().any(|p| p["subject"] == format!("item {ITEM_X}") && p["check"] == 4));
    let (_, text) = verify(&dir);
    assert!(text.contains(&format!("\nFAILED: {} problem(s)\n", json["problems"].as_array().unwrap().len())), "{text}");
}

#[test]
fn a_fork_and_a_broken_link_are_named() {
    let mut p = standard();
    // A second, different event 3 by the investigator (a fork).
    let mut inv = Author::new(1, INVESTIGATOR, 1);
    for _ in 0..2 {
        inv.event(json!({"type": "note_added", "case_id": CASE, "note_id": ITEM_X, "text": "other"}));
    }
    p.events.push(inv.event(json!({"type": "note_added", "case_id": CASE, "note_id": ITEM_X, "text": "a forked history"})));
    let (_tmp, dir) = built(&p);
    let text = assert_fails_naming(&dir, 3, "event events/000008.event");
    assert!(text.contains("(a fork)"), "{text}");

    // An event whose `prev` is not its predecessor's hash.
    let mut p = standard();
    let mut vol = Author::new(2, VOLUNTEER, 5);
    p.events.push(vol.event(json!({"type": "note_added", "case_id": CASE, "note_id": ITEM_Y, "text": "does not link"})));
    let (_tmp, dir) = built(&p);
    let text = assert_fails_naming(&dir, 3, "event events/000008.event");
    assert!(text.contains("does not link to their event 4 (events/000006.event)"), "{text}");
}

#[test]
fn events_of_another_case_and_custody_of_another_hash_are_named() {
    let mut p = standard();
    let mut inv = Author::new(1, INVESTIGATOR, 1);
    for _ in 0..5 {
        inv.event(json!({}));
    }
    p.events.truncate(6);
    p.events.push(inv.event(json!({"type": "note_added", "case_id": OTHER_CASE, "note_id": ITEM_X, "text": "elsewhere"})));
    p.events.push(inv.event(custody(ITEM_Y, "viewed", b"some other content")));
    let (_tmp, dir) = built(&p);
    let text = assert_fails_naming(&dir, 3, "event events/000007.event");
    assert!(text.contains(OTHER_CASE), "{text}");
    assert_fails_naming(&dir, 4, &format!("item {ITEM_Y}"));
}

#[test]
fn a_credential_for_another_key_and_a_revoked_key_are_reported() {
    // The volunteer's credential file holds a credential for the volunteer's id but the
    // investigator's key, validly signed by the agency: the binding is wrong.
    let mut p = standard();
    let root = pair(ROOT);
    let body = json!({"agency_id": AGENCY, "serial": "0195f2a4-0000-7000-8000-00000000000d", "member_id": VOLUNTEER, "name": "v", "role": "volunteer",
                      "key": key_hex(&pair(1)), "scopes": [], "not_before": "2026-01-01T00:00:00Z", "not_after": "2027-01-01T00:00:00Z",
                      "issued_at": "2026-01-01T00:00:00Z"});
    let i = p.extra_files.iter().position(|(n, _)| n.contains(VOLUNTEER)).unwrap();
    p.extra_files[i].1 = serde_json::to_vec(&doc("credential", &body, &root)).unwrap();
    let (_tmp, dir) = built(&p);
    assert_fails_naming(&dir, 5, &format!("member {VOLUNTEER}"));

    // A list revoking the volunteer's key between their two events (08:03 and 08:04 UTC): the
    // event signed after the revocation fails, naming the member and the event.
    let revoking = |revoked_at: &str| {
        let mut p = standard();
        let list = doc(
            "revocation-list",
            &json!({"agency_id": AGENCY, "version": 4, "issued_at": "2026-03-14T09:00:00Z", "expires_at": "2026-04-13T00:00:00Z",
                    "entries": [{"member_id": VOLUNTEER, "key": key_hex(&pair(VOLUNTEER_KEY)), "revoked_at": revoked_at, "reason": "lost phone"}]}),
            &root,
        );
        let i = p.extra_files.iter().position(|(n, _)| n == "agency.json").unwrap();
        let mut file: Value = serde_json::from_slice(&p.extra_files[i].1).unwrap();
        file["revocation"] = list;
        p.extra_files[i].1 = serde_json::to_vec(&file).unwrap();
        p
    };
    let (_tmp, dir) = built(&revoking("2026-03-14T08:03:30Z"));
    let text = assert_fails_naming(&dir, 5, &format!("member {VOLUNTEER}"));
    assert!(text.contains("was revoked at 2026-03-14T08:03:30Z (lost phone); 1 of their event(s) are dated at or after that, the first events/000006.event"), "{text}");
    assert!(text.contains("    REVOKED at 2026-03-14T08:03:30Z (lost phone); 1 event(s) dated after that"), "{text}");

    // Revoked after their last event: verified, and flagged.
    let (_tmp, dir) = built(&revoking("2026-03-14T08:05:00Z"));
    let (code, text) = verify(&dir);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("    REVOKED at 2026-03-14T08:05:00Z (lost phone); 0 event(s) dated after that"), "{text}");
    assert!(text.contains("\nflags\n"), "{text}");

    // A list signed by some other key is refused, and credentials cannot then be checked.
    let mut p = standard();
    let i = p.extra_files.iter().position(|(n, _)| n == "agency.json").unwrap();
    let mut file: Value = serde_json::from_slice(&p.extra_files[i].1).unwrap();
    let forged = doc(
        "revocation-list",
        &json!({"agency_id": AGENCY, "version": 9, "issued_at": "2026-03-14T09:00:00Z",
        "expires_at": "2026-04-13T00:00:00Z", "entries": []}),
        &pair(66),
    );
    file["revocation"] = forged;
    p.extra_files[i].1 = serde_json::to_vec(&file).unwrap();
    let (_tmp, dir) = built(&p);
    assert_fails_naming(&dir, 5, "file agency.json");
    assert_fails_naming(&dir, 5, &format!("file credentials/{INVESTIGATOR}.json"));
}

#[test]
fn unsafe_paths_and_links_are_never_followed() {
    let mut p = standard();
    p.extra_files.push(("../outside".into(), b"secret".to_vec()));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pkg");
    std::fs::create_dir(&dir).unwrap();
    p.write(&dir);
    let text = assert_fails_naming(&dir, 2, "file ../outside");
    assert!(text.contains("not a plain relative path"), "{text}");

    let (_tmp, dir) = built(&standard());
    std::os::unix::fs::symlink("/etc/hostname", dir.join("README.md.link")).unwrap();
    let text = assert_fails_naming(&dir, 2, "file README.md.link");
    assert!(text.contains("symbolic link"), "{text}");
}

#[test]
fn an_exporter_key_that_the_exporters_credential_does_not_bind_fails() {
    let mut p = standard();
    p.exporter = pair(77);
    let (_tmp, dir) = built(&p);
    // Signed by the key it names, but the manifest's exporter key is that key too: only the
    // credential binding tells that member id and key do not belong together.
    let text = assert_fails_naming(&dir, 5, &format!("member {INVESTIGATOR}"));
    assert!(text.contains("belongs to another key"), "{text}");
}

#[test]
fn an_author_chain_listed_out_of_order_fails_even_when_the_manifest_agrees() {
    // The exporter signed a manifest that lists the investigator's events 3 and 4 swapped: every
    // hash matches the manifest, only the chain order tells.
    let mut p = standard();
    p.events.swap(2, 3);
    let (_tmp, dir) = built(&p);
    let text = assert_fails_naming(&dir, 3, "event events/000004.event");
    assert!(text.contains(&format!("member {INVESTIGATOR} event 3 comes after their event 4 (events/000003.event)")), "{text}");
    assert!(!text.contains("[check 2]"), "the files themselves are as listed:\n{text}");
}

/// Re-signs `manifest.json` after `edit` changes its body (an exporter making a bad package).
fn resign_manifest(dir: &Path, signer: &Ed25519KeyPair, edit: impl FnOnce(&mut Value)) {
    let p = dir.join("manifest.json");
    let container: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let mut body: Value = serde_json::from_slice(&B64.decode(container["body"].as_str().unwrap()).unwrap()).unwrap();
    edit(&mut body);
    std::fs::write(&p, serde_json::to_vec(&doc("court-package", &body, signer)).unwrap()).unwrap();
}

#[test]
fn a_manifest_naming_an_exporter_key_other_than_its_signer_fails() {
    let (_tmp, dir) = built(&standard());
    resign_manifest(&dir, &pair(1), |m| m["exporter"]["key"] = key_hex(&pair(2)).into());
    let text = assert_fails_naming(&dir, 1, "file manifest.json");
    assert!(text.contains("names an exporter key that is not the key that signed it"), "{text}");
}

#[test]
fn sha256sums_must_say_what_the_manifest_says() {
    let (_tmp, dir) = built(&standard());
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    // One hash replaced by another file's, one line dropped.
    let lines: Vec<&str> = sums.lines().collect();
    let x = lines.iter().position(|l| l.ends_with(&format!("originals/{ITEM_X}"))).unwrap();
    let readme = lines.iter().position(|l| l.ends_with("README.md")).unwrap();
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[x] = format!("{}  originals/{ITEM_X}", sha(Y));
    edited.remove(readme);
    std::fs::write(dir.join("SHA256SUMS"), edited.join("\n") + "\n").unwrap();
    let text = assert_fails_naming(&dir, 2, &format!("file originals/{ITEM_X}"));
    assert!(text.contains("in SHA256SUMS but"), "{text}");
    let text = assert_fails_naming(&dir, 2, "file README.md");
    assert!(text.contains("is missing from SHA256SUMS"), "{text}");
    assert_eq!(text.matches("[check ").count(), 2, "{text}");
}

// ----- issue 12: the trust anchor ----------------------------------------------------------

/// Every problem line of a report, as `[check N] SUBJECT`.
fn problem_subjects(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.strip_prefix("  [check ")).map(|l| format!("[check {}", l.split(": ").next().unwrap())).collect()
}

#[test]
fn issue_12_the_genuine_package_verifies_only_against_the_agency_root() {
    let (_tmp, dir) = built(&standard());
    let (code, text) = verify(&dir);
    assert_eq!(code, 0, "{text}");
    assert!(text.ends_with("\nVERIFIED\n"), "{text}");
    // The fingerprint in either case, and as one argument.
    assert_eq!(verify_with(&dir, &["--agency-root", &fp(ROOT).to_uppercase()]).0, 0);
    assert_eq!(verify_with(&dir, &[&format!("--agency-root={}", fp(ROOT))]).0, 0);

    // Without the anchor: every check runs and the report is printed, but it is never VERIFIED.
    let (code, text) = verify_with(&dir, &[]);
    assert_eq!(code, 3, "{text}");
    assert_eq!(text.lines().last(), Some("NOT ANCHORED: pass --agency-root <fingerprint>"), "{text}");
    assert!(!text.lines().any(|l| l == "VERIFIED"), "{text}");
    assert!(text.contains(&format!("root key fingerprint {}", fp(ROOT))), "the report still shows what to compare:\n{text}");
    assert!(text.contains("anchor       none: no agency root fingerprint was given"), "{text}");
    let out = run(&["--json".as_ref(), dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(3));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["verdict"].as_str(), json["verified"].as_bool(), json["anchored"].as_bool()),
        (Some("NOT ANCHORED"), Some(false), Some(false))
    );
    assert!(json["agency_root"].is_null(), "{json}");
    let out = run(&["--json".as_ref(), "--agency-root".as_ref(), fp(ROOT).as_ref(), dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["verdict"].as_str(), json["verified"].as_bool(), json["anchored"].as_bool()),
        (Some("VERIFIED"), Some(true), Some(true))
    );
    assert_eq!(json["agency_root"], fp(ROOT));

    // Against another agency's root, the genuine package is another agency's: it fails.
    let text = assert_fails_with(&dir, &fp(LOOK_ALIKE_ROOT), 5, "file agency.json");
    assert!(text.contains(&format!("not the agency root {} given with --agency-root", fp(LOOK_ALIKE_ROOT))), "{text}");
}

/// Runs anchored to `root` and asserts it failed with a problem naming `subject`.
fn assert_fails_with(dir: &Path, root: &str, check: u8, subject: &str) -> String {
    let (code, text) = verify_with(dir, &["--agency-root", root]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains(&format!("[check {check}] {subject}: ")), "no check {check} problem naming {subject}:\n{text}");
    text
}

#[test]
fn issue_12_an_agency_root_that_is_not_64_hex_digits_is_a_usage_error() {
    let (_tmp, dir) = built(&standard());
    let real = fp(ROOT);
    for bad in ["", "xyz", &real[..63], &format!("{real}0"), &"g".repeat(64), &format!("sha256:{}", &real[..57])] {
        let out = run(&["--agency-root".as_ref(), bad.as_ref(), dir.as_os_str()]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(out.stdout.is_empty(), "nothing was checked for {bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex digits"), "{bad:?}");
    }
    let out = run(&[dir.as_os_str(), "--agency-root".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--agency-root needs the agency's root key fingerprint"));
    let out = run(&["--agency-root".as_ref(), real.as_ref(), "--agency-root".as_ref(), real.as_ref(), dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let help = String::from_utf8(run(&["--help".as_ref()]).stdout).unwrap();
    assert!(help.contains("--agency-root FINGERPRINT") && help.contains("3 not anchored"), "{help}");
}

#[test]
fn issue_12_a_forgery_without_agency_file_and_with_a_resigned_chain_fails() {
    // The forger deletes agency.json and credentials/, replaces original X, re-signs the
    // investigator's whole chain and the manifest with a fresh key, and recomputes SHA256SUMS.
    // The volunteer's events are kept as they were.
    let (_tmp, dir) = built(&package(FORGER_KEY, FORGED_X, None));
    assert!(!dir.join("agency.json").exists() && !dir.join("credentials").exists());
    let text = assert_fails_naming(&dir, 5, "file agency.json");
    assert!(text.contains("[check 5] file agency.json: is missing"), "{text}");
    assert_fails_naming(&dir, 5, &format!("member {INVESTIGATOR}"));
    assert_fails_naming(&dir, 5, &format!("member {VOLUNTEER}"));
    // Everything else is consistent: only the tie to the agency gives the forgery away.
    assert!(problem_subjects(&text).iter().all(|s| s.starts_with("[check 5]")), "{text}");
    // Without the anchor it is not VERIFIED either (nothing ties it to any agency).
    let (code, text) = verify_with(&dir, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("[check 5] file agency.json: is missing"), "{text}");
}

#[test]
fn issue_12_a_look_alike_agency_with_a_credential_for_the_forgers_key_fails() {
    // As above, with a fabricated agency.json (same agency id and name, the forger's own root
    // key) and credentials it signed for the forger's key and the volunteer's.
    let (_tmp, dir) = built(&package(FORGER_KEY, FORGED_X, Some(LOOK_ALIKE_ROOT)));
    let text = assert_fails_naming(&dir, 5, "file agency.json");
    assert!(
        text.contains(&format!(
            "with root key fingerprint {}, not the agency root {} given with --agency-root",
            fp(LOOK_ALIKE_ROOT),
            fp(ROOT)
        )),
        "{text}"
    );
    assert!(
        text.contains("agency       Test agency (0195f2a4-0000-7000-8000-00000000a9e0)"),
        "the look-alike names the real agency:\n{text}"
    );
    // Credentials signed by the look-alike's root vouch for no one.
    for p in [format!("credentials/{INVESTIGATOR}.json"), format!("credentials/{VOLUNTEER}.json")] {
        let line =
            format!("[check 5] file {p}: cannot be checked: the package has no agency.json that verifies with the agency root given");
        assert!(text.contains(&line), "{text}");
    }
    assert!(text.contains(&format!("[check 5] member {INVESTIGATOR}: cannot be tied to the agency")), "{text}");
    assert!(problem_subjects(&text).iter().all(|s| s.starts_with("[check 5]")), "{text}");

    // Every check that looks only inside the package passes: unanchored, it is NOT ANCHORED...
    let (code, text) = verify_with(&dir, &[]);
    assert_eq!(code, 3, "{text}");
    assert_eq!(text.lines().last(), Some("NOT ANCHORED: pass --agency-root <fingerprint>"));
    // ...and anchored to the fingerprint the package itself shows, it verifies: which is why
    // the fingerprint must come from the agency, out of band, never from the package.
    assert_eq!(verify_with(&dir, &["--agency-root", &fp(LOOK_ALIKE_ROOT)]).0, 0);
}

#[test]
fn issue_12_a_replaced_original_with_recomputed_sha256sums_fails() {
    let (_tmp, dir) = built(&standard());
    std::fs::write(dir.join("originals").join(ITEM_X), FORGED_X).unwrap();
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    let recomputed: String = sums
        .lines()
        .map(|l| {
            let path = l.split_once("  ").unwrap().1;
            format!("{}  {path}\n", sha(&std::fs::read(dir.join(path)).unwrap()))
        })
        .collect();
    assert_ne!(recomputed, sums);
    std::fs::write(dir.join("SHA256SUMS"), recomputed).unwrap();
    // The check by hand is fooled...
    let out = Command::new("/usr/bin/sha256sum").args(["-c", "SHA256SUMS"]).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // ...the verifier is not.
    let text = assert_fails_naming(&dir, 4, &format!("item {ITEM_X}"));
    assert_fails_naming(&dir, 2, &format!("file originals/{ITEM_X}"));
    assert!(text.contains(&format!("original originals/{ITEM_X} has SHA-256 {}", sha(FORGED_X))), "{text}");
}

#[test]
fn issue_12_an_author_without_a_credential_fails() {
    let mut p = standard();
    p.extra_files.retain(|(n, _)| !n.contains(VOLUNTEER));
    let (_tmp, dir) = built(&p);
    let text = assert_fails_naming(&dir, 5, &format!("member {VOLUNTEER}"));
    assert!(text.contains(&format!("has no credential in the package (credentials/{VOLUNTEER}.json is missing)")), "{text}");
    assert_eq!(problem_subjects(&text).len(), 1, "{text}");
}

#[test]
fn issue_12_events_outside_the_credential_validity_fail() {
    // The volunteer's credential ends between their two events (08:03 and 08:04 UTC).
    let mut p = standard();
    let i = p.extra_files.iter().position(|(n, _)| n.contains(VOLUNTEER)).unwrap();
    p.extra_files[i].1 = credential(&pair(ROOT), VOLUNTEER, &key_hex(&pair(VOLUNTEER_KEY)), "volunteer", "2026-03-14T08:03:30Z");
    let (_tmp, dir) = built(&p);
    let text = assert_fails_naming(&dir, 5, &format!("member {VOLUNTEER}"));
    assert!(text.contains("1 event(s) are dated outside the validity of their credential"), "{text}");
    assert!(text.contains("the first events/000006.event at 2026-03-14T09:04:00+01:00"), "{text}");

    // The exporter's credential ended before the package was made.
    let mut p = standard();
    let i = p.extra_files.iter().position(|(n, _)| n.contains(INVESTIGATOR)).unwrap();
    p.extra_files[i].1 = credential(&pair(ROOT), INVESTIGATOR, &key_hex(&pair(INVESTIGATOR_KEY)), "investigator", "2026-03-14T08:30:00Z");
    let (_tmp, dir) = built(&p);
    let text = assert_fails_naming(&dir, 5, &format!("member {INVESTIGATOR}"));
    assert!(text.contains("exported the package at 2026-03-14T10:00:00+01:00, outside the validity"), "{text}");
}
