//! Bundles end to end at the library level: every rejection has its own reason code.
#![allow(clippy::unwrap_used)]

mod support;

use casebridge_core::{CaseFilter, Role};
use casebridge_trust::bundle::{self, Anchor};
use casebridge_trust::{profile, Agency, Reason};
use support::*;

fn reason(r: casebridge_trust::Result<impl std::fmt::Debug>) -> Reason {
    match r {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => e.reason,
    }
}

fn write(w: &World, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = w.path(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn valid_sealed_bundle_verifies_opens_and_replays_as_a_no_op() {
    let mut w = world();
    let b = w.export("b1.cbb", true);
    let v = w.verify(&b).unwrap();
    assert!(v.sealed);
    assert_eq!(v.manifest.blobs.len(), 2);
    assert_eq!(v.manifest.seq, 1);
    let opened = w.open(&b).unwrap();
    assert_eq!(opened.outcome.as_str(), "accepted");
    assert!(opened.events_added >= 6, "{opened:?}");
    let cases = w.investigator.list_cases(&CaseFilter::default()).unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].evidence_count, 2);
    let case = w.investigator.case(cases[0].id).unwrap();
    assert_eq!(case.notes.len(), 1);
    // Content arrived intact.
    let ev = &case.evidence[0];
    let mut out = Vec::new();
    w.investigator.read_content(&ev.sha256, ev.size, &mut out, &mut |_| true).unwrap();
    assert_eq!(casebridge_core::to_hex(&casebridge_core::sha256(&out)), ev.sha256);
    // Replay: a no-op, never a duplicate.
    let again = w.open(&b).unwrap();
    assert_eq!(again.outcome.as_str(), "duplicate");
    assert_eq!(again.events_added, 0);
    assert_eq!(w.investigator.case(cases[0].id).unwrap().evidence.len(), 2);
    assert!(w.investigator.check(true, &mut |_| {}).unwrap().ok);
}

#[test]
fn every_bit_flip_of_header_signature_and_manifest_is_rejected() {
    let mut w = world();
    let b = w.export("plain.cbb", false);
    let p = std::fs::read(&b).unwrap();
    let pl = split(&p);
    let covered = 112 + pl.manifest.len();
    let list = w.revocation();
    let anchor = Anchor::new(w.agency.public(), &list, None);
    let mut q = p.clone();
    for bit in 0..covered * 8 {
        q[bit / 8] ^= 1 << (bit % 8);
        let r = bundle::verify_stream(&q[..], &anchor, bundle::BlobSink::Check, &mut |_| true);
        assert!(r.is_err(), "flip of bit {bit} (byte {}) was accepted", bit / 8);
        q[bit / 8] ^= 1 << (bit % 8);
    }
    assert!(bundle::verify_stream(&q[..], &anchor, bundle::BlobSink::Check, &mut |_| true).is_ok(), "the unflipped bundle must verify");
}

#[test]
fn sampled_flips_of_the_sealed_file_are_rejected() {
    let mut w = world();
    let b = w.export("sealed.cbb", true);
    let s = std::fs::read(&b).unwrap();
    let list = w.revocation();
    let anchor = Anchor::new(w.agency.public(), &list, Some(w.agency.sealing_identity()));
    let mut rng = casebridge_testkit::bytes::XorShift64::new(0x2545_F491_4F6C_DD1D);
    let mut q = s.clone();
    for _ in 0..1000 {
        let x = rng.next_u64();
        let bit = (x % (s.len() as u64 * 8)) as usize;
        q[bit / 8] ^= 1 << (bit % 8);
        let r = bundle::verify_stream(&q[..], &anchor, bundle::BlobSink::Check, &mut |_| true);
        assert!(r.is_err(), "flip of bit {bit} accepted");
        q[bit / 8] ^= 1 << (bit % 8);
    }
    assert_eq!(q, s);
}

