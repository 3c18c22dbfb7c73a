//! Generates the golden bundle vectors in tests/vectors/bundle/.
//!
//! ```sh
//! cargo run -p casebridge-trust --example gen_vectors -- tests/vectors/bundle
//! ```
//! Every run makes a new test agency (keys sealed under the passphrase in `agency/PASSPHRASE`,
//! with cheap KDF parameters: these keys protect nothing) and rewrites every vector. Each
//! vector file starts with a header saying what must happen and why; `tests/vectors.rs` in
//! this crate checks them all.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{EvidenceOptions, KdfParams, NewCase, Passphrase, Role, Store};
use casebridge_trust::bundle::{self, ExportOptions};
use casebridge_trust::{profile, Agency, SignedDoc};
use support::*;

const VECTOR_PASS: &str = "casebridge test vectors only";

struct Gen<'a> {
    out: &'a Path,
}

impl Gen<'_> {
    fn write(&self, name: &str, expect: &str, why: &str, extra: &[(&str, &str)], body: &[u8]) {
        let mut text = String::from("casebridge-test-vector v1\n");
        text.push_str(&format!("expect: {expect}\nwhy: {why}\n"));
        for (k, v) in extra {
            text.push_str(&format!("{k}: {v}\n"));
        }
        text.push_str("---\n");
        let b64 = B64.encode(body);
        for line in b64.as_bytes().chunks(76) {
            text.push_str(std::str::from_utf8(line).unwrap());
            text.push('\n');
        }
        fs::write(self.out.join(name), text).unwrap();
    }
}

