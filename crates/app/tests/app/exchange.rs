//! File exchange without a network (issue 17): a sender's sealed bundle carried as a file to
//! the agency side, verified and opened there by police staff with the agency's directory and
//! passphrase, the receipt carried back and kept; the outbox written to a folder. Real stores
//! in temp dirs, real agencies (embedded, the test KDF). Each attack is refused with its own
//! reason code, and the refusing store's journal does not move.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use casebridge_app::exchange::Verdict;
use casebridge_app::{AppEvent, BundleOutcome, Role, Session};
use casebridge_core::{NewCase, Store};
use casebridge_testkit::fixtures::{enrol_offline, new_agency, new_store, AGENCY_PASS};
use casebridge_trust::{Agency, Receipt};

use crate::{session_at, unlocked, wait_for, Env, PASS};

/// A sender's profile (an investigator in the field, enrolled offline at agency A) with one
/// case exported as a bundle file sealed to A; A's directory (closed again) and the sender's
/// store directory (closed).
struct World {
    tmp: tempfile::TempDir,
    agency_dir: PathBuf,
    sender_dir: PathBuf,
    bundle: PathBuf,
}

fn sender_store(dir: &Path, agency: &Agency, agency_dir: &Path) -> Store {
    let mut store = new_store(dir, "Tom Streife", Role::Investigator);
    enrol_offline(&mut store, agency, agency_dir, Role::Investigator, chrono::Duration::days(30));
    store
}

fn export_case(store: &mut Store, agency_dir: &Path, out: &Path) {
    let case = store.create_case(NewCase { title: "Bike thefts, Mitte".into(), ..Default::default() }).unwrap();
    store.add_note(case, "Witness saw a white van").unwrap();
    let file = Agency::public_file(agency_dir).unwrap();
    let to = casebridge_app::export::ToAgency { case: &case.to_string(), agency: &file, since: None, seal: true };
    casebridge_app::export::to_agency(store, to, out, &mut |_, _| true).map_err(|e| format!("{e:?}")).unwrap();
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let agency_dir = tmp.path().join("agency");
    let sender_dir = tmp.path().join("sender");
    let bundle = tmp.path().join("usb").join("case.cbb");
    fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    {
        let agency = new_agency(&agency_dir, "Polizei Berlin");
        let mut store = sender_store(&sender_dir, &agency, &agency_dir);
        export_case(&mut store, &agency_dir, &bundle);
    }
    World { tmp, agency_dir, sender_dir, bundle }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn journal(session: &Session) -> u64 {
    session.with_store(|s| Ok(s.journal_records())).unwrap()
}

fn sender_session(w: &World) -> Arc<Session> {
    let clock = Arc::new(casebridge_app::ManualClock::default());
    let (session, _) = session_at(&w.sender_dir, &clock);
    session.unlock(PASS.into()).unwrap();
    session
}

/// The agency side: an investigator's profile on the agency's computer.
fn agency_side() -> Env {
    unlocked(Role::Investigator)
}

#[test]
fn a_bundle_file_is_verified_opened_and_its_receipt_kept_by_the_sender() {
    let w = world();
    let env = agency_side();
    let a = &env.session;
    let v = a.bundle_verify(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&w.bundle)).unwrap();
    assert_eq!(v.verdict, Verdict::Verified, "{v:?}");
    assert_eq!((v.reason.clone(), v.sealed, v.role), (None, Some(true), Some(Role::Investigator)));
    assert_eq!(v.sender_name.as_deref(), Some("Tom Streife"), "the agency's own record names the sender");
    // The verification was a job with progress and an end.
    let job = wait_for(&env.events, |e| match e {
        AppEvent::JobDone(d) if d.job.starts_with("files-verify-") => Some(d),
        _ => None,
    });
    assert!(job.ok);

    let receipt = w.tmp.path().join("usb").join("case.cbb.receipt");
    let opened = a.bundle_open(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&w.bundle), &s(&receipt)).unwrap();
    assert_eq!(opened.outcome, BundleOutcome::Accepted);
    assert_eq!(Some(opened.bundle_id), v.bundle_id);
    assert!(opened.events_added >= 2, "the case and its note: {opened:?}");
    assert_eq!(opened.receipt_path.as_deref(), Some(s(&receipt).as_str()));
    let case = opened.case_id.unwrap().to_string();
    assert_eq!(a.case_get(&case).unwrap().notes.len(), 1, "the case is held on the agency side now");

    // The sender keeps the receipt; it is listed, verified.
    let sender = sender_session(&w);
    let kept = sender.receipt_import(&s(&receipt)).unwrap();
    assert_eq!((kept.receipt.receipt.bundle_id, kept.agency_name.as_str()), (opened.bundle_id, "Polizei Berlin"));
    let held = sender.receipts_list().unwrap();
    assert_eq!(held.len(), 1);
    assert!(held[0].verified);

    // Attack: the same receipt again (a replay of the file) changes nothing.
    let before = journal(&sender);
    assert_eq!(sender.receipt_import(&s(&receipt)).unwrap_err().code, "receipt_held");
    assert_eq!(journal(&sender), before);
    assert_eq!(sender.receipts_list().unwrap().len(), 1);
}

