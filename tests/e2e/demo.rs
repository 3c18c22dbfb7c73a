//! `casebridge demo` through the real binary (production KDF parameters, a few seconds): the
//! demo holds every review state and verified receipts, a second run creates nothing, the
//! endpoint serves the profiles until SIGTERM, and a directory that is not a demo is refused.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{assert_same_tree, run, s, snapshot, spawn, BIN};

const DEMO_PASS: &str = "demo-passphrase-1";

fn demo(args: &[&str]) -> crate::harness::Output {
    let mut c = Command::new(BIN);
    c.arg("demo").args(args).env_remove("CASEBRIDGE_PASSPHRASE").env_remove("CASEBRIDGE_STORE");
    run(c, Duration::from_secs(240))
}

/// Runs the CLI on a demo profile.
fn on(store: &Path, args: &[&str]) -> crate::harness::Output {
    let mut c = Command::new(BIN);
    c.arg("--store").arg(store).args(args).env("CASEBRIDGE_PASSPHRASE", DEMO_PASS);
    run(c, Duration::from_secs(240))
}

#[test]
fn the_demo_has_every_state_is_idempotent_and_serves_until_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let m = demo(&["--dir", s(&dir), "--no-serve", "--json"]).ok().json();
    assert_eq!(m["passphrase"], DEMO_PASS);
    assert_eq!(m["serving"], false);
    let endpoint = m["endpoint"].as_str().unwrap().to_string();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{m}");
    for (k, n) in [("cases", 3), ("briefs", 2), ("submissions", 4), ("accepted", 1), ("rejected", 1), ("info_requested", 1), ("pending", 1)]
    {
        assert_eq!(m["summary"][k], n, "{k} in {m}");
    }
    let inv = dir.join("investigator");
    let vol = dir.join("volunteer");

    // What the profiles hold, through the ordinary commands.
    let subs = on(&inv, &["review", "list", "--json"]).ok().json();
    let mut states: Vec<&str> = subs.as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    states.sort_unstable();
    assert_eq!(states, ["accepted", "info_requested", "pending", "rejected"]);
    assert_eq!(on(&inv, &["case", "list", "--json"]).ok().json().as_array().unwrap().len(), 3);
    let receipts = on(&vol, &["receipt", "list", "--json"]).ok().json();
    let receipts = receipts.as_array().unwrap();
    assert!(!receipts.is_empty() && receipts.iter().all(|r| r["verified"] == true), "{receipts:?}");
    let mine = on(&vol, &["review", "list", "--json"]).ok().json();
    assert_eq!(mine.as_array().unwrap().len(), 4, "the volunteer sees the decisions: {mine}");

    // A second run creates nothing.
    let before = snapshot(&dir);
    let again = demo(&["--dir", s(&dir), "--no-serve", "--json"]).ok().json();
    assert_eq!(again, m);
    assert_same_tree(&before, &snapshot(&dir), "a second `demo --no-serve`");
    demo(&["--dir", s(&dir), "--no-serve", "--listen", "127.0.0.1:1"]).fails_with("is enrolled at");

    // Serving: ready line, manifest says so, a profile syncs, SIGTERM stops it cleanly.
    let mut c = Command::new(BIN);
    c.args(["demo", "--dir", s(&dir)]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = spawn(&mut c).unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.by_ref().map_while(|l| l.ok()).find(|l| l.starts_with("demo ready: endpoint "));
    assert_eq!(ready.as_deref().and_then(|l| l.split_whitespace().nth(3)), Some(endpoint.as_str()), "{ready:?}");
    let serving: Value = serde_json::from_slice(&std::fs::read(dir.join("demo.json")).unwrap()).unwrap();
    assert_eq!(serving["serving"], true);
    assert_eq!(serving["pid"], child.id());
    let synced = on(&vol, &["sync", "--json"]).ok().stdout.clone();
    assert!(synced.contains("\"synced\""), "{synced}");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let rest: Vec<String> = lines.map_while(|l| l.ok()).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "demo exited with {status}: {rest:?}");
    assert!(rest.iter().any(|l| l == "demo endpoint stopped"), "{rest:?}");
    let stopped: Value = serde_json::from_slice(&std::fs::read(dir.join("demo.json")).unwrap()).unwrap();
    assert_eq!(stopped["serving"], false);
    assert_eq!(stopped["pid"], Value::Null);
}

#[test]
fn a_directory_that_is_not_a_demo_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("mine.txt"), b"keep me").unwrap();
    demo(&["--dir", s(tmp.path()), "--no-serve"]).fails_with("is not empty and holds no Casebridge demo");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "nothing was written");
}
