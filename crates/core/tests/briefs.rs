//! Briefs and submissions across real stores: what a store reads from the content it holds,
//! and custody events written before and after `observed`. (The loop between investigators
//! and volunteers through the endpoint's access rules is tested with those rules, in
//! crates/agency/src/access/tests.rs.)
#![allow(clippy::unwrap_used)]

use casebridge_core::{CustodyAction, EventKind, Role, Store};

fn store(tmp: &tempfile::TempDir, name: &str, role: Role) -> Store {
    casebridge_testkit::fixtures::new_store(&tmp.path().join(name), name, role)
}

/// The recipient's own reading of content it holds (issue 12): equal to reading the file, for
/// real phone photos; only the head of large non-images is read; nothing is written unsealed.
#[test]
fn a_store_reads_the_content_it_holds_as_the_file_says() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = store(&tmp, "agency", Role::Supervisor);
    let photos = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/photos");
    let mut n = 0;
    for entry in std::fs::read_dir(&photos).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("jpg") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let sha = casebridge_core::to_hex(&casebridge_core::sha256(&bytes));
        s.import_content(&mut bytes.as_slice(), &sha, bytes.len() as u64, &mut |_| true).unwrap();
        let seen = s.observe_content(&sha, bytes.len() as u64).unwrap();
        let media = casebridge_core::metadata::sniff_media_type(&casebridge_core::metadata::read_head(&path).unwrap());
        assert_eq!(seen.media_type, media);
        assert_eq!(seen.extracted, casebridge_core::metadata::extract(&path, &media), "{}", path.display());
        assert!(seen.extracted.location.is_some(), "{}: the vectors carry GPS", path.display());
        n += 1;
    }
    assert_eq!(n, 3);
    // A large non-image: sniffed from its head, no EXIF looked for.
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let sha = casebridge_core::to_hex(&casebridge_core::sha256(&big));
    s.import_content(&mut big.as_slice(), &sha, big.len() as u64, &mut |_| true).unwrap();
    let seen = s.observe_content(&sha, big.len() as u64).unwrap();
    assert_eq!((seen.media_type.as_str(), seen.extracted), ("application/octet-stream", casebridge_core::Extracted::default()));
    // Content not held is an error, not an empty reading.
    assert!(s.observe_content(&"ab".repeat(32), 10).is_err());
}

/// Observing content while it streams in (`ContentObserver`, what bundle verification does on
/// the way into the store, issue 15) reads exactly what reading the stored object back reads,
/// whatever the pieces it is fed in: photos with EXIF, a large non-image, a text shorter than
/// the sniffed head, and an image larger than the head but split across it.
#[test]
fn observing_content_as_it_streams_in_equals_reading_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = store(&tmp, "agency", Role::Supervisor);
    let photos = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/photos");
    let mut contents: Vec<Vec<u8>> = std::fs::read_dir(&photos)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("jpg"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(contents.len(), 3);
    contents.push((0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect());
    contents.push(b"a short note".to_vec());
    contents.push(Vec::new());
    for bytes in &contents {
        let sha = casebridge_core::to_hex(&casebridge_core::sha256(bytes));
        s.import_content(&mut bytes.as_slice(), &sha, bytes.len() as u64, &mut |_| true).unwrap();
        let back = s.observe_content(&sha, bytes.len() as u64).unwrap();
        for piece in [1usize, 7, 4096, 1 << 20, usize::MAX] {
            let mut o = casebridge_core::ContentObserver::new(bytes.len() as u64);
            for part in bytes.chunks(piece.min(bytes.len().max(1))) {
                o.feed(part);
            }
            let streamed = o.finish();
            assert_eq!(streamed.media_type, back.media_type, "{} bytes in pieces of {piece}", bytes.len());
            assert_eq!(streamed.extracted, back.extracted, "{} bytes in pieces of {piece}", bytes.len());
        }
    }
    // The photos' EXIF is really read on the way in (the comparison is not of two empties).
    let mut o = casebridge_core::ContentObserver::new(contents[0].len() as u64);
    o.feed(&contents[0]);
    assert!(o.finish().extracted.location.is_some(), "the vectors carry GPS");
}

/// Custody events written before `observed` existed still parse, and events without it are
/// written byte for byte as before (the field is left out, not `null`): old signatures hold.
#[test]
fn custody_without_observed_parses_and_is_written_as_before() {
    let old = r#"{"type":"custody_recorded","evidence_id":"0190b5a0-0000-7000-8000-000000000001","action":"received","reason":null,"sha256":"ab"}"#;
    let kind: EventKind = serde_json::from_str(old).unwrap();
    assert!(matches!(&kind, EventKind::CustodyRecorded { observed: None, action: CustodyAction::Received, .. }));
    assert_eq!(serde_json::to_string(&kind).unwrap(), old);
    let new = r#"{"type":"custody_recorded","evidence_id":"0190b5a0-0000-7000-8000-000000000001","action":"received","reason":null,"sha256":"ab","observed":{"media_type":"image/jpeg","extracted":{"captured_at":"2026-03-14T09:30:00+01:00","location":{"lat":52.5298,"lon":13.4015},"camera":{"make":"Canon","model":"EOS R6"}}}}"#;
    let kind: EventKind = serde_json::from_str(new).unwrap();
    let EventKind::CustodyRecorded { observed: Some(o), .. } = &kind else { panic!("{kind:?}") };
    assert_eq!(o.extracted.camera.as_ref().and_then(|c| c.make.as_deref()), Some("Canon"));
    assert_eq!(serde_json::to_string(&kind).unwrap(), new);
}
