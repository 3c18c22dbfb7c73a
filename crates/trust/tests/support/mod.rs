//! Shared test harness: agencies, enrolled profiles, bundles, and byte-level surgery on the
//! plain bundle stream (to build the adversarial cases).
#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};

use casebridge_core::{EvidenceOptions, NewCase, Role, Store};
// Re-exported for the suites and the vector generator; each uses a part of them.
#[allow(unused_imports)]
pub use casebridge_testkit::bytes::pseudo_random as bytes;
#[allow(unused_imports)]
pub use casebridge_testkit::fixtures::{enrol_offline as enrol, new_agency, new_store, AGENCY_PASS, PASS};
use casebridge_trust::bundle::{self, Anchor, ExportOptions, Manifest, MANIFEST_CONTEXT};
use casebridge_trust::profile;
use casebridge_trust::{Agency, RevocationList};

pub struct World {
    pub tmp: tempfile::TempDir,
    pub agency: Agency,
    pub other: Agency,
    pub sender: Store,
    pub investigator: Store,
    pub case: uuid::Uuid,
}

pub fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let agency = new_agency(&tmp.path().join("agency"), "Polizei Berlin (test)");
    let other = new_agency(&tmp.path().join("other"), "Other agency (test)");
    let mut sender = new_store(&tmp.path().join("sender"), "Otto Officer", Role::Investigator);
    let mut investigator = new_store(&tmp.path().join("investigator"), "Inv Estigator", Role::Investigator);
    enrol(&mut sender, &agency, &tmp.path().join("agency"), Role::Investigator, chrono::Duration::days(365));
    profile::pin_agency(&mut investigator, &Agency::public_file(&tmp.path().join("agency")).unwrap()).unwrap();
    let case = sender.create_case(NewCase { title: "Submission for brief 7".into(), ..Default::default() }).unwrap();
    sender.add_note(case, "seen near the bridge").unwrap();
    for (i, len) in [1024 * 1024 + 5, 300].into_iter().enumerate() {
        let p = tmp.path().join(format!("evidence{i}.bin"));
        std::fs::write(&p, bytes(len, i as u64 + 1)).unwrap();
        sender.add_evidence(case, &p, &EvidenceOptions::default(), &mut |_| true).unwrap();
    }
    World { tmp, agency, other, sender, investigator, case }
}

impl World {
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn export(&mut self, name: &str, seal: bool) -> PathBuf {
        let out = self.path(name);
        let public = self.agency.public().clone();
        let (_, cred) = profile::credential(&self.sender, &public).unwrap().unwrap();
        bundle::export(
            &mut self.sender,
            &ExportOptions {
                case: self.case,
                since: None,
                agency: &public,
                credential: &cred,
                seal,
                own_only: false,
                bundle_id: None,
                sync_point: None,
                held: None,
            },
            &out,
            &mut |_| true,
        )
        .unwrap();
        out
    }

    pub fn revocation(&self) -> RevocationList {
        self.agency.current_revocation().unwrap().0
    }

    pub fn verify(&self, path: &Path) -> casebridge_trust::Result<bundle::Verified> {
        let list = self.revocation();
        let anchor = Anchor::new(self.agency.public(), &list, Some(self.agency.sealing_identity()));
        bundle::verify(path, &anchor, bundle::BlobSink::Check, &mut |_| true)
    }

    pub fn open(&mut self, path: &Path) -> casebridge_trust::Result<bundle::Opened> {
        let list = self.revocation();
        let anchor = Anchor::new(self.agency.public(), &list, Some(self.agency.sealing_identity()));
        bundle::open_into(path, &anchor, &mut self.investigator, &mut |_| true)
    }
}

/// The parts of a plain bundle stream.
pub struct Plain {
    pub key: Vec<u8>,
    pub sig: Vec<u8>,
    pub manifest: Vec<u8>,
    pub rest: Vec<u8>,
}

pub fn split(p: &[u8]) -> Plain {
    let len = u32::from_le_bytes(p[108..112].try_into().unwrap()) as usize;
    Plain { key: p[12..44].to_vec(), sig: p[44..108].to_vec(), manifest: p[112..112 + len].to_vec(), rest: p[112 + len..].to_vec() }
}

pub fn join(pl: &Plain) -> Vec<u8> {
    let mut out = bundle::BUNDLE_MAGIC.to_vec();
    out.extend_from_slice(&bundle::BUNDLE_VERSION.to_le_bytes());
    out.extend_from_slice(&pl.key);
    out.extend_from_slice(&pl.sig);
    out.extend_from_slice(&(pl.manifest.len() as u32).to_le_bytes());
    out.extend_from_slice(&pl.manifest);
    out.extend_from_slice(&pl.rest);
    out
}

/// Re-signs a modified manifest with the sender's key (a sender crafting a malicious bundle).
pub fn resign(store: &Store, pl: &mut Plain, edit: impl FnOnce(&mut Manifest)) {
    let mut m: Manifest = serde_json::from_slice(&pl.manifest).unwrap();
    edit(&mut m);
    pl.manifest = serde_json::to_vec(&m).unwrap();
    pl.sig = store.sign_detached(MANIFEST_CONTEXT, &pl.manifest).to_vec();
}

/// Frames of the blob section: (blob, chunk, data), then the trailing bytes.
pub type Frame = (u32, u32, Vec<u8>);

pub fn frames(rest: &[u8]) -> (Vec<Frame>, Vec<u8>) {
    let mut out = Vec::new();
    let mut i = 0;
    while rest.len() - i > 8 {
        let b = u32::from_le_bytes(rest[i..i + 4].try_into().unwrap());
        let c = u32::from_le_bytes(rest[i + 4..i + 8].try_into().unwrap());
        let l = u32::from_le_bytes(rest[i + 8..i + 12].try_into().unwrap()) as usize;
        out.push((b, c, rest[i + 12..i + 12 + l].to_vec()));
        i += 12 + l;
    }
    (out, rest[i..].to_vec())
}

pub fn unframe(frames: &[Frame], tail: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (b, c, d) in frames {
        out.extend_from_slice(&b.to_le_bytes());
        out.extend_from_slice(&c.to_le_bytes());
        out.extend_from_slice(&(d.len() as u32).to_le_bytes());
        out.extend_from_slice(d);
    }
    out.extend_from_slice(tail);
    out
}

/// Seals plain bytes to an agency.
pub fn seal_to(agency: &Agency, plain: &[u8]) -> Vec<u8> {
    let r = agency.public().recipient().unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    std::io::Write::write_all(&mut w, plain).unwrap();
    w.finish().unwrap();
    out
}

/// Opens a sealed bundle with an agency's key.
pub fn unseal(agency: &Agency, sealed: &[u8]) -> Vec<u8> {
    let dec = age::Decryptor::new_buffered(sealed).unwrap();
    let mut r = dec.decrypt(std::iter::once(agency.sealing_identity() as &dyn age::Identity)).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut out).unwrap();
    out
}
