//! The court report (issue 6): the PDF renders page by page, every hash is in its text intact,
//! pages are numbered, the HTML twin is self-contained, and volunteers stay pseudonymous until a
//! disclosure is recorded. Needs `pdftoppm` and `pdftotext` (Debian package poppler-utils).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use casebridge_core::{EvidenceOptions, GeoPoint, KdfParams, NewBrief, NewCase, Passphrase, Role, Store, SubmitOptions};
use casebridge_court::report::{self, Format, ReportError, ReportOptions};
use casebridge_testkit::fixtures::{disclose_as_supervisor, new_agency, new_store};
use casebridge_trust::bundle::{self, Anchor, ExportOptions};
use casebridge_trust::{profile, Agency};
use uuid::Uuid;

/// A real 640x480 JPEG: a colour gradient.
fn jpeg(path: &Path) {
    let img = image::RgbImage::from_fn(640, 480, |x, y| image::Rgb([(x * 255 / 639) as u8, (y * 255 / 479) as u8, 128]));
    let mut f = std::fs::File::create(path).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 90).encode_image(&img).unwrap();
}

/// A PNG with transparency.
fn png(path: &Path) {
    let img = image::RgbaImage::from_fn(300, 120, |x, y| image::Rgba([200, (x % 256) as u8, 40, if y < 60 { 255 } else { 90 }]));
    img.save_with_format(path, image::ImageFormat::Png).unwrap();
}

struct Fixture {
    tmp: tempfile::TempDir,
    store: Store,
    case: Uuid,
    hashes: Vec<String>,
}

/// An investigator's case with a JPEG (with a claimed time and place), a text file, a PNG, a
/// redacted derivative of the JPEG, an export and a recorded access.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_store(&tmp.path().join("profile"), "Vera Brandt", Role::Investigator);
    let case = store
        .create_case(NewCase {
            title: "Bike thefts <Mitte> & Wedding".into(),
            summary: Some("A series of bicycle thefts near Rosenthaler Platz, reported between March and May; the long summary is here so that the report has to wrap it over several lines of the page.".into()),
            reference: Some("BER-2026-000123".into()),
            tags: vec!["theft".into(), "bicycles".into()],
            category: None,
        })
        .unwrap();
    let photo = tmp.path().join("photo.jpg");
    jpeg(&photo);
    let text = tmp.path().join("statement.txt");
    std::fs::write(&text, "Witness statement: a white van, plate starting B-XY.\n").unwrap();
    let shot = tmp.path().join("screenshot.png");
    png(&shot);
    let opts = EvidenceOptions {
        description: Some("Photo of the bike rack".into()),
        captured_at: Some(chrono::DateTime::parse_from_rfc3339("2026-03-14T09:30:00+01:00").unwrap()),
        location: Some(GeoPoint::new(52.5298, 13.4015).unwrap()),
    };
    let mut hashes = Vec::new();
    let a = store.add_evidence(case, &photo, &opts, &mut |_| true).unwrap();
    hashes.push(a.sha256.clone());
    for p in [&text, &shot] {
        hashes.push(store.add_evidence(case, p, &EvidenceOptions::default(), &mut |_| true).unwrap().sha256);
    }
    // A "redacted" derivative (here simply another JPEG) with signed provenance.
    let redacted = tmp.path().join("redacted.jpg");
    let img = image::RgbImage::from_fn(320, 240, |x, _| image::Rgb([0, (x % 256) as u8, 0]));
    img.save_with_format(&redacted, image::ImageFormat::Jpeg).unwrap();
    let d = store
        .add_derivative(
            a.id,
            &mut std::fs::File::open(&redacted).unwrap(),
            "image/jpeg",
            "photo-redacted.jpg",
            vec!["strip-metadata".into(), "blur 10,10,50,50".into()],
            &mut |_| true,
        )
        .unwrap();
    hashes.push(d.sha256);
    store.verify_evidence(a.id, &mut |_| true).unwrap();
    store.export_evidence(a.id, &tmp.path().join("exported.jpg"), Some("for the prosecutor".into()), &mut |_| true).unwrap();
    store.record_access(case, Some(a.id), "viewed", Some("review of the photo".into())).unwrap();
    Fixture { tmp, store, case, hashes }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?} (install poppler-utils): {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn pdf_text(path: &Path) -> String {
    run(Command::new("pdftotext").arg(path).arg("-"))
}

/// Renders every page at 50 dpi; returns the PNG files.
fn pdf_pages(path: &Path, dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    run(Command::new("pdftoppm").args(["-png", "-r", "50"]).arg(path).arg(dir.join("page")));
    let mut pngs: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "png")).collect();
    pngs.sort();
    pngs
}

