//! Provable redaction against a real store: a JPEG carrying GPS, camera make and model, a body
//! serial number and a maker note is redacted (metadata stripped, one region blurred); the copy
//! carries no EXIF at all, the region is unreadable while the rest is unchanged, its signed
//! provenance names the original, and the original is untouched. Bad input adds nothing.
//!
//! The image crate cannot write EXIF into a JPEG, so the test images are encoded by it and an
//! APP1 "Exif" segment (a little-endian TIFF made with `casebridge_core::exif_write`) is
//! spliced in right after SOI.

#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::path::Path;

use casebridge_core::exif_write::{ascii, ifd, long, rationals, short, splice_exif, tiff, undefined};
use casebridge_core::{sha256, to_hex, CustodyAction, EvidenceOptions, NewCase, Passphrase, Role, Store};
use casebridge_court::redact::{redact, RedactError, RedactOptions, Region, RegionMode, MAX_REGIONS};
use casebridge_testkit::fixtures::{new_store, PASS};
use image::{DynamicImage, GenericImageView, ImageEncoder, RgbImage};
use uuid::Uuid;

// ----- an EXIF block ---------------------------------------------------------------------------

const MAKE: &str = "Casebridge Optics";
const MODEL: &str = "CB-1000";
const SERIAL: &str = "SN-0042-7731-XQ";
const MAKER_NOTE: &[u8] = b"CBMAKERNOTE:owner=Erika Mustermann;lens=77";

/// A TIFF block: Make, Model (and Orientation when given) in IFD0; DateTimeOriginal,
/// BodySerialNumber and a MakerNote in the Exif IFD; 52°31'12.3456" N 13°24'17.8344" E.
fn exif_block(orientation: Option<u16>) -> Vec<u8> {
    let ifd0 = |exif_at: u32, gps_at: u32| {
        let mut v = vec![ascii(0x010F, MAKE), ascii(0x0110, MODEL), long(0x8769, exif_at), long(0x8825, gps_at)];
        if let Some(o) = orientation {
            v.push(short(0x0112, o));
        }
        v
    };
    let exif = || vec![ascii(0x9003, "2024:03:15 14:30:05"), ascii(0xA431, SERIAL), undefined(0x927C, MAKER_NOTE)];
    let gps = || {
        vec![
            ascii(0x0001, "N"),
            rationals(0x0002, &[(52, 1), (31, 1), (123_456, 10_000)]),
            ascii(0x0003, "E"),
            rationals(0x0004, &[(13, 1), (24, 1), (178_344, 10_000)]),
        ]
    };
    let exif_at = 8 + ifd(ifd0(0, 0), 8).len() as u32;
    let gps_at = exif_at + ifd(exif(), exif_at).len() as u32;
    tiff(&[ifd(ifd0(exif_at, gps_at), 8), ifd(exif(), exif_at), ifd(gps(), gps_at)])
}

/// `jpeg` with an APP1 "Exif" segment holding `tiff` spliced in right after SOI.
fn with_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    splice_exif(jpeg, tiff).expect("a JPEG and a small TIFF")
}

// ----- test pictures ----------------------------------------------------------------------------

const W: u32 = 320;
const H: u32 = 240;
/// The region blurred: a "number plate" of sharp black and white text-like bars.
const PLATE: Region = Region { x: 40, y: 40, w: 120, h: 60 };
/// A region far from the plate: a smooth gradient that only re-encoding touches.
const FAR: Region = Region { x: 230, y: 160, w: 80, h: 70 };

fn inside(r: &Region, x: u32, y: u32) -> bool {
    x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h
}

/// A smooth gradient with a high-contrast "plate" in it.
fn picture() -> RgbImage {
    RgbImage::from_fn(W, H, |x, y| {
        if inside(&PLATE, x, y) {
            // Glyph-like strokes: 4-pixel bars broken every 10 rows.
            let ink = ((x - PLATE.x) / 4).is_multiple_of(2) && ((y - PLATE.y) / 10) % 3 != 2;
            if ink {
                image::Rgb([10, 10, 10])
            } else {
                image::Rgb([245, 245, 245])
            }
        } else {
            image::Rgb([(x * 255 / W) as u8, (y * 255 / H) as u8, 128])
        }
    })
}

fn jpeg_of(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95).encode_image(img).unwrap();
    out
}

fn png_with_exif(img: &RgbImage, tiff: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = image::codecs::png::PngEncoder::new(&mut out);
    enc.set_exif_metadata(tiff).unwrap();
    enc.write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8).unwrap();
    out
}