fn export(store: &mut Store, agency: &Agency, cred: &SignedDoc, case: uuid::Uuid, seal: bool, tmp: &Path, name: &str) -> Vec<u8> {
    let out = tmp.join(name);
    let public = agency.public().clone();
    bundle::export(
        store,
        &ExportOptions {
            case,
            since: None,
            agency: &public,
            credential: cred,
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
    fs::read(out).unwrap()
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "tests/vectors/bundle".into());
    let out = Path::new(&out);
    if out.exists() {
        fs::remove_dir_all(out).unwrap();
    }
    fs::create_dir_all(out).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let pass = Passphrase::new(VECTOR_PASS);
    let agency_dir = out.join("agency");
    let agency = Agency::init(&agency_dir, "Vector Test Agency", &pass, KdfParams::INSECURE_FOR_TESTS).unwrap();
    fs::write(agency_dir.join("PASSPHRASE"), format!("{VECTOR_PASS}\n")).unwrap();
    let other = Agency::init(&t.join("other"), "Another Agency", &pass, KdfParams::INSECURE_FOR_TESTS).unwrap();
    let g = Gen { out };

    let century = chrono::Duration::days(36500);
    // The sender of case bundles is an investigator: a volunteer may send only submissions to
    // briefs (the contribution policy, checked on every open; see volunteer-case-events.vec).
    let mut vol =
        Store::create(&t.join("vol"), &Passphrase::new(PASS), "Ida Investigator", Role::Investigator, KdfParams::INSECURE_FOR_TESTS)
            .unwrap();
    let cred = enrol(&mut vol, &agency, &agency_dir, Role::Investigator, century);
    let req = profile::request_credential(&vol);
    let (_, other_cred, _) = other.issue(&req, Role::Investigator, None, century).unwrap();
    let case = vol.create_case(NewCase { title: "Sighting near the canal".into(), ..Default::default() }).unwrap();
    vol.add_note(case, "two people, one bicycle").unwrap();
    for (i, len) in [3000, 2000].into_iter().enumerate() {
        let p = t.join(format!("e{i}"));
        fs::write(&p, bytes(len, 40 + i as u64)).unwrap();
        vol.add_evidence(case, &p, &EvidenceOptions::default(), &mut |_| true).unwrap();
    }

    // Public file before any revocation (version 1), kept for the rollback vector.
    let public_v1 = Agency::public_file(&agency_dir).unwrap();

    let valid = export(&mut vol, &agency, &cred, case, true, t, "valid");
    g.write(
        "valid.vec",
        "accept",
        "a well-formed bundle, signed by an enrolled investigator and sealed to this agency",
        &[("action", "open")],
        &valid,
    );
    g.write(
        "replay.vec",
        "duplicate",
        "the same bundle a second time: a no-op, never a duplicate",
        &[("action", "open"), ("setup", "open valid.vec")],
        &valid,
    );

    let plain = unseal(&agency, &valid);
    let pl = split(&plain);
    let manifest_at = 112;
    let mut q = plain.clone();
    q[manifest_at + pl.manifest.len() / 2] ^= 0x04;
    g.write(
        "flip-manifest.vec",
        "reject bad_signature",
        "one bit of the manifest flipped: the sender's signature covers the exact manifest bytes",
        &[],
        &seal_to(&agency, &q),
    );
    let mut q = plain.clone();
    q[44 + 10] ^= 0x01;
    g.write("flip-signature.vec", "reject bad_signature", "one bit of the signature flipped", &[], &seal_to(&agency, &q));
    let mut q = valid.clone();
    let n = q.len();
    q[n - 5000] ^= 0x10;
    g.write("flip-payload.vec", "reject seal_damaged", "one bit of the sealed payload flipped: the age STREAM tag fails", &[], &q);
    g.write(
        "truncated.vec",
        "reject truncated",
        "the plain stream ends 40 bytes early, then was sealed properly",
        &[],
        &seal_to(&agency, &plain[..plain.len() - 40]),
    );

    let (fr, tail) = frames(&pl.rest);
    let mut tampered = fr.clone();
    tampered[0].2[7] ^= 0x80;
    g.write(
        "blob-tampered.vec",
        "reject blob_hash_mismatch",
        "one content byte changed: the blob no longer matches its SHA-256 in the signed manifest",
        &[],
        &seal_to(&agency, &join(&Plain { rest: unframe(&tampered, &tail), ..split(&plain) })),
    );

    g.write("wrong-recipient.vec", "reject sealed_to_other_agency", "sealed to another agency's X25519 key", &[], &seal_to(&other, &plain));
    let to_other = export(&mut vol, &other, &other_cred, case, true, t, "to-other");
    g.write(
        "resealed.vec",
        "reject recipient_mismatch",
        "a bundle for another agency, opened there and re-sealed to this one: the signed manifest names the other agency",
        &[],
        &seal_to(&agency, &unseal(&other, &to_other)),
    );
    let foreign = export(&mut vol, &agency, &other_cred, case, true, t, "foreign");
    g.write("unknown-signer.vec", "reject unknown_signer", "the sender's credential was issued by another agency", &[], &foreign);

    let (_, short, _) = agency.issue(&req, Role::Investigator, None, chrono::Duration::seconds(1)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let expired = export(&mut vol, &agency, &short, case, true, t, "expired");
    g.write(
        "credential-expired.vec",
        "reject credential_expired",
        "the credential's validity ended before the bundle was signed",
        &[],
        &expired,
    );

    let mut huge = split(&plain);
    resign(&vol, &mut huge, |m| {
        m.blobs[0].size = 1 << 62;
        m.blobs[0].chunks = (1u64 << 62).div_ceil(1 << 20);
    });
    g.write(
        "declared-size-2-62.vec",
        "reject declared_size_too_large",
        "a blob declares 2^62 bytes; rejected before anything is allocated",
        &[],
        &seal_to(&agency, &join(&huge)),
    );
    let mut missing = split(&plain);
    resign(&vol, &mut missing, |m| {
        m.blobs.remove(1);
    });
    missing.rest = unframe(&fr[..1], &tail);
    g.write(
        "blob-missing.vec",
        "reject blob_missing",
        "an evidence event names content the bundle does not carry",
        &[],
        &seal_to(&agency, &join(&missing)),
    );
    g.write("not-a-bundle.vec", "reject not_a_bundle", "arbitrary bytes", &[], b"GIF89a this is not a bundle");

    // Sequence: bundle 2, then bundle 1 again (rolled back), then a bundle 3 with a wrong link.
    let seq2 = export(&mut vol, &agency, &cred, case, true, t, "seq2");
    g.write("sequence-2.vec", "accept", "the sender's second bundle (sequence 2)", &[("action", "open")], &seq2);
    g.write(
        "sequence-rollback.vec",
        "reject sequence_rollback",
        "sequence 1 presented after sequence 2 was received",
        &[("action", "open"), ("setup", "open sequence-2.vec")],
        &valid,
    );
    let seq3 = unseal(&agency, &export(&mut vol, &agency, &cred, case, true, t, "seq3"));
    let mut bad3 = split(&seq3);
    resign(&vol, &mut bad3, |m| m.prev_bundle = "ab".repeat(32));
    g.write(
        "chain-broken.vec",
        "reject chain_broken",
        "sequence 3 does not name the hash of sequence 2 as its predecessor",
        &[("action", "open"), ("setup", "open valid.vec; open sequence-2.vec")],
        &seal_to(&agency, &join(&bad3)),
    );

    // A volunteer's bundle of case events (not a submission to a brief): refused on open.
    let mut volunteer =
        Store::create(&t.join("volunteer"), &Passphrase::new(PASS), "Vera Volunteer", Role::Volunteer, KdfParams::INSECURE_FOR_TESTS)
            .unwrap();
    let volunteer_cred = enrol(&mut volunteer, &agency, &agency_dir, Role::Volunteer, century);
    let vcase = volunteer.create_case(NewCase { title: "My own case".into(), ..Default::default() }).unwrap();
    let vbundle = export(&mut volunteer, &agency, &volunteer_cred, vcase, true, t, "volunteer-case");
    g.write(
        "volunteer-case-events.vec",
        "reject forbidden",
        "a volunteer may send only submissions to briefs; this bundle carries a case of its own (the contribution policy applies to every open)",
        &[("action", "open")],
        &vbundle,
    );

    // Revocation: a second volunteer enrolled, then revoked.
    let mut rev =
        Store::create(&t.join("rev"), &Passphrase::new(PASS), "Rex Revoked", Role::Volunteer, KdfParams::INSECURE_FOR_TESTS).unwrap();
    let rev_cred = enrol(&mut rev, &agency, &agency_dir, Role::Volunteer, century);
    let rcase = rev.create_case(NewCase { title: "x".into(), ..Default::default() }).unwrap();
    let revoked = export(&mut rev, &agency, &rev_cred, rcase, true, t, "revoked");
    agency.revoke(rev.whoami().member_id, Some("vector".into())).unwrap();
    g.write("revoked-signer.vec", "reject signer_revoked", "the sender's key is on the agency's revocation list", &[], &revoked);
    let public_v2 = Agency::public_file(&agency_dir).unwrap();
    g.write(
        "revocation-rollback.vec",
        "reject revocation_rollback",
        "an agency public file whose revocation list (version 1) is older than the one already held (version 2)",
        &[("action", "pin"), ("setup", "pin revocation-current.json")],
        &serde_json::to_vec_pretty(&public_v1).unwrap(),
    );
    fs::write(out.join("revocation-current.json"), serde_json::to_vec_pretty(&public_v2).unwrap()).unwrap();

    // Chunk order needs a blob of more than one 1 MiB chunk: a separate case, exported last.
    let big_case = vol.create_case(NewCase { title: "Video".into(), ..Default::default() }).unwrap();
    let p = t.join("big");
    fs::write(&p, bytes(1024 * 1024 + 100, 77)).unwrap();
    vol.add_evidence(big_case, &p, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let big_plain = unseal(&agency, &export(&mut vol, &agency, &cred, big_case, true, t, "big.cbb"));
    let (fr, tail) = frames(&split(&big_plain).rest);
    let plain = big_plain;
    let mut sw = fr.clone();
    sw.swap(0, 1);
    g.write(
        "chunks-reordered.vec",
        "reject chunk_out_of_order",
        "chunks 0 and 1 of blob 0 swapped: each frame carries its blob and chunk index",
        &[],
        &seal_to(&agency, &join(&Plain { rest: unframe(&sw, &tail), ..split(&plain) })),
    );
    let mut dup = fr.clone();
    dup.insert(1, fr[0].clone());
    g.write(
        "chunk-duplicated.vec",
        "reject chunk_out_of_order",
        "chunk 0 of blob 0 sent twice",
        &[],
        &seal_to(&agency, &join(&Plain { rest: unframe(&dup, &tail), ..split(&plain) })),
    );
    println!("wrote vectors to {}", out.display());
}
