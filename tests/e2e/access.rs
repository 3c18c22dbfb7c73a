//! The access log (LED 2016/680 Art. 25) and redaction through the real CLI: police staff's
//! views, exports and redactions are recorded with who, when and why; a volunteer's are not.

use serde_json::Value;

use crate::harness::{s, str_field, Profile};
use casebridge_core::Role;

fn access_log(p: &Profile, case: &str) -> Vec<Value> {
    p.json(&["case", "access-log", case, "--json"]).as_array().expect("access-log --json prints an array").clone()
}

fn kinds(p: &Profile) -> Vec<String> {
    p.json(&["log", "--json"]).as_array().expect("array").iter().map(|e| str_field(e, "kind")).collect()
}

#[test]
fn an_investigators_views_and_exports_are_logged_with_the_reason() {
    let p = Profile::new();
    let case = p.new_case("Hit and run");
    let (id, _) = p.add_evidence(&case, &p.write_file("statement.txt", b"I saw a white van.\n"));
    assert!(access_log(&p, &case).is_empty(), "adding is in the custody trail, not the access log");

    p.cmd(&["evidence", "show", &id, "--reason", "checking the witness statement"]).ok();
    let log = access_log(&p, &case);
    assert_eq!(log.len(), 1, "{log:?}");
    let e = &log[0];
    assert_eq!(str_field(e, "action"), "viewed");
    assert_eq!(str_field(e, "evidence_id"), id);
    assert_eq!(str_field(e, "case_id"), case);
    assert_eq!(str_field(e, "reason"), "checking the witness statement");
    assert_eq!(str_field(e, "actor_name"), crate::harness::NAME);
    assert!(chrono::DateTime::parse_from_rfc3339(&str_field(e, "at")).is_ok());

    // A case view (no reason), an export with its reason (custody and access log both).
    p.cmd(&["case", "show", &case, "--json"]).ok();
    let out = p.path("copy.txt");
    p.cmd(&["evidence", "export", &id, "--out", s(&out), "--reason", "for the prosecutor"]).ok();
    let log = access_log(&p, &case);
    let actions: Vec<(String, Value, Value)> =
        log.iter().map(|e| (str_field(e, "action"), e["evidence_id"].clone(), e["reason"].clone())).collect();
    assert_eq!(
        actions,
        [
            ("viewed".into(), Value::from(id.as_str()), Value::from("checking the witness statement")),
            ("viewed".into(), Value::Null, Value::Null),
            ("exported".into(), Value::from(id.as_str()), Value::from("for the prosecutor")),
        ]
    );

    // The table names who, what, which item and why.
    let text = p.cmd(&["case", "access-log", &case]);
    text.ok();
    for needle in [crate::harness::NAME, "viewed", "exported", "(case)", "for the prosecutor", id.as_str()] {
        assert!(text.stdout.contains(needle), "access-log should show {needle:?}\n{text}");
    }
    p.check_ok();
}

#[test]
fn a_volunteers_views_are_not_logged() {
    let p = Profile::with_role("Mila Jansen", Role::Volunteer);
    let case = p.new_case("My sighting");
    let (id, _) = p.add_evidence(&case, &p.write_file("note.txt", b"white van\n"));
    p.cmd(&["evidence", "show", &id, "--reason", "curious"]).ok();
    p.cmd(&["case", "show", &case]).ok();
    let out = p.path("copy.txt");
    p.cmd(&["evidence", "export", &id, "--out", s(&out)]).ok();
    assert!(access_log(&p, &case).is_empty());
    assert!(!kinds(&p).iter().any(|k| k == "access_recorded"), "{:?}", kinds(&p));
    // And a volunteer does not decide disclosure.
    let me = str_field(&p.json(&["whoami", "--json"]), "member_id");
    p.cmd(&["case", "disclose", &case, &me, "--reason", "x"]).fails_with("only supervisors approve it");
}

