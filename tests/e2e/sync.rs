//! The whole loop through real processes and real HTTPS on 127.0.0.1: agency endpoint,
//! enrolment by invite, briefs, submissions, review, receipts; cut connections and a
//! restarted endpoint lose nothing.

use std::time::Duration;

use casebridge_core::Role;
use serde_json::Value;

use crate::endpoint::{invite, member, new_agency, run, sync, Endpoint, Faults, Proxy};
use crate::harness::{s, str_field, Profile};

fn first_id(v: &Value) -> String {
    str_field(&v.as_array().expect("array")[0], "id")
}

/// An enrolled investigator with a case and a brief, and an enrolled volunteer who has
/// pulled the brief.
struct World {
    admin: Profile,
    agency: std::path::PathBuf,
    endpoint: Endpoint,
    inv: Profile,
    vol: Profile,
    case: String,
    brief: String,
}

fn world(url: Option<&str>) -> World {
    let admin = Profile::empty();
    let agency = admin.root().join("agency");
    new_agency(&agency);
    let endpoint = Endpoint::start(&agency);
    let extra: Vec<&str> = url.map(|u| vec!["--url", u]).unwrap_or_default();
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &invite(&admin, &agency, "investigator", "Vera Brandt", &extra)]).ok();
    let case = inv.new_case("Bike thefts, Mitte");
    let brief = inv
        .cmd(&[
            "brief",
            "publish",
            &case,
            "--title",
            "Dashcam footage wanted",
            "--body",
            "Main St, Friday 22:00-23:00",
            "--area",
            "52.52,13.405,500",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    sync(&inv);
    let vol = member(Role::Volunteer, "Mila Jansen");
    vol.cmd(&["enrol", &invite(&admin, &agency, "volunteer", "Mila Jansen", &extra)]).ok();
    sync(&vol);
    World { admin, agency, endpoint, inv, vol, case, brief }
}

#[test]
fn the_whole_story() {
    let w = world(None);
    let (inv, vol) = (&w.inv, &w.vol);

    // The volunteer sees the brief, and nothing of the case.
    let briefs = vol.json(&["brief", "list", "--json"]);
    assert_eq!(briefs.as_array().unwrap().len(), 1);
    assert_eq!(first_id(&briefs), w.brief);
    for key in ["id", "title", "body", "area", "from", "until"] {
        assert!(briefs[0].get(key).is_some(), "brief list --json has {key}");
    }
    assert_eq!(briefs[0]["area"]["radius_m"], 500.0);
    assert!(vol.json(&["case", "list", "--json"]).as_array().unwrap().is_empty(), "no internal case data reaches a volunteer");

    // Two photos and a 50 MB video.
    let p1 = vol.random_file("photo1.jpg", 150_000, 1);
    let p2 = vol.random_file("photo2.jpg", 250_000, 2);
    let video = vol.random_file("video.mp4", 50_000_000, 3);
    let sub = vol.json(&["submit", &w.brief, s(&p1), s(&p2), s(&video), "--description", "from my balcony", "--json"]);
    let sub_id = str_field(&sub, "id");
    assert_eq!(sub["state"], "pending");
    let status = vol.json(&["sync", "status", "--json"]);
    assert_eq!(status["pending"], 1, "the submission waits in the outbox\n{status}");
    let r = sync(vol);
    assert_eq!(r["uploaded"], 1);
    assert_eq!(vol.json(&["sync", "status", "--json"])["pending"], 0);

    // The investigator syncs, sees the submission, verifies the content.
    let r = sync(inv);
    assert_eq!(r["content_fetched"], 3, "{r}");
    let list = inv.json(&["review", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    for key in ["id", "brief_id", "case_id", "submitted_at", "state", "items"] {
        assert!(list[0].get(key).is_some(), "review list --json has {key}");
    }
    assert_eq!(list[0]["case_id"], w.case.as_str());
    let items = list[0]["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    for i in &items {
        inv.cmd(&["evidence", "verify", i["evidence_id"].as_str().unwrap()]).ok();
    }
    let (accept, reject) = (items[0]["evidence_id"].as_str().unwrap(), items[2]["evidence_id"].as_str().unwrap());
    inv.cmd(&["review", "accept", &sub_id, "--item", accept]).ok();
    inv.cmd(&["review", "reject", &sub_id, "--item", reject, "--reason", "the video shows another street"]).ok();
    // Accepted evidence is in the case with its whole custody trail.
    let custody = inv.json(&["evidence", "custody", accept, "--json"]);
    let actions: Vec<&str> = custody.as_array().unwrap().iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["submitted", "received", "verified", "accepted"], "{custody}");
    sync(inv);

    // The volunteer sees both states, the reason, and holds receipts that verify.
    sync(vol);
    let mine = vol.json(&["review", "show", &sub_id, "--json"]);
    let state_of = |id: &str| mine["items"].as_array().unwrap().iter().find(|i| i["evidence_id"] == id).unwrap().clone();
    assert_eq!(state_of(accept)["state"], "accepted");
    assert_eq!(state_of(reject)["state"], "rejected");
    assert_eq!(state_of(reject)["reason"], "the video shows another street");
    let receipts = vol.json(&["receipt", "list", "--json"]);
    assert!(!receipts.as_array().unwrap().is_empty());
    for r in receipts.as_array().unwrap() {
        assert_eq!(r["verified"], true, "{r}");
    }
    w.endpoint.stop();
}

#[test]
fn invites_work_once_and_expire() {
    let admin = Profile::empty();
    let agency = admin.root().join("agency");
    new_agency(&agency);
    let endpoint = Endpoint::start(&agency);
    let code = invite(&admin, &agency, "volunteer", "A", &[]);
    let a = member(Role::Volunteer, "A");
    let b = member(Role::Volunteer, "B");
    a.cmd(&["enrol", &code]).ok();
    b.cmd(&["enrol", &code]).fails_with("already used");
    let short = invite(&admin, &agency, "volunteer", "C", &["--expires", "1s"]);
    std::thread::sleep(Duration::from_millis(2100));
    b.cmd(&["enrol", &short]).fails_with("expired");
    b.cmd(&["enrol", "cbinv1.garbage"]).fails_with("invite code");
    // A revoked volunteer is refused on the next request.
    let member_id = str_field(&a.json(&["whoami", "--json"]), "member_id");
    run(&admin, &["agency", "revoke", "--dir", s(&agency), &member_id, "--reason", "left"]).ok();
    let out = a.cmd(&["sync"]);
    out.fails();
    assert!(out.stderr.contains("401") || out.stderr.contains("revoked"), "{out}");
    endpoint.stop();
}

/// An agency whose members (an investigator with a case and a brief, a volunteer) reach its
/// endpoint through a [`Proxy`], which counts, delays or cuts their traffic.
struct Proxied {
    admin: Profile,
    agency: std::path::PathBuf,
    endpoint: Endpoint,
    proxy: Proxy,
    inv: Profile,
    vol: Profile,
    case: String,
    brief: String,
}

fn proxied() -> Proxied {
    let admin = Profile::empty();
    let agency = admin.root().join("agency");
    new_agency(&agency);
    let endpoint = Endpoint::start(&agency);
    let proxy = Proxy::start(endpoint.addr);
    let url = proxy.url();
    let inv = member(Role::Investigator, "Vera");
    inv.cmd(&["enrol", &invite(&admin, &agency, "investigator", "Vera", &["--url", &url])]).ok();
    let case = inv.new_case("c");
    let brief = inv.cmd(&["brief", "publish", &case, "--title", "t", "--body", "b"]).ok().stdout.trim().to_string();
    sync(&inv);
    let vol = member(Role::Volunteer, "Mila");
    vol.cmd(&["enrol", &invite(&admin, &agency, "volunteer", "Mila", &["--url", &url])]).ok();
    sync(&vol);
    Proxied { admin, agency, endpoint, proxy, inv, vol, case, brief }
}

#[test]
fn cut_connections_resume_and_store_one_copy() {
    // The members reach the endpoint through a proxy that cuts connections.
    let Proxied { agency, endpoint, proxy, inv, vol, brief, .. } = proxied();
    let size = 100_000_000u64;
    let big = vol.random_file("big.mp4", size, 9);
    vol.cmd(&["submit", &brief, s(&big)]).ok();

    // 50 cuts spread over the upload: each connection carries 2-4 MB before it is cut.
    let mut rng = crate::harness::Rng::new(7);
    let plan: Vec<Faults> =
        (0..50).map(|_| Faults { cut_after: Some(2_000_000 + rng.below(2_000_000)), delay: Duration::from_millis(rng.below(3)) }).collect();
    proxy.plan(plan);
    let before = proxy.up_bytes.load(std::sync::atomic::Ordering::SeqCst);
    let r = sync(&vol);
    assert_eq!(r["uploaded"], 1, "{r}");
    let cuts = proxy.cuts.load(std::sync::atomic::Ordering::SeqCst);
    let sent = proxy.up_bytes.load(std::sync::atomic::Ordering::SeqCst) - before;
    eprintln!("cut test: {cuts} cuts, {sent} bytes sent for a {size}-byte bundle ({:.3}x)", sent as f64 / size as f64);
    assert!(cuts >= 40, "the plan cut the upload many times ({cuts})");
    // At most one chunk (4 MiB) is re-sent per cut, plus TLS and HTTP overhead (< 2 %).
    let bound = size + cuts * 4 * 1024 * 1024 + size / 50;
    assert!(sent <= bound, "sent {sent} bytes for a {size}-byte bundle with {cuts} cuts (bound {bound})");

    // Exactly one copy reached the agency, whole.
    sync(&inv);
    let subs = inv.json(&["review", "list", "--json"]);
    assert_eq!(subs.as_array().unwrap().len(), 1);
    let item = subs[0]["items"][0]["evidence_id"].as_str().unwrap().to_string();
    inv.cmd(&["evidence", "verify", &item]).ok();
    assert_eq!(casebridge_testkit::deployment::uploads_with_bytes(&agency), 0, "no upload's bytes are left behind");
    // No byte twice: once both have synced what is new, a sync moves no content either way.
    proxy.set_default(Faults { cut_after: None, delay: Duration::ZERO });
    sync(&inv);
    sync(&vol);
    proxy.assert_sync_moves_no_content(&[&vol, &inv]);
    drop(proxy);
    endpoint.stop();
}

#[test]
fn a_restarted_endpoint_loses_nothing() {
    let w = world(None);
    let proxy = Proxy::start(w.endpoint.addr);
    // Slow the upload down so that the endpoint dies in the middle of it.
    proxy.set_default(Faults { cut_after: None, delay: Duration::from_millis(2) });
    let url = proxy.url();
    let vol2 = member(Role::Volunteer, "Jon");
    vol2.cmd(&["enrol", &invite(&w.admin, &w.agency, "volunteer", "Jon", &["--url", &url])]).ok();
    sync(&vol2);
    let f = vol2.random_file("clip.mp4", 30_000_000, 4);
    vol2.cmd(&["submit", &w.brief, s(&f)]).ok();
    let mut child = vol2.command(&["sync"]);
    let mut syncing = crate::harness::spawn(child.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null())).unwrap();
    let t0 = std::time::Instant::now();
    while proxy.up_bytes.load(std::sync::atomic::Ordering::SeqCst) < 8_000_000 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let agency = w.endpoint.dir.clone();
    let addr = w.endpoint.addr;
    w.endpoint.kill();
    let _ = syncing.kill();
    let _ = syncing.wait();

    // It comes back on the same address (as a real deployment does).
    let again = Endpoint::start_at(&agency, &addr.to_string());
    let r = sync(&vol2);
    assert_eq!(r["uploaded"], 1, "{r}");
    // The earlier submission and this one are both there, once each, and verify.
    sync(&w.inv);
    let subs = w.inv.json(&["review", "list", "--json"]);
    assert_eq!(subs.as_array().unwrap().len(), 1);
    let item = subs[0]["items"][0]["evidence_id"].as_str().unwrap().to_string();
    w.inv.cmd(&["evidence", "verify", &item]).ok();
    assert_eq!(w.inv.json(&["brief", "list", "--json"]).as_array().unwrap().len(), 1);
    again.stop();
}

/// Issue 13, "sync always makes progress": a bundle the endpoint refuses for good (the brief
/// it answers was withdrawn before it arrived) is set aside with the endpoint's reason; the
/// feed is still pulled, so the volunteer sees the next brief and can answer it.
#[test]
fn a_refused_bundle_is_set_aside_and_sync_goes_on() {
    let w = world(None);
    let (inv, vol) = (&w.inv, &w.vol);

    // The volunteer answers brief A; before they sync, the investigator withdraws A and
    // publishes B.
    let photo = vol.random_file("photo.jpg", 120_000, 11);
    let refused_sub = str_field(&vol.json(&["submit", &w.brief, s(&photo), "--json"]), "id");
    inv.cmd(&["brief", "withdraw", &w.brief]).ok();
    let brief_b = inv
        .cmd(&["brief", "publish", &w.case, "--title", "Doorbell cameras wanted", "--body", "Main St, Friday night"])
        .ok()
        .stdout
        .trim()
        .to_string();
    sync(inv);

    // The volunteer's sync: the bundle is refused (403, the brief was withdrawn) and set aside;
    // the feed is pulled all the same.
    let r = sync(vol);
    assert_eq!(r["uploaded"], 0, "{r}");
    assert_eq!(r["refused"], 1, "{r}");
    let status = vol.json(&["sync", "status", "--json"]);
    assert_eq!(status["pending"], 0, "the refused bundle left the outbox\n{status}");
    let refused = status["refused"].as_array().unwrap_or_else(|| panic!("sync status --json has `refused`\n{status}"));
    assert_eq!(refused.len(), 1, "{status}");
    let entry = &refused[0];
    for key in ["bundle_id", "code", "message", "refused_at"] {
        assert!(entry.get(key).is_some_and(|v| !v.is_null()), "a refused entry has {key}\n{status}");
    }
    assert_eq!(entry["code"], "forbidden", "{status}");
    assert!(entry["message"].as_str().unwrap().contains("withdrawn"), "{status}");
    assert_eq!(entry["status"], 403, "{status}");
    assert_eq!(entry["submissions"][0], refused_sub.as_str(), "it names the submission it carried\n{status}");
    let bundle_id = str_field(entry, "bundle_id");
    let dir = vol.store.join("sync").join("refused");
    assert!(dir.join(format!("{bundle_id}.cbb")).is_file(), "the bundle is kept under sync/refused/");
    let reason: Value = serde_json::from_slice(&std::fs::read(dir.join(format!("{bundle_id}.json"))).unwrap()).unwrap();
    assert_eq!(reason["code"], "forbidden");
    assert_eq!(reason["bundle_id"], bundle_id.as_str());
    let text = vol.cmd(&["sync", "status"]).ok().stdout.clone();
    assert!(text.contains(&bundle_id) && text.contains("withdrawn"), "sync status lists the refused bundle\n{text}");

    // The volunteer sees the submission refused by the agency, with the reason.
    let mine = vol.json(&["review", "show", &refused_sub, "--json"]);
    assert_eq!(mine["state"], "refused", "{mine}");
    assert!(mine["refused"]["message"].as_str().unwrap().contains("withdrawn"), "{mine}");
    let shown = vol.cmd(&["review", "show", &refused_sub]).ok().stdout.clone();
    assert!(shown.contains("refused by the agency: ") && shown.contains("withdrawn"), "{shown}");
    let listed = vol.cmd(&["review", "list"]).ok().stdout.clone();
    assert!(listed.contains("refused by the agency"), "{listed}");

    // The feed was pulled: brief B is there, A is gone; a submission to B goes through.
    let briefs = vol.json(&["brief", "list", "--json"]);
    let ids: Vec<&str> = briefs.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [brief_b.as_str()], "{briefs}");
    let photo2 = vol.random_file("photo2.jpg", 90_000, 12);
    let accepted_sub = str_field(&vol.json(&["submit", &brief_b, s(&photo2), "--json"]), "id");
    let r = sync(vol);
    assert_eq!(r["uploaded"], 1, "{r}");
    assert_eq!(r["refused"], 0, "{r}");
    assert_eq!(vol.json(&["sync", "status", "--json"])["refused"].as_array().unwrap().len(), 1, "the record stays");

    // The investigator sees the new submission, not the refused one.
    sync(inv);
    let subs = inv.json(&["review", "list", "--json"]);
    let ids: Vec<&str> = subs.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [accepted_sub.as_str()], "{subs}");
    w.endpoint.stop();
}

