//! Issue 17: redaction from the desktop's session. A real phone photo (an iPhone 4S JPEG with
//! GPS, from `tests/vectors/photos`) is redacted: the copy is a new item whose provenance names
//! the original, its pixels inside the region differ, it carries no EXIF, and the original is
//! unchanged. Every crafted request is refused with its own code, and nothing is stored then.

use std::path::PathBuf;

use casebridge_app::court::{PixelRegion, RedactMode, RedactRequest};
use casebridge_app::{AppError, Role, Session};
use casebridge_core::{sha256, to_hex};
use uuid::Uuid;

use crate::{unlocked, Env};

/// The real photo: 180x135, EXIF from an Apple iPhone 4S with a GPS position.
fn photo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/photos/iphone4s-sanfrancisco.jpg")
}

const EXIF_APP1: &[u8] = b"Exif\0\0";

fn has(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn region(x: f64, y: f64, w: f64, h: f64) -> PixelRegion {
    PixelRegion { x, y, w, h }
}

fn request(regions: Vec<PixelRegion>, mode: RedactMode) -> RedactRequest {
    RedactRequest { regions, mode, strip_metadata: true, reason: Some("public appeal for witnesses".into()) }
}

/// Imports `path` into a new case of `env`'s profile (a supervisor's or investigator's) through
/// the store, as `casebridge evidence add` does; returns (case, item).
fn import(env: &Env, path: &std::path::Path) -> (String, String) {
    let s = &env.session;
    let case = s.case_create("Bike thefts", None, Some("BER-7".into()), vec![]).unwrap();
    let id = add(s, &case, path);
    (case, id)
}

fn add(s: &Session, case: &str, path: &std::path::Path) -> String {
    let case = Uuid::parse_str(case).unwrap();
    s.with_store(|st| Ok(st.add_evidence(case, path, &casebridge_core::EvidenceOptions::default(), &mut |_| true)?.id)).unwrap().to_string()
}

/// The item's content, read back (authenticated and re-hashed by the store).
fn content(s: &Session, id: &str) -> Vec<u8> {
    s.with_store(|st| {
        let v = st.evidence(Uuid::parse_str(id).unwrap())?;
        let mut out = Vec::new();
        st.read_content(&v.sha256, v.size, &mut out, &mut |_| true)?;
        Ok(out)
    })
    .unwrap()
}

/// What must not change when a redaction is refused: the case's items, the original's custody
/// trail, the case's access log, the journal's length. Read from the store directly: the
/// session's own views of them are logged, which would change the log.
fn state(s: &Session, case: &str, id: &str) -> (usize, usize, usize, u64) {
    let (case, id) = (Uuid::parse_str(case).unwrap(), Uuid::parse_str(id).unwrap());
    s.with_store(|st| Ok((st.list_evidence(case)?.len(), st.custody(id)?.len(), st.access_log(case)?.len(), st.journal_len()))).unwrap()
}

#[test]
fn a_real_photo_is_redacted_with_provenance_and_the_original_is_unchanged() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let raw = std::fs::read(photo()).unwrap();
    assert!(has(&raw, EXIF_APP1) && has(&raw, b"iPhone 4S"), "the sample carries EXIF");
    let (case, id) = import(&env, &photo());
    let original_sha = to_hex(&sha256(&raw));

    for mode in [RedactMode::Blur, RedactMode::Fill] {
        let done = s.evidence_redact(&id, &request(vec![region(20.0, 30.0, 60.0, 40.0)], mode)).unwrap();
        let word = if mode == RedactMode::Blur { "blur" } else { "fill" };
        // The provenance: the original's id and hash, the operations in order, who and when.
        let p = &done.provenance;
        assert_eq!(p.original_id.to_string(), id);
        assert_eq!(p.original_sha256, original_sha);
        assert_eq!(p.operations, ["strip-metadata".to_string(), format!("{word} 20,30,60,40")]);
        assert_eq!(p.by, s.with_store(|st| Ok(st.whoami().member_id)).unwrap());
        assert_eq!(done.by_name.as_deref(), Some("Vera Brandt"));
        assert_eq!(done.original_name, "iphone4s-sanfrancisco.jpg");
        assert_eq!(done.item.original_name, "iphone4s-sanfrancisco-redacted.jpg");
        assert_eq!(done.item.derived_from.as_ref(), Some(p), "the item carries its provenance");
        assert_eq!(done.item.media_type, "image/jpeg");

        // The copy: no EXIF at all; inside the region its pixels differ, far outside they are the
        // same picture (re-encoding aside).
        let copy_bytes = content(s, &done.item.id.to_string());
        assert_eq!(to_hex(&sha256(&copy_bytes)), done.item.sha256);
        assert!(!has(&copy_bytes, EXIF_APP1) && !has(&copy_bytes, b"iPhone"), "{mode:?}: the copy carries no EXIF");
        let (a, b) = (image::load_from_memory(&raw).unwrap().to_rgb8(), image::load_from_memory(&copy_bytes).unwrap().to_rgb8());
        assert_eq!(a.dimensions(), b.dimensions());
        let diff = |x0: u32, y0: u32, w: u32, h: u32| {
            let mut sum = 0u64;
            for y in y0..y0 + h {
                for x in x0..x0 + w {
                    let (p, q) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
                    sum += (0..3).map(|c| u64::from(p[c].abs_diff(q[c]))).sum::<u64>();
                }
            }
            sum as f64 / f64::from(w * h * 3)
        };
        let inside = diff(24, 34, 52, 32);
        let outside = diff(120, 90, 50, 40);
        assert!(inside > 10.0 && inside > outside * 3.0, "{mode:?}: inside {inside}, outside {outside}");
        if mode == RedactMode::Fill {
            assert!(b.get_pixel(50, 50).0.iter().all(|&c| c < 16), "filled black");
        }
    }

    // The original: same hash, same bytes, custody `redacted` twice, logged with the reason.
    let orig = s.evidence_list(&case).unwrap().into_iter().find(|e| e.id.to_string() == id).unwrap();
    assert_eq!(orig.sha256, original_sha);
    assert_eq!(content(s, &id), raw, "the original is never modified");
    let custody = s.evidence_custody(&id).unwrap();
    assert_eq!(custody.iter().filter(|c| c.action == casebridge_core::CustodyAction::Redacted).count(), 2);
    let log = s.with_store(|st| casebridge_app::access::access_log(st, &case)).unwrap();
    let redactions: Vec<_> = log.iter().filter(|e| e.action == "redacted").collect();
    assert_eq!(redactions.len(), 2);
    assert!(redactions.iter().all(|e| e.reason.as_deref() == Some("public appeal for witnesses")));
    // The list shows three items: the original and its two derivatives, which name it.
    let list = s.evidence_list(&case).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|e| e.derived_from.as_ref().is_some_and(|p| p.original_id.to_string() == id)).count(), 2);
}