/// With CASEBRIDGE_KEEP_REPORTS=DIR set, a copy of the report is kept there to look at.
fn keep(path: &Path) {
    if let Some(dir) = std::env::var_os("CASEBRIDGE_KEEP_REPORTS") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(path, Path::new(&dir).join(path.file_name().unwrap())).unwrap();
    }
}

fn opts(format: Format) -> ReportOptions {
    ReportOptions { format, reason: Some("disclosure to the prosecution".into()) }
}

#[test]
fn the_pdf_renders_every_page_and_its_text_holds_every_hash_and_page_numbers() {
    let mut f = fixture();
    let out = f.tmp.path().join("report.pdf");
    let started = std::time::Instant::now();
    let w = report::write(&mut f.store, f.case, &out, &opts(Format::Pdf), &mut |_| true).unwrap();
    let took = started.elapsed();
    keep(&out);
    let pages = w.pages.unwrap();
    eprintln!("report: {pages} pages, {} bytes, {took:?}", std::fs::metadata(&out).unwrap().len());
    assert_eq!(w.items, 4);
    assert!(w.damaged.is_empty());
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(w.sha256, casebridge_core::to_hex(&casebridge_core::sha256(&bytes)));
    assert!(!report::partial_path(&out).exists(), "the partial file is gone");

    let pngs = pdf_pages(&out, &f.tmp.path().join("pages"));
    assert_eq!(pngs.len(), pages, "one PNG per page");

    let text = pdf_text(&out);
    for h in &f.hashes {
        assert!(text.contains(h.as_str()), "evidence hash {h} is not in the text intact");
    }
    for n in 1..=pages {
        assert!(text.contains(&format!("page {n} of {pages}")), "page {n} is not numbered");
    }
    // The custody trail's event hashes and the signing key's fingerprint are there too.
    let custody = f.store.custody(f.store.list_evidence(f.case).unwrap()[0].id).unwrap();
    assert!(custody.len() >= 4, "imported, redacted, verified, exported");
    for c in &custody {
        assert!(text.contains(&c.event_hash), "custody event {} is missing", c.event_hash);
    }
    assert!(text.contains(&f.store.whoami().fingerprint));
    for word in ["BER-2026-000123", "Bike thefts <Mitte> & Wedding", "Vera Brandt (investigator)", "2026-03-14 09:30:00 +01:00"] {
        assert!(text.contains(word), "{word} is missing");
    }
    assert!(text.contains("strip-metadata; blur 10,10,50,50"), "provenance operations are shown");
    assert!(text.contains("review of the photo"), "the access log is shown");

    // The report's writing is in the access log now.
    let log = f.store.access_log(f.case).unwrap();
    let last = log.last().unwrap();
    assert_eq!((last.action.as_str(), last.evidence_id, last.reason.as_deref()), ("report", None, Some("disclosure to the prosecution")));

    // Never overwritten.
    let e = report::write(&mut f.store, f.case, &out, &opts(Format::Pdf), &mut |_| true).unwrap_err();
    assert!(matches!(e, ReportError::WouldOverwrite { .. }), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert_eq!(f.store.access_log(f.case).unwrap().len(), log.len(), "a refused report records no access");
}

#[test]
fn the_html_report_is_one_self_contained_file_with_every_hash_and_inline_thumbnails() {
    let mut f = fixture();
    let out = f.tmp.path().join("report.html");
    let w = report::write(&mut f.store, f.case, &out, &opts(Format::Html), &mut |_| true).unwrap();
    keep(&out);
    assert_eq!(w.pages, None);
    let html = std::fs::read_to_string(&out).unwrap();
    for h in &f.hashes {
        assert!(html.contains(h.as_str()), "evidence hash {h} is missing");
    }
    // JPEG, PNG and the derivative have thumbnails; the text file has none.
    assert_eq!(html.matches("src=\"data:image/jpeg;base64,").count(), 3);
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"), "nothing is fetched or run");
    assert!(html.contains("Bike thefts &lt;Mitte&gt; &amp; Wedding"), "text is escaped");
    assert!(!html.contains("<Mitte>"));
    assert!(html.contains("<style>"));
}

#[test]
fn a_partial_file_left_behind_is_never_replaced() {
    let mut f = fixture();
    let out = f.tmp.path().join("r.pdf");
    std::fs::write(report::partial_path(&out), b"someone else's").unwrap();
    let e = report::write(&mut f.store, f.case, &out, &opts(Format::Pdf), &mut |_| true).unwrap_err();
    assert!(matches!(e, ReportError::PartialExists { .. }), "{e}");
    assert!(!out.exists());
    assert_eq!(std::fs::read(report::partial_path(&out)).unwrap(), b"someone else's");
}

/// Every object file under `dir` (the store's sealed contents).
fn object_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out
}

