//! The cluster agency through real processes: PostgreSQL and SeaweedFS (S3) from
//! casebridge-testkit's services, two `casebridge agency serve` replicas of one agency
//! directory, and HAProxy in front of them (round robin, no session affinity), so a member's
//! requests alternate between the replicas.

use std::path::{Path, PathBuf};

use casebridge_core::Role;
use casebridge_testkit::services::{self, Haproxy};
use serde_json::Value;

use crate::endpoint::{member, sync, Endpoint, Faults, Proxy, AGENCY_PASS};
use crate::harness::{s, str_field, Output, Profile};

/// A cluster agency made by `agency init --database --objects`, its directory copied for a
/// second replica.
struct Cluster {
    admin: Profile,
    dirs: [PathBuf; 2],
    database: String,
}

fn env() -> Vec<(&'static str, String)> {
    services::aws_env()
}

fn run_env(p: &Profile, args: &[&str]) -> Output {
    p.cmd_with(args, |c| {
        c.env("CASEBRIDGE_AGENCY_PASSPHRASE", AGENCY_PASS);
        c.envs(env());
    })
}

fn cluster() -> Cluster {
    let admin = Profile::empty();
    let database = services::fresh_database();
    let bucket = services::fresh_bucket();
    services::create_bucket(&bucket);
    let a = admin.root().join("agency-a");
    let objects = format!("s3://{bucket}/agency");
    let out = run_env(
        &admin,
        &["agency", "init", "--dir", s(&a), "--name", "Test Police", "--database", &database, "--objects", &objects, "--json"],
    );
    out.ok();
    let v = out.json();
    assert_eq!(v["deployment"], "cluster", "{v}");
    assert!(!v["cluster"]["database"].as_str().unwrap().contains("casebridge-test@"), "the password is never printed\n{v}");
    let b = admin.root().join("agency-b");
    casebridge_testkit::files::copy_for_replica(&a, &b);
    Cluster { admin, dirs: [a, b], database }
}