#[test]
fn truncation_is_rejected() {
    let mut w = world();
    let p = std::fs::read(w.export("plain.cbb", false)).unwrap();
    for cut in [p.len() - 1, p.len() - 8, p.len() / 2, 200, 111, 20] {
        let f = write(&w, "cut.cbb", &p[..cut]);
        let r = reason(w.verify(&f));
        assert_eq!(r, Reason::Truncated, "cut at {cut}");
    }
    let s = std::fs::read(w.export("sealed.cbb", true)).unwrap();
    let f = write(&w, "cut-sealed.cbb", &s[..s.len() - 1000]);
    assert!(matches!(reason(w.verify(&f)), Reason::Truncated | Reason::SealDamaged));
}

#[test]
fn reordered_and_duplicated_chunks_are_rejected() {
    let mut w = world();
    let p = std::fs::read(w.export("plain.cbb", false)).unwrap();
    let pl = split(&p);
    let (fr, tail) = frames(&pl.rest);
    assert!(fr.len() >= 3, "the first blob spans two chunks");
    let mut swapped = fr.clone();
    swapped.swap(0, 1);
    let f = write(&w, "reordered.cbb", &join(&Plain { rest: unframe(&swapped, &tail), ..split(&p) }));
    assert_eq!(reason(w.verify(&f)), Reason::ChunkOutOfOrder);
    let mut dup = fr.clone();
    dup.insert(1, fr[0].clone());
    let f = write(&w, "duplicated.cbb", &join(&Plain { rest: unframe(&dup, &tail), ..split(&p) }));
    assert_eq!(reason(w.verify(&f)), Reason::ChunkOutOfOrder);
    let mut extra = fr.clone();
    extra.push(fr[2].clone());
    let f = write(&w, "extra.cbb", &join(&Plain { rest: unframe(&extra, &tail), ..split(&p) }));
    assert_eq!(reason(w.verify(&f)), Reason::TrailingData);
}

#[test]
fn wrong_recipient_and_resealed_bundles_are_rejected() {
    let mut w = world();
    let sealed = std::fs::read(w.export("sealed.cbb", true)).unwrap();
    // Sealed to A, presented to B.
    let f = write(&w, "to-a.cbb", &sealed);
    let list = w.other.current_revocation().unwrap().0;
    let anchor_b = Anchor::new(w.other.public(), &list, Some(w.other.sealing_identity()));
    assert_eq!(reason(bundle::verify(&f, &anchor_b, bundle::BlobSink::Check, &mut |_| true)), Reason::SealedToOtherAgency);
    // Opened by A, re-sealed to B: the signed manifest still names A.
    let resealed = seal_to(&w.other, &unseal(&w.agency, &sealed));
    let f = write(&w, "resealed.cbb", &resealed);
    assert_eq!(reason(bundle::verify(&f, &anchor_b, bundle::BlobSink::Check, &mut |_| true)), Reason::RecipientMismatch);
}

