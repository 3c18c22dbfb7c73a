//! The trust layer through the real CLI: an agency enrols a field officer, the officer sends a
//! case as a sealed bundle, an investigator's store imports it, and a signed receipt goes back.
//! A volunteer's bundle of case events is refused on open (the endpoint's contribution policy
//! applies offline too).
//! Then the rejections, each with its reason code on stderr (and in `--json`).
//!
//! Agencies are created in-process with cheap KDF parameters (the CLI reads them from the key
//! file, so every unlock is cheap); one test runs the real `agency init`.

use std::fs;
use std::path::PathBuf;

use casebridge_core::Role;
use serde_json::Value;

use crate::endpoint::{run, AGENCY_PASS};
use crate::harness::{agency_at, file_sha256, flip_bit, is_uuid, s, str_field, Output, Profile};

/// Runs, asserts success, parses stdout as one JSON document.
#[track_caller]
fn json(p: &Profile, args: &[&str]) -> Value {
    let out = run(p, args);
    out.ok();
    out.json()
}

/// Asserts a clean failure (exit 1) whose stderr ends with `[code]`.
#[track_caller]
fn fails_with_code<'a>(out: &'a Output, code: &str) -> &'a Output {
    out.fails();
    assert!(out.stderr.trim_end().ends_with(&format!("[{code}]")), "stderr should end with [{code}]\n{out}");
    out
}

/// An enrolled field officer (an investigator's profile on a laptop) with a case holding two
/// evidence items, and the agency they are enrolled with.
struct World {
    vol: Profile,
    agency: PathBuf,
    public: PathBuf,
    case: String,
    /// SHA-256 of the two evidence items.
    shas: Vec<String>,
    member: String,
}

fn world() -> World {
    let vol = Profile::with_role("Mila Jansen", Role::Investigator);
    let agency = vol.path("agency");
    agency_at(&agency, "Polizei Berlin (test)");
    let public = vol.path("agency-public.json");
    run(&vol, &["agency", "export-public", "--dir", s(&agency), "--out", s(&public)]).ok();

    let req = vol.path("request.json");
    run(&vol, &["credential", "request", "--out", s(&req)]).ok();
    let cred = vol.path("credential.json");
    let issued = json(
        &vol,
        &["agency", "issue", "--dir", s(&agency), s(&req), "--role", "investigator", "--valid-for", "30d", "--out", s(&cred), "--json"],
    );
    assert_eq!(str_field(&issued, "role"), "investigator");
    assert_eq!(str_field(&issued, "status"), "valid");
    run(&vol, &["credential", "install", s(&cred), "--agency-public", s(&public)]).ok();
    let member = str_field(&vol.json(&["whoami", "--json"]), "member_id");

    let case = vol.new_case("Submission for brief 7");
    vol.cmd(&["note", "add", &case, "Seen near the bridge at 21:40"]).ok();
    // 1.5 MiB: more than one bundle chunk.
    let big = vol.random_file("camera.bin", 3 * 512 * 1024, 11);
    let small = vol.write_file("statement.txt", b"A white van, no plates.\n");
    let shas = vec![vol.add_evidence(&case, &big).1, vol.add_evidence(&case, &small).1];
    World { vol, agency, public, case, shas, member }
}

impl World {
    /// `bundle export` of the case to the agency; returns the summary.
    #[track_caller]
    fn export(&self, name: &str, extra: &[&str]) -> (PathBuf, Value) {
        let out = self.vol.path(name);
        let mut args = vec!["bundle", "export", "--case", &self.case, "--to", s(&self.public), "--out", s(&out), "--json"];
        args.extend_from_slice(extra);
        let v = json(&self.vol, &args);
        (out, v)
    }
}

/// The sorted SHA-256s of a case's evidence in a store.
fn case_shas(p: &Profile, case: &str) -> Vec<String> {
    let shown = p.json(&["case", "show", case, "--json"]);
    let mut shas: Vec<String> = shown["evidence"].as_array().expect("evidence array").iter().map(|e| str_field(e, "sha256")).collect();
    shas.sort();
    shas
}

