//! Sync's starting point: what `export_pending` seals into the outbox.

use casebridge_app::outbox;
use casebridge_core::{NewCase, Role, Store};
use casebridge_testkit::fixtures::{enrol_offline, new_agency, new_store};
use casebridge_trust::bundle::{self, ExportOptions};
use casebridge_trust::Agency;

/// An investigator's store enrolled (offline) at a new agency: the store, the agency and the
/// credential document.
fn enrolled(tmp: &std::path::Path) -> (Store, Agency, casebridge_trust::SignedDoc) {
    let agency_dir = tmp.join("agency");
    let agency = new_agency(&agency_dir, "Polizei Berlin");
    let mut store = new_store(&tmp.join("profile"), "Vera Brandt", Role::Investigator);
    let cred = enrol_offline(&mut store, &agency, &agency_dir, Role::Investigator, chrono::Duration::days(30));
    (store, agency, cred)
}

fn case(store: &mut Store, title: &str) -> uuid::Uuid {
    store.create_case(NewCase { title: title.into(), ..Default::default() }).unwrap()
}

#[test]
fn a_manual_export_of_one_case_never_makes_sync_skip_another() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut store, agency, cred) = enrolled(tmp.path());
    let public = agency.public().clone();
    let a = case(&mut store, "Bike thefts");
    let first = outbox::export_pending(&mut store, &public, &cred, None).unwrap();
    assert_eq!(first.len(), 1, "the first pass seals the one case");
    assert!(outbox::export_pending(&mut store, &public, &cred, None).unwrap().is_empty(), "nothing new, nothing sealed");

    // New work on two cases, then a manual export of case A only (as `bundle export` does).
    store.add_note(a, "seen near the bridge").unwrap();
    let b = case(&mut store, "Graffiti");
    let out = tmp.path().join("a.cbb");
    let opts = ExportOptions {
        case: a,
        since: None,
        agency: &public,
        credential: &cred,
        seal: true,
        own_only: false,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    bundle::export(&mut store, &opts, &out, &mut |_| true).unwrap();

    // Sync still seals both cases' new events: the manual export did not move its point.
    let next = outbox::export_pending(&mut store, &public, &cred, None).unwrap();
    assert_eq!(next.len(), 2, "one bundle for each of the two changed cases ({a} and {b})");
    assert!(next.iter().all(|s| s.events >= 1), "each carries its case's new events");
    assert!(outbox::export_pending(&mut store, &public, &cred, None).unwrap().is_empty(), "and then the point moves past them");
}

#[test]
fn a_bundle_left_by_an_export_killed_before_its_record_is_dropped_not_uploaded() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut store, agency, cred) = enrolled(tmp.path());
    let public = agency.public().clone();
    case(&mut store, "Bike thefts");
    let first = outbox::export_pending(&mut store, &public, &cred, None).unwrap();
    assert_eq!(first.len(), 1);
    let dir = outbox::outbox_dir(store.dir());
    let recorded = dir.join(format!("{}.{}", first[0].bundle_id, casebridge_sync::BUNDLE_EXTENSION));
    assert!(recorded.is_file());
    // The crash campaign's case: the file was moved into place, the process killed before
    // `bundle_exported` was recorded (the export point did not move).
    let orphan_id = uuid::Uuid::now_v7();
    let orphan = dir.join(format!("{orphan_id}.{}", casebridge_sync::BUNDLE_EXTENSION));
    std::fs::copy(&recorded, &orphan).unwrap();
    let next = outbox::export_pending(&mut store, &public, &cred, None).unwrap();
    assert!(next.is_empty(), "nothing new to seal");
    assert!(!orphan.exists(), "the unrecorded bundle was dropped: uploading it would take a sequence number the store reuses");
    assert!(recorded.is_file(), "a recorded bundle waiting for upload stays");
}
