//! The investigator and volunteer extras of the desktop: case status, thumbnails of image
//! items, what files say about themselves before they are submitted (EXIF), and the checks of
//! the case export job (the export itself runs against a real endpoint in `flow`).

use casebridge_app::{CaseStatus, Role};

use crate::{file, unlocked};

/// A little-endian TIFF holding DateTimeOriginal (+ OffsetTimeOriginal) and a GPS position
/// (52°31'12" N, 13°24'18" E).
fn exif_tiff() -> Vec<u8> {
    // (tag, type, count, data)
    type E = (u16, u16, u32, Vec<u8>);
    fn ascii(tag: u16, s: &str) -> E {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        (tag, 2, d.len() as u32, d)
    }
    fn long(tag: u16, v: u32) -> E {
        (tag, 4, 1, v.to_le_bytes().to_vec())
    }
    fn rats(tag: u16, v: &[(u32, u32)]) -> E {
        (tag, 5, v.len() as u32, v.iter().flat_map(|(n, d)| n.to_le_bytes().into_iter().chain(d.to_le_bytes())).collect())
    }
    fn ifd(mut es: Vec<E>, start: u32) -> Vec<u8> {
        es.sort_by_key(|e| e.0);
        let table = 2 + 12 * es.len() as u32 + 4;
        let (mut out, mut extra) = (Vec::new(), Vec::new());
        out.extend_from_slice(&(es.len() as u16).to_le_bytes());
        for (tag, typ, count, data) in &es {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if data.len() <= 4 {
                let mut v = data.clone();
                v.resize(4, 0);
                out.extend_from_slice(&v);
            } else {
                out.extend_from_slice(&(start + table + extra.len() as u32).to_le_bytes());
                extra.extend_from_slice(data);
                if extra.len() % 2 == 1 {
                    extra.push(0);
                }
            }
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&extra);
        out
    }
    let ifd0 = |exif_at: u32, gps_at: u32| vec![long(0x8769, exif_at), long(0x8825, gps_at)];
    let exif = || vec![ascii(0x9003, "2026:03:14 09:14:05"), ascii(0x9011, "+01:00")];
    let gps = || vec![ascii(1, "N"), rats(2, &[(52, 1), (31, 1), (12, 1)]), ascii(3, "E"), rats(4, &[(13, 1), (24, 1), (18, 1)])];
    let exif_at = 8 + ifd(ifd0(0, 0), 8).len() as u32;
    let gps_at = exif_at + ifd(exif(), exif_at).len() as u32;
    let mut tiff = b"II\x2A\x00".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&ifd(ifd0(exif_at, gps_at), 8));
    tiff.extend_from_slice(&ifd(exif(), exif_at));
    tiff.extend_from_slice(&ifd(gps(), gps_at));
    tiff
}

/// A real, decodable `w`x`h` JPEG; with `exif`, an APP1 Exif segment right after SOI.
fn jpeg(w: u32, h: u32, exif: bool) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
    if !exif {
        return out;
    }
    let tiff = exif_tiff();
    let mut with = vec![0xFF, 0xD8, 0xFF, 0xE1];
    with.extend_from_slice(&u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    with.extend_from_slice(b"Exif\0\0");
    with.extend_from_slice(&tiff);
    with.extend_from_slice(&out[2..]);
    with
}

#[test]
fn the_status_of_a_case_is_edited_through_the_store_event() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let id = s.case_create("Bike thefts", None, None, vec!["bikes".into()]).unwrap();
    s.case_set_status(&id, CaseStatus::Active).unwrap();
    assert_eq!(s.case_get(&id).unwrap().status, CaseStatus::Active);
    s.case_set_status(&id, CaseStatus::Closed).unwrap();
    let detail = s.case_get(&id).unwrap();
    assert_eq!((detail.status, detail.tags.as_slice()), (CaseStatus::Closed, ["bikes".to_string()].as_slice()));
    assert_eq!(s.cases_list(None, Some(casebridge_app::CaseStatus::Closed), casebridge_app::CaseSort::Updated).unwrap().len(), 1);
    assert_eq!(s.case_set_status("nope", CaseStatus::Open).unwrap_err().code, "invalid_input");
    assert_eq!(s.case_set_status(&uuid::Uuid::nil().to_string(), CaseStatus::Open).unwrap_err().code, "unknown_case");
    // Who acted: the one investigator, who opened it.
    let team = &detail.acted_by;
    assert_eq!(detail.team.len(), 1, "the assigned team: its opener");
    assert!(detail.team[0].lead && detail.on_team);
    assert_eq!(team.len(), 1);
    assert_eq!(team[0].name.as_deref(), Some("Vera Brandt"));
    assert_eq!(team[0].acted, ["opened"]);
    s.lock();
    assert_eq!(s.case_set_status(&id, CaseStatus::Open).unwrap_err().code, "locked");
}