#[test]
fn a_field_officers_bundle_reaches_the_investigator_and_a_receipt_comes_back() {
    let w = world();
    let shown = json(&w.vol, &["credential", "show", "--json"]);
    assert_eq!(shown.as_array().map(Vec::len), Some(1), "{shown}");
    assert_eq!(str_field(&shown[0], "role"), "investigator");
    assert_eq!(str_field(&shown[0], "status"), "valid");
    assert_eq!(str_field(&shown[0], "agency_name"), "Polizei Berlin (test)");

    // Export.
    let (bundle, summary) = w.export("b1.cbb", &[]);
    assert_eq!(summary["seq"], 1, "{summary}");
    assert_eq!(summary["blobs"], 2, "{summary}");
    assert_eq!(summary["sealed"], true, "{summary}");
    assert!(summary["events"].as_u64().unwrap() >= 4, "case, note and two evidence events at least: {summary}");
    assert!(is_uuid(&str_field(&summary, "bundle_id")), "{summary}");

    // Verify with the agency directory.
    let out = run(&w.vol, &["bundle", "verify", s(&bundle), "--agency-dir", s(&w.agency)]);
    out.ok();
    assert_eq!(out.stdout.lines().last(), Some("VERIFIED"), "{out}");
    assert!(out.stdout.contains("sender name  Mila Jansen"), "{out}");
    let v = json(&w.vol, &["bundle", "verify", s(&bundle), "--agency-dir", s(&w.agency), "--json"]);
    assert_eq!(v["verdict"], "verified", "{v}");
    assert_eq!(v["reason"], Value::Null, "{v}");
    assert_eq!(v["bundle_id"], summary["bundle_id"], "{v}");
    assert_eq!(str_field(&v, "sender"), w.member);
    assert_eq!(str_field(&v, "sender_name"), "Mila Jansen");
    assert_eq!(str_field(&v, "role"), "investigator");
    assert_eq!(str_field(&v, "case_id"), w.case);
    assert_eq!(v["seq"], 1);
    assert_eq!(v["manifest_hash"], summary["manifest_hash"], "{v}");
    assert_eq!(v["events"], summary["events"], "{v}");
    assert_eq!(v["sealed"], true);
    let mut blob_shas: Vec<String> = v["blobs"].as_array().unwrap().iter().map(|b| str_field(b, "sha256")).collect();
    blob_shas.sort();
    let mut expected = w.shas.clone();
    expected.sort();
    assert_eq!(blob_shas, expected, "{v}");
    assert_eq!(v["blobs"].as_array().unwrap().iter().map(|b| b["size"].as_u64().unwrap()).sum::<u64>(), 3 * 512 * 1024 + 24);

    // Open into the investigator's store; --into wins over the store of the environment.
    let inv = Profile::new();
    let opened = json(&w.vol, &["bundle", "open", s(&bundle), "--agency-dir", s(&w.agency), "--into", s(&inv.store), "--json"]);
    assert_eq!(opened["outcome"], "accepted", "{opened}");
    assert_eq!(opened["events_added"], summary["events"], "{opened}");
    let receipt = PathBuf::from(format!("{}.receipt", s(&bundle)));
    assert_eq!(opened["receipt"], s(&receipt), "{opened}");
    assert!(receipt.is_file());
    assert_eq!(case_shas(&inv, &w.case), expected, "the investigator holds the same evidence");
    assert_eq!(str_field(&inv.json(&["case", "show", &w.case, "--json"]), "title"), "Submission for brief 7");
    inv.check_ok();
    // The content itself came across intact.
    let first = &inv.json(&["case", "show", &w.case, "--json"])["evidence"][0];
    let copy = inv.path("copy.bin");
    inv.cmd(&["evidence", "export", &str_field(first, "id"), "--out", s(&copy)]).ok();
    assert_eq!(file_sha256(&copy).0, str_field(first, "sha256"));
    assert!(w.vol.cmd(&["case", "list", "--json"]).ok().json().as_array().map(Vec::len) == Some(1), "the sender's store is unchanged");

    // Opening it again adds nothing and writes no receipt.
    let receipt_bytes = fs::read(&receipt).unwrap();
    let again = run(&inv, &["bundle", "open", s(&bundle), "--agency-dir", s(&w.agency)]);
    again.ok();
    assert!(again.stdout.starts_with("duplicate: ") && again.stdout.contains("nothing was added"), "{again}");
    assert!(again.stdout.contains("events added  0 of "), "{again}");
    assert_eq!(fs::read(&receipt).unwrap(), receipt_bytes, "the receipt stands");
    assert_eq!(case_shas(&inv, &w.case).len(), 2);
    inv.check_ok();

    // The receipt verifies with the agency's public file.
    let out = run(&w.vol, &["receipt", "verify", s(&receipt), "--agency-public", s(&w.public)]);
    out.ok();
    assert_eq!(out.stdout.lines().last(), Some("VERIFIED"), "{out}");
    let r = json(&w.vol, &["receipt", "verify", s(&receipt), "--agency-public", s(&w.public), "--json"]);
    assert_eq!(r["verdict"], "verified", "{r}");
    assert_eq!(r["bundle_id"], summary["bundle_id"]);
    assert_eq!(r["manifest_hash"], summary["manifest_hash"]);
    assert_eq!(str_field(&r, "sender"), w.member);
    assert_eq!(str_field(&r, "outcome"), "accepted");

    // Against another agency's key it is rejected, with the verdict in JSON too.
    let other = w.vol.path("other-agency");
    agency_at(&other, "Other agency (test)");
    let other_public = w.vol.path("other-public.json");
    run(&w.vol, &["agency", "export-public", "--dir", s(&other), "--out", s(&other_public)]).ok();
    let out = run(&w.vol, &["receipt", "verify", s(&receipt), "--agency-public", s(&other_public), "--json"]);
    fails_with_code(&out, "unknown_signer");
    assert_eq!(out.json()["verdict"], "rejected");
    assert_eq!(out.json()["bundle_id"], Value::Null);

    // The sender keeps it; the list verifies it again.
    w.vol.cmd(&["receipt", "import", s(&receipt)]).ok();
    let list = w.vol.json(&["receipt", "list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["verified"], true, "{list}");
    assert_eq!(list[0]["bundle_id"], summary["bundle_id"]);
    // Not on the investigator's profile: it sent no bundle.
    inv.cmd(&["receipt", "import", s(&receipt)]).fails();
}

#[test]
fn a_volunteers_bundle_of_case_events_is_refused_when_opened() {
    let w = world();
    let vol = Profile::with_role("Vera Volunteer", Role::Volunteer);
    let req = vol.path("request.json");
    run(&vol, &["credential", "request", "--out", s(&req)]).ok();
    let cred = vol.path("credential.json");
    run(&vol, &["agency", "issue", "--dir", s(&w.agency), s(&req), "--role", "volunteer", "--out", s(&cred)]).ok();
    run(&vol, &["credential", "install", s(&cred), "--agency-public", s(&w.public)]).ok();
    let case = vol.new_case("A case of my own");
    vol.cmd(&["note", "add", &case, "I decide what the police investigate"]).ok();
    let bundle = vol.path("vol.cbb");
    run(&vol, &["bundle", "export", "--case", &case, "--to", s(&w.public), "--out", s(&bundle)]).ok();
    let inv = Profile::new();
    let out = run(&vol, &["bundle", "open", s(&bundle), "--agency-dir", s(&w.agency), "--into", s(&inv.store)]);
    fails_with_code(&out, "forbidden");
    assert!(out.stderr.contains("case_created"), "{out}");
    assert_eq!(inv.json(&["case", "list", "--json"]).as_array().map(Vec::len), Some(0));
    inv.check_ok();
    // Control: the officer's bundle of the same kind of events opens.
    let (officer, _) = w.export("officer.cbb", &[]);
    let opened = json(&w.vol, &["bundle", "open", s(&officer), "--agency-dir", s(&w.agency), "--into", s(&inv.store), "--json"]);
    assert_eq!(opened["outcome"], "accepted", "{opened}");
}

#[test]
fn other_agencies_damaged_bundles_and_public_only_verification() {
    let w = world();
    let (bundle, _) = w.export("b1.cbb", &[]);

    // Sealed to this agency, presented to another.
    let other = w.vol.path("other-agency");
    agency_at(&other, "Other agency (test)");
    let out = run(&w.vol, &["bundle", "verify", s(&bundle), "--agency-dir", s(&other)]);
    fails_with_code(&out, "sealed_to_other_agency");
    assert!(out.stdout.starts_with("REJECTED sealed_to_other_agency: "), "{out}");
    let out = run(&w.vol, &["bundle", "verify", s(&bundle), "--agency-dir", s(&other), "--json"]);
    fails_with_code(&out, "sealed_to_other_agency");
    let v = out.json();
    assert_eq!(v["verdict"], "rejected");
    assert_eq!(v["reason"], "sealed_to_other_agency");
    assert_eq!(v["bundle_id"], Value::Null, "nothing in a rejected bundle is vouched for");
    let inv = Profile::new();
    fails_with_code(&run(&inv, &["bundle", "open", s(&bundle), "--agency-dir", s(&other)]), "sealed_to_other_agency");

    // A flipped bit anywhere: in the age header, in the middle (blob data), in the last byte.
    let len = fs::metadata(&bundle).unwrap().len();
    for byte in [20, len / 2, len - 1] {
        let damaged = w.vol.path(&format!("flipped-{byte}.cbb"));
        fs::copy(&bundle, &damaged).unwrap();
        flip_bit(&damaged, byte * 8 + 3);
        let out = run(&w.vol, &["bundle", "verify", s(&damaged), "--agency-dir", s(&w.agency), "--json"]);
        out.fails();
        let v = out.json();
        assert_eq!(v["verdict"], "rejected", "byte {byte}: {v}");
        let code = str_field(&v, "reason");
        assert!(out.stderr.trim_end().ends_with(&format!("[{code}]")), "byte {byte}\n{out}");
        if byte == len / 2 {
            assert_eq!(code, "seal_damaged", "a flip inside the sealed payload\n{out}");
        }
        // Opening it into a store imports nothing.
        fails_with_code(&run(&inv, &["bundle", "open", s(&damaged), "--agency-dir", s(&w.agency)]), &code);
        assert_eq!(inv.json(&["case", "list", "--json"]).as_array().map(Vec::len), Some(0));
    }
    inv.check_ok();

    // With the public file only: an unsealed bundle verifies; a sealed one needs --agency-dir.
    let (plain, summary) = w.export("plain.cbb", &["--no-seal"]);
    assert_eq!(summary["sealed"], false);
    let v = json(&w.vol, &["bundle", "verify", s(&plain), "--agency-public", s(&w.public), "--json"]);
    assert_eq!(v["verdict"], "verified", "{v}");
    assert_eq!(v["sealed"], false);
    run(&w.vol, &["bundle", "verify", s(&bundle), "--agency-public", s(&w.public)]).fails_with("--agency-dir");
    // --since: only the events from a journal position on (the "index" of `log --json`).
    let log = w.vol.json(&["log", &w.case, "--json"]);
    let last_evidence = log.as_array().unwrap().iter().rev().find(|e| e["kind"] == "evidence_added").unwrap()["index"].as_u64().unwrap();
    let (part, partial) = w.export("since.cbb", &["--since", &last_evidence.to_string()]);
    assert_eq!(partial["blobs"], 1, "{partial}");
    // Fewer than the case's events now (the earlier exports added their custody `transferred`
    // and access entries after the first bundle was made, issue 16).
    assert!(partial["events"].as_u64().unwrap() < log.as_array().unwrap().len() as u64, "{partial}");
    assert_eq!(partial["seq"], 3, "the third bundle to this agency");
    let v = json(&w.vol, &["bundle", "verify", s(&part), "--agency-dir", s(&w.agency), "--json"]);
    assert_eq!(v["events"], partial["events"], "{v}");
    assert_eq!(v["blobs"][0]["sha256"], Value::from(w.shas[1].clone()), "{v}");

    // One of the two is required (a usage error).
    assert_eq!(run(&w.vol, &["bundle", "verify", s(&bundle)]).code, Some(2));
}

#[test]
fn revoked_signers_and_rolled_back_revocation_lists_are_refused() {
    let w = world();
    let (bundle, _) = w.export("b1.cbb", &[]);
    run(&w.vol, &["bundle", "verify", s(&bundle), "--agency-dir", s(&w.agency)]).ok();

    let revoked = json(&w.vol, &["agency", "revoke", "--dir", s(&w.agency), &w.member, "--reason", "left the programme", "--json"]);
    assert_eq!(revoked["version"], 2, "{revoked}");
    assert_eq!(revoked["count"], 1, "{revoked}");
    let issued = json(&w.vol, &["agency", "issued", "--dir", s(&w.agency), "--json"]);
    assert_eq!(str_field(&issued[0], "status"), "revoked", "{issued}");

    let out = run(&w.vol, &["bundle", "verify", s(&bundle), "--agency-dir", s(&w.agency)]);
    fails_with_code(&out, "signer_revoked");
    assert!(out.stdout.starts_with("REJECTED signer_revoked: "), "{out}");
    let inv = Profile::new();
    fails_with_code(&run(&inv, &["bundle", "open", s(&bundle), "--agency-dir", s(&w.agency)]), "signer_revoked");
    assert_eq!(inv.json(&["case", "list", "--json"]).as_array().map(Vec::len), Some(0));

    // The old public file (list version 1) after the new one (version 2): refused.
    let newer = w.vol.path("agency-public-v2.json");
    run(&w.vol, &["agency", "export-public", "--dir", s(&w.agency), "--out", s(&newer)]).ok();
    let pinned = inv.json(&["agency", "pin", s(&newer), "--json"]);
    assert_eq!(pinned["revocation_version"], 2, "{pinned}");
    fails_with_code(&inv.cmd(&["agency", "pin", s(&w.public)]), "revocation_rollback");
    let again = inv.json(&["agency", "pin", s(&newer), "--json"]);
    assert_eq!(again["revocation_version"], 2, "the newer list is kept");

    // An agency directory restored from an older copy cannot roll a store back either.
    let list = w.agency.join("revocation.json");
    let current = fs::read(&list).unwrap();
    let old_list: Value = serde_json::from_slice(&fs::read(&w.public).unwrap()).unwrap();
    fs::write(&list, serde_json::to_vec_pretty(&old_list["revocation"]).unwrap()).unwrap();
    fails_with_code(&run(&inv, &["bundle", "open", s(&bundle), "--agency-dir", s(&w.agency)]), "revocation_rollback");
    fs::write(&list, current).unwrap();

    // The revoked officer learns it from the new public file before sending anything.
    w.vol.cmd(&["agency", "pin", s(&newer)]).ok();
    let out = w.vol.cmd(&["bundle", "export", "--case", &w.case, "--to", s(&newer), "--out", s(&w.vol.path("b2.cbb"))]);
    out.fails_with("is revoked");
    assert!(!w.vol.path("b2.cbb").exists());
}

#[test]
fn export_needs_a_credential_and_nothing_overwrites() {
    // A profile without a credential.
    let p = Profile::new();
    let agency = p.path("agency");
    agency_at(&agency, "Polizei Berlin (test)");
    let public = p.path("agency-public.json");
    run(&p, &["agency", "export-public", "--dir", s(&agency), "--out", s(&public)]).ok();
    let case = p.new_case("No credential");
    let out_file = p.path("b.cbb");
    let out = p.cmd(&["bundle", "export", "--case", &case, "--to", s(&public), "--out", s(&out_file)]);
    out.fails_with("casebridge credential install");
    assert!(out.stderr.contains("no credential from agency Polizei Berlin (test)"), "{out}");
    assert!(!out_file.exists());

    // Existing files are never overwritten.
    let w = world();
    let (bundle, _) = w.export("b1.cbb", &[]);
    let before = file_sha256(&bundle);
    let out = w.vol.cmd(&["bundle", "export", "--case", &w.case, "--to", s(&w.public), "--out", s(&bundle)]);
    out.fails_with("already exists");
    assert_eq!(file_sha256(&bundle), before);
    run(&w.vol, &["agency", "export-public", "--dir", s(&w.agency), "--out", s(&w.public)]).fails_with("already exists");
    w.vol.cmd(&["credential", "request", "--out", s(&bundle)]).fails_with("already exists");
    let req = w.vol.path("request.json");
    let cred = w.vol.path("credential.json");
    run(&w.vol, &["agency", "issue", "--dir", s(&w.agency), s(&req), "--role", "volunteer", "--out", s(&cred)])
        .fails_with("already exists");
    let receipt = w.vol.path("taken.receipt");
    fs::write(&receipt, b"mine").unwrap();
    let inv = Profile::new();
    run(&inv, &["bundle", "open", s(&bundle), "--agency-dir", s(&w.agency), "--receipt-out", s(&receipt)]).fails_with("already exists");
    assert_eq!(fs::read(&receipt).unwrap(), b"mine");
    assert_eq!(inv.json(&["case", "list", "--json"]).as_array().map(Vec::len), Some(0), "refused before anything was imported");

    // Bad input to `agency issue` is refused with what to do.
    let other = w.vol.path("cred2.json");
    let issue = |role: &str, valid: &str| {
        run(&w.vol, &["agency", "issue", "--dir", s(&w.agency), s(&req), "--role", role, "--valid-for", valid, "--out", s(&other)])
    };
    issue("chief", "30d").fails_with("investigator, supervisor, volunteer");
    issue("volunteer", "soon").fails_with("invalid --valid-for 'soon'");
    run(&w.vol, &["agency", "issue", "--dir", s(&w.agency), s(&bundle), "--role", "volunteer", "--out", s(&other)])
        .fails_with("not a Casebridge signed document");
    // A credential request edited after signing fails its proof of possession.
    let mut doc: Value = serde_json::from_slice(&fs::read(&req).unwrap()).unwrap();
    let sig = str_field(&doc, "sig");
    doc["sig"] = Value::from(format!("{}{}", if sig.starts_with('A') { "B" } else { "A" }, &sig[1..]));
    let forged = w.vol.write_file("forged-request.json", &serde_json::to_vec(&doc).unwrap());
    run(&w.vol, &["agency", "issue", "--dir", s(&w.agency), s(&forged), "--role", "volunteer", "--out", s(&other)])
        .fails_with("[bad_signature]");
    assert!(!other.exists());
    // A wrong agency passphrase changes nothing.
    let out = w.vol.cmd_with(&["agency", "revoke", "--dir", s(&w.agency), &w.member], |c| {
        c.env("CASEBRIDGE_AGENCY_PASSPHRASE", "not the agency passphrase");
    });
    out.fails_with("wrong agency passphrase");
    assert_eq!(json(&w.vol, &["agency", "show", "--dir", s(&w.agency), "--json"])["revocation_version"], 1);
}

/// The one run of the real `agency init` (production KDF parameters, about half a second per
/// unlock).
#[test]
fn agency_init_through_the_cli() {
    let p = Profile::empty();
    let dir = p.path("agency");
    let init = json(&p, &["agency", "init", "--dir", s(&dir), "--name", "Polizei Berlin", "--json"]);
    assert!(is_uuid(&str_field(&init, "agency_id")), "{init}");
    assert_eq!(str_field(&init, "name"), "Polizei Berlin");
    let shown = json(&p, &["agency", "show", "--dir", s(&dir), "--json"]);
    assert_eq!(shown["agency_id"], init["agency_id"]);
    let root = hex::decode(str_field(&shown, "root_key")).unwrap();
    assert_eq!(root.len(), 32);
    assert_eq!(str_field(&shown, "root_fingerprint"), casebridge_core::to_hex(&casebridge_core::sha256(&root)));
    assert!(str_field(&shown, "sealing_recipient").starts_with("age1"), "{shown}");
    assert_eq!(shown["sealing_fingerprint"], init["sealing_fingerprint"]);
    assert_eq!(shown["revocation_version"], 1);
    let text = run(&p, &["agency", "show", "--dir", s(&dir)]);
    text.ok();
    for key in ["agency ", "name ", "root key ", "sealing recipient ", "root fingerprint ", "sealing fingerprint "] {
        assert!(text.stdout.lines().any(|l| l.starts_with(key)), "missing {key:?}\n{text}");
    }

    // Again: refused. Too short, or no passphrase at all: refused before anything is made.
    run(&p, &["agency", "init", "--dir", s(&dir), "--name", "Again"]).fails_with("already exists");
    let short = p.path("short");
    p.cmd_with(&["agency", "init", "--dir", s(&short), "--name", "X"], |c| {
        c.env("CASEBRIDGE_AGENCY_PASSPHRASE", "short");
    })
    .fails_with("at least 10");
    assert!(!short.join("agency.json").exists());
    // Signing needs the agency passphrase, and so does listing issued credentials (they carry
    // members' names and are sealed at rest).
    p.cmd_with(&["agency", "revoke", "--dir", s(&dir), "0190a0a0-0000-7000-8000-000000000000"], |c| {
        c.env_remove("CASEBRIDGE_AGENCY_PASSPHRASE");
    })
    .fails_with("CASEBRIDGE_AGENCY_PASSPHRASE");
    p.cmd_with(&["agency", "issued", "--dir", s(&dir)], |c| {
        c.env_remove("CASEBRIDGE_AGENCY_PASSPHRASE");
    })
    .fails_with("CASEBRIDGE_AGENCY_PASSPHRASE");

    // The passphrase file works too.
    let pass_file = p.write_file("agency-pass", format!("{AGENCY_PASS}\n").as_bytes());
    let out = p.cmd_with(&["agency", "issued", "--dir", s(&dir), "--agency-passphrase-file", s(&pass_file)], |c| {
        c.env_remove("CASEBRIDGE_AGENCY_PASSPHRASE");
    });
    out.ok();
    assert!(out.stdout.starts_with("no credentials issued yet"), "{out}");
}