#[test]
fn crafted_requests_are_refused_each_with_its_own_code_and_nothing_is_stored() {
    let env = unlocked(Role::Supervisor);
    let s = &env.session;
    let (case, id) = import(&env, &photo());
    let before = state(s, &case, &id);
    let refused = |id: &str, req: RedactRequest| -> AppError { s.evidence_redact(id, &req).unwrap_err() };
    let blur = |regions| request(regions, RedactMode::Blur);

    let cases: Vec<(&str, RedactRequest, &str)> = vec![
        ("a region past the right edge", blur(vec![region(150.0, 0.0, 40.0, 10.0)]), "region_outside_image"),
        ("a region starting below the image", blur(vec![region(0.0, 135.0, 10.0, 10.0)]), "region_outside_image"),
        ("a zero-size region", blur(vec![region(10.0, 10.0, 0.0, 0.0)]), "empty_region"),
        ("a zero-height region after a good one", blur(vec![region(0.0, 0.0, 10.0, 10.0), region(5.0, 5.0, 10.0, 0.0)]), "empty_region"),
        ("65 regions", blur(vec![region(0.0, 0.0, 1.0, 1.0); 65]), "too_many_regions"),
        ("a negative x", blur(vec![region(-1.0, 0.0, 10.0, 10.0)]), "bad_region"),
        ("a fractional width", blur(vec![region(0.0, 0.0, 10.5, 10.0)]), "bad_region"),
        ("a width beyond 32 bits", blur(vec![region(0.0, 0.0, 1e10, 10.0)]), "bad_region"),
        ("a NaN", blur(vec![region(f64::NAN, 0.0, 10.0, 10.0)]), "bad_region"),
        ("a huge region that would overflow x + w", blur(vec![region(100.0, 0.0, f64::from(u32::MAX), 1.0)]), "region_outside_image"),
        (
            "nothing at all",
            RedactRequest { regions: vec![], mode: RedactMode::Blur, strip_metadata: false, reason: None },
            "nothing_to_redact",
        ),
    ];
    for (what, req, code) in cases {
        let e = refused(&id, req);
        assert_eq!(e.code, code, "{what}: {}", e.message);
        assert!(e.message.contains("nothing was added"), "{what}: {}", e.message);
        assert_eq!(state(s, &case, &id), before, "{what}: nothing stored");
    }

    // Not an image: a text file, and an unknown id.
    let text = env.tmp.path().join("statement.txt");
    std::fs::write(&text, b"I saw a white van at 21:40.\n").unwrap();
    let text_id = add(s, &case, &text);
    let before = state(s, &case, &text_id);
    let e = refused(&text_id, blur(vec![region(0.0, 0.0, 1.0, 1.0)]));
    assert_eq!(e.code, "not_an_image", "{}", e.message);
    assert!(!e.message.contains("white van"), "no content in errors");
    assert_eq!(state(s, &case, &text_id), before);
    assert_eq!(refused(&Uuid::now_v7().to_string(), blur(vec![])).code, "unknown_evidence");

    // A deleted (tombstoned) item: its content is gone.
    let gone = add(s, &case, &photo().with_file_name("iphone4s-oakland.jpg"));
    s.with_store(|st| {
        let e = st.evidence(Uuid::parse_str(&gone).unwrap())?;
        let t = casebridge_core::Tombstone {
            id: Uuid::new_v4(),
            agency_id: Uuid::new_v4(),
            evidence_id: e.id,
            case_id: e.case_id,
            sha256: e.sha256,
            rule: "rejected-30d".into(),
            reason: None,
            deleted_at: chrono::DateTime::parse_from_rfc3339("2026-05-01T10:00:00+02:00").unwrap(),
        };
        st.apply_tombstones(vec![(t, "ZG9j".into())])?;
        Ok(())
    })
    .unwrap();
    let before = state(s, &case, &gone);
    let e = refused(&gone, blur(vec![region(0.0, 0.0, 10.0, 10.0)]));
    assert_eq!(e.code, "evidence_deleted", "{}", e.message);
    assert!(e.message.contains("rejected-30d"), "{}", e.message);
    assert_eq!(state(s, &case, &gone), before);

    // Locked: nothing is reached.
    s.lock();
    assert_eq!(refused(&id, blur(vec![region(0.0, 0.0, 10.0, 10.0)])).code, "locked");
}

#[test]
fn a_volunteer_may_not_redact_from_the_desktop() {
    let env = unlocked(Role::Volunteer);
    let s = &env.session;
    // A volunteer's own material (a store-level case, as their submissions keep it).
    let case = s.with_store(|st| Ok(st.create_case(casebridge_core::NewCase { title: "mine".into(), ..Default::default() })?)).unwrap();
    let id = add(s, &case.to_string(), &photo());
    let items = |s: &Session| s.with_store(|st| Ok(st.list_evidence(case)?.len())).unwrap();
    let custody = |s: &Session| s.evidence_custody(&id).unwrap().len();
    let before = (items(s), custody(s));
    let e = s.evidence_redact(&id, &request(vec![region(0.0, 0.0, 10.0, 10.0)], RedactMode::Fill)).unwrap_err();
    assert_eq!(e.code, "not_allowed", "{}", e.message);
    assert_eq!((items(s), custody(s)), before, "nothing stored");
}