#[test]
fn a_tampered_bundle_file_is_rejected_with_its_reason_and_stores_nothing() {
    let w = world();
    let env = agency_side();
    let a = &env.session;
    let mut bytes = fs::read(&w.bundle).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let bad = w.tmp.path().join("usb").join("tampered.cbb");
    fs::write(&bad, &bytes).unwrap();

    let v = a.bundle_verify(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&bad)).unwrap();
    assert_eq!(v.verdict, Verdict::Rejected);
    let reason = v.reason.clone().expect("a rejection names its reason");
    assert!(v.bundle_id.is_none() && v.sender.is_none(), "nothing in a rejected bundle is vouched for");

    let before = journal(a);
    let receipt = w.tmp.path().join("tampered.receipt");
    let e = a.bundle_open(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&bad), &s(&receipt)).unwrap_err();
    assert_eq!(e.code, reason, "the same reason as the verification: {e:?}");
    assert_eq!(journal(a), before, "a refused bundle records nothing (not even the agency's pin)");
    assert!(!receipt.exists());
    assert!(a.cases_list(None, None, Default::default()).unwrap().is_empty());

    // A truncated file, and a file that is no bundle at all, each with its own reason.
    let cut = w.tmp.path().join("cut.cbb");
    fs::write(&cut, &fs::read(&w.bundle).unwrap()[..bytes.len() / 3]).unwrap();
    let junk = w.tmp.path().join("junk.cbb");
    fs::write(&junk, b"GIF89a not a bundle").unwrap();
    let r_cut = a.bundle_verify(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&cut)).unwrap().reason.unwrap();
    let r_junk = a.bundle_verify(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&junk)).unwrap().reason.unwrap();
    assert_ne!(r_cut, r_junk, "{r_cut} / {r_junk}");
    assert_eq!(r_junk, "not_a_bundle");
}

#[test]
fn a_bundle_sealed_to_another_agency_is_rejected_there() {
    let w = world();
    let other_dir = w.tmp.path().join("other-agency");
    drop(new_agency(&other_dir, "Politie Amsterdam"));
    let env = agency_side();
    let a = &env.session;
    let v = a.bundle_verify(&s(&other_dir), AGENCY_PASS.into(), &s(&w.bundle)).unwrap();
    assert_eq!((v.verdict, v.reason.as_ref().map(|r| r.as_str())), (Verdict::Rejected, Some("sealed_to_other_agency")));
    let before = journal(a);
    let e = a.bundle_open(&s(&other_dir), AGENCY_PASS.into(), &s(&w.bundle), &s(&w.tmp.path().join("r"))).unwrap_err();
    assert_eq!(e.code, "sealed_to_other_agency");
    assert_eq!(journal(a), before, "the other agency was not pinned either");
}

