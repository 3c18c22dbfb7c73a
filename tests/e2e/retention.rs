//! Retention and legal hold (issue 16) through real processes over HTTPS on 127.0.0.1: an
//! agency's signed rules, `retention run [--dry-run]` (through the running endpoint), deletion
//! by crypto-shredding with a signed tombstone that reaches every device at its next sync (a
//! supervisor's, the contributing volunteer's, and an investigator's that was offline during
//! the deletion), a case under legal hold kept, a volunteer's withdrawal, and a court package
//! of a case with deletions that the independent verifier accepts and that lists the
//! tombstones. The agency is deployed as `CASEBRIDGE_TEST_DEPLOYMENT` says: scripts/test runs
//! this module for an embedded agency and again for a cluster agency (the run appends its
//! tombstones through the database's journal lock and deletes the items' keys in the bucket;
//! `cluster::` adds two replicas and an interrupted run).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use casebridge_core::Role;
use serde_json::Value;

use crate::endpoint::{invite, member, new_agency, run, sync, Endpoint};
use crate::harness::{object_files, s, str_field, Profile};

struct World {
    admin: Profile,
    agency: PathBuf,
    endpoint: Endpoint,
    inv: Profile,
    sup: Profile,
    vol: Profile,
    brief: String,
    case: String,
}

fn world() -> World {
    let admin = Profile::empty();
    let agency = admin.root().join("agency");
    new_agency(&agency);
    let endpoint = Endpoint::start(&agency);
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &invite(&admin, &agency, "investigator", "Vera Brandt", &[])]).ok();
    let sup = member(Role::Supervisor, "Sam Keller");
    sup.cmd(&["enrol", &invite(&admin, &agency, "supervisor", "Sam Keller", &[])]).ok();
    let vol = member(Role::Volunteer, "Mila Jansen");
    vol.cmd(&["enrol", &invite(&admin, &agency, "volunteer", "Mila Jansen", &[])]).ok();
    let case = inv.cmd(&["case", "new", "--title", "Bike thefts, Mitte", "--category", "burglary"]).ok().stdout.trim().to_string();
    let brief =
        inv.cmd(&["brief", "publish", &case, "--title", "Photos wanted", "--body", "Main St, Friday night"]).ok().stdout.trim().to_string();
    sync(&inv);
    sync(&vol);
    World { admin, agency, endpoint, inv, sup, vol, brief, case }
}

fn set_rules(w: &World, rules: &str) {
    let file = w.admin.write_file("rules.json", rules.as_bytes());
    run(&w.admin, &["agency", "retention", "set", "--dir", s(&w.agency), "--file", s(&file)]).ok();
}

fn retention(w: &World, extra: &[&str]) -> Value {
    let mut args = vec!["retention", "run", "--dir", s(&w.agency), "--json"];
    args.extend_from_slice(extra);
    let out = run(&w.admin, &args);
    out.ok();
    out.json()
}

fn ids(v: &Value, key: &str) -> BTreeSet<String> {
    v[key].as_array().unwrap().iter().map(|d| str_field(d, "evidence_id")).collect()
}

/// How many sealed content objects the agency keeps (files under its store's `objects/`, or
/// keys under `objects/` in a cluster agency's bucket).
fn agency_objects(w: &World) -> usize {
    casebridge_testkit::deployment::object_names(&w.agency).len()
}

/// Every place the agency keeps bytes in that holds `needle`: its directory's files, and a
/// cluster agency's database and bucket.
fn agency_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    casebridge_testkit::deployment::stored_bytes(dir)
        .into_iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
        .map(|(place, _)| place)
        .collect()
}

/// Every file under `dir` that holds `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    crate::harness::walk_files(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)))
        .collect()
}