#[test]
fn damaged_content_is_reported_in_the_report_not_hidden() {
    let mut f = fixture();
    for obj in object_files(&f.tmp.path().join("profile").join(casebridge_core::OBJECTS_DIR)) {
        let mut perms = std::fs::metadata(&obj).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&obj, perms).unwrap();
        let mut bytes = std::fs::read(&obj).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&obj, bytes).unwrap();
    }
    let out = f.tmp.path().join("damaged.pdf");
    let w = report::write(&mut f.store, f.case, &out, &opts(Format::Pdf), &mut |_| true).unwrap();
    assert_eq!(w.damaged.len(), 4);
    let text = pdf_text(&out);
    assert_eq!(text.matches("CONTENT CHECK FAILED").count(), 4);
    for h in &f.hashes {
        assert!(text.contains(h.as_str()), "the recorded hash {h} is still shown");
    }
    let html = f.tmp.path().join("damaged.html");
    report::write(&mut f.store, f.case, &html, &opts(Format::Html), &mut |_| true).unwrap();
    assert!(!std::fs::read_to_string(&html).unwrap().contains("data:image"), "no thumbnail is made from damaged content");
}

#[test]
fn a_volunteer_appears_under_a_pseudonym_until_a_disclosure_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_store(&tmp.path().join("v"), "Mia Keller", Role::Volunteer);
    let case = store.create_case(NewCase { title: "Submission for brief 7".into(), ..Default::default() }).unwrap();
    let photo = tmp.path().join("photo.jpg");
    jpeg(&photo);
    let added = store.add_evidence(case, &photo, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let me = store.whoami().member_id;
    let alias = report::pseudonym(&store, me, case);

    let first = tmp.path().join("first.pdf");
    report::write(&mut store, case, &first, &ReportOptions::default(), &mut |_| true).unwrap();
    let text = pdf_text(&first);
    assert!(text.contains(&alias), "{alias} is missing");
    assert!(!text.contains("Mia") && !text.contains("Keller"), "the volunteer's name leaks");
    assert!(!text.contains(&me.to_string()), "the volunteer's member id leaks");
    assert!(text.contains(&added.sha256));
    let html = tmp.path().join("first.html");
    report::write(&mut store, case, &html, &ReportOptions { format: Format::Html, reason: None }, &mut |_| true).unwrap();
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains(&alias) && !html.contains("Keller"));

    // Issue 16: a volunteer does not approve a disclosure, a supervisor does.
    assert!(store.record_disclosure(case, me, "court order 12 Js 345/26").is_err());
    let mut sup = new_store(&tmp.path().join("s"), "Sabine Aufsicht", Role::Supervisor);
    let opened: Vec<_> = store
        .case_events(case, None)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.body().kind, casebridge_core::EventKind::CaseCreated { .. }))
        .collect();
    sup.import_events(&opened, vec![]).unwrap();
    sup.record_disclosure(case, me, "court order 12 Js 345/26").unwrap();
    let approved: Vec<_> = sup
        .case_events(case, None)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.body().kind, casebridge_core::EventKind::DisclosureRecorded { .. }))
        .collect();
    store.import_events(&approved, vec![]).unwrap();
    let second = tmp.path().join("second.pdf");
    report::write(&mut store, case, &second, &ReportOptions::default(), &mut |_| true).unwrap();
    let text = pdf_text(&second);
    assert!(text.contains("Mia Keller (volunteer; identity disclosed"), "the disclosed name is shown");
    assert!(text.contains("court order 12 Js 345/26"));
    // A pseudonym belongs to one case.
    let other = store.create_case(NewCase { title: "Another".into(), ..Default::default() }).unwrap();
    assert_ne!(report::pseudonym(&store, me, other), alias);
}