#[test]
fn disclosure_needs_a_supervisor_a_known_member_and_a_reason() {
    // Issue 16: an investigator does not approve a disclosure, and nothing is recorded.
    let inv = Profile::new();
    let case = inv.new_case("Hit and run");
    let me = str_field(&inv.json(&["whoami", "--json"]), "member_id");
    inv.cmd(&["case", "disclose", &case, &me, "--reason", "court order 12/26"]).fails_with("only supervisors approve it");
    assert!(!kinds(&inv).iter().any(|k| k == "disclosure_recorded"));

    let p = Profile::with_role(crate::harness::NAME, Role::Supervisor);
    let case = p.new_case("Hit and run");
    let me = str_field(&p.json(&["whoami", "--json"]), "member_id");
    let out = p.cmd(&["case", "disclose", &case, &me]);
    assert_eq!(out.code, Some(2), "--reason is required\n{out}");
    p.cmd(&["case", "disclose", &case, "not-an-id", "--reason", "court order 12/26"]).fails_with("is not a member id");
    p.cmd(&["case", "disclose", &case, "0190a0c4-0000-7000-8000-000000000000", "--reason", "court order 12/26"])
        .fails_with("is not known to this store");
    let ok = p.cmd(&["case", "disclose", &case, &me, "--reason", "court order 12/26"]);
    ok.ok();
    assert!(ok.stdout.contains(crate::harness::NAME), "{ok}");
    assert!(kinds(&p).iter().any(|k| k == "disclosure_recorded"));
}