#[test]
fn a_duplicated_bundle_adds_nothing_and_writes_no_second_receipt() {
    let w = world();
    let env = agency_side();
    let a = &env.session;
    let first = w.tmp.path().join("first.receipt");
    a.bundle_open(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&w.bundle), &s(&first)).unwrap();
    let before = journal(a);
    // The same bundle again, under another file name (a copy from a second stick).
    let copy = w.tmp.path().join("copy.cbb");
    fs::copy(&w.bundle, &copy).unwrap();
    let second = w.tmp.path().join("second.receipt");
    let again = a.bundle_open(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&copy), &s(&second)).unwrap();
    assert_eq!((again.outcome, again.events_added), (BundleOutcome::Duplicate, 0));
    assert!(again.receipt_path.is_none() && !second.exists(), "the first import's receipt stands");
    // Nothing of the bundle is recorded again; police staff's opening is, as every read of
    // case data is (one signed access entry, as `bundle open` records it).
    assert_eq!(journal(a), before + 1, "a duplicate records only the access entry");
    let log = a.access_log(None, None, None).unwrap();
    assert_eq!(log.last().map(|e| e.action.as_str()), Some("bundle_opened"));
}

#[test]
fn an_existing_receipt_file_is_never_overwritten_and_nothing_is_imported() {
    let w = world();
    let env = agency_side();
    let a = &env.session;
    let taken = w.tmp.path().join("taken.receipt");
    fs::write(&taken, b"mine").unwrap();
    let before = journal(a);
    let e = a.bundle_open(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&w.bundle), &s(&taken)).unwrap_err();
    assert_eq!(e.code, "exists");
    assert_eq!(fs::read(&taken).unwrap(), b"mine");
    assert_eq!(journal(a), before);
    let e = a.bundle_open(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&w.bundle), &s(&w.tmp.path().join("no/such/dir/r"))).unwrap_err();
    assert_eq!(e.code, "folder_missing");
    assert_eq!(journal(a), before);
}

#[test]
fn the_agency_side_needs_staff_the_agency_and_its_passphrase() {
    let w = world();
    let env = agency_side();
    let a = &env.session;
    let receipt = s(&w.tmp.path().join("r"));
    let before = journal(a);
    let e = a.bundle_open(&s(&w.agency_dir), "not the agency passphrase".into(), &s(&w.bundle), &receipt).unwrap_err();
    assert_eq!(e.code, "wrong_agency_passphrase");
    let e = a.bundle_verify(&s(&w.tmp.path().join("usb")), AGENCY_PASS.into(), &s(&w.bundle)).unwrap_err();
    assert_eq!(e.code, "not_an_agency");
    // A cluster agency's keys open only with its database.
    let cluster = w.tmp.path().join("cluster-agency");
    testkit_copy(&w.agency_dir, &cluster);
    fs::write(cluster.join("cluster.json"), b"{}").unwrap();
    assert_eq!(a.bundle_verify(&s(&cluster), AGENCY_PASS.into(), &s(&w.bundle)).unwrap_err().code, "cluster_agency");
    let e = a.bundle_verify(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&w.tmp.path().join("missing.cbb"))).unwrap_err();
    assert_eq!(e.code, "bad_file");
    assert_eq!(journal(a), before);

    let vol = unlocked(Role::Volunteer);
    let e = vol.session.bundle_open(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&w.bundle), &receipt).unwrap_err();
    assert_eq!(e.code, "staff_only");
    assert_eq!(vol.session.bundle_verify(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&w.bundle)).unwrap_err().code, "staff_only");
}

fn testkit_copy(from: &Path, to: &Path) {
    casebridge_testkit::files::copy_dir(from, to);
}

