//! The cluster agency through real processes: PostgreSQL and SeaweedFS (S3) from
//! casebridge-testkit's services, two `casebridge agency serve` replicas of one agency
//! directory, and HAProxy in front of them (round robin, no session affinity), so a member's
//! requests alternate between the replicas.

use std::path::{Path, PathBuf};

use casebridge_core::Role;
use casebridge_testkit::services::{self, Haproxy};
use serde_json::Value;

use crate::endpoint::{member, Endpoint, AGENCY_PASS};
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

/// Copies an agency directory for another replica machine: the keys, certificate and
/// cluster.json; never the replica's local copy of the store, its socket or serve file.
fn copy_for_replica(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if ["replica", "admin.sock", "serve.json", "lock"].contains(&name.as_str()) {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            casebridge_testkit::files::copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
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
    copy_for_replica(&a, &b);
    Cluster { admin, dirs: [a, b], database }
}

fn sync(p: &Profile) -> Value {
    let out = p.cmd(&["sync", "--json"]);
    out.ok();
    serde_json::from_str(out.stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("sync --json: {e}\n{out}"))
}

#[test]
fn two_replicas_behind_haproxy_serve_the_whole_story() {
    let c = cluster();
    let replicas: Vec<Endpoint> = c.dirs.iter().map(|d| Endpoint::start_with(d, "127.0.0.1:0", &env())).collect();
    let lb = Haproxy::start(&[replicas[0].addr, replicas[1].addr]);
    let url = format!("https://{}", lb.addr);

    // Invites made on either replica's machine (through its running endpoint) name the
    // load balancer; members never learn which replica answers.
    let invite = |dir: &Path, role: &str, name: &str| -> String {
        let out = run_env(&c.admin, &["agency", "invite", "--dir", s(dir), "--role", role, "--name", name, "--url", &url]);
        out.ok();
        out.stdout.lines().last().unwrap().trim().to_string()
    };
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &invite(&c.dirs[0], "investigator", "Vera Brandt")]).ok();
    let case = inv.new_case("Bike thefts, Mitte");
    let brief = inv
        .cmd(&["brief", "publish", &case, "--title", "Dashcam footage wanted", "--body", "Main St, Friday", "--area", "52.52,13.405,500"])
        .ok()
        .stdout
        .trim()
        .to_string();
    sync(&inv);
    let vol = member(Role::Volunteer, "Mila Jansen");
    vol.cmd(&["enrol", &invite(&c.dirs[1], "volunteer", "Mila Jansen")]).ok();
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
}