fn agency_check_clean(w: &World) {
    let out = run(&w.admin, &["agency", "check", "--dir", s(&w.agency), "--read-data", "--json"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.json()["ok"], true, "{out}");
}

#[test]
fn retention_deletes_everywhere_keeps_held_cases_and_reaches_an_offline_device() {
    let w = world();
    let (inv, sup, vol) = (&w.inv, &w.sup, &w.vol);
    // A staff item in the burglary case, a second burglary case with an item (held below), and a
    // volunteer's photo that is rejected.
    let staff_bytes = b"staff photo of the bike rack".repeat(64);
    let (staff_item, staff_sha) = inv.add_evidence(&w.case, &inv.write_file("rack.jpg", &staff_bytes));
    let held_case = inv.cmd(&["case", "new", "--title", "Garage break-in", "--category", "burglary"]).ok().stdout.trim().to_string();
    let (held_item, _) = inv.add_evidence(&held_case, &inv.write_file("garage.jpg", b"garage door, held case"));
    let marker = b"BYSTANDER-PLATE-KB4711 ".repeat(200);
    let photo = vol.write_file("balcony.jpg", &marker);
    let sub = str_field(&vol.json(&["submit", &w.brief, s(&photo), "--json"]), "id");
    assert_eq!(sync(vol)["uploaded"], 1);
    sync(inv);
    let vol_item = str_field(&inv.json(&["review", "show", &sub, "--json"])["items"][0], "evidence_id");
    inv.cmd(&["review", "reject", &sub, "--reason", "shows a bystander, not the bikes"]).ok();
    sync(inv);
    // The supervisor holds everything, and puts the second case under legal hold.
    sync(sup);
    sup.cmd(&["case", "hold", &held_case, "--reason", "12 Js 345/26"]).ok();
    sync(sup);
    sync(vol);
    let inv_objects = object_files(&inv.store).len();
    // From here the investigator's device stays offline until the end.

    // Rules: only the agency passphrase's holder signs them; a bad file names what is wrong.
    let bad =
        w.admin.write_file("bad.json", br#"{"rules": [{"id": "x", "category": "burglary", "submissions": "rejected", "after_days": 1}]}"#);
    run(&w.admin, &["agency", "retention", "set", "--dir", s(&w.agency), "--file", s(&bad)])
        .fails_with("exactly one of category and submissions");
    set_rules(
        &w,
        r#"{"rules": [{"id": "burglary-now", "category": "burglary", "after_days": 0}, {"id": "rejected-now", "submissions": "rejected", "after_days": 0}]}"#,
    );
    let shown = run(&w.admin, &["agency", "retention", "show", "--dir", s(&w.agency), "--json"]);
    shown.ok();
    assert_eq!(shown.json()["version"], 1, "{shown}");

    // A dry run says what would go and why, and changes nothing.
    let before = agency_objects(&w);
    let dry = retention(&w, &["--dry-run"]);
    assert_eq!(dry["via"], "endpoint", "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(ids(&dry, "deleted"), BTreeSet::from([staff_item.clone(), vol_item.clone()]), "{dry}");
    assert_eq!(ids(&dry, "held"), BTreeSet::from([held_item.clone()]), "{dry}");
    let rule_of = |v: &Value, id: &str| {
        v["deleted"].as_array().unwrap().iter().find(|d| d["evidence_id"] == id).map(|d| str_field(d, "rule")).unwrap()
    };
    assert_eq!(rule_of(&dry, &vol_item), "rejected-now");
    assert_eq!(rule_of(&dry, &staff_item), "burglary-now");
    assert_eq!(agency_objects(&w), before);
    let text = run(&w.admin, &["retention", "run", "--dir", s(&w.agency), "--dry-run"]);
    text.ok();
    assert!(text.stdout.contains("would delete 2 item(s)") && text.stdout.contains("kept under legal hold, 1 item(s)"), "{text}");

    // The run deletes: the agency's sealed objects of both items are gone, the held one stays.
    let done = retention(&w, &[]);
    assert_eq!(ids(&done, "deleted"), BTreeSet::from([staff_item.clone(), vol_item.clone()]));
    assert_eq!(agency_objects(&w), before - 2);
    assert!(retention(&w, &[])["deleted"].as_array().unwrap().is_empty(), "a second run has nothing left to delete");
    let left = agency_holding(&w.agency, &marker[..64]);
    assert!(left.is_empty(), "no plaintext anywhere the agency keeps bytes: {left:?}");

    // The supervisor's and the volunteer's devices destroy their copies at their next sync.
    let before_sup = object_files(&sup.store).len();
    assert_eq!(sync(sup)["deleted"], 2);
    assert_eq!(object_files(&sup.store).len(), before_sup - 2);
    let shown = sup.json(&["evidence", "show", &staff_item, "--json"]);
    assert_eq!(shown["deleted"]["rule"], "burglary-now", "{shown}");
    assert_eq!(shown["original_name"], "", "{shown}");
    let text = sup.cmd(&["evidence", "show", &staff_item]);
    text.ok();
    assert!(text.stdout.contains("deleted under rule burglary-now on"), "{text}");
    sup.cmd(&["evidence", "export", &staff_item, "--out", s(&sup.path("x.jpg"))]).fails_with("was deleted under rule burglary-now");
    assert!(sup.json(&["evidence", "show", &held_item, "--json"])["deleted"].is_null());
    let before_vol = object_files(&vol.store).len();
    assert_eq!(sync(vol)["deleted"], 1);
    assert_eq!(object_files(&vol.store).len(), before_vol - 1);

    // The investigator's device was offline during the deletion: it loses the content now.
    let r = sync(inv);
    assert_eq!(r["deleted"], 2, "{r}");
    assert_eq!(object_files(&inv.store).len(), inv_objects - 2);
    assert!(inv.json(&["evidence", "show", &vol_item, "--json"])["deleted"]["rule"] == "rejected-now");
    for p in [inv, sup, vol] {
        p.check_ok();
        assert!(holding(&p.store, &marker[..64]).is_empty());
        assert!(holding(&p.store, staff_sha.as_bytes()).is_empty(), "no hash in the clear");
    }
    agency_check_clean(&w);

    // Released, the held case's item goes at the next run.
    sup.cmd(&["case", "release", &held_case, "--reason", "proceedings closed"]).ok();
    sync(sup);
    assert_eq!(ids(&retention(&w, &[]), "deleted"), BTreeSet::from([held_item.clone()]));
    assert_eq!(sync(sup)["deleted"], 1);

    // A court package of the case with deletions verifies and lists the tombstones.
    let pkg = sup.path("package");
    sup.cmd(&["export", "court", &w.case, "--out", s(&pkg)]).ok();
    assert!(pkg.join("tombstones").join(format!("{staff_item}.json")).is_file());
    assert!(!pkg.join("originals").join(&staff_item).exists());
    let fp = str_field(&run(&w.admin, &["agency", "show", "--dir", s(&w.agency), "--json"]).json(), "root_fingerprint");
    let report = casebridge_verify::verify_package(&pkg, Some(&fp.parse().unwrap()));
    assert!(report.verified, "{:?}", report.problems);
    let listed: BTreeSet<String> = report.tombstones.iter().map(|t| t.evidence_id.clone()).collect();
    assert_eq!(listed, BTreeSet::from([staff_item.clone(), vol_item.clone()]));
    assert!(report.to_text().contains("deleted items"), "the report lists the tombstones");

    agency_check_clean(&w);
    // The endpoint holds the agency directory; the offline commands below open it.
    w.endpoint.stop();

    // A bundle of the whole case: the deleted items travel as their events and the agency's
    // tombstones, without content, and arrive deleted (not `blob_missing`).
    let public = sup.path("agency-public.json");
    run(sup, &["agency", "export-public", "--dir", s(&w.agency), "--out", s(&public)]).ok();
    let bundle = sup.path("case.cbb");
    let summary = sup.json(&["bundle", "export", "--case", &w.case, "--to", s(&public), "--out", s(&bundle), "--json"]);
    assert_eq!(summary["blobs"], 0, "{summary}");
    let verified = run(sup, &["bundle", "verify", s(&bundle), "--agency-dir", s(&w.agency)]);
    verified.ok();
    assert_eq!(verified.stdout.lines().last(), Some("VERIFIED"), "{verified}");
    let receiver = Profile::new();
    let opened = run(sup, &["bundle", "open", s(&bundle), "--agency-dir", s(&w.agency), "--into", s(&receiver.store), "--json"]);
    opened.ok();
    let opened = opened.json();
    assert_eq!(opened["outcome"], "accepted", "{opened}");
    for (item, rule) in [(&staff_item, "burglary-now"), (&vol_item, "rejected-now")] {
        let shown = receiver.json(&["evidence", "show", item, "--json"]);
        assert_eq!(shown["deleted"]["rule"], rule, "{shown}");
    }
    receiver.check_ok();

    // The court report lists them as deleted, with their tombstones, not as unreadable.
    let html = sup.path("report.html");
    sup.cmd(&["report", &w.case, "--out", s(&html), "--html"]).ok();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Deleted items (2)") && page.contains("burglary-now") && page.contains(&staff_sha), "deleted items listed");
    assert!(!page.contains("CONTENT CHECK FAILED") && !page.contains("evidence_deleted"));
}

#[test]
fn a_volunteer_withdraws_a_pending_submission_but_not_an_accepted_one() {
    let w = world();
    let (inv, vol) = (&w.inv, &w.vol);
    let pending = str_field(&vol.json(&["submit", &w.brief, s(&vol.write_file("a.jpg", b"first photo, withdrawn")), "--json"]), "id");
    let accepted = str_field(&vol.json(&["submit", &w.brief, s(&vol.write_file("b.jpg", b"second photo, accepted")), "--json"]), "id");
    sync(vol);
    sync(inv);
    inv.cmd(&["review", "accept", &accepted]).ok();
    sync(inv);
    sync(vol);

    vol.cmd(&["withdraw", &accepted]).fails_with("has an accepted item");
    inv.cmd(&["withdraw", &pending]).fails_with("is not yours");
    let out = vol.json(&["withdraw", &pending, "--reason", "wrong street", "--json"]);
    assert!(out["withdrawn_at"].is_string(), "{out}");
    vol.cmd(&["withdraw", &pending]).fails_with("withdrawn already");
    assert_eq!(sync(vol)["uploaded"], 1);

    let r = retention(&w, &[]);
    let deleted: Vec<&Value> = r["deleted"].as_array().unwrap().iter().collect();
    assert_eq!(deleted.len(), 1, "{r}");
    assert_eq!(deleted[0]["rule"], "withdrawn");
    assert_eq!(deleted[0]["submission_id"], pending.as_str());
    assert_eq!(sync(vol)["deleted"], 1);
    assert_eq!(sync(inv)["deleted"], 1);
    let shown = inv.json(&["review", "show", &pending, "--json"]);
    assert!(shown["withdrawn_at"].is_string(), "{shown}");
    // A device that first syncs after the deletion (the supervisor's here) gets the item with
    // its tombstone and without content, kept deleted, not a page refused for a missing
    // content (the desktop E2E found it: "evidence … arrives without its content").
    let item = str_field(deleted[0], "evidence_id");
    let r = sync(&w.sup);
    assert!(r["deleted"].is_null(), "it held no copy to destroy: {r}");
    let shown = w.sup.json(&["evidence", "show", &item, "--json"]);
    assert_eq!(shown["deleted"]["rule"], "withdrawn", "{shown}");
    assert_eq!(shown["original_name"], "", "{shown}");
    assert!(sync(&w.sup)["deleted"].is_null(), "the tombstone, sent again when the cursor reaches it, changes nothing");
    for p in [inv, vol, &w.sup] {
        p.check_ok();
    }
    agency_check_clean(&w);
    w.endpoint.stop();
}

#[test]
fn retention_run_works_without_an_endpoint_and_names_what_is_wrong() {
    let admin = Profile::empty();
    let agency = admin.root().join("agency");
    new_agency(&agency);
    let out = run(&admin, &["retention", "run", "--dir", s(&agency), "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!((v["via"].as_str(), v["deleted"].as_array().map(Vec::len)), (Some("direct"), Some(0)), "{v}");
    run(&admin, &["retention", "run", "--dir", s(&admin.root().join("nowhere"))]).fails();
    let unknown = admin.write_file("r.json", br#"{"rules": [{"id": "a", "category": "fraud", "after_days": 1, "keep": true}]}"#);
    run(&admin, &["agency", "retention", "set", "--dir", s(&agency), "--file", s(&unknown)]).fails_with("unknown field");
    let twice = admin.write_file(
        "t.json",
        br#"{"rules": [{"id": "a", "category": "fraud", "after_days": 1}, {"id": "b", "category": "Fraud", "after_days": 2}]}"#,
    );
    run(&admin, &["agency", "retention", "set", "--dir", s(&agency), "--file", s(&twice)]).fails_with("a second rule for category fraud");
    let shown = run(&admin, &["agency", "retention", "show", "--dir", s(&agency)]);
    shown.ok();
    assert!(shown.stdout.contains("no retention rules set"), "{shown}");
}
