//! Issue 12, part 6: the time, place, camera and media type in a volunteer's `evidence_added`
//! are computed by the volunteer's own client, so they are claims. The agency reads the photo
//! it received itself, signs what it read in its custody "received", and the court report sets
//! the two side by side and flags where they differ.

use casebridge_core::exif_write::{ascii, dms, ifd, jpeg_with_tiff, long, rationals, tiff};
use casebridge_core::{Camera, CustodyAction, EventKind, Extracted, GeoPoint};
use casebridge_court::report::{self, Format, ReportOptions};
use chrono::{DateTime, FixedOffset};

use super::*;

/// A JPEG whose EXIF says: taken at `taken` (`YYYY:MM:DD HH:MM:SS`) with offset `offset`, at
/// `at`, by `make` `model`. `salt` makes the bytes unique.
fn photo(taken: &str, offset: &str, at: GeoPoint, make: &str, model: &str, salt: &str) -> Vec<u8> {
    let ifd0 = |exif_at: u32, gps_at: u32| {
        vec![ascii(0x010F, make), ascii(0x0110, model), ascii(0x010E, salt), long(0x8769, exif_at), long(0x8825, gps_at)]
    };
    let exif = || vec![ascii(0x9003, taken), ascii(0x9011, offset)];
    let gps = || {
        vec![
            ascii(0x0001, if at.lat >= 0.0 { "N" } else { "S" }),
            rationals(0x0002, &dms(at.lat)),
            ascii(0x0003, if at.lon >= 0.0 { "E" } else { "W" }),
            rationals(0x0004, &dms(at.lon)),
        ]
    };
    let exif_at = 8 + ifd(ifd0(0, 0), 8).len() as u32;
    let gps_at = exif_at + ifd(exif(), exif_at).len() as u32;
    jpeg_with_tiff(&tiff(&[ifd(ifd0(exif_at, gps_at), 8), ifd(exif(), exif_at), ifd(gps(), gps_at)])).unwrap()
}

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

/// A submission of one JPEG named `name` whose `evidence_added` states `stated` (what the
/// volunteer's client "extracted") and claims `claimed_at` / `claimed_place`.
fn photo_submission(
    w: &World,
    evidence: Uuid,
    bytes: &[u8],
    name: &str,
    stated: Extracted,
    claimed_at: Option<DateTime<FixedOffset>>,
    claimed_place: Option<GeoPoint>,
) -> Vec<EventKind> {
    let mut kinds = submission(w, evidence, &sha(bytes), bytes.len() as u64, vec![evidence], Uuid::now_v7());
    if let EventKind::EvidenceAdded { media_type, original_name, claimed_captured_at, claimed_location, extracted, .. } = &mut kinds[0] {
        *media_type = "image/jpeg".into();
        *original_name = name.into();
        *claimed_captured_at = claimed_at;
        *claimed_location = claimed_place;
        *extracted = stated;
    }
    kinds
}