/// A small JPEG with a sharp pattern in its top-left quarter.
fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(160, 120, |x, y| {
        if x < 80 && y < 60 && (x / 3).is_multiple_of(2) {
            image::Rgb([0, 0, 0])
        } else {
            image::Rgb([230, 230, 230])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).expect("encode");
    out
}

#[test]
fn redact_through_the_cli() {
    let p = Profile::new();
    let case = p.new_case("Hit and run");
    let (id, sha) = p.add_evidence(&case, &p.write_file("IMG_0042.JPG", &photo()));

    // Something must be asked for (a usage error); a region must fit.
    assert_eq!(p.cmd(&["evidence", "redact", &id]).code, Some(2));
    assert_eq!(p.cmd(&["evidence", "redact", &id, "--blur", "1,2,3"]).code, Some(2));
    p.cmd(&["evidence", "redact", &id, "--blur", "100,0,80,10"]).fails_with("reaches past the right edge of the 160x120 image");

    let v = p.json(&["evidence", "redact", &id, "--blur", "0,0,80,60", "--reason", "public appeal", "--json"]);
    assert_eq!(str_field(&v, "original_id"), id);
    assert_eq!(str_field(&v, "original_sha256"), sha);
    assert_eq!(str_field(&v, "media_type"), "image/jpeg");
    assert_eq!(v["operations"], serde_json::json!(["strip-metadata", "blur 0,0,80,60"]));
    let new = str_field(&v, "id");

    let shown = p.json(&["evidence", "show", &new, "--json"]);
    assert_eq!(str_field(&shown, "original_name"), "IMG_0042-redacted.jpg");
    assert_eq!(str_field(&shown["derived_from"], "original_sha256"), sha);
    let custody = p.json(&["evidence", "custody", &id, "--json"]);
    assert_eq!(str_field(custody.as_array().expect("array").last().expect("an entry"), "action"), "redacted");
    assert_eq!(str_field(&p.json(&["evidence", "show", &id, "--json"]), "sha256"), sha, "the original is unchanged");
    assert!(access_log(&p, &case).iter().any(|e| str_field(e, "action") == "redacted" && e["reason"] == "public appeal"));

    // Human output: the new item, then its provenance; a note when metadata was not asked for.
    let text = p.cmd(&["evidence", "redact", &id, "--blur", "0,0,10,10"]);
    text.ok();
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(lines[0].ends_with("IMG_0042-redacted.jpg"), "{text}");
    assert_eq!(lines[1], format!("derived from {id}  {sha}"));
    assert_eq!(lines[2], "operations: strip-metadata; blur 0,0,10,10");
    assert!(lines[3].contains("always stripped"), "{text}");

    // Fill instead of blur (not both at once: a usage error).
    let v = p.json(&["evidence", "redact", &id, "--fill", "10,10,20,20", "--json"]);
    assert_eq!(v["operations"], serde_json::json!(["strip-metadata", "fill 10,10,20,20"]));
    assert_eq!(p.cmd(&["evidence", "redact", &id, "--fill", "0,0,1,1", "--blur", "0,0,1,1"]).code, Some(2));

    // Not an image: a clear error, nothing added.
    let (txt, _) = p.add_evidence(&case, &p.write_file("statement.txt", b"I saw a white van.\n"));
    let before = p.json(&["evidence", "list", &case, "--json"]);
    p.cmd(&["evidence", "redact", &txt, "--strip-metadata"]).fails_with("is text/plain, not a JPEG or PNG image");
    assert_eq!(p.json(&["evidence", "list", &case, "--json"]), before);
    p.check_ok();
}

/// Issue 16: `casebridge access-log [--case CASE] [--member M] [--since T] [--json]` reads the
/// access log of every case the store holds, filtered; bad filters are named.
#[test]
fn access_log_reads_every_case_by_member_and_time() {
    let p = Profile::new();
    let (a, b) = (p.new_case("Hit and run"), p.new_case("Burglary"));
    let start = chrono::Utc::now().fixed_offset();
    p.cmd(&["case", "show", &a, "--reason", "first look"]).ok();
    p.cmd(&["case", "show", &b, "--reason", "second look"]).ok();
    let me = str_field(&p.json(&["whoami", "--json"]), "member_id");

    let all = p.json(&["access-log", "--json"]);
    let cases: Vec<String> = all.as_array().unwrap().iter().map(|e| str_field(e, "case_id")).collect();
    assert_eq!(cases, [a.clone(), b.clone()], "both cases, oldest first\n{all}");
    let only_b = p.json(&["access-log", "--case", &b, "--json"]);
    assert_eq!(only_b.as_array().unwrap().len(), 1);
    assert_eq!(str_field(&only_b[0], "reason"), "second look");
    assert_eq!(p.json(&["access-log", "--member", &me, "--json"]).as_array().unwrap().len(), 2);
    let someone_else = "0190a0c4-0000-7000-8000-000000000000";
    assert!(p.json(&["access-log", "--member", someone_else, "--json"]).as_array().unwrap().is_empty());
    let since = start.to_rfc3339();
    assert_eq!(p.json(&["access-log", "--since", &since, "--json"]).as_array().unwrap().len(), 2);
    let later = (start + chrono::Duration::hours(1)).to_rfc3339();
    assert!(p.json(&["access-log", "--since", &later, "--json"]).as_array().unwrap().is_empty());
    let text = p.cmd(&["access-log"]);
    text.ok();
    for needle in [a.as_str(), b.as_str(), "first look", "second look"] {
        assert!(text.stdout.contains(needle), "access-log should show {needle:?}\n{text}");
    }

    // Bad filters are named; nothing is recorded by a refused command.
    p.cmd(&["access-log", "--since", "yesterday"]).fails_with("since");
    p.cmd(&["access-log", "--member", "nobody"]).fails_with("is not a member id");
    p.cmd(&["access-log", "--case", "no-such-case"]).fails_with("no case matches");
    // A volunteer's device holds no access log.
    let v = Profile::with_role("Vic", Role::Volunteer);
    v.cmd(&["access-log"]).fails_with("for police staff");
}

// ----- issue 16: an access log with no gaps --------------------------------------------------

/// Every entry of `p`'s access log (all cases, and the case list's).
fn all_entries(p: &Profile) -> Vec<Value> {
    p.json(&["access-log", "--json"]).as_array().expect("access-log --json prints an array").clone()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect()).unwrap_or_default()
}