/// A receipt as agency A would sign it for the sender's bundle, from the opened bundle.
fn opened_receipt(w: &World) -> (Receipt, PathBuf) {
    let env = agency_side();
    let path = w.tmp.path().join("good.receipt");
    env.session.bundle_open(&s(&w.agency_dir), AGENCY_PASS.into(), &s(&w.bundle), &s(&path)).unwrap();
    let doc = casebridge_trust::SignedDoc::parse(&fs::read(&path).unwrap()).unwrap();
    let r: Receipt = serde_json::from_slice(&base64_body(&doc)).unwrap();
    (r, path)
}

fn base64_body(doc: &casebridge_trust::SignedDoc) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(&doc.body).unwrap()
}

#[test]
fn forged_and_foreign_receipts_are_refused_each_with_its_reason() {
    let w = world();
    let (good, _) = opened_receipt(&w);
    let sender = sender_session(&w);
    let before = journal(&sender);
    let write = |name: &str, bytes: &[u8]| {
        let p = w.tmp.path().join(name);
        fs::write(&p, bytes).unwrap();
        s(&p)
    };

    // The same statement signed by another agency's key.
    let other = new_agency(&w.tmp.path().join("other"), "Politie Amsterdam");
    let forged = write("forged.receipt", &other.sign_receipt(&good).unwrap().to_bytes());
    assert_eq!(sender.receipt_import(&forged).unwrap_err().code, "unknown_signer");
    drop(other);

    let agency = Agency::open(&w.agency_dir, &casebridge_core::Passphrase::new(AGENCY_PASS)).unwrap();
    // Signed by the right agency, for a bundle this profile never sent.
    let unsent = Receipt { bundle_id: uuid::Uuid::now_v7(), ..good.clone() };
    let unsent = write("unsent.receipt", &agency.sign_receipt(&unsent).unwrap().to_bytes());
    assert_eq!(sender.receipt_import(&unsent).unwrap_err().code, "receipt_not_sent");
    // For the right bundle but another manifest (a receipt for a different bundle content).
    let other_manifest = Receipt { manifest_hash: "00".repeat(32), ..good.clone() };
    let other_manifest = write("manifest.receipt", &agency.sign_receipt(&other_manifest).unwrap().to_bytes());
    assert_eq!(sender.receipt_import(&other_manifest).unwrap_err().code, "receipt_not_sent");
    // For another member's bundle.
    let someone = Receipt { sender: uuid::Uuid::now_v7(), ..good.clone() };
    let someone = write("someone.receipt", &agency.sign_receipt(&someone).unwrap().to_bytes());
    assert_eq!(sender.receipt_import(&someone).unwrap_err().code, "wrong_holder");
    drop(agency);

    // Not a receipt at all; a huge file; a signed document whose signature was altered.
    assert_eq!(sender.receipt_import(&write("junk.receipt", b"%PDF-1.7")).unwrap_err().code, "not_a_receipt");
    assert_eq!(sender.receipt_import(&write("big.receipt", &vec![b' '; 70 * 1024])).unwrap_err().code, "not_a_receipt");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(w.tmp.path().join("good.receipt")).unwrap()).unwrap();
    let sig = doc["sig"].as_str().unwrap().to_string();
    // Another first character: the signature bytes differ, the document still parses.
    let rest = sig.get(1..).unwrap();
    let flipped = if sig.starts_with('A') { format!("B{rest}") } else { format!("A{rest}") };
    doc["sig"] = serde_json::Value::String(flipped);
    let bad_sig = write("badsig.receipt", &serde_json::to_vec(&doc).unwrap());
    assert_eq!(sender.receipt_import(&bad_sig).unwrap_err().code, "bad_signature");

    assert_eq!(journal(&sender), before, "no refusal recorded anything");
    assert!(sender.receipts_list().unwrap().is_empty());
}

// ----- the outbox to a folder ------------------------------------------------------------------