#[test]
fn unknown_signer_expired_and_revoked_credentials_are_rejected() {
    let mut w = world();
    // Credential from another agency presented to this one.
    let other_dir = w.path("other");
    let req = profile::request_credential(&w.sender);
    let (_, foreign_cred, _) = w.other.issue(&req, Role::Volunteer, None, chrono::Duration::days(1)).unwrap();
    let public = w.agency.public().clone();
    let out = w.path("foreign.cbb");
    let opts = bundle::ExportOptions {
        case: w.case,
        since: None,
        agency: &public,
        credential: &foreign_cred,
        seal: true,
        own_only: false,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    bundle::export(&mut w.sender, &opts, &out, &mut |_| true).unwrap();
    assert_eq!(reason(w.verify(&out)), Reason::UnknownSigner);
    let _ = other_dir;

    // Credential that expired before signing.
    let (_, short, _) = w.agency.issue(&req, Role::Volunteer, None, chrono::Duration::seconds(1)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = w.path("expired.cbb");
    let opts = bundle::ExportOptions {
        case: w.case,
        since: None,
        agency: &public,
        credential: &short,
        seal: true,
        own_only: false,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    bundle::export(&mut w.sender, &opts, &out, &mut |_| true).unwrap();
    assert_eq!(reason(w.verify(&out)), Reason::CredentialExpired);

    // Revoked signer.
    let good = w.export("good.cbb", true);
    w.verify(&good).unwrap();
    w.agency.revoke(w.sender.whoami().member_id, Some("left the programme".into())).unwrap();
    assert_eq!(reason(w.verify(&good)), Reason::SignerRevoked);
}

#[test]
fn sequence_rollback_and_broken_chain_are_rejected() {
    let mut w = world();
    let b1 = w.export("b1.cbb", true);
    let b2 = w.export("b2.cbb", true);
    assert_eq!(w.verify(&b2).unwrap().manifest.seq, 2);
    w.open(&b2).unwrap();
    assert_eq!(reason(w.open(&b1)), Reason::SequenceRollback);

    // A bundle 3 that claims another predecessor.
    let p3 = std::fs::read(w.export("b3.cbb", false)).unwrap();
    let mut pl = split(&p3);
    resign(&w.sender, &mut pl, |m| m.prev_bundle = "11".repeat(32));
    let f = write(&w, "b3-bad.cbb", &join(&pl));
    assert_eq!(reason(w.open(&f)), Reason::ChainBroken);
}

#[test]
fn declared_sizes_are_bounded_before_allocation() {
    let mut w = world();
    let p = std::fs::read(w.export("plain.cbb", false)).unwrap();
    let mut pl = split(&p);
    resign(&w.sender, &mut pl, |m| {
        m.blobs[0].size = 1 << 62;
        m.blobs[0].chunks = (1u64 << 62).div_ceil(1 << 20);
    });
    let f = write(&w, "huge.cbb", &join(&pl));
    assert_eq!(reason(w.verify(&f)), Reason::DeclaredSizeTooLarge);
    // A manifest length field of 4 GiB - 1.
    let mut q = p.clone();
    q[108..112].copy_from_slice(&u32::MAX.to_le_bytes());
    let f = write(&w, "huge-manifest.cbb", &q);
    assert_eq!(reason(w.verify(&f)), Reason::DeclaredSizeTooLarge);
}

#[test]
fn tampered_blob_and_missing_blob_are_rejected() {
    let mut w = world();
    let p = std::fs::read(w.export("plain.cbb", false)).unwrap();
    let pl = split(&p);
    let (mut fr, tail) = frames(&pl.rest);
    fr[2].2[0] ^= 1;
    let f = write(&w, "tampered.cbb", &join(&Plain { rest: unframe(&fr, &tail), ..split(&p) }));
    assert_eq!(reason(w.verify(&f)), Reason::BlobHashMismatch);
    let mut pl = split(&p);
    resign(&w.sender, &mut pl, |m| {
        m.blobs.remove(1);
    });
    let (fr, tail) = frames(&pl.rest);
    pl.rest = unframe(&fr[..2], &tail);
    let f = write(&w, "missing.cbb", &join(&pl));
    assert_eq!(reason(w.verify(&f)), Reason::BlobMissing);
}

#[test]
fn revocation_lists_never_roll_back() {
    let mut w = world();
    let agency_dir = w.path("agency");
    let old = Agency::public_file(&agency_dir).unwrap();
    w.agency.revoke(w.sender.whoami().member_id, None).unwrap();
    let new = Agency::public_file(&agency_dir).unwrap();
    profile::pin_agency(&mut w.investigator, &new).unwrap();
    let err = profile::pin_agency(&mut w.investigator, &old).unwrap_err();
    assert_eq!(err.reason, Reason::RevocationRollback);
    let (list, _) = profile::held_revocation(&w.investigator, w.agency.public()).unwrap().unwrap();
    assert_eq!(list.version, 2);
    assert_eq!(list.entries.len(), 1);
}

#[test]
fn receipts_verify_and_are_kept_by_the_sender() {
    let mut w = world();
    let b = w.export("b1.cbb", true);
    let opened = w.open(&b).unwrap();
    let receipt = casebridge_trust::Receipt {
        agency_id: w.agency.public().agency_id,
        bundle_id: opened.bundle_id,
        manifest_hash: opened.manifest_hash.clone(),
        sender: opened.sender,
        seq: opened.seq,
        received_at: casebridge_trust::now(),
        outcome: opened.outcome,
        events: opened.events,
        blobs: opened.blobs,
    };
    let doc = w.agency.sign_receipt(&receipt).unwrap();
    let r = profile::store_receipt(&mut w.sender, &doc).unwrap();
    assert_eq!(r.bundle_id, opened.bundle_id);
    let list = profile::receipts(&w.sender).unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].verified);
    // A receipt signed by another agency is refused.
    let forged = w.other.sign_receipt(&receipt).unwrap();
    assert_eq!(profile::store_receipt(&mut w.sender, &forged).unwrap_err().reason, Reason::UnknownSigner);
}

/// The item of `w`'s case with `size` bytes, and the agency's tombstone for it.
fn tombstone_of(w: &World, size: u64, signer: &Agency) -> (casebridge_core::EvidenceView, casebridge_trust::SignedDoc) {
    let e = w.sender.case(w.case).unwrap().evidence.into_iter().find(|e| e.size == size).unwrap();
    let t = casebridge_core::Tombstone {
        id: casebridge_trust::tombstone_id(w.agency.public().agency_id, e.id),
        agency_id: w.agency.public().agency_id,
        evidence_id: e.id,
        case_id: w.case,
        sha256: e.sha256.clone(),
        rule: "rejected-30d".into(),
        reason: Some("rejected, never accepted, 31 days old".into()),
        deleted_at: chrono::Utc::now().fixed_offset(),
    };
    (e, signer.sign_tombstone(&t))
}

fn b64(doc: &casebridge_trust::SignedDoc) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(doc.to_bytes())
}

