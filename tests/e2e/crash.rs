//! Real crash tests: a `casebridge` child adding evidence (1-4 MB, so kills land mid-stream),
//! adding a note or editing the case is killed with SIGKILL after a random delay. After every
//! kill the store must verify (`check --read-data` ok; orphan objects from an interrupted
//! import are allowed) and hold every change that was acknowledged (exit 0) before.

use std::collections::BTreeMap;
use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{s, seed, spawn, str_field, Profile, Rng, SeedGuard};

/// Kill points per run.
const ITERATIONS: usize = 100;
const MB: u64 = 1_000_000;
const STATUSES: [&str; 4] = ["open", "active", "suspended", "closed"];

enum Op {
    Evidence { path: std::path::PathBuf },
    Note { text: String },
    Edit { title: String, status: &'static str },
}

#[test]
fn sigkill_at_random_points_never_loses_an_acknowledged_change() {
    let seed = seed();
    let _guard = SeedGuard { test: "sigkill_at_random_points_never_loses_an_acknowledged_change", seed };
    let mut rng = Rng::new(seed);
    let p = Profile::new();
    let case = p.new_case("Crash test");

    // Typical durations, measured on this machine and build.
    let warm = p.random_file("warm.bin", 2_500_000, seed ^ 1);
    let t0 = Instant::now();
    let (first_id, first_sha) = p.add_evidence(&case, &warm);
    let t_add = t0.elapsed();
    fs::remove_file(&warm).ok();
    let t0 = Instant::now();
    p.cmd(&["note", "add", &case, "calibration note"]).ok();
    let t_small = t0.elapsed();
    eprintln!("crash test: seed {seed}, evidence add of 2.5 MB takes {t_add:?}, note add {t_small:?}");

    let mut evidence: BTreeMap<String, String> = BTreeMap::from([(first_id.clone(), first_sha)]);
    let mut last_evidence = first_id;
    let mut notes: Vec<String> = vec!["calibration note".into()];
    // The case's (title, status) may be the last acknowledged edit or any killed edit after it.
    let mut states: Vec<(String, String)> = vec![("Crash test".into(), "open".into())];
    let (mut killed, mut acked) = (0usize, 0usize);

    for i in 0..ITERATIONS {
        let op = match rng.below(4) {
            0 | 1 => {
                let size = MB + rng.below(3 * MB);
                Op::Evidence { path: p.random_file(&format!("item-{i}.bin"), size, seed.wrapping_add(i as u64 * 7919)) }
            }
            2 => Op::Note { text: format!("note {i} {}", rng.token(8)) },
            _ => Op::Edit { title: format!("Crash test, edit {i}"), status: STATUSES[rng.below(4) as usize] },
        };
        let (args, typical): (Vec<String>, Duration) = match &op {
            Op::Evidence { path } => (vec!["evidence".into(), "add".into(), case.clone(), s(path).into(), "--json".into()], t_add),
            Op::Note { text } => (vec!["note".into(), "add".into(), case.clone(), text.clone()], t_small),
            Op::Edit { title, status } => (
                vec!["case".into(), "edit".into(), case.clone(), "--title".into(), title.clone(), "--status".into(), (*status).into()],
                t_small,
            ),
        };
        let max_ms = (typical.as_millis() as u64 * 5 / 4).max(5);
        let delay = Duration::from_millis(rng.below(max_ms + 1));

        let mut c = p.command(&args);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = spawn(&mut c).expect("spawn casebridge");
        let start = Instant::now();
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                break;
            }
            if start.elapsed() >= delay {
                // std sends SIGKILL on unix; it is harmless if the child just exited.
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let out = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let what = format!("iteration {i} (`casebridge {}`, delay {delay:?})", args.join(" "));
        match out.status.code() {
            None => killed += 1,
            Some(0) => acked += 1,
            Some(code) => panic!("{what}: failed on its own with exit code {code}\nstdout: {stdout}\nstderr: {stderr}"),
        }
        let success = out.status.success();
        match &op {
            Op::Evidence { path } => {
                if success {
                    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what}: bad JSON ({e}): {stdout}"));
                    let id = str_field(&v[0], "id");
                    let sha = str_field(&v[0], "sha256");
                    evidence.insert(id.clone(), sha);
                    last_evidence = id;
                }
                fs::remove_file(path).ok();
            }
            Op::Note { text } => {
                if success {
                    notes.push(text.clone());
                }
            }
            Op::Edit { title, status } => {
                if success {
                    states.clear();
                }
                states.push((title.clone(), (*status).to_string()));
            }
        }

        // The store verifies...
        let check = p.cmd(&["check", "--read-data", "--json"]);
        assert!(check.success(), "{what}: check failed after the kill\n{check}");
        assert_eq!(check.json()["ok"], Value::Bool(true), "{what}: check not ok after the kill\n{check}");
        // ...and holds everything acknowledged.
        let show = p.cmd(&["case", "show", &case, "--json"]);
        assert!(show.success(), "{what}: case show failed\n{show}");
        let detail = show.json();
        let present: BTreeMap<String, String> = detail["evidence"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no evidence array\n{show}"))
            .iter()
            .map(|e| (str_field(e, "id"), str_field(e, "sha256")))
            .collect();
        for (id, sha) in &evidence {
            assert_eq!(present.get(id), Some(sha), "{what}: acknowledged evidence {id} is missing or changed\n{show}");
        }
        let texts: Vec<String> = detail["notes"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no notes array\n{show}"))
            .iter()
            .map(|n| str_field(n, "text"))
            .collect();
        for n in &notes {
            assert!(texts.contains(n), "{what}: acknowledged note {n:?} is missing\n{show}");
        }
        let state = (str_field(&detail, "title"), str_field(&detail, "status"));
        assert!(states.contains(&state), "{what}: case is {state:?}, expected one of {states:?}\n{show}");
        let shown = p.json(&["evidence", "show", &last_evidence, "--json"]);
        assert_eq!(str_field(&shown, "sha256"), evidence[&last_evidence], "{what}: evidence show");
    }

    let check = p.check_ok();
    eprintln!(
        "crash test: {ITERATIONS} runs, {killed} killed, {acked} completed; {} evidence items, {} notes, {} orphan objects",
        check["evidence"], check["notes"], check["orphan_objects"]
    );
    assert!(killed > 0, "no run was killed: the delays are too long to test anything");
    assert!(acked > 0, "no run completed: the delays are too short to test acknowledged changes");
    let leftovers = fs::read_dir(p.store.join("tmp")).map(|rd| rd.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "tmp/ should be cleaned when the store is next opened");
}