/// The real flow: a volunteer's submission reaches the investigator in a sealed bundle. The
/// investigator's store knows the volunteer only from the agency's credential in the bundle;
/// the report shows the volunteer's role and credential under a pseudonym, never the name.
#[test]
fn a_volunteer_known_from_a_bundle_is_pseudonymous_in_the_investigators_report() {
    let tmp = tempfile::tempdir().unwrap();
    let agency = new_agency(&tmp.path().join("agency"), "Polizei Berlin (test)");
    let public_file = Agency::public_file(&tmp.path().join("agency")).unwrap();
    let mut volunteer = new_store(&tmp.path().join("volunteer"), "Mia Keller", Role::Volunteer);
    let mut investigator = new_store(&tmp.path().join("investigator"), "Vera Brandt", Role::Investigator);
    let req = profile::request_credential(&volunteer);
    let (_, cred, _) = agency.issue(&req, Role::Volunteer, None, chrono::Duration::days(365)).unwrap();
    profile::install_credential(&mut volunteer, &cred, Some(&public_file)).unwrap();
    profile::pin_agency(&mut investigator, &public_file).unwrap();

    // The investigator's case and brief reach the volunteer (as the feed brings them); the
    // volunteer answers the brief with a photo.
    let case = investigator.create_case(NewCase { title: "Bike thefts, Mitte".into(), ..Default::default() }).unwrap();
    let brief = investigator
        .publish_brief(NewBrief { case, title: "Photos of the bridge".into(), text: "Last night".into(), ..Default::default() })
        .unwrap();
    volunteer.import_events(&investigator.case_events(case, None).unwrap(), Vec::new()).unwrap();
    let photo = tmp.path().join("photo.jpg");
    jpeg(&photo);
    let submitted = volunteer.submit(brief, &[photo], &SubmitOptions::default(), &mut |_| true).unwrap();
    let added = &submitted.items[0];
    let out = tmp.path().join("b.cbb");
    let public = agency.public().clone();
    bundle::export(
        &mut volunteer,
        &ExportOptions {
            case,
            since: None,
            agency: &public,
            credential: &cred,
            seal: true,
            own_only: true,
            bundle_id: None,
            sync_point: None,
            held: None,
        },
        &out,
        &mut |_| true,
    )
    .unwrap();
    let list = agency.current_revocation().unwrap().0;
    // Opened as the agency opens it (CLI `bundle open`, the endpoint): with its sealed record
    // of the names it issued, the only place the investigator's store learns the name from
    // (the credential in the bundle commits to the name without holding it).
    let names = agency.names().unwrap();
    let anchor = Anchor::new(agency.public(), &list, Some(agency.sealing_identity())).names(&names);
    let opened = bundle::open_into(&out, &anchor, &mut investigator, &mut |_| true).unwrap();
    let receipt = casebridge_trust::Receipt {
        agency_id: public.agency_id,
        bundle_id: opened.bundle_id,
        manifest_hash: opened.manifest_hash.clone(),
        sender: opened.sender,
        seq: opened.seq,
        received_at: casebridge_trust::now(),
        outcome: opened.outcome,
        events: opened.events,
        blobs: opened.blobs,
    };
    profile::store_receipt(&mut volunteer, &agency.sign_receipt(&receipt).unwrap()).unwrap();
    let vid = volunteer.whoami().member_id;
    let alias = report::pseudonym(&investigator, vid, case);

    let pdf = tmp.path().join("inv.pdf");
    report::write(&mut investigator, case, &pdf, &ReportOptions::default(), &mut |_| true).unwrap();
    keep(&pdf);
    let text = pdf_text(&pdf);
    assert!(text.contains(&added.sha256));
    assert!(!text.contains("Keller"), "the volunteer's name leaks");
    assert!(!text.contains(&vid.to_string()), "the volunteer's member id leaks");
    assert!(text.contains(&format!("Credential of {alias}")), "the volunteer's vetting is shown under the pseudonym");
    assert!(text.contains(&agency.public().root_fingerprint()), "the pinned agency's root key fingerprint is shown");
    // Issue 12: the verification section names the fingerprint to pass to casebridge-verify.
    assert!(text.contains("Agency root fingerprint") && text.contains("--agency-root"), "{text}");
    assert_eq!(text.matches(&agency.public().root_fingerprint()).count(), 2, "in the verification section and under the keys");
    assert!(text.contains(&volunteer.whoami().fingerprint), "the signing key of the volunteer's events is shown");

    // With a disclosure recorded, the investigator's report names the volunteer as vetted.
    assert!(investigator.record_disclosure(case, vid, "court order 12 Js 345/26").is_err(), "only a supervisor approves it");
    disclose_as_supervisor(
        &tmp.path().join("supervisor"),
        &agency,
        &tmp.path().join("agency"),
        &mut investigator,
        case,
        vid,
        "court order 12 Js 345/26",
    );
    let disclosed = tmp.path().join("inv-disclosed.pdf");
    report::write(&mut investigator, case, &disclosed, &ReportOptions::default(), &mut |_| true).unwrap();
    assert!(pdf_text(&disclosed).contains("Mia Keller (volunteer; identity disclosed"));

    // The volunteer's own report shows the credential and the receipt held.
    let vpdf = tmp.path().join("vol.pdf");
    report::write(&mut volunteer, case, &vpdf, &ReportOptions::default(), &mut |_| true).unwrap();
    let text = pdf_text(&vpdf);
    // Pseudonyms are keyed per store: the volunteer's own store names them with its own key.
    let own_alias = report::pseudonym(&volunteer, vid, case);
    assert_ne!(own_alias, alias, "another store's key, another pseudonym");
    assert!(text.contains(&format!("Credential of {own_alias}")));
    assert!(text.contains(&format!("Receipt for bundle {}", opened.bundle_id)));
    assert!(text.contains(&opened.manifest_hash));
    assert!(!text.contains("Keller"));
}