#[test]
fn images_get_small_logged_thumbnails_and_other_items_say_why_not() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let case = s.case_create("Bike thefts", None, None, vec![]).unwrap();
    let photo = env.tmp.path().join("photo.jpg");
    std::fs::write(&photo, jpeg(640, 480, false)).unwrap();
    let text = file(env.tmp.path(), "notes.bin", 5000, 3);
    let added = s
        .with_store(|st| {
            let a = st.add_evidence(case.parse().unwrap(), &photo, &Default::default(), &mut |_| true)?;
            let b = st.add_evidence(case.parse().unwrap(), &text, &Default::default(), &mut |_| true)?;
            Ok((a.id, b.id))
        })
        .unwrap();
    let items = s.evidence_list(&case).unwrap();
    assert!(items.iter().all(|e| e.review_state.is_none()), "imported by staff: no review state");

    let t = s.evidence_thumbnail(&added.0.to_string(), 96).unwrap();
    assert_eq!(t.media_type, "image/jpeg");
    let url = t.data_url.expect("a thumbnail");
    let b64 = url.strip_prefix("data:image/jpeg;base64,").expect("a JPEG data URL");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let small = image::load_from_memory(&bytes).unwrap();
    assert_eq!((small.width(), small.height()), (96, 72), "the longer side is 96 px, the aspect kept");
    assert!(bytes.len() < 20_000);

    let none = s.evidence_thumbnail(&added.1.to_string(), 96).unwrap();
    assert!(none.data_url.is_none() && none.reason.is_some(), "{none:?}");
    // The thumbnail is a view of the item: it is in the case's access log; the refused one is not.
    let log = s.with_store(|st| Ok(st.access_log(case.parse().unwrap())?)).unwrap();
    let views: Vec<_> = log.iter().filter(|r| r.action == "viewed" && r.evidence_id == Some(added.0)).collect();
    assert_eq!(views.len(), 1, "{log:?}");
    assert!(!log.iter().any(|r| r.evidence_id == Some(added.1)));
    assert_eq!(s.evidence_thumbnail("x", 96).unwrap_err().code, "invalid_input");
}

#[test]
fn file_metadata_reads_exif_time_and_place_and_refuses_what_is_not_a_file() {
    let env = unlocked(Role::Volunteer);
    let s = &env.session;
    let photo = env.tmp.path().join("IMG_2041.jpg");
    std::fs::write(&photo, jpeg(64, 48, true)).unwrap();
    let plain = env.tmp.path().join("plain.jpg");
    std::fs::write(&plain, jpeg(64, 48, false)).unwrap();
    let text = env.tmp.path().join("note.jpg");
    std::fs::write(&text, "not a photo at all").unwrap();

    let paths: Vec<String> = [&text, &plain, &photo].iter().map(|p| p.display().to_string()).collect();
    let metas = s.file_metadata(&paths).unwrap();
    assert_eq!(metas.len(), 3);
    assert_eq!((metas[0].media_type.as_str(), metas[0].size), ("text/plain", 18), "sniffed, not by name");
    assert!(metas[0].captured_at.is_none() && metas[0].location.is_none());
    assert_eq!(metas[1].media_type, "image/jpeg");
    assert!(metas[1].captured_at.is_none() && metas[1].location.is_none());
    let m = &metas[2];
    assert_eq!(m.path, paths[2]);
    assert_eq!(m.captured_at.unwrap().to_rfc3339(), "2026-03-14T09:14:05+01:00");
    let at = m.location.unwrap();
    assert!((at.lat - 52.52).abs() < 1e-9 && (at.lon - 13.405).abs() < 1e-9, "{at:?}");

    let dir = env.tmp.path().display().to_string();
    let err = s.file_metadata(std::slice::from_ref(&dir)).unwrap_err();
    assert_eq!(err.code, "bad_file");
    assert!(err.message.contains(&dir) && err.message.contains("directory"), "{}", err.message);
    let missing = env.tmp.path().join("gone.jpg").display().to_string();
    assert!(s.file_metadata(&[missing]).unwrap_err().message.contains("no such file"));
    assert!(s.file_metadata(&[]).unwrap().is_empty());
    s.lock();
    assert_eq!(s.file_metadata(&paths).unwrap_err().code, "locked");
}

#[test]
fn a_case_export_is_checked_before_the_job_starts() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let case = s.case_create("Bike thefts", None, None, vec![]).unwrap();
    let out = env.tmp.path().join("case.cbb");
    assert_eq!(s.case_export(&case, &out.display().to_string()).unwrap_err().code, "not_enrolled");
    std::fs::write(&out, b"x").unwrap();
    let err = s.case_export(&case, &out.display().to_string()).unwrap_err();
    assert_eq!(err.code, "exists");
    assert_eq!(std::fs::read(&out).unwrap(), b"x", "never overwritten");
    let nowhere = env.tmp.path().join("no/such/dir/case.cbb").display().to_string();
    assert_eq!(s.case_export(&case, &nowhere).unwrap_err().code, "bad_file");
    assert_eq!(s.case_export(&case, " ").unwrap_err().code, "invalid_input");
    let fresh = env.tmp.path().join("fresh.cbb").display().to_string();
    assert_eq!(s.case_export(&uuid::Uuid::nil().to_string(), &fresh).unwrap_err().code, "unknown_case");
    assert!(s.jobs().is_empty());
}
