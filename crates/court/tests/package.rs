//! The court evidence package end to end: a real store with two authors (a field officer's
//! case imported through a sealed bundle, and the investigator's own work), exported by
//! `casebridge_court::package` and checked by the independent verifier `casebridge_verify`.
//! Every tampering names what it touched. The verifier is anchored to the agency's real root
//! fingerprint, as a court would run it (`casebridge-verify DIR --agency-root HEX`).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use casebridge_core::{CustodyAction, EvidenceOptions, NewBrief, NewCase, Role, Store, SubmitOptions};
use casebridge_court::package::{export_package, member_pseudonym, PackageError};
use casebridge_testkit::bytes::pseudo_random as bytes;
use casebridge_testkit::files::copy_dir;
use casebridge_testkit::fixtures::{disclose_as_supervisor, enrol_offline, new_agency, new_store};
use casebridge_trust::bundle::{self, Anchor, ExportOptions};
use casebridge_trust::{profile, Agency, Receipt, SignedDoc};
use casebridge_verify::{verify_package, AgencyRoot, Report, NOT_ANCHORED_LINE};
use uuid::Uuid;

/// How long the officers' credentials are valid.
const YEAR: chrono::Duration = chrono::Duration::days(365);

struct World {
    tmp: tempfile::TempDir,
    agency: Agency,
    officer: Store,
    investigator: Store,
    /// The officer's credential (not held by the investigator's store).
    officer_cred: SignedDoc,
    case: Uuid,
    bundle_id: Uuid,
    /// Items: the officer's two, the investigator's one, and a derivative.
    items: Vec<Uuid>,
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let agency_dir = tmp.path().join("agency");
    let agency = new_agency(&agency_dir, "Polizei Berlin (test)");
    let mut officer = new_store(&tmp.path().join("officer"), "Off Icer", Role::Investigator);
    let mut investigator = new_store(&tmp.path().join("investigator"), "Inv Estigator", Role::Investigator);
    let officer_cred = enrol_offline(&mut officer, &agency, &agency_dir, Role::Investigator, YEAR);
    enrol_offline(&mut investigator, &agency, &agency_dir, Role::Investigator, YEAR);

    // The field officer's case: a note, two files, sent as a sealed bundle.
    let case = officer
        .create_case(NewCase { title: "Bike thefts, Mitte".into(), reference: Some("BER-2026-000123".into()), ..Default::default() })
        .unwrap();
    officer.add_note(case, "seen near the bridge").unwrap();
    let mut items = Vec::new();
    for (i, len) in [1024 * 1024 + 5, 300].into_iter().enumerate() {
        let p = tmp.path().join(format!("photo{i}.bin"));
        std::fs::write(&p, bytes(len, i as u64 + 1)).unwrap();
        items.push(officer.add_evidence(case, &p, &EvidenceOptions::default(), &mut |_| true).unwrap().id);
    }
    let public = agency.public().clone();
    let (_, cred) = profile::credential(&officer, &public).unwrap().unwrap();
    let bundle_path = tmp.path().join("submission.cbb");
    let sent = bundle::export(
        &mut officer,
        &ExportOptions {
            case,
            since: None,
            agency: &public,
            credential: &cred,
            seal: true,
            own_only: false,
            bundle_id: None,
            sync_point: None,
            held: None,
        },
        &bundle_path,
        &mut |_| true,
    )
    .unwrap();

    // The agency opens it into the investigator's store and signs a receipt for the officer.
    let list = agency.current_revocation().unwrap().0;
    let anchor = Anchor::new(agency.public(), &list, Some(agency.sealing_identity()));
    let opened = bundle::open_into(&bundle_path, &anchor, &mut investigator, &mut |_| true).unwrap();
    assert_eq!(opened.outcome.as_str(), "accepted");
    let receipt = Receipt {
        agency_id: public.agency_id,
        bundle_id: opened.bundle_id,
        manifest_hash: opened.manifest_hash.clone(),
        sender: opened.sender,
        seq: opened.seq,
        received_at: casebridge_trust::now(),
        outcome: opened.outcome,
        events: opened.events,
        blobs: opened.blobs,
    };
    profile::store_receipt(&mut officer, &agency.sign_receipt(&receipt).unwrap()).unwrap();
    assert_eq!(sent.bundle_id, opened.bundle_id);

    // The investigator's own work: a note, a third file, an export, a verification, a derivative.
    investigator.add_note(case, "CCTV requested from the station").unwrap();
    let p = tmp.path().join("cctv.bin");
    std::fs::write(&p, bytes(70_000, 9)).unwrap();
    items.push(investigator.add_evidence(case, &p, &EvidenceOptions::default(), &mut |_| true).unwrap().id);
    investigator.export_evidence(items[0], &tmp.path().join("exported.bin"), Some("for the lab".into()), &mut |_| true).unwrap();
    investigator.verify_evidence(items[1], &mut |_| true).unwrap();
    let mut redacted: &[u8] = b"a redacted copy";
    let d = investigator
        .add_derivative(items[1], &mut redacted, "application/octet-stream", "redacted.bin", vec!["blur 1,1,5,5".into()], &mut |_| true)
        .unwrap();
    items.push(d.id);