#[test]
fn two_replicas_behind_haproxy_serve_the_whole_story() {
    let c = cluster();
    let replicas: Vec<Endpoint> = c.dirs.iter().map(|d| Endpoint::start_with(d, "127.0.0.1:0", &env())).collect();
    let lb = Haproxy::start(&[replicas[0].addr, replicas[1].addr]);
    let url = format!("https://{}", lb.addr);

    // Invites made on either replica's machine (through its running endpoint) name the
    // load balancer; members never learn which replica answers.
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &invite_at(&c, &c.dirs[0], "investigator", "Vera Brandt", &url)]).ok();
    let case = inv.new_case("Bike thefts, Mitte");
    let brief = inv
        .cmd(&["brief", "publish", &case, "--title", "Dashcam footage wanted", "--body", "Main St, Friday", "--area", "52.52,13.405,500"])
        .ok()
        .stdout
        .trim()
        .to_string();
    sync(&inv);
    let vol = member(Role::Volunteer, "Mila Jansen");
    vol.cmd(&["enrol", &invite_at(&c, &c.dirs[1], "volunteer", "Mila Jansen", &url)]).ok();
    sync(&vol);
    let briefs = vol.json(&["brief", "list", "--json"]);
    assert_eq!(str_field(&briefs[0], "id"), brief, "the brief published through one replica reaches the volunteer\n{briefs}");

    // A 20 MB video goes up in chunks that alternate between the replicas.
    let photo = vol.random_file("photo.jpg", 300_000, 1);
    let video = vol.random_file("video.mp4", 20_000_000, 2);
    let sub = vol.json(&["submit", &brief, s(&photo), s(&video), "--description", "from my balcony", "--json"]);
    let sub_id = str_field(&sub, "id");
    let r = sync(&vol);
    assert_eq!(
        r["uploaded"],
        1,
        "{r}\n{}\n--- replica a\n{}\n--- replica b\n{}",
        vol.cmd(&["sync", "status", "--json"]).stdout,
        replicas[0].log(),
        replicas[1].log()
    );

    let r = sync(&inv);
    assert_eq!(r["content_fetched"], 2, "{r}");
    let list = inv.json(&["review", "list", "--json"]);
    let items = list[0]["items"].as_array().unwrap().clone();
    for i in &items {
        inv.cmd(&["evidence", "verify", i["evidence_id"].as_str().unwrap()]).ok();
    }
    let accept = items[0]["evidence_id"].as_str().unwrap();
    inv.cmd(&["review", "accept", &sub_id, "--item", accept]).ok();
    sync(&inv);
    sync(&vol);
    let mine = vol.json(&["review", "show", &sub_id, "--json"]);
    let state = mine["items"].as_array().unwrap().iter().find(|i| i["evidence_id"] == accept).unwrap()["state"].clone();
    assert_eq!(state, "accepted", "{mine}");
    for r in vol.json(&["receipt", "list", "--json"]).as_array().unwrap() {
        assert_eq!(r["verified"], true, "{r}");
    }

    // Both replicas agree on the whole agency, and a second sync moves nothing.
    assert_eq!(sync(&vol)["uploaded"], 0);
    for dir in &c.dirs {
        let out = run_env(&c.admin, &["agency", "check", "--dir", s(dir), "--read-data", "--json"]);
        assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
        let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["credentials"], 2, "{v}");
        assert!(v["receipts"].as_u64().unwrap() >= 3, "{v}");
    }

    // Both replicas served members (connections are spread, round robin).
    for r in &replicas {
        assert!(r.log().contains("route=\"/v1/feed\""), "each replica served a member's feed\n{}", r.log());
    }

    // What the database holds: sealed records only. No member's name, case title, brief,
    // description or content hash appears anywhere in a full dump of it.
    let dump = std::process::Command::new("pg_dump").args(["--data-only", "--inserts", &c.database]).output().unwrap();
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let dump = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert!(dump.contains("INSERT INTO public.journal"), "the dump holds the journal");
    let (video_sha, _) = crate::harness::file_sha256(&video);
    for needle in ["Vera Brandt", "Mila Jansen", "Bike thefts", "Dashcam", "balcony", "Main St", video_sha.as_str()] {
        assert!(!dump.contains(needle), "the database holds {needle:?} in the clear");
    }
    // And everything else an operator with the database, the bucket and a replica's disk has
    // (every file of both replicas' directories, the dump again, every object in the bucket):
    // no name, title or hash as text, and no run of the video's bytes.
    let content = std::fs::read(&video).unwrap();
    let sample = &content[content.len() / 2..content.len() / 2 + 64];
    let mut places = 0;
    for dir in &c.dirs {
        for (place, bytes) in casebridge_testkit::deployment::stored_bytes(dir) {
            for needle in ["Vera Brandt", "Mila Jansen", "Bike thefts", "Dashcam", "balcony", "Main St", video_sha.as_str()] {
                assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{place} holds {needle:?} in the clear");
            }
            assert!(!bytes.windows(sample.len()).any(|w| w == sample), "{place} holds the video's bytes in the clear");
            places += 1;
        }
    }
    assert!(places > 10, "the scan saw the files, the database and the bucket ({places} places)");
    // A revocation made through one replica applies on both at the next request: the
    // volunteer's next syncs (new connections, round robin) are refused wherever they land.
    let vol_id = str_field(&vol.json(&["whoami", "--json"]), "member_id");
    run_env(&c.admin, &["agency", "revoke", "--dir", s(&c.dirs[0]), &vol_id, "--reason", "left the programme"]).ok();
    for _ in 0..2 {
        let out = vol.cmd(&["sync", "--json"]);
        assert!(!out.success(), "a revoked member's sync is refused on every replica\n{out}");
    }

    drop(lb);
    for r in replicas {
        r.stop();
    }
    // Without a running replica the admin commands go straight to the database.
    let out = run_env(&c.admin, &["agency", "check", "--dir", s(&c.dirs[1]), "--json"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!((v["via"].as_str(), v["ok"].as_bool()), (Some("direct"), Some(true)), "{v}");
    let issued = run_env(&c.admin, &["agency", "issued", "--dir", s(&c.dirs[1]), "--json"]);
    issued.ok();
    let issued = issued.json();
    let status_of = |id: &str| issued.as_array().unwrap().iter().find(|c| c["member_id"] == id).unwrap()["status"].clone();
    assert_eq!(status_of(&vol_id), "revoked", "{issued}");
    // The public file members pin carries the cluster's current list (the revocation above).
    let show = run_env(&c.admin, &["agency", "show", "--dir", s(&c.dirs[1]), "--json"]);
    show.ok();
    let show = show.json();
    assert!(show["revocation_version"].as_u64().unwrap() >= 2, "{show}");
    let public = c.admin.root().join("agency-public.json");
    run_env(&c.admin, &["agency", "export-public", "--dir", s(&c.dirs[0]), "--out", s(&public)]).ok();
    let file: Value = serde_json::from_slice(&std::fs::read(&public).unwrap()).unwrap();
    assert!(file.get("revocation").is_some(), "{file}");
    // Cleanup without a replica running: nothing to remove, the agency still checks clean.
    let gc = run_env(&c.admin, &["agency", "gc", "--dir", s(&c.dirs[0]), "--json"]);
    gc.ok();
    assert_eq!(gc.json()["via"], "direct");
    check_clean(&c, &c.dirs[0]);
}

fn invite_at(c: &Cluster, dir: &Path, role: &str, name: &str, url: &str) -> String {
    let out = run_env(&c.admin, &["agency", "invite", "--dir", s(dir), "--role", role, "--name", name, "--url", url]);
    out.ok();
    out.stdout.lines().last().unwrap().trim().to_string()
}

fn check_clean(c: &Cluster, dir: &Path) -> Value {
    let out = run_env(&c.admin, &["agency", "check", "--dir", s(dir), "--read-data", "--json"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    v
}

#[test]
fn an_upload_begun_on_a_killed_replica_completes_on_the_other() {
    let c = cluster();
    let a = Endpoint::start_with(&c.dirs[0], "127.0.0.1:0", &env());
    let b = Endpoint::start_with(&c.dirs[1], "127.0.0.1:0", &env());
    // Members reach the agency through one address; behind it, replica A first.
    let proxy = Proxy::start(a.addr);
    let url = proxy.url();
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &invite_at(&c, &c.dirs[0], "investigator", "Vera Brandt", &url)]).ok();
    let case = inv.new_case("c");
    let brief = inv.cmd(&["brief", "publish", &case, "--title", "t", "--body", "b"]).ok().stdout.trim().to_string();
    sync(&inv);
    let vol = member(Role::Volunteer, "Mila Jansen");
    vol.cmd(&["enrol", &invite_at(&c, &c.dirs[0], "volunteer", "Mila Jansen", &url)]).ok();
    sync(&vol);
    let size = 30_000_000u64;
    let video = vol.random_file("video.mp4", size, 5);
    vol.cmd(&["submit", &brief, s(&video)]).ok();

    // The upload gets 14 MB into replica A, then every connection is cut: the sync stops
    // with the bundle in the outbox. A is then killed (SIGKILL).
    proxy.plan([Faults { cut_after: Some(14_000_000), delay: std::time::Duration::ZERO }]);
    proxy.set_default(Faults { cut_after: Some(0), delay: std::time::Duration::ZERO });
    let out = vol.cmd(&["sync"]);
    assert!(!out.success(), "the cut sync fails\n{out}");
    a.kill();

    // The same address now leads to replica B, which resumes the upload where A left it.
    proxy.set_upstream(b.addr);
    proxy.set_default(Faults { cut_after: None, delay: std::time::Duration::ZERO });
    let before = proxy.up_bytes.load(std::sync::atomic::Ordering::SeqCst);
    let r = sync(&vol);
    assert_eq!(r["uploaded"], 1, "{r}\n{}", b.log());
    let sent = proxy.up_bytes.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(sent < size - 8_000_000, "B resumed the upload ({sent} bytes sent for a {size}-byte bundle)");

    // One copy, one receipt, and the whole agency checks clean with every object re-hashed.
    let r = sync(&inv);
    assert_eq!(r["content_fetched"], 1, "{r}");
    let list = inv.json(&["review", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    inv.cmd(&["evidence", "verify", list[0]["items"][0]["evidence_id"].as_str().unwrap()]).ok();
    let receipts = vol.json(&["receipt", "list", "--json"]);
    let submission_receipts = receipts.as_array().unwrap().iter().filter(|r| r["verified"] == true).count();
    assert!(submission_receipts >= 1, "{receipts}");
    let v = check_clean(&c, &c.dirs[1]);
    assert_eq!(v["orphan_objects"], 0, "{v}");

    // No byte twice: a second sync with nothing new moves no content either way (what it
    // sends and receives is authentication and an empty feed page, a few kilobytes). The
    // investigator's verification above goes up first, and the volunteer takes its news.
    sync(&inv);
    sync(&vol);
    proxy.assert_sync_moves_no_content(&[&vol, &inv]);
    drop(proxy);
    b.stop();
}

#[test]
fn replicas_completing_bundles_at_once_keep_one_chain() {
    let c = cluster();
    let replicas: Vec<Endpoint> = c.dirs.iter().map(|d| Endpoint::start_with(d, "127.0.0.1:0", &env())).collect();
    let lb = Haproxy::start(&[replicas[0].addr, replicas[1].addr]);
    let url = format!("https://{}", lb.addr);
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &invite_at(&c, &c.dirs[0], "investigator", "Vera Brandt", &url)]).ok();
    let case = inv.new_case("c");
    let brief = inv.cmd(&["brief", "publish", &case, "--title", "t", "--body", "b"]).ok().stdout.trim().to_string();
    sync(&inv);
    let volunteers: Vec<Profile> = (0..10)
        .map(|i| {
            let vol = member(Role::Volunteer, &format!("Volunteer {i}"));
            vol.cmd(&["enrol", &invite_at(&c, &c.dirs[i % 2], "volunteer", &format!("Volunteer {i}"), &url)]).ok();
            sync(&vol);
            for n in 0..5 {
                let photo = vol.random_file(&format!("photo{n}.jpg"), 100_000, (i * 10 + n) as u64);
                vol.cmd(&["submit", &brief, s(&photo)]).ok();
            }
            vol
        })
        .collect();
    // Every volunteer syncs at once: fifty bundles complete on two replicas side by side.
    let results: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = volunteers.iter().map(|v| scope.spawn(move || sync(v))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &results {
        assert_eq!(r["uploaded"], 5, "{r}");
        assert_eq!(r["refused"], 0, "{r}");
    }
    let r = sync(&inv);
    assert_eq!(r["content_fetched"], 50, "{r}");
    assert_eq!(inv.json(&["review", "list", "--json"]).as_array().unwrap().len(), 50);
    // One linear chain: each replica's copy checks clean (chains, signatures, objects), and
    // both hold the same journal.
    let a = check_clean(&c, &c.dirs[0]);
    let b = check_clean(&c, &c.dirs[1]);
    assert_eq!(a["store"]["events"], b["store"]["events"], "{a}\n{b}");
    drop(lb);
    for r in replicas {
        r.stop();
    }
}

#[test]
fn an_embedded_agency_with_history_migrates_and_its_members_carry_on() {
    // An embedded agency with history: a brief, a submission synced both ways, receipts.
    let admin = Profile::empty();
    let dir = admin.root().join("agency");
    crate::harness::agency_at(&dir, "Test Police");
    let endpoint = Endpoint::start(&dir);
    let addr = endpoint.addr.to_string();
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &crate::endpoint::invite(&admin, &dir, "investigator", "Vera Brandt", &[])]).ok();
    let case = inv.new_case("Bike thefts");
    let brief = inv.cmd(&["brief", "publish", &case, "--title", "Footage wanted", "--body", "b"]).ok().stdout.trim().to_string();
    sync(&inv);
    let vol = member(Role::Volunteer, "Mila Jansen");
    vol.cmd(&["enrol", &crate::endpoint::invite(&admin, &dir, "volunteer", "Mila Jansen", &[])]).ok();
    sync(&vol);
    let photo = vol.random_file("photo.jpg", 400_000, 3);
    vol.cmd(&["submit", &brief, s(&photo)]).ok();
    assert_eq!(sync(&vol)["uploaded"], 1);
    assert_eq!(sync(&inv)["content_fetched"], 1);
    endpoint.stop();
    // The endpoint's own access log so far (the investigator's fetch is in it).
    let out = run_env(&admin, &["agency", "access-log", "--dir", s(&dir), "--json"]);
    out.ok();
    let log_before = out.json();
    let before = log_before["entries"].as_array().unwrap().clone();
    assert!(before.iter().any(|e| e["action"] == "content"), "{log_before}");

    // Refused while the database is wrong; then moved into an empty database and bucket.
    let database = services::fresh_database();
    let bucket = services::fresh_bucket();
    services::create_bucket(&bucket);
    let objects = format!("s3://{bucket}/migrated");
    let missing =
        run_env(&admin, &["agency", "migrate", "--dir", s(&dir), "--database", &database, "--objects", "s3://no-such-bucket-here"]);
    assert!(!missing.success(), "{missing}");
    assert!(!dir.join("cluster.json").exists() && dir.join("store").exists(), "a refused migration changes nothing");
    let out = run_env(&admin, &["agency", "migrate", "--dir", s(&dir), "--database", &database, "--objects", &objects, "--json"]);
    out.ok();
    let report = out.json();
    assert!(report["objects_copied"].as_u64().unwrap() >= 1, "{report}");
    assert!(report["journal_records"].as_u64().unwrap() >= 5, "{report}");
    // A second migration into the same database is refused.
    let again = admin.root().join("agency2");
    crate::harness::agency_at(&again, "Test Police");
    let refused = run_env(&admin, &["agency", "migrate", "--dir", s(&again), "--database", &database, "--objects", &objects]);
    assert!(!refused.success() && refused.stderr.contains("already holds agency"), "{refused}");

    // The same address, now a cluster replica: members carry on where they were.
    let replica = Endpoint::start_with(&dir, &addr, &env());
    let pulled_before = sync(&vol)["pulled"].clone();
    assert_eq!(pulled_before, 0, "the volunteer's cursor continues: nothing old comes again");
    let brief2 = inv.cmd(&["brief", "publish", &case, "--title", "More footage", "--body", "b"]).ok().stdout.trim().to_string();
    sync(&inv);
    sync(&vol);
    let briefs = vol.json(&["brief", "list", "--json"]);
    assert!(briefs.as_array().unwrap().iter().any(|b| b["id"] == brief2.as_str()), "{briefs}");
    for r in vol.json(&["receipt", "list", "--json"]).as_array().unwrap() {
        assert_eq!(r["verified"], true, "an earlier receipt still verifies: {r}");
    }
    // The access log came along: the same signed entries first, the replica's new fetches
    // chained after them (no second chain from seq 1, no gap).
    let out = run_env(&admin, &["agency", "access-log", "--dir", s(&dir), "--json"]);
    out.ok();
    let log_after = out.json();
    assert_eq!(log_after["ok"], true, "{log_after}");
    let after = log_after["entries"].as_array().unwrap();
    assert!(after.len() > before.len(), "the replica's fetches are logged after the migrated entries: {log_after}");
    assert_eq!(&after[..before.len()], &before[..], "the migrated entries, unchanged");
    let v = check_clean(&Cluster { admin: Profile::empty(), dirs: [dir.clone(), dir.clone()], database }, &dir);
    assert!(v["receipts"].as_u64().unwrap() >= 2, "{v}");
    assert_eq!(v["access_log_entries"].as_u64().unwrap(), after.len() as u64, "{v}");
    replica.stop();
}