// ----- the store --------------------------------------------------------------------------------

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    store: Store,
    case: Uuid,
}

fn fixture(role: Role) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("profile");
    let mut store = new_store(&dir, "Det. Insp. Vera Brandt", role);
    let case = store.create_case(NewCase { title: "Hit and run, Mitte".into(), ..Default::default() }).unwrap();
    Fixture { _tmp: tmp, dir, store, case }
}

impl Fixture {
    fn import(&mut self, name: &str, bytes: &[u8]) -> Uuid {
        let path = self.dir.parent().unwrap().join(name);
        std::fs::write(&path, bytes).unwrap();
        let added = self.store.add_evidence(self.case, &path, &EvidenceOptions::default(), &mut |_: u64| true).unwrap();
        std::fs::remove_file(&path).unwrap();
        added.id
    }

    fn content(&self, id: Uuid) -> Vec<u8> {
        let v = self.store.evidence(id).unwrap();
        let mut out = Vec::new();
        self.store.read_content(&v.sha256, v.size, &mut out, &mut |_: u64| true).unwrap();
        assert_eq!(to_hex(&sha256(&out)), v.sha256, "content read back matches its recorded hash");
        out
    }

    /// Everything that must not change when a redaction is refused.
    fn state(&mut self, original: Uuid) -> (usize, usize, usize, usize) {
        (
            self.store.list_evidence(self.case).unwrap().len(),
            self.store.custody(original).unwrap().len(),
            self.store.access_log(self.case).unwrap().len(),
            self.store.log(None).unwrap().len(),
        )
    }
}

fn exif_of(bytes: &[u8]) -> Option<exif::Exif> {
    exif::Reader::new().read_from_container(&mut Cursor::new(bytes)).ok()
}