/// A sender enrolled at agency A with an endpoint on record (offline: the endpoint is never
/// reached) and one case of work not yet sealed; its unlocked session.
fn outbox_sender() -> (tempfile::TempDir, Arc<Session>, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let agency_dir = tmp.path().join("agency");
    let dir = tmp.path().join("sender");
    {
        let agency = new_agency(&agency_dir, "Polizei Berlin");
        let mut store = sender_store(&dir, &agency, &agency_dir);
        store.set_endpoint(agency.public().agency_id, "https://127.0.0.1:9", &"ab".repeat(32)).unwrap();
        let case = store.create_case(NewCase { title: "Graffiti".into(), ..Default::default() }).unwrap();
        store.add_note(case, "tag on the bridge").unwrap();
    }
    let clock = Arc::new(casebridge_app::ManualClock::default());
    let (session, _) = session_at(&dir, &clock);
    session.unlock(PASS.into()).unwrap();
    (tmp, session, agency_dir)
}

#[test]
fn the_outbox_is_written_to_a_folder_and_the_agency_opens_it() {
    let (tmp, session, agency_dir) = outbox_sender();
    let usb = tmp.path().join("usb");
    fs::create_dir(&usb).unwrap();
    let written = session.bundles_export(&s(&usb)).unwrap();
    assert_eq!(written.len(), 1, "one case changed: one sealed bundle");
    let file = PathBuf::from(&written[0].path);
    assert_eq!(fs::metadata(&file).unwrap().len(), written[0].bytes);
    assert_eq!(fs::read_dir(&usb).unwrap().count(), 1, "no probe or partial file is left");

    // Attack: the same folder again; the file there is never overwritten.
    let bytes = fs::read(&file).unwrap();
    let e = session.bundles_export(&s(&usb)).unwrap_err();
    assert_eq!(e.code, "exists");
    assert_eq!(fs::read(&file).unwrap(), bytes);

    // The agency side opens it; the receipt comes back and is kept.
    let env = agency_side();
    let receipt = usb.join("back.receipt");
    let opened = env.session.bundle_open(&s(&agency_dir), AGENCY_PASS.into(), &s(&file), &s(&receipt)).unwrap();
    assert_eq!(opened.outcome, BundleOutcome::Accepted);
    assert_eq!(session.receipt_import(&s(&receipt)).unwrap().receipt.receipt.bundle_id, written[0].bundle_id);
}

#[test]
fn an_export_folder_that_is_a_file_missing_or_not_writable_is_refused_before_anything() {
    let (tmp, session, _) = outbox_sender();
    let before = journal(&session);
    let file = tmp.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    assert_eq!(session.bundles_export(&s(&file)).unwrap_err().code, "not_a_folder");
    assert_eq!(session.bundles_export(&s(&tmp.path().join("gone"))).unwrap_err().code, "folder_missing");
    // /proc takes no new files, whoever runs the tests (root included).
    assert_eq!(session.bundles_export("/proc").unwrap_err().code, "not_writable");
    assert_eq!(session.bundles_export("  ").unwrap_err().code, "invalid_input");
    assert_eq!(journal(&session), before, "nothing was sealed into the outbox either");
    assert_eq!(fs::read(&file).unwrap(), b"x");
}

#[test]
fn a_cancelled_export_leaves_no_file() {
    let (tmp, session, _) = outbox_sender();
    let usb = tmp.path().join("usb");
    fs::create_dir(&usb).unwrap();
    let result = session.with_store(|s| casebridge_app::exchange::export_outbox(s, &usb, &mut |_, _| false));
    assert_eq!(result.unwrap_err().code, "cancelled");
    assert_eq!(fs::read_dir(&usb).unwrap().count(), 0, "the partial file was removed");
}

#[test]
fn a_profile_not_enrolled_cannot_export_its_outbox() {
    let env = unlocked(Role::Volunteer);
    let usb = env.tmp.path().join("usb");
    fs::create_dir(&usb).unwrap();
    assert_eq!(env.session.bundles_export(&s(&usb)).unwrap_err().code, "not_enrolled");
    assert_eq!(fs::read_dir(&usb).unwrap().count(), 0);
}