/// What a read command must leave: the action, and the ids it names.
enum Names {
    /// `case_id` and `item_ids` (the case list: the nil case).
    Items(String, Vec<String>),
    /// `case_id` and `evidence_id`.
    Item(String, String),
    /// `case_id` only.
    Case(String),
}

/// Runs `args` on `p` and asserts it left exactly one new access entry, with `action`, naming
/// what `names` says; returns the command's stdout.
#[track_caller]
fn one_entry(p: &Profile, what: &str, args: &[&str], action: &str, names: impl FnOnce(&str) -> Names) -> String {
    let before = all_entries(p);
    let out = crate::endpoint::run(p, args);
    out.ok();
    let after = all_entries(p);
    let new: Vec<&Value> = after.iter().filter(|e| !before.contains(e)).collect();
    assert_eq!(new.len(), 1, "`{what}` leaves exactly one access entry, one per view: {new:#?}");
    let e = new[0];
    assert_eq!(str_field(e, "action"), action, "{what}: {e}");
    assert_eq!(str_field(e, "status"), "chained", "{what}: {e}");
    assert_eq!(str_field(e, "actor_name"), "Vera Brandt", "{what}: {e}");
    match names(&out.stdout) {
        Names::Items(case, items) => {
            assert_eq!(str_field(e, "case_id"), case, "{what}: {e}");
            let mut got = ids(&e["item_ids"]);
            let mut want = items;
            got.sort();
            want.sort();
            assert_eq!(got, want, "{what} names exactly the ids it showed: {e}");
        }
        Names::Item(case, item) => {
            assert_eq!(str_field(e, "case_id"), case, "{what}: {e}");
            assert_eq!(str_field(e, "evidence_id"), item, "{what}: {e}");
        }
        Names::Case(case) => assert_eq!(str_field(e, "case_id"), case, "{what}: {e}"),
    }
    out.stdout
}

fn json_ids(stdout: &str, field: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(stdout).expect("--json output");
    v.as_array().expect("array").iter().map(|x| str_field(x, field)).collect()
}

