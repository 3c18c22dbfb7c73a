//! What `agency init` makes is the owner's alone whatever the umask: the directory, the key
//! file, the identity and the revocation list (found by the endpoint package's start test: under
//! umask 022 they were 0755/0644).
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;

use casebridge_core::{KdfParams, Passphrase};
use casebridge_trust::Agency;

#[test]
fn agency_init_makes_owner_only_files_and_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("agency");
    Agency::init(&dir, "Test Police", &Passphrase::new("agency passphrase 123"), KdfParams::INSECURE_FOR_TESTS).unwrap();
    for (name, want) in
        [("", 0o700), ("issued", 0o700), ("receipts", 0o700), ("keys.cbk", 0o600), ("agency.json", 0o600), ("revocation.json", 0o600)]
    {
        let path = if name.is_empty() { dir.clone() } else { dir.join(name) };
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}, readable by others", path.display());
        assert_eq!(mode, want, "{}", path.display());
    }
}
