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