/// A member this store knows nothing about (no profile, no credential) is pseudonymous too.
#[test]
fn an_unknown_member_is_pseudonymous() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = new_store(&tmp.path().join("a"), "Mia Keller", Role::Volunteer);
    let mut b = new_store(&tmp.path().join("b"), "Vera Brandt", Role::Investigator);
    let case = a.create_case(NewCase { title: "T".into(), ..Default::default() }).unwrap();
    let events = a.case_events(case, None).unwrap();
    b.import_events(&events, Vec::new()).unwrap();
    let out = tmp.path().join("r.html");
    report::write(&mut b, case, &out, &ReportOptions { format: Format::Html, reason: None }, &mut |_| true).unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(!html.contains("Keller") && !html.contains(&a.whoami().member_id.to_string()));
    assert!(html.contains("name and role not held by this store"));
}

/// Figures for a larger case: 20 photos of 12 megapixels, 5 text files and a screenshot.
/// `cargo test -p casebridge-court --release --test report -- --ignored --nocapture`
#[test]
#[ignore = "takes a while; prints figures"]
fn figures_for_a_case_of_twenty_six_items() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_store(&tmp.path().join("p"), "Vera Brandt", Role::Investigator);
    let case =
        store.create_case(NewCase { title: "Figures".into(), reference: Some("BER-2026-000999".into()), ..Default::default() }).unwrap();
    let mut seed = 1u32;
    for i in 0..20 {
        let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            image::Rgb([(x / 16) as u8, (y / 12) as u8, (seed >> 24) as u8])
        });
        let p = tmp.path().join(format!("photo{i:02}.jpg"));
        let mut f = std::fs::File::create(&p).unwrap();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 85).encode_image(&img).unwrap();
        drop(f);
        store.add_evidence(case, &p, &EvidenceOptions::default(), &mut |_| true).unwrap();
    }
    for i in 0..5 {
        let p = tmp.path().join(format!("note{i}.txt"));
        std::fs::write(&p, format!("statement {i}\n").repeat(200)).unwrap();
        store.add_evidence(case, &p, &EvidenceOptions::default(), &mut |_| true).unwrap();
    }
    let shot = tmp.path().join("screenshot.png");
    png(&shot);
    store.add_evidence(case, &shot, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let bytes: u64 = store.list_evidence(case).unwrap().iter().map(|e| e.size).sum();
    for (name, format) in [("big.pdf", Format::Pdf), ("big.html", Format::Html)] {
        let out = tmp.path().join(name);
        let started = std::time::Instant::now();
        let w = report::write(&mut store, case, &out, &ReportOptions { format, reason: None }, &mut |_| true).unwrap();
        let took = started.elapsed();
        keep(&out);
        eprintln!(
            "{name}: {} items ({:.1} MiB of evidence), {:?} pages, {} KiB, {took:.2?}",
            w.items,
            bytes as f64 / 1048576.0,
            w.pages,
            std::fs::metadata(&out).unwrap().len() / 1024
        );
        if format == Format::Pdf {
            let pngs = pdf_pages(&out, &tmp.path().join("pages"));
            assert_eq!(Some(pngs.len()), w.pages);
        }
    }
}