/// Issue 13: a push that fails for a while (here every upload connection is cut) still lets
/// the feed come down; the round fails, the bundle waits in the outbox, and goes up later.
#[test]
fn a_failing_push_still_pulls_the_feed() {
    let admin = Profile::empty();
    let agency = admin.root().join("agency");
    new_agency(&agency);
    let endpoint = Endpoint::start(&agency);
    let proxy = Proxy::start(endpoint.addr);
    let url = proxy.url();
    let inv = member(Role::Investigator, "Vera");
    inv.cmd(&["enrol", &invite(&admin, &agency, "investigator", "Vera", &[])]).ok();
    let case = inv.new_case("c");
    let brief_a = inv.cmd(&["brief", "publish", &case, "--title", "A", "--body", "b"]).ok().stdout.trim().to_string();
    sync(&inv);
    let vol = member(Role::Volunteer, "Mila");
    vol.cmd(&["enrol", &invite(&admin, &agency, "volunteer", "Mila", &["--url", &url])]).ok();
    sync(&vol);
    let clip = vol.random_file("clip.mp4", 2_000_000, 5);
    vol.cmd(&["submit", &brief_a, s(&clip)]).ok();
    let brief_b = inv.cmd(&["brief", "publish", &case, "--title", "B", "--body", "b"]).ok().stdout.trim().to_string();
    sync(&inv);

    // Every connection of the volunteer is cut after 100 kB upstream: a chunk never arrives
    // whole, the small feed requests do.
    proxy.set_default(Faults { cut_after: Some(100_000), delay: Duration::ZERO });
    let out = vol.cmd(&["sync"]);
    out.fails();
    assert!(out.stderr.contains("stays in the outbox"), "{out}");
    let briefs = vol.json(&["brief", "list", "--json"]);
    let ids: Vec<&str> = briefs.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&brief_b.as_str()), "the feed was pulled although the push failed\n{briefs}");
    let status = vol.json(&["sync", "status", "--json"]);
    assert_eq!(status["pending"], 1, "{status}");
    assert!(status["last_error"].as_str().is_some_and(|e| e.contains("stays in the outbox")), "{status}");
    assert!(status["refused"].as_array().unwrap().is_empty(), "a transient failure sets nothing aside\n{status}");

    // The link heals: the bundle goes up.
    proxy.set_default(Faults { cut_after: None, delay: Duration::ZERO });
    assert_eq!(sync(&vol)["uploaded"], 1);
    drop(proxy);
    endpoint.stop();
}