fn has(x: &exif::Exif, tag: exif::Tag) -> bool {
    x.get_field(tag, exif::In::PRIMARY).is_some()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Mean absolute difference per channel between `a` and `b` over region `r`.
fn mean_abs_diff(a: &DynamicImage, b: &DynamicImage, r: &Region) -> f64 {
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    let mut sum = 0u64;
    for y in r.y..r.y + r.h {
        for x in r.x..r.x + r.w {
            let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
            sum += p.0.iter().zip(q.0).map(|(&u, v)| u64::from(u.abs_diff(v))).sum::<u64>();
        }
    }
    sum as f64 / f64::from(r.w * r.h * 3)
}

/// Detail in region `r`: the mean absolute difference between horizontal neighbours (sharp
/// strokes are high, a smooth patch is near 0).
fn detail(img: &DynamicImage, r: &Region) -> f64 {
    let g = img.to_luma8();
    let mut sum = 0u64;
    for y in r.y..r.y + r.h {
        for x in r.x..r.x + r.w - 1 {
            sum += u64::from(g.get_pixel(x, y).0[0].abs_diff(g.get_pixel(x + 1, y).0[0]));
        }
    }
    sum as f64 / f64::from((r.w - 1) * r.h)
}

// ----- the tests --------------------------------------------------------------------------------

#[test]
fn a_redacted_jpeg_has_no_exif_an_unreadable_region_and_signed_provenance() {
    let mut f = fixture(Role::Investigator);
    let original_bytes = with_exif(&jpeg_of(&picture()), &exif_block(None));
    let original = f.import("IMG_0042.JPG", &original_bytes);
    let before = f.store.evidence(original).unwrap();
    assert_eq!(before.media_type, "image/jpeg");

    // The original carries everything that must go.
    let x = exif_of(&f.content(original)).expect("the original has EXIF");
    for tag in [
        exif::Tag::GPSLatitude,
        exif::Tag::GPSLongitude,
        exif::Tag::Make,
        exif::Tag::Model,
        exif::Tag::BodySerialNumber,
        exif::Tag::MakerNote,
    ] {
        assert!(has(&x, tag), "the original should carry {tag}");
    }
    assert!(before.extracted.location.is_some(), "the store read the original's GPS position");

    let opts = RedactOptions {
        strip_metadata: true,
        regions: vec![PLATE],
        reason: Some("public appeal for witnesses".into()),
        ..Default::default()
    };
    let added = redact(&mut f.store, original, &opts).unwrap();
    assert_eq!(added.media_type, "image/jpeg");

    // The copy: no EXIF at all, and none of the identifying bytes anywhere.
    let copy = f.content(added.id);
    assert_eq!(to_hex(&sha256(&copy)), added.sha256);
    assert_eq!(copy.len() as u64, added.size);
    assert!(exif_of(&copy).is_none(), "the redacted copy must carry no EXIF");
    for needle in [b"Exif\0\0".as_slice(), SERIAL.as_bytes(), MAKER_NOTE, MAKE.as_bytes(), MODEL.as_bytes()] {
        assert!(!contains(&copy, needle), "the copy still holds {:?}", String::from_utf8_lossy(needle));
    }

    // The plate is unreadable; far from it the picture is as it was (up to re-encoding).
    let orig_img = image::load_from_memory(&original_bytes).unwrap();
    let copy_img = image::load_from_memory(&copy).unwrap();
    assert_eq!(copy_img.dimensions(), (W, H));
    let changed = mean_abs_diff(&orig_img, &copy_img, &PLATE);
    let far = mean_abs_diff(&orig_img, &copy_img, &FAR);
    let (detail_before, detail_after) = (detail(&orig_img, &PLATE), detail(&copy_img, &PLATE));
    eprintln!(
        "plate: mean |diff| {changed:.1}, detail {detail_before:.1} -> {detail_after:.2}; far region: mean |diff| {far:.2}; sizes {} -> {} bytes",
        original_bytes.len(),
        copy.len()
    );
    assert!(changed > 60.0, "the blurred region should differ strongly: mean |diff| {changed:.1}");
    assert!(detail_after < 1.0 && detail_before > 30.0, "no strokes survive: detail {detail_before:.1} -> {detail_after:.2}");
    assert!(far < 3.0, "a far-away region should be nearly unchanged: mean |diff| {far:.2}");

    // Signed provenance points at the original, by id and hash, with every operation.
    let derived = f.store.evidence(added.id).unwrap();
    let prov = derived.derived_from.clone().expect("the copy has provenance");
    assert_eq!(prov.original_id, original);
    assert_eq!(prov.original_sha256, before.sha256);
    assert_eq!(prov.sha256, added.sha256);
    assert_eq!(prov.operations, ["strip-metadata", "blur 40,40,120,60"]);
    assert_eq!(prov.by, f.store.whoami().member_id);
    assert_eq!(derived.case_id, f.case);
    assert_eq!(derived.original_name, "IMG_0042-redacted.jpg");
    assert!(derived.extracted.location.is_none() && derived.location.is_none(), "no place on the copy");

    // The original is untouched: same record, same bytes.
    let after = f.store.evidence(original).unwrap();
    assert_eq!(after.sha256, before.sha256);
    assert!(after.derived_from.is_none());
    assert_eq!(f.content(original), original_bytes);
    let custody = f.store.custody(original).unwrap();
    assert_eq!(custody.last().unwrap().action, CustodyAction::Redacted);
    assert_eq!(custody.last().unwrap().sha256, before.sha256);
    assert_eq!(f.store.custody(added.id).unwrap()[0].action, CustodyAction::Imported);

    // Police staff's redaction is in the access log, with the reason.
    let log = f.store.access_log(f.case).unwrap();
    let entry = log.last().unwrap();
    assert_eq!(
        (entry.action.as_str(), entry.evidence_id, entry.reason.as_deref()),
        ("redacted", Some(original), Some("public appeal for witnesses"))
    );

    let report = f.store.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "check --read-data: {:?}", report.problems);
    assert_eq!(report.evidence, 2);

    // The provenance is part of the journal: it survives reopening and a rebuild.
    let Fixture { _tmp, dir, store, .. } = f;
    drop(store);
    let (store, _) = Store::rebuild(&dir, &Passphrase::new(PASS)).unwrap();
    assert_eq!(store.evidence(added.id).unwrap().derived_from.unwrap().original_sha256, before.sha256);
}