/// Issue 12, part 6: a volunteer's submission reaches the agency through the real clients (a
/// brief, `submit`, a sealed bundle opened under the endpoint's rules). The agency reads the
/// photo it received itself and signs what it read in its custody "received"; the report sets
/// that beside what the volunteer stated and flags the claimed time and place, which are far
/// from the photo's EXIF. The court package of the case still verifies with the independent
/// verifier, which reads the new field as part of the custody event.
#[test]
fn the_report_flags_a_claimed_time_and_place_the_photos_exif_contradicts() {
    use casebridge_core::exif_write::{ascii, ifd, long, rationals, splice_exif, tiff};
    use casebridge_core::{CustodyAction, NewBrief, SubmitOptions};

    let tmp = tempfile::tempdir().unwrap();
    let agency_dir = tmp.path().join("agency");
    let agency =
        Agency::init(&agency_dir, "Polizei Berlin (test)", &Passphrase::new("agency pass for tests"), KdfParams::INSECURE_FOR_TESTS)
            .unwrap();
    let public_file = Agency::public_file(&agency_dir).unwrap();
    let mut volunteer = new_store(&tmp.path().join("volunteer"), "Mia Keller", Role::Volunteer);
    let mut investigator = new_store(&tmp.path().join("investigator"), "Vera Brandt", Role::Investigator);
    let mut creds = Vec::new();
    for (store, role) in [(&mut volunteer, Role::Volunteer), (&mut investigator, Role::Investigator)] {
        let (_, cred, _) = agency.issue(&profile::request_credential(store), role, None, chrono::Duration::days(365)).unwrap();
        profile::install_credential(store, &cred, Some(&public_file)).unwrap();
        creds.push(cred);
    }
    let case = investigator.create_case(NewCase { title: "Bike thefts".into(), ..Default::default() }).unwrap();
    let brief =
        investigator.publish_brief(NewBrief { case, title: "Photos".into(), text: "of the racks".into(), ..Default::default() }).unwrap();
    let events = investigator.case_events(case, None).unwrap();
    volunteer.import_events(&events, vec![]).unwrap();

    // A real JPEG whose EXIF says: Canon EOS R6, 2026-03-14 09:30:00 +01:00, Rosenthaler Platz.
    let ifd0 =
        |exif_at: u32, gps_at: u32| vec![ascii(0x010F, "Canon"), ascii(0x0110, "EOS R6"), long(0x8769, exif_at), long(0x8825, gps_at)];
    let exif = || vec![ascii(0x9003, "2026:03:14 09:30:00"), ascii(0x9011, "+01:00")];
    let gps = || {
        vec![
            ascii(0x0001, "N"),
            rationals(0x0002, &[(52, 1), (31, 1), (472_800, 10_000)]),
            ascii(0x0003, "E"),
            rationals(0x0004, &[(13, 1), (24, 1), (54_000, 10_000)]),
        ]
    };
    let exif_at = 8 + ifd(ifd0(0, 0), 8).len() as u32;
    let gps_at = exif_at + ifd(exif(), exif_at).len() as u32;
    let t = tiff(&[ifd(ifd0(exif_at, gps_at), 8), ifd(exif(), exif_at), ifd(gps(), gps_at)]);
    let plain = tmp.path().join("plain.jpg");
    jpeg(&plain);
    let photo = tmp.path().join("rack.jpg");
    std::fs::write(&photo, splice_exif(&std::fs::read(&plain).unwrap(), &t).unwrap()).unwrap();

    // The volunteer claims a time a week later and a place in Munich.
    let opts = SubmitOptions {
        description: None,
        captured_at: Some(chrono::DateTime::parse_from_rfc3339("2026-03-21T18:00:00+01:00").unwrap()),
        location: Some(GeoPoint::new(48.1372, 11.5755).unwrap()),
    };
    let sub = volunteer.submit(brief, &[photo], &opts, &mut |_| true).unwrap();
    let item = sub.items[0].evidence_id;
    let out = tmp.path().join("submission.cbb");
    let public = agency.public().clone();
    let export = ExportOptions {
        case,
        since: None,
        agency: &public,
        credential: &creds[0],
        seal: true,
        own_only: true,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    bundle::export(&mut volunteer, &export, &out, &mut |_| true).unwrap();
    let list = agency.current_revocation().unwrap().0;
    let anchor = Anchor::new(agency.public(), &list, Some(agency.sealing_identity()));
    let opened = bundle::open_into(&out, &anchor, &mut investigator, &mut |_| true).unwrap();
    assert_eq!(opened.outcome.as_str(), "accepted");

    // The investigator's store read the photo itself on receipt.
    let custody = investigator.custody(item).unwrap();
    let received = custody.iter().find(|c| c.action == CustodyAction::Received).expect("custody received");
    let seen = received.observed.as_ref().expect("what the receiver read");
    assert_eq!(seen.media_type, "image/jpeg");
    assert_eq!(seen.extracted.captured_at, Some(chrono::DateTime::parse_from_rfc3339("2026-03-14T09:30:00+01:00").unwrap()));
    assert_eq!(seen.extracted.camera.as_ref().and_then(|c| c.model.as_deref()), Some("EOS R6"));

    let opts = ReportOptions { format: Format::Html, reason: None };
    let html = String::from_utf8(report::render(&mut investigator, case, &opts, &mut |_| true).unwrap().bytes).unwrap();
    let flag = &html[html.find("METADATA MISMATCH").expect("the claims are flagged")..];
    let flag = &flag[..flag.find("</").unwrap()];
    assert!(flag.contains("2026-03-14 09:30:00 +01:00") && flag.contains("2026-03-21 18:00:00 +01:00"), "{flag}");
    assert!(flag.contains("place:") && flag.contains("m apart"), "{flag}");
    // The volunteer's own client read the same EXIF: that part agrees and is not flagged.
    assert!(!flag.contains("camera:") && !flag.contains("media type:"), "{flag}");
    assert_eq!(html.matches("METADATA MISMATCH").count(), 1);
    assert!(!flag.contains("  "), "one space between words: {flag}");

    // The court package with the new custody field verifies independently.
    let pkg = tmp.path().join("package");
    casebridge_court::package::export_package(&mut investigator, case, &pkg, None).unwrap();
    let root = agency.public().root_fingerprint().parse().unwrap();
    let r = casebridge_verify::verify_package(&pkg, Some(&root));
    assert!(r.verified, "expected VERIFIED:\n{}", r.to_text());
    let it = r.items.iter().find(|i| i.evidence_id == item.to_string()).unwrap();
    let received = it.custody.iter().find(|c| c.action == "received").expect("custody received in the package");
    let seen = received.observed.as_ref().expect("the verifier reads what the agency read");
    assert_eq!((seen.media_type.as_str(), seen.camera.as_deref()), ("image/jpeg", Some("Canon EOS R6")));
    assert_eq!(seen.captured_at.as_deref(), Some("2026-03-14T09:30:00+01:00"));
    assert!(
        r.to_text().contains("read from the content by the recipient: image/jpeg; EXIF time 2026-03-14T09:30:00+01:00"),
        "{}",
        r.to_text()
    );
}

/// Issue 16: an item the agency deleted is listed as deleted (rule, time, reason, the recorded
/// SHA-256) in both formats, with a "Deleted items" section holding its tombstone, and is not
/// reported as damaged or unreadable; the items still held are checked as before.
#[test]
fn a_deleted_item_is_listed_as_deleted_not_as_unreadable() {
    let mut f = fixture();
    let agency = new_agency(&f.tmp.path().join("agency"), "Polizei Berlin");
    let c = f.store.case(f.case).unwrap();
    // The text statement (E2): no derivative names it.
    let item = c.evidence.iter().find(|e| e.media_type.starts_with("text/")).unwrap().clone();
    let t = casebridge_core::Tombstone {
        id: casebridge_trust::tombstone_id(agency.public().agency_id, item.id),
        agency_id: agency.public().agency_id,
        evidence_id: item.id,
        case_id: f.case,
        sha256: item.sha256.clone(),
        rule: "statements-90d".into(),
        reason: Some("statement superseded, 91 days old".into()),
        deleted_at: chrono::DateTime::parse_from_rfc3339("2026-06-01T10:00:00+02:00").unwrap(),
    };
    let public = agency.public().clone();
    let deleted = casebridge_trust::store_tombstones(&mut f.store, &public, &[agency.sign_tombstone(&t)]).unwrap();
    assert_eq!(deleted, [item.id]);

    let out = f.tmp.path().join("deleted.pdf");
    let w = report::write(&mut f.store, f.case, &out, &opts(Format::Pdf), &mut |_| true).unwrap();
    keep(&out);
    assert!(w.damaged.is_empty(), "a deleted item is not damaged: {:?}", w.damaged);
    let text = pdf_text(&out);
    assert!(!text.contains("CONTENT CHECK FAILED"), "no item is reported unreadable");
    assert!(!text.contains("evidence_deleted"), "the refusal code does not stand in for the deletion");
    assert!(text.contains("Deleted items (1)"), "the report has a Deleted items section");
    assert!(text.contains("deleted item"));
    assert!(text.contains("statements-90d") && text.contains("statement superseded, 91 days old"));
    assert!(text.contains("2026-06-01"), "the deletion time is shown");
    assert!(text.contains(&t.id.to_string()), "the tombstone's id is listed");
    assert!(!text.contains("statement.txt"), "the deleted item's name is not kept");
    for h in &f.hashes {
        assert!(text.contains(h.as_str()), "every recorded hash, the deleted item's too: {h}");
    }
    assert_eq!(text.matches("intact: the stored content was re-hashed").count(), 3, "the items still held are checked");

    let html = f.tmp.path().join("deleted.html");
    report::write(&mut f.store, f.case, &html, &opts(Format::Html), &mut |_| true).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Deleted items (1)") && page.contains("statements-90d") && page.contains(&item.sha256));
    assert!(!page.contains("CONTENT CHECK FAILED") && !page.contains("evidence_deleted"));

    // A case with nothing deleted says so.
    let mut g = fixture();
    let out = g.tmp.path().join("none.pdf");
    report::write(&mut g.store, g.case, &out, &opts(Format::Pdf), &mut |_| true).unwrap();
    assert!(pdf_text(&out).contains("Deleted items (0)"));
}
