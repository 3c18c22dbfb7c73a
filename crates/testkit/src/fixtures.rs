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