#[test]
fn metadata_alone_can_be_stripped_and_is_always_stripped() {
    let mut f = fixture(Role::Investigator);
    let original_bytes = with_exif(&jpeg_of(&picture()), &exif_block(None));
    let original = f.import("photo.txt", &original_bytes);

    // Strip only: the pixels stay (up to re-encoding), the metadata goes.
    let only = redact(&mut f.store, original, &RedactOptions { strip_metadata: true, ..Default::default() }).unwrap();
    let copy = f.content(only.id);
    assert!(exif_of(&copy).is_none());
    let whole = Region { x: 0, y: 0, w: W, h: H };
    let d = mean_abs_diff(&image::load_from_memory(&original_bytes).unwrap(), &image::load_from_memory(&copy).unwrap(), &whole);
    assert!(d < 3.0, "stripping metadata leaves the picture: mean |diff| {d:.2}");
    let v = f.store.evidence(only.id).unwrap();
    assert_eq!(v.derived_from.unwrap().operations, ["strip-metadata"]);
    assert_eq!(v.original_name, "photo-redacted.jpg", "named by the content's type, not the original's extension");

    // Blur without asking to strip: stripped anyway, and the provenance says so.
    let blurred = redact(&mut f.store, original, &RedactOptions { regions: vec![PLATE], ..Default::default() }).unwrap();
    assert!(exif_of(&f.content(blurred.id)).is_none());
    assert_eq!(f.store.evidence(blurred.id).unwrap().derived_from.unwrap().operations, ["strip-metadata", "blur 40,40,120,60"]);

    // Neither: refused.
    let before = f.state(original);
    let e = redact(&mut f.store, original, &RedactOptions::default()).unwrap_err();
    assert!(matches!(e, RedactError::NothingToDo), "{e}");
    assert_eq!(f.state(original), before);
}

#[test]
fn a_png_with_exif_gives_a_png_without() {
    let mut f = fixture(Role::Supervisor);
    let bytes = png_with_exif(&picture(), exif_block(None));
    assert!(exif_of(&bytes).is_some_and(|x| has(&x, exif::Tag::BodySerialNumber)), "the PNG carries EXIF");
    let original = f.import("scan.png", &bytes);
    let added =
        redact(&mut f.store, original, &RedactOptions { strip_metadata: true, regions: vec![PLATE], reason: None, ..Default::default() })
            .unwrap();
    assert_eq!(added.media_type, "image/png");
    let copy = f.content(added.id);
    assert!(exif_of(&copy).is_none());
    assert!(!contains(&copy, SERIAL.as_bytes()) && !contains(&copy, MAKER_NOTE));
    // PNG is lossless: outside the region every pixel is exactly as it was.
    let (a, b) = (image::load_from_memory(&bytes).unwrap().to_rgb8(), image::load_from_memory(&copy).unwrap().to_rgb8());
    for (x, y, p) in b.enumerate_pixels() {
        if !inside(&PLATE, x, y) {
            assert_eq!(p, a.get_pixel(x, y), "({x},{y}) outside the region changed");
        }
    }
    assert_eq!(f.store.evidence(added.id).unwrap().original_name, "scan-redacted.png");
    assert!(f.store.check(true, &mut |_| {}).unwrap().ok);
}

/// A photo taken with the camera on its side is stored sideways with EXIF Orientation 6; the
/// copy has no EXIF to say so, so it is turned upright and the provenance records that.
#[test]
fn a_sideways_photo_is_turned_upright() {
    let mut f = fixture(Role::Investigator);
    let original = f.import("side.jpg", &with_exif(&jpeg_of(&picture()), &exif_block(Some(6))));
    let added = redact(&mut f.store, original, &RedactOptions { strip_metadata: true, ..Default::default() }).unwrap();
    let copy = image::load_from_memory(&f.content(added.id)).unwrap();
    assert_eq!(copy.dimensions(), (H, W), "rotated 90 degrees clockwise");
    assert_eq!(f.store.evidence(added.id).unwrap().derived_from.unwrap().operations, ["strip-metadata", "apply-orientation 6"]);
    // Regions are in the upright picture: the full upright width is fine, the stored one is not.
    assert!(
        redact(&mut f.store, original, &RedactOptions { regions: vec![Region { x: 0, y: 0, w: H, h: W }], ..Default::default() }).is_ok()
    );
    assert!(
        redact(&mut f.store, original, &RedactOptions { regions: vec![Region { x: 0, y: 0, w: W, h: H }], ..Default::default() }).is_err()
    );
}