/// The `received` custody the agency recorded for `evidence`, and what it read.
fn received(store: &Store, evidence: Uuid) -> casebridge_core::Observed {
    let custody = store.custody(evidence).unwrap();
    let r: Vec<_> = custody.iter().filter(|c| c.action == CustodyAction::Received).collect();
    assert_eq!(r.len(), 1, "{custody:?}");
    assert_eq!(r[0].actor, store.whoami().member_id, "recorded and signed by the agency's store");
    r[0].observed.clone().expect("the agency's received custody carries what it read from the content")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volunteers_stated_exif_is_checked_against_the_photo_the_agency_received() {
    let mut w = world().await;
    let real_place = GeoPoint::new(53.5453, 9.9666).unwrap(); // Hafenstrasse, Hamburg
    let real_time = t("2026-03-14T23:41:05+01:00");
    let bytes = photo("2026:03:14 23:41:05", "+01:00", real_place, "Canon", "EOS R6", "lie");
    // Attack: the volunteer's client states another time, place and camera than the photo's
    // EXIF says, both in `extracted` and in the claims.
    let fake_place = GeoPoint::new(48.1372, 11.5755).unwrap(); // Munich
    let fake_time = t("2026-03-20T10:00:00+01:00");
    let lie = Uuid::now_v7();
    let mut kinds = photo_submission(
        &w,
        lie,
        &bytes,
        "harbour-lie.jpg",
        Extracted {
            captured_at: Some(fake_time),
            location: Some(fake_place),
            camera: Some(Camera { make: Some("Apple".into()), model: Some("iPhone 15".into()) }),
        },
        Some(fake_time),
        Some(fake_place),
    );
    // Control: an honest photo whose statement is what its EXIF says (the claim 30 s and a few
    // metres off, within the tolerances).
    let honest_place = GeoPoint::new(53.5460, 9.9670).unwrap();
    let honest_bytes = photo("2026:03:14 23:50:00", "+01:00", honest_place, "Canon", "EOS R6", "honest");
    let honest = Uuid::now_v7();
    let honest_stated = casebridge_core::metadata::extract_from(std::io::Cursor::new(&honest_bytes), "image/jpeg");
    assert!(honest_stated.captured_at.is_some() && honest_stated.camera.is_some(), "the test photo carries EXIF");
    kinds.extend(photo_submission(
        &w,
        honest,
        &honest_bytes,
        "harbour-honest.jpg",
        honest_stated.clone(),
        Some(t("2026-03-14T23:50:30+01:00")),
        Some(GeoPoint::new(53.54602, 9.96705).unwrap()),
    ));
    let events = chain(&w.vol.store, 100, kinds);
    let (id, upload_bytes) =
        Bundle::new(w.vol.id, &w.vol.credential, events, vec![bytes.clone(), honest_bytes.clone()]).write(&w.vol.store, &w.public);
    let done: UploadOutcome = ok(upload(&w.env, &w.vol_token, id, &upload_bytes).await).await;
    assert_eq!((done.outcome.as_str(), done.events_added), ("accepted", 6));
    w.env.stop().await;
    let mut store = agency_store(&w.env);

    // The agency's own reading, signed in its custody "received": the photo's real EXIF.
    let seen = received(&store, lie);
    assert_eq!(seen.media_type, "image/jpeg");
    assert_eq!(seen.extracted.captured_at, Some(real_time));
    assert_eq!(seen.extracted.camera, Some(Camera { make: Some("Canon".into()), model: Some("EOS R6".into()) }));
    let at = seen.extracted.location.expect("the photo's GPS");
    assert!((at.lat - real_place.lat).abs() < 1e-4 && (at.lon - real_place.lon).abs() < 1e-4, "{at:?}");
    // The volunteer's statement is kept as stated (it is theirs), not overwritten.
    let stated = store.evidence(lie).unwrap();
    assert_eq!(stated.extracted.captured_at, Some(fake_time));
    // The honest photo's reading equals its statement.
    assert_eq!(received(&store, honest).extracted, honest_stated);

    // The court report shows both and flags the lie only.
    let opts = ReportOptions { format: Format::Html, reason: Some("issue 12 metadata".into()) };
    let html = String::from_utf8(report::render(&mut store, w.case, &opts, &mut |_| true).unwrap().bytes).unwrap();
    let flags: Vec<&str> = html.match_indices("METADATA MISMATCH").map(|(i, _)| &html[i..(i + 1200).min(html.len())]).collect();
    assert_eq!(flags.len(), 1, "exactly the lying item is flagged");
    let flag = flags[0];
    for expected in
        ["capture time", "2026-03-14 23:41:05 +01:00", "2026-03-20 10:00:00 +01:00", "place", "m apart", "Canon EOS R6", "Apple iPhone 15"]
    {
        assert!(flag.contains(expected), "the flag names {expected}: {flag}");
    }
    // The flag sits in the lying item's section, and the honest one's says they agree.
    let section = |name: &str| {
        let start = html.find(&format!("{name}</h3>")).unwrap();
        let end = html[start..].find("<h3>").map_or(html.len(), |e| start + e);
        &html[start..end]
    };
    assert!(section("harbour-lie.jpg").contains("METADATA MISMATCH"));
    let honest_section = section("harbour-honest.jpg");
    assert!(honest_section.contains("agree (times within 60 s"), "{honest_section}");
    for label in [
        "Capture time (agency)",
        "Place (agency)",
        "Camera (agency)",
        "Media type (agency)",
        "Claimed capture time",
        "Capture time (stated EXIF)",
    ] {
        assert!(honest_section.contains(label), "both readings are shown: {label}");
    }
    assert!(section("informant.txt").contains("Not read by the agency"), "the staff item says it has no agency reading");
}