    World { tmp, agency, officer, investigator, officer_cred, case, bundle_id: opened.bundle_id, items }
}

impl World {
    /// The agency's root fingerprint, as the court obtains it from the agency.
    fn root(&self) -> AgencyRoot {
        self.agency.public().root_fingerprint().parse().unwrap()
    }

    /// The package checked against the agency's real root.
    fn verify(&self, dir: &Path) -> Report {
        verify_package(dir, Some(&self.root()))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn export(&mut self, name: &str) -> PathBuf {
        let out = self.path(name);
        let s = export_package(&mut self.investigator, self.case, &out, Some("disclosure to the court".into())).unwrap();
        assert_eq!(s.path, out);
        assert_eq!(s.items, 4);
        out
    }
}

/// A copy of the package to tamper with.
fn copy(w: &World, pkg: &Path, name: &str) -> PathBuf {
    let to = w.path(name);
    copy_dir(pkg, &to);
    to
}

fn assert_verified(r: &Report) {
    assert!(r.verified, "expected VERIFIED:\n{}", r.to_text());
    assert!(r.to_text().ends_with("\nVERIFIED\n"));
}

/// Asserts the package failed with a problem naming `subject`, and returns the report text.
fn assert_names(r: &Report, check: u8, subject: &str) -> String {
    let text = r.to_text();
    assert!(!r.verified, "expected FAILED:\n{text}");
    assert!(text.contains(&format!("\nFAILED: {} problem(s)\n", r.problems.len())), "{text}");
    assert!(r.problems.iter().any(|p| p.check == check && p.subject == subject), "no check {check} problem naming {subject}:\n{text}");
    text
}

/// The JSON body of an event file (after the 97-byte envelope header).
fn event_body(path: &Path) -> serde_json::Value {
    let env = std::fs::read(path).unwrap();
    serde_json::from_slice(&env[97..]).unwrap()
}

fn event_type(path: &Path) -> String {
    event_body(path)["type"].as_str().unwrap().to_string()
}

#[test]
fn a_package_verifies_by_hand_and_with_the_verifier() {
    let mut w = world();
    let pkg = w.export("package");
    let r = w.verify(&pkg);
    assert_verified(&r);

    let me = w.investigator.whoami().clone();
    let exporter = r.exporter.as_ref().unwrap();
    assert_eq!(exporter.member_id, me.member_id.to_string());
    assert_eq!(exporter.fingerprint, me.fingerprint);
    let agency = r.agency.as_ref().unwrap();
    assert_eq!(agency.root_fingerprint, w.agency.public().root_fingerprint());
    assert_eq!(r.case.as_ref().unwrap().reference.as_deref(), Some("BER-2026-000123"));
    // Both authors' credentials: the investigator's own, and the officer's kept from the bundle.
    assert_eq!((r.counts.items, r.counts.members, r.counts.credentials, r.counts.receipts), (4, 2, 2, 0));
    let inv = r.members.iter().find(|m| m.member_id == me.member_id.to_string()).unwrap();
    assert_eq!(inv.credential.as_ref().unwrap().role, "investigator");
    let vol = r.members.iter().find(|m| m.member_id != me.member_id.to_string()).unwrap();
    assert_eq!(vol.credential.as_ref().unwrap().role, "investigator");
    // Custody in journal order, with every action the store recorded.
    let first = r.items.iter().find(|i| i.evidence_id == w.items[0].to_string()).unwrap();
    let actions: Vec<&str> = first.custody.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(actions, ["imported", "exported"]);
    let second = r.items.iter().find(|i| i.evidence_id == w.items[1].to_string()).unwrap();
    let actions: Vec<&str> = second.custody.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(actions, ["imported", "verified", "redacted"]);
    let derived = r.items.iter().find(|i| i.evidence_id == w.items[3].to_string()).unwrap();
    assert_eq!(derived.derived_from.as_deref(), Some(w.items[1].to_string().as_str()));
    // Issue 16: once the package is complete, custody `transferred` for every item it carries
    // (in the store, after the package: not in it).
    for id in &w.items {
        let trail = w.investigator.custody(*id).unwrap();
        let last = trail.last().unwrap();
        assert_eq!(last.action, CustodyAction::Transferred, "{id}");
        assert!(last.reason.as_deref().unwrap().starts_with("court package "), "{:?}", last.reason);
    }
    let trail = w.investigator.custody(w.items[0]).unwrap();
    assert_eq!(trail[trail.len() - 2].action, CustodyAction::Exported);

    // The layout of the spec.
    for f in ["README.md", "SHA256SUMS", "manifest.json", "events/000001.event", "agency.json"] {
        assert!(pkg.join(f).is_file(), "{f} missing");
    }
    for id in &w.items {
        assert!(pkg.join("originals").join(id.to_string()).is_file());
    }
    assert!(pkg.join("credentials").join(format!("{}.json", me.member_id)).is_file());
    assert_eq!(std::fs::read(pkg.join("originals").join(w.items[1].to_string())).unwrap(), bytes(300, 2));
    let readme = std::fs::read_to_string(pkg.join("README.md")).unwrap();
    assert!(readme.contains("sha256sum -c SHA256SUMS") && readme.contains("casebridge-verify DIR") && readme.contains(&me.fingerprint));

    // By hand, with the real sha256sum.
    let out = Command::new("/usr/bin/sha256sum").arg("-c").arg("SHA256SUMS").current_dir(&pkg).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let ok_lines = String::from_utf8(out.stdout).unwrap().lines().filter(|l| l.ends_with(": OK")).count();
    assert_eq!(ok_lines, r.counts.files);

    // The export is in the access log and in the package itself.
    let access = w.investigator.access_log(w.case).unwrap();
    assert_eq!(access.last().unwrap().action, "package");
    assert_eq!(access.last().unwrap().reason.as_deref(), Some("disclosure to the court"));
    let last = pkg.join(format!("events/{:06}.event", r.counts.events));
    assert_eq!(event_type(&last), "access_recorded");
    // Nothing is left beside the package.
    let leftovers: Vec<_> = std::fs::read_dir(w.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_output_directory_must_be_new_or_empty() {
    let mut w = world();
    let full = w.path("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep.txt"), b"mine").unwrap();
    let e = export_package(&mut w.investigator, w.case, &full, None).unwrap_err();
    assert!(matches!(e, PackageError::NotEmpty { .. }), "{e}");
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    let file = w.path("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(export_package(&mut w.investigator, w.case, &file, None).unwrap_err(), PackageError::NotEmpty { .. }));
    // Nothing was recorded for a refused export.
    assert!(w.investigator.access_log(w.case).unwrap().iter().all(|a| a.action != "package"));

    let empty = w.path("empty");
    std::fs::create_dir(&empty).unwrap();
    export_package(&mut w.investigator, w.case, &empty, None).unwrap();
    assert_verified(&w.verify(&empty));
    let unknown = w.path("unknown");
    let e = export_package(&mut w.investigator, Uuid::now_v7(), &unknown, None).unwrap_err();
    assert!(e.to_string().contains("no case matches"), "{e}");
    assert!(!w.path("unknown").exists());
}

#[test]
fn a_flipped_byte_in_an_original_names_the_item_and_the_file() {
    let mut w = world();
    let pkg = w.export("package");
    let bad = copy(&w, &pkg, "flipped");
    let id = w.items[0];
    let p = bad.join("originals").join(id.to_string());
    let mut b = std::fs::read(&p).unwrap();
    b[1000] ^= 0x01;
    std::fs::write(&p, b).unwrap();
    let r = w.verify(&bad);
    assert_names(&r, 4, &format!("item {id}"));
    assert_names(&r, 2, &format!("file originals/{id}"));
    assert!(r.problems.iter().all(|p| p.subject.contains(&id.to_string())), "{}", r.to_text());
    // sha256sum agrees.
    let out = Command::new("/usr/bin/sha256sum").args(["-c", "--quiet", "SHA256SUMS"]).current_dir(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("originals/{id}: FAILED")));
}

#[test]
fn a_deleted_file_is_named() {
    let mut w = world();
    let pkg = w.export("package");
    let bad = copy(&w, &pkg, "deleted-original");
    let id = w.items[2];
    std::fs::remove_file(bad.join("originals").join(id.to_string())).unwrap();
    let r = w.verify(&bad);
    assert_names(&r, 2, &format!("file originals/{id}"));
    assert_names(&r, 4, &format!("item {id}"));

    let bad = copy(&w, &pkg, "deleted-event");
    std::fs::remove_file(bad.join("events/000003.event")).unwrap();
    let r = w.verify(&bad);
    assert_names(&r, 2, "file events/000003.event");
    assert_names(&r, 3, "event events/000003.event");

    let bad = copy(&w, &pkg, "deleted-sums");
    std::fs::remove_file(bad.join("SHA256SUMS")).unwrap();
    assert_names(&w.verify(&bad), 2, "file SHA256SUMS");
}

#[test]
fn swapped_custody_events_are_named() {
    let mut w = world();
    let pkg = w.export("package");
    let bad = copy(&w, &pkg, "swapped");
    // The investigator's custody entries "exported" (item 0), then "verified" (item 1).
    let find = |action: &str| -> PathBuf {
        let mut v: Vec<PathBuf> = std::fs::read_dir(bad.join("events")).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v.into_iter().find(|p| event_type(p) == "custody_recorded" && event_body(p)["action"] == action).unwrap()
    };
    let (a, b) = (&find("exported"), &find("verified"));
    let (ba, bb) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    std::fs::write(a, &bb).unwrap();
    std::fs::write(b, &ba).unwrap();
    let r = w.verify(&bad);
    let name = |p: &Path| format!("event events/{}", p.file_name().unwrap().to_str().unwrap());
    let text = assert_names(&r, 3, &name(a));
    assert_names(&r, 3, &name(b));
    assert!(text.contains("reordered"), "{text}");
}

#[test]
fn a_credential_of_another_member_is_named() {
    let mut w = world();
    let pkg = w.export("package");
    let bad = copy(&w, &pkg, "swapped-credential");
    let me = w.investigator.whoami().member_id;
    std::fs::write(bad.join("credentials").join(format!("{me}.json")), w.officer_cred.to_bytes()).unwrap();
    let r = w.verify(&bad);
    let text = assert_names(&r, 5, &format!("member {me}"));
    assert!(text.contains(&w.officer.whoami().member_id.to_string()), "{text}");

    // A credential that names the right member but another key (same agency, forged binding)
    // is refused too: re-issue the investigator's id with the officer's key.
    let bad = copy(&w, &pkg, "other-key");
    let req = SignedDoc::sign_with(
        casebridge_trust::CREDENTIAL_REQUEST,
        &casebridge_trust::CredentialRequest {
            member_id: me,
            name: "Inv Estigator".into(),
            role: Role::Investigator,
            key: w.officer.whoami().public_key.clone(),
            created_at: casebridge_trust::now(),
        },
        w.officer.public_key(),
        |m| w.officer.sign_detached(b"", m),
    );
    // The agency binds a member id to the first key that enrolled with it: it refuses to issue
    // this binding at all. (The verifier's own check of a credential bound to another key is
    // in crates/verify/tests/binary.rs.)
    let err = w.agency.issue(&req, Role::Investigator, None, chrono::Duration::days(1)).unwrap_err();
    assert_eq!(err.reason.code(), "member_id_taken");
    drop(bad);
}

#[test]
fn a_modified_manifest_fails_its_signature() {
    let mut w = world();
    let pkg = w.export("package");
    let bad = copy(&w, &pkg, "manifest");
    let p = bad.join("manifest.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = String::from_utf8(b64.decode(doc["body"].as_str().unwrap()).unwrap()).unwrap();
    let edited = body.replace("Bike thefts, Mitte", "Bike thefts, Pankow");
    assert_ne!(body, edited);
    doc["body"] = b64.encode(edited).into();
    std::fs::write(&p, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let r = w.verify(&bad);
    let text = assert_names(&r, 1, "file manifest.json");
    assert!(text.contains("signature does not verify"), "{text}");
    assert!(r.case.is_none(), "nothing of an unverified manifest is reported");
}

#[test]
fn an_added_file_is_named() {
    let mut w = world();
    let pkg = w.export("package");
    let bad = copy(&w, &pkg, "extra");
    std::fs::write(bad.join("notes.txt"), b"planted").unwrap();
    std::fs::write(bad.join("originals").join(Uuid::now_v7().to_string()), b"planted").unwrap();
    let r = w.verify(&bad);
    let text = assert_names(&r, 2, "file notes.txt");
    assert_eq!(r.problems.len(), 2, "{text}");
}

#[test]
fn the_report_is_the_same_wherever_the_package_is_checked() {
    let mut w = world();
    let pkg = w.export("package");
    let a = copy(&w, &pkg, "here");
    let b = w.path("somewhere/else/entirely");
    copy_dir(&pkg, &b);
    let (ra, rb) = (w.verify(&a), w.verify(&b));
    assert_verified(&ra);
    assert_eq!(ra.to_text(), rb.to_text());
    assert_eq!(serde_json::to_string(&ra).unwrap(), serde_json::to_string(&rb).unwrap());
    let root = w.tmp.path().to_str().unwrap();
    assert!(!ra.to_text().contains(root) && !serde_json::to_string(&ra).unwrap().contains(root));
    // A tampered copy reports the same wherever it is, too.
    for d in [&a, &b] {
        std::fs::write(d.join("extra"), b"x").unwrap();
    }
    assert_eq!(w.verify(&a).to_text(), w.verify(&b).to_text());
}

#[test]
fn events_of_a_revoked_key_are_flagged() {
    let mut w = world();
    let vol = w.officer.whoami().member_id;
    w.agency.revoke(vol, Some("left the programme".into())).unwrap();
    let (_, doc) = w.agency.current_revocation().unwrap();
    profile::store_revocation(&mut w.investigator, w.agency.public(), &doc).unwrap();
    let pkg = w.export("package");
    let r = w.verify(&pkg);
    assert_verified(&r);
    assert_eq!(r.agency.as_ref().unwrap().revocation_version, 2);
    let m = r.members.iter().find(|m| m.member_id == vol.to_string()).unwrap();
    let revoked = m.revoked.as_ref().unwrap();
    assert_eq!(revoked.events_after, 0, "the officer signed everything before the revocation");
    assert!(
        r.flags.iter().any(|f| f.contains(&vol.to_string()) && f.contains("revoked") && f.contains("left the programme")),
        "{:?}",
        r.flags
    );
    assert!(r.to_text().contains("REVOKED at"));
}

#[test]
fn the_senders_package_carries_the_receipt_for_its_bundle() {
    let mut w = world();
    let out = w.path("officer-package");
    let s = export_package(&mut w.officer, w.case, &out, None).unwrap();
    assert_eq!((s.items, s.receipts, s.credentials), (2, 1, 1));
    let r = w.verify(&out);
    assert_verified(&r);
    assert_eq!(r.receipts.len(), 1);
    assert_eq!(r.receipts[0].bundle_id, w.bundle_id.to_string());
    assert_eq!(r.receipts[0].outcome.as_str(), "accepted");

    // A receipt signed by another agency is refused.
    let bad = copy(&w, &out, "forged-receipt");
    let other = new_agency(&w.path("other"), "Other");
    let rec_path = bad.join("receipts").join(format!("{}.json", w.bundle_id));
    let doc = SignedDoc::parse(&std::fs::read(&rec_path).unwrap()).unwrap();
    let receipt: Receipt = serde_json::from_slice(&base64_decode(&doc.body)).unwrap();
    std::fs::write(&rec_path, other.sign_receipt(&receipt).unwrap().to_bytes()).unwrap();
    let text = assert_names(&w.verify(&bad), 5, &format!("file receipts/{}.json", w.bundle_id));
    assert!(text.contains("not signed by the expected key"), "{text}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn issue_12_the_package_is_anchored_to_the_agency_root() {
    let mut w = world();
    let out = w.path("anchored");
    let s = export_package(&mut w.investigator, w.case, &out, None).unwrap();
    let real = w.agency.public().root_fingerprint();
    // The exporter says which fingerprint the court must obtain from the agency.
    assert_eq!(s.agency_root_fingerprint.as_deref(), Some(real.as_str()));
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains(&format!("casebridge-verify DIR --agency-root {real}")), "{readme}");
    assert_verified(&w.verify(&out));

    // Without the anchor every check runs, and the report is never VERIFIED.
    let r = verify_package(&out, None);
    assert!(!r.verified && !r.anchored && r.problems.is_empty(), "{}", r.to_text());
    assert_eq!(r.verdict, "NOT ANCHORED");
    assert_eq!(r.to_text().lines().last(), Some(NOT_ANCHORED_LINE));

    // Against another agency's root (same kind of agency, another key) it fails, naming agency.json.
    let other = new_agency(&w.path("other"), "Polizei Berlin (test)");
    let r = verify_package(&out, Some(&other.public().root_fingerprint().parse().unwrap()));
    let text = assert_names(&r, 5, "file agency.json");
    assert!(text.contains(&format!("root key fingerprint {real}, not the agency root {}", other.public().root_fingerprint())), "{text}");
}

#[test]
fn issue_12_a_package_stripped_of_its_agency_documents_and_resigned_fails() {
    // The exporter (holding their real key) removes agency.json, credentials/ and receipts/,
    // re-signs the manifest and recomputes SHA256SUMS: internally consistent, tied to nothing.
    let mut w = world();
    let out = w.path("sender");
    export_package(&mut w.officer, w.case, &out, None).unwrap();
    let bad = copy(&w, &out, "stripped");
    std::fs::remove_file(bad.join("agency.json")).unwrap();
    std::fs::remove_dir_all(bad.join("credentials")).unwrap();
    std::fs::remove_dir_all(bad.join("receipts")).unwrap();
    let doc = SignedDoc::parse(&std::fs::read(bad.join("manifest.json")).unwrap()).unwrap();
    let mut m: casebridge_court::package::Manifest = serde_json::from_slice(&base64_decode(&doc.body)).unwrap();
    m.files.retain(|f| bad.join(&f.path).is_file());
    let sums: String = m.files.iter().map(|f| format!("{}  {}\n", f.sha256, f.path)).collect();
    std::fs::write(bad.join("SHA256SUMS"), sums).unwrap();
    let resigned =
        SignedDoc::sign_with(casebridge_court::package::COURT_PACKAGE, &m, w.officer.public_key(), |b| w.officer.sign_detached(b"", b));
    std::fs::write(bad.join("manifest.json"), resigned.to_bytes()).unwrap();

    let r = w.verify(&bad);
    let text = assert_names(&r, 5, "file agency.json");
    assert!(text.contains("file agency.json: is missing"), "{text}");
    assert_names(&r, 5, &format!("member {}", w.officer.whoami().member_id));
    assert!(r.problems.iter().all(|p| p.check == 5), "only the tie to the agency is missing:\n{text}");
}

/// Issue 12, a new device: the officer's tablet (a second key of the same member, through an
/// invite made for that member) adds to the case. The package carries a credential per key
/// (`credentials/<member>.<key prefix>.json`), the verifier checks each key's chain and
/// credential and says VERIFIED; without the tablet's credential it names the member.
#[test]
fn a_member_with_two_devices_has_a_credential_per_key() {
    let mut w = world();
    let officer = w.officer.whoami().member_id;
    let agency_dir = w.path("agency");
    let mut tablet = new_store(&w.path("tablet"), "Off Icer", Role::Investigator);
    let request = profile::request_credential_as(&tablet, officer);
    let (_, cred, _) = w.agency.issue_for_member(&request, officer, Role::Investigator, None, YEAR).unwrap();
    tablet.adopt_member_id(officer).unwrap();
    profile::install_credential(&mut tablet, &cred, Some(&Agency::public_file(&agency_dir).unwrap())).unwrap();
    // The case as the tablet knows it (no content: the officer's photos stay on the phone).
    let events: Vec<_> = w
        .officer
        .case_events(w.case, None)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.body().kind, casebridge_core::EventKind::CaseCreated { .. } | casebridge_core::EventKind::NoteAdded { .. }))
        .collect();
    tablet.import_events(&events, vec![]).unwrap();
    tablet.add_note(w.case, "from the tablet: the bike was blue").unwrap();
    let public = w.agency.public().clone();
    let out = w.path("tablet.cbb");
    let opts = ExportOptions {
        case: w.case,
        since: None,
        agency: &public,
        credential: &cred,
        seal: true,
        own_only: true,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    bundle::export(&mut tablet, &opts, &out, &mut |_| true).unwrap();
    let list = w.agency.current_revocation().unwrap().0;
    let anchor = Anchor::new(w.agency.public(), &list, Some(w.agency.sealing_identity()));
    let opened = bundle::open_into(&out, &anchor, &mut w.investigator, &mut |_| true).unwrap();
    assert_eq!((opened.outcome.as_str(), opened.events_added), ("accepted", 1), "the tablet's chain is its own, not a fork");

    let pkg = w.export("package");
    let r = w.verify(&pkg);
    assert_verified(&r);
    let m = r.members.iter().find(|m| m.member_id == officer.to_string()).unwrap();
    assert_eq!(m.key_fingerprints.len(), 2, "{m:?}");
    let files: Vec<String> = std::fs::read_dir(pkg.join("credentials"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&officer.to_string()))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let tablet_file = format!("{officer}.{}.json", &tablet.whoami().public_key[..16]);
    assert!(files.contains(&tablet_file), "{files:?}");

    // Without the tablet's credential, its signatures are tied to nothing.
    let bad = copy(&w, &pkg, "no-tablet-credential");
    std::fs::remove_file(bad.join("credentials").join(&tablet_file)).unwrap();
    let sums: Vec<String> =
        std::fs::read_to_string(bad.join("SHA256SUMS")).unwrap().lines().filter(|l| !l.contains(&tablet_file)).map(String::from).collect();
    std::fs::write(bad.join("SHA256SUMS"), sums.join("\n") + "\n").unwrap();
    let text = assert_names(&w.verify(&bad), 5, &format!("member {officer}"));
    assert!(text.contains("no credential in the package binds"), "{text}");
}

/// Issue 12: a case with two volunteers' submissions, reaching the investigator in sealed
/// bundles the agency opens (so the investigator's store holds both volunteers' credentials
/// and, from the agency's sealed records, their name disclosures).
struct Submissions {
    tmp: tempfile::TempDir,
    agency: Agency,
    investigator: Store,
    case: Uuid,
    disclosed: Uuid,
    hidden: Uuid,
}

fn submissions() -> Submissions {
    let tmp = tempfile::tempdir().unwrap();
    let agency_dir = tmp.path().join("agency");
    let agency = new_agency(&agency_dir, "Polizei Berlin (test)");
    let mut investigator = new_store(&tmp.path().join("investigator"), "Vera Brandt", Role::Investigator);
    enrol_offline(&mut investigator, &agency, &agency_dir, Role::Investigator, YEAR);
    let case = investigator.create_case(NewCase { title: "Bike thefts, Mitte".into(), ..Default::default() }).unwrap();
    let brief = investigator
        .publish_brief(NewBrief { case, title: "Photos of the bridge".into(), text: "Last night".into(), ..Default::default() })
        .unwrap();
    let public = agency.public().clone();
    let mut ids = Vec::new();
    for (i, name) in ["Anna Offenbach", "Bert Verborgen"].into_iter().enumerate() {
        let mut v = new_store(&tmp.path().join(format!("v{i}")), name, Role::Volunteer);
        let cred = enrol_offline(&mut v, &agency, &agency_dir, Role::Volunteer, YEAR);
        // The case and brief reach the volunteer as the feed brings them (the other
        // volunteer's submission does not).
        let me = investigator.whoami().member_id;
        let mut events = investigator.case_events(case, None).unwrap();
        events.retain(|e| e.body().author == me);
        v.import_events(&events, Vec::new()).unwrap();
        let photo = tmp.path().join(format!("photo{i}.bin"));
        std::fs::write(&photo, bytes(2000 + i, 40 + i as u64)).unwrap();
        v.submit(brief, &[photo], &SubmitOptions::default(), &mut |_| true).unwrap();
        let out = tmp.path().join(format!("v{i}.cbb"));
        let opts = ExportOptions {
            case,
            since: None,
            agency: &public,
            credential: &cred,
            seal: true,
            own_only: true,
            bundle_id: None,
            sync_point: None,
            held: None,
        };
        bundle::export(&mut v, &opts, &out, &mut |_| true).unwrap();
        // Opened as the agency opens it: with its record of what it issued, names included.
        let list = agency.current_revocation().unwrap().0;
        let (issued, names) = (agency.issued().unwrap(), agency.names().unwrap());
        let anchor =
            Anchor::new(agency.public(), &list, Some(agency.sealing_identity())).at(casebridge_trust::now()).issued(&issued).names(&names);
        assert_eq!(bundle::open_into(&out, &anchor, &mut investigator, &mut |_| true).unwrap().outcome.as_str(), "accepted");
        ids.push(v.whoami().member_id);
    }
    // Issue 16: a supervisor approves the disclosure; an investigator may not.
    assert!(investigator.record_disclosure(case, ids[0], "court order 12 Js 345/26").is_err());
    disclose_as_supervisor(
        &tmp.path().join("supervisor"),
        &agency,
        &agency_dir,
        &mut investigator,
        case,
        ids[0],
        "court order 12 Js 345/26",
    );
    Submissions { tmp, agency, investigator, case, disclosed: ids[0], hidden: ids[1] }
}

/// Every regular file under `dir`, with its bytes.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn issue_12_a_package_names_only_members_whose_identity_was_disclosed() {
    let mut s = submissions();
    let pkg = s.tmp.path().join("package");
    let summary = export_package(&mut s.investigator, s.case, &pkg, None).unwrap();
    // Four authors' credentials (commitments only: the investigator, two volunteers, the
    // supervisor who approved the disclosure); names of the investigator (police) and of the
    // disclosed volunteer (the supervisor's name never reached this store).
    assert_eq!((summary.credentials, summary.names), (4, 2));
    let files = all_files(&pkg);
    assert!(files.iter().any(|(_, b)| contains(b, "Anna Offenbach")), "the disclosed volunteer's name is in the package");
    for (p, b) in &files {
        assert!(!contains(b, "Bert Verborgen") && !contains(b, "Verborgen"), "{} carries the undisclosed volunteer's name", p.display());
    }
    assert!(pkg.join(format!("names/{}.json", s.disclosed)).is_file());
    assert!(!pkg.join(format!("names/{}.json", s.hidden)).exists());
    assert!(pkg.join(format!("credentials/{}.json", s.hidden)).is_file(), "every author's credential is included");

    // The verifier prints names only from disclosures that open the credential's commitment.
    let root: AgencyRoot = s.agency.public().root_fingerprint().parse().unwrap();
    let r = verify_package(&pkg, Some(&root));
    assert_verified(&r);
    let cred = |id: Uuid| r.members.iter().find(|m| m.member_id == id.to_string()).unwrap().credential.clone().unwrap();
    assert_eq!(cred(s.disclosed).name.as_deref(), Some("Anna Offenbach"));
    let hidden = cred(s.hidden);
    assert_eq!(hidden.name, None);
    let alias = member_pseudonym(&s.investigator, s.case, s.hidden);
    assert_eq!(hidden.pseudonym.as_deref(), Some(alias.as_str()));
    let text = r.to_text();
    assert!(text.contains("Anna Offenbach (name disclosed") && text.contains(&format!("{alias} (identity not disclosed)")), "{text}");
    assert_eq!(r.counts.names, 2);
}

#[test]
fn issue_12_a_forged_name_disclosure_fails_naming_it() {
    let mut s = submissions();
    let pkg = s.tmp.path().join("package");
    export_package(&mut s.investigator, s.case, &pkg, None).unwrap();
    let root: AgencyRoot = s.agency.public().root_fingerprint().parse().unwrap();
    assert_verified(&verify_package(&pkg, Some(&root)));
    let file = format!("names/{}.json", s.disclosed);

    // The name changed (salt, serial and member kept): the commitment does not open.
    let forged = s.tmp.path().join("forged");
    copy_dir(&pkg, &forged);
    let mut d: serde_json::Value = serde_json::from_slice(&std::fs::read(forged.join(&file)).unwrap()).unwrap();
    d["name"] = "Someone Else".into();
    std::fs::write(forged.join(&file), serde_json::to_vec_pretty(&d).unwrap()).unwrap();
    let r = verify_package(&forged, Some(&root));
    let text = assert_names(&r, 5, &format!("file {file}"));
    assert!(text.contains("does not open the name commitment"), "{text}");
    assert!(!text.contains("credential Someone Else"), "a forged name is never printed as the member's: {text}");

    // The undisclosed volunteer's credential with the disclosed one's disclosure: not theirs.
    let moved = s.tmp.path().join("moved");
    copy_dir(&pkg, &moved);
    let other = format!("names/{}.json", s.hidden);
    std::fs::copy(pkg.join(&file), moved.join(&other)).unwrap();
    let text = assert_names(&verify_package(&moved, Some(&root)), 5, &format!("file {other}"));
    assert!(text.contains("is a name disclosure for credential"), "{text}");

    // The genuine package still verifies.
    assert_verified(&verify_package(&pkg, Some(&root)));
}

#[test]
fn issue_12_the_pseudonym_is_keyed_stable_within_a_case_and_differs_between_cases() {
    let mut s = submissions();
    let manifest = |dir: &Path| -> serde_json::Value {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        serde_json::from_slice(&base64_decode(doc["body"].as_str().unwrap())).unwrap()
    };
    let (one, two) = (s.tmp.path().join("one"), s.tmp.path().join("two"));
    export_package(&mut s.investigator, s.case, &one, None).unwrap();
    export_package(&mut s.investigator, s.case, &two, None).unwrap();
    let key = s.hidden.to_string();
    let first = manifest(&one)["pseudonyms"][&key].as_str().unwrap().to_string();
    assert_eq!(manifest(&two)["pseudonyms"][&key].as_str(), Some(first.as_str()), "stable across exports of one case");
    assert!(manifest(&one)["pseudonyms"].get(s.disclosed.to_string()).is_none(), "a named member has no pseudonym");
    assert_eq!(first, member_pseudonym(&s.investigator, s.case, s.hidden));

    // Another case: another pseudonym for the same member.
    let other = s.investigator.create_case(NewCase { title: "Another".into(), ..Default::default() }).unwrap();
    assert_ne!(member_pseudonym(&s.investigator, other, s.hidden), first);

    // Not any unkeyed function of the public ids: SHA-256 of the member id, of member || case,
    // of case || member (the old construction), in hex.
    let tag = first.trim_start_matches("Volunteer ");
    assert_eq!(tag.len(), 8);
    let (m, c) = (s.hidden.as_bytes().to_vec(), s.case.as_bytes().to_vec());
    for input in [m.clone(), [m.clone(), c.clone()].concat(), [c.clone(), m.clone()].concat(), s.hidden.to_string().into_bytes()] {
        assert!(!casebridge_core::to_hex(&casebridge_core::sha256(&input)).starts_with(tag), "the pseudonym is an unkeyed hash");
    }
    // Another store (another key) holding the same case and member computes another tag.
    let elsewhere = new_store(&s.tmp.path().join("elsewhere"), "Vera Brandt", Role::Investigator);
    assert_ne!(member_pseudonym(&elsewhere, s.case, s.hidden), first);
}

/// Issue 16: the exporter leaves one of their own access entries out of a package (re-signing
/// the manifest with their real key, so every other check passes): the verifier finds the gap
/// in the access chain and names it with its own code.
#[test]
fn issue_16_a_left_out_access_entry_is_a_gap_in_the_package() {
    let mut w = world();
    for why in ["first look", "second look", "third look"] {
        w.investigator.record_access(w.case, None, "viewed", Some(why.into())).unwrap();
    }
    let pkg = w.export("package");
    assert_verified(&w.verify(&pkg));

    let bad = copy(&w, &pkg, "gap");
    let me = w.investigator.whoami().member_id.to_string();
    // Find the investigator's second access entry and drop it, renumbering the rest.
    let mut files: Vec<PathBuf> = std::fs::read_dir(bad.join("events")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let drop = files
        .iter()
        .position(|f| {
            let b = event_body(f);
            b["type"] == "access_recorded" && b["author"] == me.as_str() && b["reason"] == "second look"
        })
        .unwrap();
    assert_eq!(event_body(&files[drop])["access_seq"], 2, "the second view is entry 2 of its chain");
    let kept: Vec<Vec<u8>> = files.iter().enumerate().filter(|(i, _)| *i != drop).map(|(_, f)| std::fs::read(f).unwrap()).collect();
    std::fs::remove_dir_all(bad.join("events")).unwrap();
    std::fs::create_dir(bad.join("events")).unwrap();
    let doc = SignedDoc::parse(&std::fs::read(bad.join("manifest.json")).unwrap()).unwrap();
    let mut m: casebridge_court::package::Manifest = serde_json::from_slice(&base64_decode(&doc.body)).unwrap();
    m.events.clear();
    for (i, env) in kept.iter().enumerate() {
        let file = format!("events/{:06}.event", i + 1);
        std::fs::write(bad.join(&file), env).unwrap();
        let hash = casebridge_core::to_hex(&casebridge_core::sha256(&env[97..]));
        m.events.push(casebridge_court::package::ManifestEvent { file, sha256: hash });
    }
    m.files.retain(|f| !f.path.starts_with("events/"));
    for e in &m.events {
        let bytes = std::fs::read(bad.join(&e.file)).unwrap();
        m.files.push(casebridge_court::package::ManifestFile {
            path: e.file.clone(),
            sha256: casebridge_core::to_hex(&casebridge_core::sha256(&bytes)),
            size: bytes.len() as u64,
        });
    }
    m.files.sort_by(|a, b| a.path.cmp(&b.path));
    let sums: String = m.files.iter().map(|f| format!("{}  {}\n", f.sha256, f.path)).collect();
    std::fs::write(bad.join("SHA256SUMS"), sums).unwrap();
    let resigned = SignedDoc::sign_with(casebridge_court::package::COURT_PACKAGE, &m, w.investigator.public_key(), |b| {
        w.investigator.sign_detached(b"", b)
    });
    std::fs::write(bad.join("manifest.json"), resigned.to_bytes()).unwrap();

    let r = w.verify(&bad);
    let text = r.to_text();
    assert!(!r.verified, "{text}");
    assert!(
        r.problems.iter().all(|p| p.code.as_deref() == Some("access_chain_gap")),
        "only the gap is wrong: every other check passes on the re-signed package\n{text}"
    );
    assert_eq!(r.problems.len(), 1, "{text}");
    assert!(text.contains("[check 3 access_chain_gap]") && text.contains("entry 2 is missing"), "{text}");
}