#[test]
fn bad_input_gives_a_clear_error_and_adds_nothing() {
    let mut f = fixture(Role::Investigator);
    let original = f.import("IMG_0042.JPG", &with_exif(&jpeg_of(&picture()), &exif_block(None)));

    // A region outside the image, or reaching past an edge; a good region before a bad one
    // does not get a copy made either.
    for regions in [vec![Region { x: 300, y: 10, w: 100, h: 10 }], vec![PLATE, Region { x: 0, y: 400, w: 10, h: 10 }]] {
        let before = f.state(original);
        let e = redact(&mut f.store, original, &RedactOptions { strip_metadata: true, regions, reason: None, ..Default::default() })
            .unwrap_err();
        assert_eq!(e.code(), "region_outside_image", "{e}");
        let msg = e.to_string();
        assert!(msg.contains("320x240") && msg.contains("nothing was added"), "{msg}");
        assert_eq!(f.state(original), before, "nothing was recorded");
    }

    // An empty region, and more regions than a redaction takes: each its own code.
    let before = f.state(original);
    let empty = RedactOptions { regions: vec![PLATE, Region { x: 5, y: 5, w: 0, h: 10 }], ..Default::default() };
    let e = redact(&mut f.store, original, &empty).unwrap_err();
    assert_eq!(e.code(), "empty_region", "{e}");
    let many = RedactOptions { regions: vec![Region { x: 0, y: 0, w: 1, h: 1 }; MAX_REGIONS + 1], ..Default::default() };
    let e = redact(&mut f.store, original, &many).unwrap_err();
    assert_eq!(e.code(), "too_many_regions", "{e}");
    assert!(e.to_string().contains(&format!("at most {MAX_REGIONS}")), "{e}");
    assert_eq!(f.state(original), before, "nothing was recorded");

    // Something that is not an image.
    let text = f.import("statement.txt", b"I saw a white van at 21:40.\n");
    let before = f.state(text);
    let e = redact(&mut f.store, text, &RedactOptions { strip_metadata: true, ..Default::default() }).unwrap_err();
    assert_eq!(e.code(), "not_an_image", "{e}");
    assert!(e.to_string().contains("text/plain") && e.to_string().contains("not a JPEG or PNG"), "{e}");
    assert!(!e.to_string().contains("white van"), "no content in errors");
    assert_eq!(f.state(text), before);

    // A JPEG that does not decode (sniffed by its first bytes only).
    let broken = f.import("broken.jpg", &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xFF, 0xD9]);
    let before = f.state(broken);
    let e = redact(&mut f.store, broken, &RedactOptions { strip_metadata: true, ..Default::default() }).unwrap_err();
    assert_eq!(e.code(), "undecodable_image", "{e}");
    assert_eq!(f.state(broken), before);

    // An unknown item.
    let e = redact(&mut f.store, Uuid::now_v7(), &RedactOptions { strip_metadata: true, ..Default::default() }).unwrap_err();
    assert_eq!(e.code(), "unknown_evidence", "{e}");

    assert!(f.store.check(true, &mut |_| {}).unwrap().ok);
    assert!(Path::new(&f.dir).join("tmp").read_dir().map(|d| d.count() == 0).unwrap_or(true), "no temp files left");
}

/// Fill paints each region opaque black; the provenance says `fill`, and outside the regions
/// only re-encoding touches the picture.
#[test]
fn a_filled_region_is_black_and_recorded_as_fill() {
    let mut f = fixture(Role::Investigator);
    let original = f.import("IMG_0042.JPG", &with_exif(&jpeg_of(&picture()), &exif_block(None)));
    let opts = RedactOptions { regions: vec![PLATE], mode: RegionMode::Fill, ..Default::default() };
    let added = redact(&mut f.store, original, &opts).unwrap();
    assert_eq!(f.store.evidence(added.id).unwrap().derived_from.unwrap().operations, ["strip-metadata", "fill 40,40,120,60"]);
    let copy = image::load_from_memory(&f.content(added.id)).unwrap().to_rgb8();
    // JPEG ringing at the edges aside, the inside of the region is black.
    for y in PLATE.y + 4..PLATE.y + PLATE.h - 4 {
        for x in PLATE.x + 4..PLATE.x + PLATE.w - 4 {
            assert!(copy.get_pixel(x, y).0.iter().all(|&c| c < 16), "({x},{y}) = {:?}", copy.get_pixel(x, y));
        }
    }
}

#[test]
fn a_volunteers_redaction_is_in_the_custody_trail_not_the_access_log() {
    let mut f = fixture(Role::Volunteer);
    let original = f.import("IMG_0042.JPG", &with_exif(&jpeg_of(&picture()), &exif_block(None)));
    redact(
        &mut f.store,
        original,
        &RedactOptions { strip_metadata: true, regions: vec![PLATE], reason: Some("bystanders".into()), ..Default::default() },
    )
    .unwrap();
    assert_eq!(f.store.custody(original).unwrap().last().unwrap().action, CustodyAction::Redacted);
    assert!(f.store.access_log(f.case).unwrap().is_empty());
}
