//! Member stores and agency directories with the cheap test KDF
//! ([`KdfParams::INSECURE_FOR_TESTS`], behind core's `test-kdf` feature), and offline
//! enrolment: the agency issues a credential for the store's request and the store installs
//! it, pinning the agency (what `credential request`, `agency issue` and `credential install`
//! do by hand).

use std::path::Path;

use casebridge_core::{KdfParams, Passphrase, Role, Store};
use casebridge_trust::{profile, Agency, SignedDoc};

/// The passphrase of test member stores.
pub const PASS: &str = "correct horse battery staple";
/// The passphrase of test agencies.
pub const AGENCY_PASS: &str = "agency passphrase for tests";

/// A new member store at `dir` sealed with `pass`.
pub fn create_store(dir: &Path, pass: &str, name: &str, role: Role) -> Store {
    Store::create(dir, &Passphrase::new(pass), name, role, KdfParams::INSECURE_FOR_TESTS).unwrap()
}

/// A new member store at `dir` sealed with [`PASS`].
pub fn new_store(dir: &Path, name: &str, role: Role) -> Store {
    create_store(dir, PASS, name, role)
}

/// A new agency directory at `dir` named `name`, sealed with [`AGENCY_PASS`].
pub fn new_agency(dir: &Path, name: &str) -> Agency {
    Agency::init(dir, name, &Passphrase::new(AGENCY_PASS), KdfParams::INSECURE_FOR_TESTS).unwrap()
}

/// Enrols `store` at `agency` (whose directory is `agency_dir`) without an endpoint: a
/// credential with `role`, valid for `valid_for`, installed with the agency's public file.
/// Returns the credential document. The store keeps the name disclosure with it.
pub fn enrol_offline(store: &mut Store, agency: &Agency, agency_dir: &Path, role: Role, valid_for: chrono::Duration) -> SignedDoc {
    let request = profile::request_credential(store);
    let (_, credential, name) = agency.issue(&request, role, None, valid_for).unwrap();
    // With the name disclosure, as an endpoint's enrolment answer carries it.
    profile::install_credential_named(store, &credential, Some(&Agency::public_file(agency_dir).unwrap()), Some(&name)).unwrap();
    credential
}

/// Issue 16: only a supervisor approves disclosing a contributor's identity. A new supervisor
/// store at `dir`, enrolled at `agency` (directory `agency_dir`), learns `case` from `staff`'s
/// `case_created`, records that `member`'s identity may be disclosed, and sends that to `staff`
/// in a sealed bundle opened as the agency opens it (so `staff` also holds the supervisor's
/// credential, which court material of the case then carries). Returns the supervisor's store.
pub fn disclose_as_supervisor(
    dir: &Path,
    agency: &Agency,
    agency_dir: &Path,
    staff: &mut Store,
    case: uuid::Uuid,
    member: uuid::Uuid,
    reason: &str,
) -> Store {
    use casebridge_trust::bundle::{self, Anchor, ExportOptions};
    let mut sup = new_store(dir, "Sabine Aufsicht", Role::Supervisor);
    let credential = enrol_offline(&mut sup, agency, agency_dir, Role::Supervisor, chrono::Duration::days(365));
    let opened: Vec<_> = staff
        .case_events(case, None)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.body().kind, casebridge_core::EventKind::CaseCreated { .. }))
        .collect();
    sup.import_events(&opened, vec![]).unwrap();
    sup.record_disclosure(case, member, reason).unwrap();
    let public = agency.public().clone();
    let out = dir.join("disclosure.cbb");
    let opts = ExportOptions {
        case,
        since: None,
        agency: &public,
        credential: &credential,
        seal: true,
        own_only: true,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    bundle::export(&mut sup, &opts, &out, &mut |_| true).unwrap();
    let list = agency.current_revocation().unwrap().0;
    let anchor = Anchor::new(agency.public(), &list, Some(agency.sealing_identity()));
    let done = bundle::open_into(&out, &anchor, staff, &mut |_| true).unwrap();
    assert_eq!(done.outcome.as_str(), "accepted", "the supervisor's disclosure reaches the staff store");
    sup
}
