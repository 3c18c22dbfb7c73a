//! What the content says, not what the name says: the media type is sniffed from the bytes,
//! and a JPEG's EXIF capture time, GPS position and camera are extracted. The JPEG is built
//! with `casebridge_core::exif_write` (SOI, an APP1 "Exif" segment holding a little-endian
//! TIFF, EOI).

use casebridge_core::exif_write::{ascii, ifd, jpeg_with_tiff, long, rationals, tiff};
use chrono::DateTime;
use serde_json::Value;

use crate::harness::{s, str_field, Profile};

/// A JPEG carrying Make, Model, DateTimeOriginal (and OffsetTimeOriginal when given) and a
/// GPS position in degrees, minutes and (ten-thousandths of) seconds.
fn jpeg_with_exif(
    make: &str,
    model: &str,
    taken: &str,
    offset: Option<&str>,
    lat: (u32, u32, u32, &str),
    lon: (u32, u32, u32, &str),
) -> Vec<u8> {
    let ifd0 = |exif_at: u32, gps_at: u32| vec![ascii(0x010F, make), ascii(0x0110, model), long(0x8769, exif_at), long(0x8825, gps_at)];
    let exif = || {
        let mut v = vec![ascii(0x9003, taken)];
        if let Some(o) = offset {
            v.push(ascii(0x9011, o));
        }
        v
    };
    let gps = || {
        vec![
            ascii(0x0001, lat.3),
            rationals(0x0002, &[(lat.0, 1), (lat.1, 1), (lat.2, 10_000)]),
            ascii(0x0003, lon.3),
            rationals(0x0004, &[(lon.0, 1), (lon.1, 1), (lon.2, 10_000)]),
        ]
    };
    // Sizes do not depend on the pointer values: lay out once to find the offsets.
    let exif_at = 8 + ifd(ifd0(0, 0), 8).len() as u32;
    let gps_at = exif_at + ifd(exif(), exif_at).len() as u32;
    let tiff = tiff(&[ifd(ifd0(exif_at, gps_at), 8), ifd(exif(), exif_at), ifd(gps(), gps_at)]);
    jpeg_with_tiff(&tiff).expect("a small TIFF fits in one segment")
}

fn degrees(d: u32, m: u32, s_e4: u32) -> f64 {
    f64::from(d) + f64::from(m) / 60.0 + f64::from(s_e4) / 10_000.0 / 3600.0
}

#[track_caller]
fn assert_close(v: &Value, expected: f64, what: &str) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{what} should be a number, got {v}"));
    assert!((got - expected).abs() < 1e-6, "{what}: got {got}, expected {expected}");
}

#[track_caller]
fn assert_time(v: &Value, expected: &str) {
    let got = DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("captured_at should be a string, got {v}")))
        .unwrap_or_else(|e| panic!("captured_at {v} is not RFC 3339: {e}"));
    let want = DateTime::parse_from_rfc3339(expected).expect("expected time");
    assert_eq!(got, want, "captured_at instant");
    assert_eq!(got.offset(), want.offset(), "captured_at offset");
}

#[test]
fn jpeg_named_txt_is_a_jpeg_with_exif_time_place_and_camera() {
    let p = Profile::new();
    let case = p.new_case("Photos");
    // Berlin, Alexanderplatz: 52°31'12.3456" N, 13°24'17.8344" E.
    let photo = p.write_file(
        "photo.txt",
        &jpeg_with_exif("Casebridge Optics", "CB-1000", "2024:03:15 14:30:05", None, (52, 31, 123_456, "N"), (13, 24, 178_344, "E")),
    );
    let added = p.json(&["evidence", "add", &case, s(&photo), "--json"]);
    assert_eq!(str_field(&added[0], "media_type"), "image/jpeg", "{added}");

    let shown = p.json(&["evidence", "show", &str_field(&added[0], "id"), "--json"]);
    assert_eq!(str_field(&shown, "media_type"), "image/jpeg");
    assert_eq!(str_field(&shown, "original_name"), "photo.txt");
    // No OffsetTimeOriginal: the camera's zone is unknown and the time is read as UTC.
    assert_time(&shown["captured_at"], "2024-03-15T14:30:05+00:00");
    assert_close(&shown["location"]["lat"], degrees(52, 31, 123_456), "latitude");
    assert_close(&shown["location"]["lon"], degrees(13, 24, 178_344), "longitude");
    assert_eq!(str_field(&shown["camera"], "make"), "Casebridge Optics");
    assert_eq!(str_field(&shown["camera"], "model"), "CB-1000");
}

#[test]
fn southern_western_position_and_time_offset() {
    let p = Profile::new();
    let case = p.new_case("Photos");
    // Rio de Janeiro: 22°54'30.0000" S, 43°11'47.5000" W, taken at 09:15 local time (-03:00).
    let photo = p.write_file(
        "IMG_0001.dat",
        &jpeg_with_exif("Other Make", "Model 2", "2023:12:31 09:15:00", Some("-03:00"), (22, 54, 300_000, "S"), (43, 11, 475_000, "W")),
    );
    let (id, _) = p.add_evidence(&case, &photo);
    let shown = p.json(&["evidence", "show", &id, "--json"]);
    assert_time(&shown["captured_at"], "2023-12-31T09:15:00-03:00");
    assert_close(&shown["location"]["lat"], -degrees(22, 54, 300_000), "latitude");
    assert_close(&shown["location"]["lon"], -degrees(43, 11, 475_000), "longitude");
}

/// What the contributor claims wins over what EXIF says, for the shown time and place.
#[test]
fn claims_override_exif_in_the_shown_time_and_place() {
    let p = Profile::new();
    let case = p.new_case("Photos");
    let photo =
        p.write_file("claimed.jpg", &jpeg_with_exif("M", "N", "2024:03:15 14:30:05", None, (52, 31, 123_456, "N"), (13, 24, 178_344, "E")));
    let added = p.json(&[
        "evidence",
        "add",
        &case,
        s(&photo),
        "--captured-at",
        "2024-03-15T15:31:00+01:00",
        "--location",
        "48.137154,11.576124",
        "--description",
        "Taken by the witness",
        "--json",
    ]);
    let shown = p.json(&["evidence", "show", &str_field(&added[0], "id"), "--json"]);
    assert_time(&shown["captured_at"], "2024-03-15T15:31:00+01:00");
    assert_close(&shown["location"]["lat"], 48.137154, "claimed latitude");
    assert_close(&shown["location"]["lon"], 11.576124, "claimed longitude");
    assert_eq!(str_field(&shown, "description"), "Taken by the witness");
    assert_eq!(str_field(&shown["camera"], "make"), "M", "the camera still comes from EXIF");
}

#[test]
fn text_named_jpg_is_sniffed_as_text() {
    let p = Profile::new();
    let case = p.new_case("Names lie");
    let file = p.write_file("x.jpg", b"Statement of the witness, taken at 21:40.\n");
    let added = p.json(&["evidence", "add", &case, s(&file), "--json"]);
    assert_eq!(str_field(&added[0], "media_type"), "text/plain", "{added}");
    let shown = p.json(&["evidence", "show", &str_field(&added[0], "id"), "--json"]);
    assert_eq!(str_field(&shown, "media_type"), "text/plain");
    assert_eq!(shown["captured_at"], Value::Null);
    assert_eq!(shown["location"], Value::Null);
    assert_eq!(shown["camera"], Value::Null);
    assert_eq!(shown["description"], Value::Null);
}