/// Issue 16, the access log has no gaps: every read command of case data by police staff leaves
/// exactly one signed access entry naming what it showed (a table over the commands), a bundle
/// export writes custody `transferred` for what it carried, the endpoint's own log names each
/// fetch, and `agency check` finds a forged or left-out entry of it.
#[test]
fn every_read_command_leaves_one_entry_naming_what_it_showed() {
    use crate::endpoint::{invite, member, new_agency, run, sync, Endpoint};
    let admin = Profile::empty();
    let agency = admin.root().join("agency");
    new_agency(&agency);
    let endpoint = Endpoint::start(&agency);
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &invite(&admin, &agency, "investigator", "Vera Brandt", &[])]).ok();
    let case = inv.new_case("Bike thefts, Mitte");
    let (own, _) = inv.add_evidence(&case, &inv.write_file("statement.txt", b"A white van, no plates.\n"));
    let brief = inv.cmd(&["brief", "publish", &case, "--title", "Photos wanted", "--body", "Main St"]).ok().stdout.trim().to_string();
    sync(&inv);
    let vol = member(Role::Volunteer, "Mila Jansen");
    vol.cmd(&["enrol", &invite(&admin, &agency, "volunteer", "Mila Jansen", &[])]).ok();
    sync(&vol);
    let (p1, p2) = (vol.random_file("photo1.jpg", 20_000, 1), vol.random_file("photo2.jpg", 30_000, 2));
    let sub = str_field(&vol.json(&["submit", &brief, s(&p1), s(&p2), "--json"]), "id");
    sync(&vol);
    assert_eq!(sync(&inv)["content_fetched"], 2);
    let public = inv.path("agency-public.json");
    run(&admin, &["agency", "export-public", "--dir", s(&agency), "--out", s(&public)]).ok();
    let nil = uuid::Uuid::nil().to_string();

    // The table: each read command, what it must leave.
    let listed =
        one_entry(&inv, "case list", &["case", "list", "--json"], "listed_cases", |o| Names::Items(nil.clone(), json_ids(o, "id")));
    assert_eq!(json_ids(&listed, "id"), std::slice::from_ref(&case));
    let shown = one_entry(&inv, "evidence list", &["evidence", "list", &case, "--json"], "listed_evidence", |o| {
        Names::Items(case.clone(), json_ids(o, "id"))
    });
    let items = json_ids(&shown, "id");
    assert_eq!(items.len(), 3, "the investigator's item and the two submitted: {shown}");
    let theirs: Vec<String> = items.iter().filter(|i| **i != own).cloned().collect();
    one_entry(&inv, "evidence custody", &["evidence", "custody", &theirs[0], "--json"], "viewed_custody", |_| {
        Names::Item(case.clone(), theirs[0].clone())
    });
    one_entry(&inv, "review list", &["review", "list", "--json"], "listed_submissions", |o| Names::Items(case.clone(), json_ids(o, "id")));
    one_entry(&inv, "review list --state", &["review", "list", "--state", "pending"], "listed_submissions", |_| {
        Names::Items(case.clone(), vec![sub.clone()])
    });
    one_entry(&inv, "review show", &["review", "show", &sub, "--json"], "viewed_submission", |_| {
        Names::Items(case.clone(), std::iter::once(sub.clone()).chain(theirs.iter().cloned()).collect())
    });
    one_entry(&inv, "log CASE", &["log", &case, "--json"], "viewed_log", |o| {
        let mut named: Vec<String> = serde_json::from_str::<Value>(o)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["evidence_id"].as_str().map(str::to_string))
            .collect();
        named.sort();
        named.dedup();
        Names::Items(case.clone(), named)
    });
    one_entry(&inv, "case show", &["case", "show", &case, "--json"], "viewed", |_| Names::Case(case.clone()));
    one_entry(&inv, "evidence show", &["evidence", "show", &own, "--json"], "viewed", |_| Names::Item(case.clone(), own.clone()));
    let copy = inv.path("copy.txt");
    one_entry(&inv, "evidence export", &["evidence", "export", &own, "--out", s(&copy)], "exported", |_| {
        Names::Item(case.clone(), own.clone())
    });
    let bundle = inv.path("case.cbb");
    one_entry(
        &inv,
        "bundle export",
        &["bundle", "export", "--case", &case, "--to", s(&public), "--out", s(&bundle), "--json"],
        "bundle_exported",
        |_| Names::Items(case.clone(), items.clone()),
    );
    // Custody complete: the bundle export is a transfer of every item it carried.
    for id in &items {
        let trail = inv.json(&["evidence", "custody", id, "--json"]);
        let last = trail.as_array().unwrap().last().unwrap().clone();
        assert_eq!(str_field(&last, "action"), "transferred", "{id}: {trail}");
        assert!(str_field(&last, "reason").starts_with("bundle "), "{last}");
    }
    // The access log is whole: `check` agrees, and the export of it verifies offline.
    inv.check_ok();
    let export = inv.path("access-log.json");
    let refused = inv.cmd(&["access-log", "--out", s(&export), "--since", "2026-01-01T00:00:00Z"]);
    assert_eq!(refused.code, Some(2), "--since with --out is a usage error: an export carries whole chains\n{refused}");
    assert!(refused.stderr.contains("cannot be used with") && !export.exists(), "{refused}");
    let done = inv.json(&["access-log", "--out", s(&export), "--json"]);
    assert_eq!(done["entries"].as_u64().map(|n| n as usize), Some(all_entries(&inv).len()), "{done}");
    inv.cmd(&["access-log", "--out", s(&export)]).fails_with("already exists");
    let verified = casebridge_verify::access_log::verify_access_log(&std::fs::read(&export).unwrap());
    assert!(verified.ok() && verified.text().contains("OK: every entry is signed"), "{}", verified.text());
    assert_eq!(verified.members, 1);
    // Syncing what the export wrote is not another export: sync records no access or custody.
    sync(&inv);
    let quiet = all_entries(&inv).len();
    sync(&inv);
    assert_eq!(all_entries(&inv).len(), quiet, "a sync round records nothing in the access log");

    // The endpoint's own log: the investigator's content fetches, by item, signed and chained.
    let log = run(&admin, &["agency", "access-log", "--dir", s(&agency), "--json"]);
    log.ok();
    let log = log.json();
    assert_eq!(log["ok"], true, "{log}");
    let inv_id = str_field(&inv.json(&["whoami", "--json"]), "member_id");
    let fetched: Vec<String> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "content" && e["member"] == inv_id.as_str())
        .flat_map(|e| ids(&e["items"]))
        .collect();
    let mut want = theirs.clone();
    want.sort();
    let mut got = fetched.clone();
    got.sort();
    assert_eq!(got, want, "one entry per content fetch, naming the item: {log}");
    let pages = run(&admin, &["agency", "access-log", "--dir", s(&agency), "--member", &inv_id, "--json"]).ok().json();
    assert!(pages["entries"].as_array().unwrap().iter().any(|e| e["action"] == "feed_page"), "{pages}");
    assert!(pages["entries"].as_array().unwrap().iter().all(|e| e["member"] == inv_id.as_str()), "{pages}");
    run(&admin, &["agency", "access-log", "--dir", s(&agency), "--since", "yesterday"]).fails_with("since");
    endpoint.stop();

    // Opening the bundle (a whole case with originals) at the agency is logged where it is opened.
    let sup = member(Role::Supervisor, "Vera Brandt");
    let opened = run(&sup, &["bundle", "open", s(&bundle), "--agency-dir", s(&agency), "--json"]);
    opened.ok();
    let entries = all_entries(&sup);
    let bundle_opened: Vec<&Value> = entries.iter().filter(|e| e["action"] == "bundle_opened").collect();
    assert_eq!(bundle_opened.len(), 1, "{entries:#?}");
    let mut named = ids(&bundle_opened[0]["item_ids"]);
    named.sort();
    let mut want = items.clone();
    want.sort();
    assert_eq!(named, want);

    if casebridge_testkit::deployment::Deployment::current().is_cluster() {
        return; // the tampering below edits the embedded agency's record files
    }
    // A forged entry (one byte of a record changed) and a left-out entry are found by `agency check`.
    run(&admin, &["agency", "check", "--dir", s(&agency)]).ok();
    let dir = agency.join("access-log");
    let mut records: Vec<std::path::PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    records.sort();
    assert!(records.len() >= 3, "{records:?}");
    let saved = std::fs::read(&records[1]).unwrap();
    std::fs::remove_file(&records[1]).unwrap();
    let out = run(&admin, &["agency", "check", "--dir", s(&agency), "--json"]);
    assert_eq!(out.code, Some(1), "{out}");
    let codes: Vec<String> = out.json()["problems"].as_array().unwrap().iter().map(|p| str_field(p, "code")).collect();
    assert_eq!(codes, ["endpoint_log_gap"], "{out}");
    let mut forged = saved.clone();
    let at = forged.len() / 2;
    forged[at] ^= 0x01;
    std::fs::write(&records[1], &forged).unwrap();
    let out = run(&admin, &["agency", "check", "--dir", s(&agency), "--json"]);
    assert_eq!(out.code, Some(1), "{out}");
    let codes: Vec<String> = out.json()["problems"].as_array().unwrap().iter().map(|p| str_field(p, "code")).collect();
    assert!(codes.contains(&"endpoint_log_forged".to_string()), "{out}");
    let text = run(&admin, &["agency", "access-log", "--dir", s(&agency)]);
    assert_eq!(text.code, Some(1), "{text}");
    assert!(text.stdout.contains("endpoint_log_forged") && text.stdout.contains("NOT OK"), "{text}");
    std::fs::write(&records[1], &saved).unwrap();
    run(&admin, &["agency", "check", "--dir", s(&agency)]).ok();
}