/// Issue 16: a case holding an item the agency deleted exports without that item's content;
/// its events and the agency's tombstone travel, and the receiver holds it as deleted (not
/// `blob_missing`), the live item's content intact, all in one open.
#[test]
fn a_case_with_a_deleted_item_travels_with_its_tombstone_and_arrives_deleted() {
    let mut w = world();
    let public = w.agency.public().clone();
    let (gone, doc) = tombstone_of(&w, 300, &w.agency);
    assert_eq!(casebridge_trust::store_tombstones(&mut w.sender, &public, &[doc]).unwrap(), [gone.id]);
    let b = w.export("deleted.cbb", true);
    let v = w.verify(&b).unwrap();
    assert_eq!(v.manifest.blobs.len(), 1, "only the live item's content travels");
    assert_eq!(v.manifest.tombstones.len(), 1);
    assert_eq!(v.tombstones[0].0.evidence_id, gone.id);
    let opened = w.open(&b).unwrap();
    assert_eq!(opened.outcome.as_str(), "accepted");
    let case = w.investigator.case(w.case).unwrap();
    assert_eq!(case.evidence.len(), 2);
    let deleted = w.investigator.evidence(gone.id).unwrap();
    let d = deleted.deleted.expect("the receiver holds the item as deleted");
    assert_eq!(d.rule, "rejected-30d");
    assert_eq!(deleted.sha256, gone.sha256, "the recorded hash stays");
    assert_eq!(w.investigator.tombstones(Some(w.case)).unwrap().len(), 1);
    let err = w.investigator.read_content(&gone.sha256, gone.size, &mut Vec::new(), &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("was deleted under rule rejected-30d"), "{err}");
    let live = case.evidence.iter().find(|e| e.id != gone.id).unwrap();
    let mut out = Vec::new();
    w.investigator.read_content(&live.sha256, live.size, &mut out, &mut |_| true).unwrap();
    assert_eq!(casebridge_core::to_hex(&casebridge_core::sha256(&out)), live.sha256);
    assert!(w.investigator.check(true, &mut |_| {}).unwrap().ok);
    // Replay: a no-op.
    assert_eq!(w.open(&b).unwrap().outcome.as_str(), "duplicate");
}

