//! Bounded fuzzing of every parser that reads untrusted bytes (bundles, signed documents,
//! agency public files, event envelopes), on stable Rust with proptest: arbitrary bytes and
//! mutations of valid inputs must give an error, never a panic, a hang or a huge allocation.
//! The case count is fixed so CI time is bounded (about 10 s); raise PROPTEST_CASES to dig.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::OnceLock;

use casebridge_trust::bundle::{self, Anchor};
use casebridge_trust::{AgencyPublicFile, Credential, SignedDoc};
use proptest::prelude::*;
use support::*;

struct Fixture {
    world: World,
    plain: Vec<u8>,
    sealed: Vec<u8>,
    credential: Vec<u8>,
}

// The world holds a TempDir and stores; tests only read from it.
fn fixture() -> &'static std::sync::Mutex<Fixture> {
    static F: OnceLock<std::sync::Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let mut world = world();
        let plain = std::fs::read(world.export("plain.cbb", false)).unwrap();
        let sealed = std::fs::read(world.export("sealed.cbb", true)).unwrap();
        let public = world.agency.public().clone();
        let (_, cred) = casebridge_trust::profile::credential(&world.sender, &public).unwrap().unwrap();
        std::sync::Mutex::new(Fixture { world, plain, sealed, credential: cred.to_bytes() })
    })
}

fn verify_bytes(f: &Fixture, bytes: &[u8]) {
    let list = f.world.revocation();
    let anchor = Anchor::new(f.world.agency.public(), &list, Some(f.world.agency.sealing_identity()));
    let _ = bundle::verify_stream(bytes, &anchor, bundle::BlobSink::Check, &mut |_| true);
}

fn mutate(base: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut b = base.to_vec();
    for (pos, val) in edits {
        if !b.is_empty() {
            let i = pos % b.len();
            b[i] = *val;
        }
    }
    if let Some(c) = cut {
        b.truncate(c % (b.len() + 1));
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn bundle_parser_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096), prefix in 0u8..3) {
        let f = fixture().lock().unwrap();
        let mut input = match prefix {
            0 => Vec::new(),
            1 => bundle::BUNDLE_MAGIC.to_vec(),
            _ => b"age-encryption.org/v1\n".to_vec(),
        };
        input.extend_from_slice(&bytes);
        verify_bytes(&f, &input);
    }

    #[test]
    fn bundle_parser_survives_mutations_of_valid_bundles(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in proptest::option::of(any::<usize>()), sealed in any::<bool>()) {
        let f = fixture().lock().unwrap();
        let base = if sealed { f.sealed.clone() } else { f.plain.clone() };
        let input = mutate(&base, &edits, cut);
        verify_bytes(&f, &input);
    }

    #[test]
    fn document_parsers_survive_arbitrary_and_mutated_input(bytes in proptest::collection::vec(any::<u8>(), 0..2048), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let f = fixture().lock().unwrap();
        let root = f.world.agency.public().root_key_bytes().unwrap();
        let id = f.world.agency.public().agency_id;
        for input in [bytes.clone(), mutate(&f.credential, &edits, None)] {
            if let Ok(doc) = SignedDoc::parse(&input) {
                let _ = Credential::verify(&doc, &root, id);
            }
            let _ = serde_json::from_slice::<AgencyPublicFile>(&input).map(|p| p.verify());
            let _ = casebridge_core::SignedEvent::from_envelope(input.clone());
        }
    }
}