#[test]
fn agency_gc_reports_what_it_removed_and_limits_json_is_checked_by_name() {
    let admin = Profile::empty();
    let dir = admin.root().join("agency");
    new_agency(&dir);
    let dirs = s(&dir);
    // No endpoint running: the command cleans the directory itself.
    let out = run(&admin, &["agency", "gc", "--dir", dirs, "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert_eq!(v["via"], "direct");
    assert_eq!(v["orphan_objects"], 0);
    assert_eq!(v["uploads_expired"], 0);
    // A limits file with a misspelt field stops `agency serve` before it listens, naming it.
    std::fs::write(dir.join("limits.json"), br#"{"max_conections_per_source": 4}"#).unwrap();
    let out = run(&admin, &["agency", "serve", "--dir", dirs, "--listen", "127.0.0.1:0"]);
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("max_conections_per_source"), "{}", out.stderr);
}

#[test]
fn agency_check_verifies_the_whole_agency_and_names_what_was_tampered_with() {
    let w = world(None);
    let photo = w.vol.random_file("photo.jpg", 200_000, 9);
    w.vol.cmd(&["submit", &w.brief, s(&photo), "--description", "from the corner"]).ok();
    assert_eq!(sync(&w.vol)["uploaded"], 1);
    let dir = s(&w.agency);

    // Through the running endpoint: everything verifies.
    let out = run(&w.admin, &["agency", "check", "--dir", dir, "--read-data", "--json"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert_eq!(v["via"], "endpoint");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["credentials"], 2, "{v}");
    assert!(v["receipts"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["store"]["objects_checked"].as_u64().unwrap() >= 1, "{v}");
    w.endpoint.stop();

    // Directly: the same answer.
    let v = serde_json::from_str::<Value>(run(&w.admin, &["agency", "check", "--dir", dir, "--json"]).stdout.trim()).unwrap();
    assert_eq!((v["via"].as_str(), v["ok"].as_bool()), (Some("direct"), Some(true)), "{v}");

    // A receipt filed under another bundle's name, and one that is not signed by the agency;
    // one bit of one content object flipped (only --read-data sees it). In the agency's
    // files, or (a cluster agency) in its database and bucket, as an operator could.
    if casebridge_testkit::deployment::is_cluster_agency(&w.agency) {
        tamper_cluster(&w.agency);
    } else {
        let receipts = w.agency.join("receipts");
        let first = std::fs::read_dir(&receipts).unwrap().flatten().next().unwrap().path();
        std::fs::copy(&first, receipts.join(format!("{}.json", uuid::Uuid::now_v7()))).unwrap();
        let mut forged = std::fs::read(&first).unwrap();
        let last = forged.len() - 3;
        forged[last] ^= 1;
        std::fs::write(receipts.join(format!("{}.json", uuid::Uuid::now_v7())), forged).unwrap();
        let object = crate::harness::object_files(&w.agency.join("store")).into_iter().max_by_key(|p| p.metadata().unwrap().len()).unwrap();
        crate::harness::flip_bit(&object, 8 * 5000);
    }

    let out = run(&w.admin, &["agency", "check", "--dir", dir, "--read-data", "--json"]);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let codes: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"receipt_misfiled"), "{v}");
    assert!(codes.contains(&"receipt_invalid"), "{v}");
    assert!(codes.iter().any(|c| c.starts_with("object")), "the flipped object is named\n{v}");
    let text = run(&w.admin, &["agency", "check", "--dir", dir]);
    assert!(text.stdout.contains("NOT OK"), "{}", text.stdout);
}

/// The tampering of `agency_check_verifies_the_whole_agency_and_names_what_was_tampered_with`
/// on a cluster agency: a receipt row copied under another bundle's name and one with a byte
/// of its signature changed (psql), and one bit of the largest object flipped in the bucket.
fn tamper_cluster(agency: &std::path::Path) {
    use casebridge_testkit::services;
    let config = casebridge_agency::deployment::ClusterConfig::load(agency).unwrap().unwrap();
    let first = "(SELECT value FROM agency_records WHERE name LIKE 'receipts/%' ORDER BY name LIMIT 1)";
    let (misfiled, forged) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    services::psql(&config.database, &format!("INSERT INTO agency_records (name, value) VALUES ('receipts/{misfiled}.json', {first})"));
    services::psql(
        &config.database,
        &format!(
            "INSERT INTO agency_records (name, value) SELECT 'receipts/{forged}.json', \
             set_byte(v, length(v) - 3, get_byte(v, length(v) - 3) # 1) FROM {first} AS r(v)"
        ),
    );
    let (bucket, prefix) = casebridge_testkit::deployment::bucket_of(agency).unwrap();
    let objects = services::bucket_objects(&bucket, &format!("{prefix}/objects/"));
    let (key, mut bytes) = objects.into_iter().max_by_key(|(_, b)| b.len()).unwrap();
    bytes[5000] ^= 1;
    services::s3_put(&bucket, &key, &bytes);
}

/// No byte twice, first half (issue 15): a staff member's bundle does not carry content the
/// agency already holds. The investigator adds, as its own evidence, the very file a
/// volunteer submitted; the investigator's sync asks the agency first (`POST /v1/held`) and
/// sends well under the file's size, counted on the wire. Controls in the same run: the
/// volunteer's submission carried the whole file, and a new file of the investigator's is
/// carried whole; the agency checks clean and serves the content to the investigator.
#[test]
fn a_staff_bundle_never_resends_content_the_agency_holds() {
    let Proxied { admin, agency, endpoint, proxy, inv, vol, case, brief } = proxied();

    const SIZE: u64 = 12_000_000;
    let clip = vol.random_file("clip.mp4", SIZE, 21);
    vol.cmd(&["submit", &brief, s(&clip)]).ok();
    let (up, _) = proxy.bytes();
    assert_eq!(sync(&vol)["uploaded"], 1);
    let carried = proxy.bytes().0 - up;
    assert!(carried >= SIZE, "a volunteer always carries its own content ({carried} bytes up)");

    // The same bytes, added by the investigator as its own evidence.
    sync(&inv);
    let copy = inv.path("same-clip.mp4");
    std::fs::copy(&clip, &copy).unwrap();
    inv.cmd(&["evidence", "add", &case, s(&copy)]).ok();
    let (up, _) = proxy.bytes();
    let r = sync(&inv);
    assert_eq!(r["uploaded"], 1, "{r}");
    let sent = proxy.bytes().0 - up;
    assert!(sent < SIZE / 10, "the investigator's bundle re-sent content the agency holds: {sent} bytes up for a {SIZE}-byte file");

    // Control: content the agency does not hold is carried whole.
    let scan = inv.random_file("scan.bin", 3_000_000, 22);
    inv.cmd(&["evidence", "add", &case, s(&scan)]).ok();
    let (up, _) = proxy.bytes();
    assert_eq!(sync(&inv)["uploaded"], 1);
    let sent = proxy.bytes().0 - up;
    assert!(sent >= 3_000_000, "new content is carried whole ({sent} bytes up)");

    let out = run(&admin, &["agency", "check", "--dir", s(&agency), "--read-data", "--json"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    drop(proxy);
    endpoint.stop();
}

// ----- issue 12: a member's new device ------------------------------------------------------

/// A second device of the world's volunteer, enrolled through an invite made for the member
/// (`agency invite --member ID --old-key OLD_KEY`): a new profile that takes the member id.
/// First, a profile of another member, which holds case work and a credential of its own (the
/// investigator's), is refused that invite, which stays unused. Returns the new device and the
/// member id.
fn second_device(w: &World, old_key: &str) -> (Profile, String) {
    let id = str_field(&w.vol.json(&["whoami", "--json"]), "member_id");
    let code = invite(&w.admin, &w.agency, "volunteer", "Mila Jansen, new phone", &["--member", &id, "--old-key", old_key]);
    w.inv.cmd(&["enrol", &code]).fails_with("from a new profile");
    let b = member(Role::Volunteer, "Mila Jansen");
    let own = str_field(&b.json(&["whoami", "--json"]), "member_id");
    assert_ne!(own, id);
    let enrolled = b.json(&["enrol", &code, "--json"]);
    assert_eq!(str_field(&enrolled, "member_id"), id, "{enrolled}");
    assert_eq!(str_field(&b.json(&["whoami", "--json"]), "member_id"), id, "the new profile is the member now");
    (b, id)
}

/// Submits a new file from `p` in answer to `brief` and syncs it up; returns the submission id.
fn submit_and_sync(p: &Profile, brief: &str, seed: u64) -> String {
    let file = p.random_file(&format!("photo{seed}.jpg"), 100_000 + seed, seed);
    let id = str_field(&p.json(&["submit", brief, s(&file), "--json"]), "id");
    assert_eq!(sync(p)["uploaded"], 1);
    id
}

/// `check --read-data` is clean on every store, and `agency check --read-data` on the agency.
fn all_check_clean(w: &World, stores: &[&Profile]) {
    for p in stores {
        p.cmd(&["check", "--read-data"]).ok();
    }
    let out = run(&w.admin, &["agency", "check", "--dir", s(&w.agency), "--read-data", "--json"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert_eq!(v["ok"], true, "{v}");
}

/// The investigator's submissions, each with its submitter.
fn submissions(inv: &Profile) -> Vec<(String, String)> {
    sync(inv);
    let list = inv.json(&["review", "list", "--json"]);
    list.as_array().unwrap().iter().map(|s| (str_field(s, "id"), str_field(s, "submitter"))).collect()
}

#[test]
fn a_new_device_that_keeps_the_old_key_syncs_beside_it_as_one_member() {
    let w = world(None);
    let first = submit_and_sync(&w.vol, &w.brief, 1);
    let (b, id) = second_device(&w, "keep");
    sync(&b);
    assert_eq!(b.json(&["brief", "list", "--json"]).as_array().unwrap().len(), 1, "the new device sees the brief");
    let second = submit_and_sync(&b, &w.brief, 2);
    // Both devices go on, each with its own chain and bundle sequence.
    let third = submit_and_sync(&w.vol, &w.brief, 3);
    let fourth = submit_and_sync(&b, &w.brief, 4);
    sync(&w.vol);
    sync(&b);
    let subs = submissions(&w.inv);
    assert_eq!(subs.len(), 4, "{subs:?}");
    for want in [&first, &second, &third, &fourth] {
        let got = subs.iter().find(|(s, _)| s == want).unwrap_or_else(|| panic!("{want} missing: {subs:?}"));
        assert_eq!(&got.1, &id, "every submission is the one member's");
    }
    all_check_clean(&w, &[&w.vol, &b, &w.inv]);
    w.endpoint.stop();
}

#[test]
fn a_new_device_that_revokes_the_old_key_leaves_the_old_device_refused() {
    let w = world(None);
    let first = submit_and_sync(&w.vol, &w.brief, 1);
    let (b, id) = second_device(&w, "revoke");
    // The old device's next sync is refused, and says why.
    let photo = w.vol.random_file("late.jpg", 90_000, 5);
    w.vol.cmd(&["submit", &w.brief, s(&photo)]).ok();
    let out = w.vol.cmd(&["sync"]);
    out.fails();
    // (Not the endpoint's answer, which is the same for unknown, expired and revoked keys: the
    // agency's revocation list names this key.)
    assert!(out.stderr.contains("credential from agency Test Police is revoked"), "{out}");
    // The new device works.
    sync(&b);
    let second = submit_and_sync(&b, &w.brief, 2);
    let subs = submissions(&w.inv);
    assert_eq!(subs.len(), 2, "the old device's late submission never arrived: {subs:?}");
    for want in [&first, &second] {
        let got = subs.iter().find(|(s, _)| s == want).unwrap_or_else(|| panic!("{want} missing: {subs:?}"));
        assert_eq!(&got.1, &id);
    }
    all_check_clean(&w, &[&w.vol, &b, &w.inv]);
    w.endpoint.stop();
}