/// The attacks on that allowance: a bundle that simply omits a live item's content, or passes
/// it off as deleted with a tombstone forged by another key, naming another hash, naming an
/// item the bundle does not add, or alongside the content it claims is gone; each refused with
/// its own code and nothing stored.
#[test]
fn a_bundle_omitting_live_content_or_carrying_bad_tombstones_is_refused() {
    let mut w = world();
    let p = std::fs::read(w.export("plain.cbb", false)).unwrap();
    let (live, genuine) = tombstone_of(&w, 300, &w.agency);
    let (_, forged) = tombstone_of(&w, 300, &w.other);
    let (big, _) = tombstone_of(&w, 1024 * 1024 + 5, &w.agency);
    let without_blob = |w: &World, name: &str, tombstones: Vec<String>| {
        let mut pl = split(&p);
        resign(&w.sender, &mut pl, |m| {
            m.blobs.retain(|b| b.sha256 != live.sha256);
            m.tombstones = tombstones;
        });
        let (fr, tail) = frames(&pl.rest);
        pl.rest = unframe(&fr[..2], &tail);
        write(w, name, &join(&pl))
    };
    // Content simply left out: still refused.
    let f = without_blob(&w, "omitted.cbb", vec![]);
    assert_eq!(reason(w.verify(&f)), Reason::BlobMissing);
    assert_eq!(reason(w.open(&f)), Reason::BlobMissing);
    // A tombstone signed by another agency's root key.
    let f = without_blob(&w, "forged.cbb", vec![b64(&forged)]);
    assert_eq!(reason(w.verify(&f)), Reason::TombstoneNotFromAgency);
    // Not a signed document at all.
    let f = without_blob(&w, "garbage.cbb", vec!["bm90IGEgZG9j".into()]);
    assert_eq!(reason(w.verify(&f)), Reason::TombstoneNotFromAgency);
    // The agency's genuine tombstone of the big item, passed off for the small one's event.
    let other_hash = casebridge_core::Tombstone {
        evidence_id: live.id,
        sha256: big.sha256.clone(),
        ..genuine.open::<casebridge_core::Tombstone>(casebridge_trust::TOMBSTONE, None).unwrap()
    };
    let f = without_blob(&w, "mismatch.cbb", vec![b64(&w.agency.sign_tombstone(&other_hash))]);
    assert_eq!(reason(w.verify(&f)), Reason::TombstoneMismatch);
    // A genuine tombstone of an item no event of the bundle adds (content of the live item omitted
    // too, so the refusal is the tombstone's).
    let unknown = casebridge_core::Tombstone { evidence_id: uuid::Uuid::now_v7(), ..other_hash.clone() };
    let f = without_blob(&w, "unknown.cbb", vec![b64(&w.agency.sign_tombstone(&unknown))]);
    assert_eq!(reason(w.verify(&f)), Reason::BlobMissing);
    let mut pl = split(&p);
    resign(&w.sender, &mut pl, |m| m.tombstones = vec![b64(&w.agency.sign_tombstone(&unknown))]);
    let f = write(&w, "unknown-only.cbb", &join(&pl));
    assert_eq!(reason(w.verify(&f)), Reason::TombstoneUnknownItem);
    // A tombstone next to the content it says is gone.
    let mut pl = split(&p);
    resign(&w.sender, &mut pl, |m| m.tombstones = vec![b64(&genuine)]);
    let f = write(&w, "carried.cbb", &join(&pl));
    assert_eq!(reason(w.verify(&f)), Reason::ManifestInvalid);
    // Two tombstones for one item.
    let f = without_blob(&w, "twice.cbb", vec![b64(&genuine), b64(&genuine)]);
    assert_eq!(reason(w.verify(&f)), Reason::ManifestInvalid);
    // Nothing was stored by any of them; the honest bundle still opens.
    assert!(w.investigator.list_cases(&CaseFilter::default()).unwrap().is_empty());
    let honest = write(&w, "honest.cbb", &p);
    assert_eq!(w.open(&honest).unwrap().outcome.as_str(), "accepted");
    assert!(w.investigator.evidence(live.id).unwrap().deleted.is_none());
}