#[test]
fn a_replica_refuses_to_start_with_a_wrong_password_bucket_or_agency_naming_which() {
    let c = cluster();
    let dir = &c.dirs[1];
    let start = |env: &[(&str, String)]| -> Output {
        c.admin.cmd_with(&["agency", "serve", "--dir", s(dir), "--listen", "127.0.0.1:0"], |cmd| {
            cmd.env("CASEBRIDGE_AGENCY_PASSPHRASE", AGENCY_PASS);
            cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        })
    };
    // A wrong database password (CASEBRIDGE_DATABASE_URL overrides cluster.json): named, and
    // the password is not printed.
    let wrong = c.database.replace(":casebridge-test@", ":not-the-password@");
    let mut e = env();
    e.push(("CASEBRIDGE_DATABASE_URL", wrong));
    let out = start(&e);
    assert!(!out.success(), "{out}");
    assert!(out.stderr.contains("refused user casebridge"), "{out}");
    assert!(!out.stderr.contains("not-the-password") && !out.stderr.contains("casebridge-test@"), "{out}");
    // An object store that does not answer: named with its address.
    let mut e: Vec<(&str, String)> = env().into_iter().filter(|(k, _)| *k != "AWS_ENDPOINT_URL").collect();
    e.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:9".into()));
    let out = start(&e);
    assert!(!out.success(), "{out}");
    assert!(out.stderr.contains("127.0.0.1:9"), "{out}");
    // Wrong S3 keys: named, the secret not printed.
    let mut e: Vec<(&str, String)> = env().into_iter().filter(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY").collect();
    e.push(("AWS_SECRET_ACCESS_KEY", "wrong-secret-value".into()));
    let out = start(&e);
    assert!(!out.success(), "{out}");
    assert!(!out.stderr.contains("wrong-secret-value"), "{out}");
    // Another agency's directory pointed at this cluster's database: refused, naming both.
    let other = cluster();
    std::fs::copy(dir.join("cluster.json"), other.dirs[1].join("cluster.json")).unwrap();
    let out = other.admin.cmd_with(&["agency", "serve", "--dir", s(&other.dirs[1]), "--listen", "127.0.0.1:0"], |cmd| {
        cmd.env("CASEBRIDGE_AGENCY_PASSPHRASE", AGENCY_PASS);
        cmd.envs(env());
    });
    assert!(!out.success(), "{out}");
    assert!(out.stderr.contains("but the cluster database holds agency"), "{out}");
}

/// Issue 16 on a cluster: `retention run` through replica A's admin socket appends the
/// tombstones to the shared journal, so a member syncing through replica B gets them; the
/// bucket no longer holds any key of the items' content (object or marker); `agency check
/// --read-data` is clean on both replicas. A run killed between the journal's commit and the
/// bucket's deletes (its object put back, as such a crash leaves it) is reported by `agency
/// check` (`deleted_content_held`) and completed by the next run, made from a machine with only
/// the agency directory and no replica running.
#[test]
fn retention_through_one_replica_reaches_members_of_the_other_and_empties_the_bucket() {
    let c = cluster();
    let replicas: Vec<Endpoint> = c.dirs.iter().map(|d| Endpoint::start_with(d, "127.0.0.1:0", &env())).collect();
    // The members know replica B only; the run goes through replica A.
    let url_b = replicas[1].url.clone();
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &invite_at(&c, &c.dirs[1], "investigator", "Vera Brandt", &url_b)]).ok();
    let vol = member(Role::Volunteer, "Mila Jansen");
    vol.cmd(&["enrol", &invite_at(&c, &c.dirs[1], "volunteer", "Mila Jansen", &url_b)]).ok();
    let case = inv.cmd(&["case", "new", "--title", "Bike thefts, Mitte", "--category", "burglary"]).ok().stdout.trim().to_string();
    let brief = inv.cmd(&["brief", "publish", &case, "--title", "Photos wanted", "--body", "Main St"]).ok().stdout.trim().to_string();
    let (staff_item, staff_sha) = inv.add_evidence(&case, &inv.write_file("rack.jpg", &b"staff photo of the rack".repeat(50)));
    sync(&inv);
    sync(&vol);
    let marker = b"BYSTANDER-PLATE-KB4711 ".repeat(200);
    let sub = str_field(&vol.json(&["submit", &brief, s(&vol.write_file("balcony.jpg", &marker)), "--json"]), "id");
    assert_eq!(sync(&vol)["uploaded"], 1);
    sync(&inv);
    let vol_item = str_field(&inv.json(&["review", "show", &sub, "--json"])["items"][0], "evidence_id");
    let vol_sha = str_field(&inv.json(&["evidence", "show", &vol_item, "--json"]), "sha256");
    inv.cmd(&["review", "reject", &sub, "--reason", "shows a bystander"]).ok();
    sync(&inv);

    // The keys the items' content has in the bucket: its keyed names (never the hashes), read
    // from a third copy of the agency directory (a machine with no replica running).
    let third = c.admin.root().join("agency-c");
    casebridge_testkit::files::copy_for_replica(&c.dirs[0], &third);
    let names: Vec<String> = crate::harness::in_process(|| {
        let store = casebridge_testkit::deployment::open_store(&third);
        [&staff_sha, &vol_sha].iter().map(|sha| store.content_object_name(sha).unwrap()).collect()
    });
    let (bucket, _) = casebridge_testkit::deployment::bucket_of(&c.dirs[0]).unwrap();
    let keys_of = |name: &str| -> Vec<String> { services::bucket_keys(&bucket, "").into_iter().filter(|k| k.contains(name)).collect() };
    for name in &names {
        assert!(keys_of(name).iter().any(|k| k.ends_with(&format!("objects/{name}"))), "the bucket holds the item's object");
    }
    let vol_object =
        services::bucket_objects(&bucket, "").into_iter().find(|(k, _)| k.ends_with(&format!("objects/{}", names[1]))).unwrap();

    let rules = c.admin.write_file(
        "rules.json",
        br#"{"rules": [{"id": "burglary-now", "category": "burglary", "after_days": 0}, {"id": "rejected-now", "submissions": "rejected", "after_days": 0}]}"#,
    );
    run_env(&c.admin, &["agency", "retention", "set", "--dir", s(&c.dirs[0]), "--file", s(&rules)]).ok();
    let out = run_env(&c.admin, &["retention", "run", "--dir", s(&c.dirs[0]), "--json"]);
    out.ok();
    let done = out.json();
    assert_eq!(done["via"], "endpoint", "{done}");
    let deleted: std::collections::BTreeSet<String> =
        done["deleted"].as_array().unwrap().iter().map(|d| str_field(d, "evidence_id")).collect();
    assert_eq!(deleted, [staff_item.clone(), vol_item.clone()].into_iter().collect(), "{done}");
    for name in &names {
        assert_eq!(keys_of(name), Vec::<String>::new(), "no key of a deleted item's content is left in the bucket");
    }

    // Members syncing through replica B get the tombstones and destroy their copies.
    let r = sync(&inv);
    assert_eq!(r["deleted"], 2, "{r}");
    assert_eq!(inv.json(&["evidence", "show", &vol_item, "--json"])["deleted"]["rule"], "rejected-now");
    assert_eq!(sync(&vol)["deleted"], 1);
    for p in [&inv, &vol] {
        p.check_ok();
    }
    for dir in &c.dirs {
        check_clean(&c, dir);
    }
    assert!(run_env(&c.admin, &["retention", "run", "--dir", s(&c.dirs[1]), "--json"]).json()["deleted"].as_array().unwrap().is_empty());

    // A run killed after its tombstones committed and before the bucket's deletes leaves the
    // object behind: `agency check` names the item, and the next run destroys it.
    services::s3_put(&bucket, &vol_object.0, &vol_object.1);
    let out = run_env(&c.admin, &["agency", "check", "--dir", s(&c.dirs[1]), "--json"]);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(v["ok"], false, "{v}");
    let problem = v["problems"].as_array().unwrap().iter().find(|p| p["code"] == "deleted_content_held").cloned();
    assert_eq!(problem.map(|p| p["item"].clone()), Some(Value::String(vol_item.clone())), "{v}");
    // (Both replicas keep serving meanwhile: the direct run goes through the database's lock.)
    let out = run_env(&c.admin, &["retention", "run", "--dir", s(&third), "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!((v["via"].as_str(), v["unfinished"].as_u64()), (Some("direct"), Some(1)), "{v}");
    assert!(v["deleted"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(keys_of(&names[1]), Vec::<String>::new(), "the interrupted deletion is complete");
    check_clean(&c, &c.dirs[1]);
    let r = sync(&inv);
    assert!(matches!(r["deleted"].as_u64(), None | Some(0)), "nothing more to delete on the device: {r}");
    for r in replicas {
        r.stop();
    }
    check_clean(&c, &third);
}
