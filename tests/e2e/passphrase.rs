//! Unlocking: a wrong passphrase changes nothing on disk; `passphrase change` rewraps the key
//! only, and a SIGKILL at any moment leaves a store that opens with the old or the new one.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{assert_same_tree, populate, run, s, seed, snapshot, spawn, Profile, Rng, SeedGuard, BIN, PASS, WRONG_PASS};

#[test]
fn wrong_passphrase_changes_nothing_on_disk() {
    let p = Profile::new();
    let pop = populate(&p);
    let case = pop.cases[0].clone();
    let file = p.write_file("new.txt", b"would be new evidence\n");
    let before = snapshot(&p.store);
    // Let the clock move, so that a rewrite of identical bytes would still show in mtimes.
    std::thread::sleep(Duration::from_millis(50));

    let commands: Vec<Vec<&str>> = vec![
        vec!["case", "list"],
        vec!["case", "list", "--json"],
        vec!["whoami", "--json"],
        vec!["note", "add", &case, "never written"],
        vec!["evidence", "add", &case, s(&file)],
        vec!["check", "--read-data"],
        vec!["store", "rebuild"],
        vec!["passphrase", "change"],
    ];
    for args in &commands {
        let out = p.cmd_with(args, |c| {
            c.env("CASEBRIDGE_PASSPHRASE", WRONG_PASS).env("CASEBRIDGE_NEW_PASSPHRASE", "a brand new passphrase");
        });
        out.fails_with("wrong passphrase");
        assert_same_tree(&before, &snapshot(&p.store), &format!("after `{}` with a wrong passphrase", args.join(" ")));
    }
    // And the right one still works.
    p.cmd(&["case", "list"]).ok();
}

#[test]
fn changed_passphrase_replaces_the_old_one() {
    const NEW: &str = "a completely new passphrase";
    let p = Profile::new();
    let pop = populate(&p);
    let before = snapshot(&p.store);

    let out = p.cmd_with(&["passphrase", "change"], |c| {
        c.env("CASEBRIDGE_NEW_PASSPHRASE", NEW);
    });
    out.ok();

    // Only the header (the wrapped key) changes: the journal and the objects are untouched.
    let after = snapshot(&p.store);
    for (k, v) in &before {
        if k.starts_with("journal/") || k.starts_with("objects/") {
            assert_eq!(after.get(k), Some(v), "{k} changed during a passphrase change");
        }
    }
    assert_ne!(after.get("casebridge.store"), before.get("casebridge.store"), "the header must change");

    p.cmd(&["whoami", "--json"]).fails_with("wrong passphrase");
    let with_new = |args: &[&str]| {
        p.cmd_with(args, |c| {
            c.env("CASEBRIDGE_PASSPHRASE", NEW);
        })
    };
    with_new(&["whoami", "--json"]).ok();
    let list = with_new(&["case", "list", "--json"]);
    list.ok();
    assert_eq!(list.json().as_array().map(Vec::len), Some(pop.cases.len()), "{list}");
    let check = with_new(&["check", "--read-data", "--json"]);
    check.ok();
    assert_eq!(check.json()["ok"], serde_json::Value::Bool(true), "{check}");
}

#[test]
fn too_short_new_passphrase_is_refused() {
    let p = Profile::new();
    let before = snapshot(&p.store);
    let out = p.cmd_with(&["passphrase", "change"], |c| {
        c.env("CASEBRIDGE_NEW_PASSPHRASE", "short");
    });
    out.fails_with("at least 10");
    // The store was unlocked (so sled may have touched its files); everything else is as it was.
    let outside_index = |t: std::collections::BTreeMap<String, Option<crate::harness::FileState>>| {
        t.into_iter().filter(|(k, _)| !k.starts_with("index/")).collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_same_tree(&outside_index(before), &outside_index(snapshot(&p.store)), "after a refused passphrase change");
    p.cmd(&["whoami"]).ok();
}

/// SIGKILL during `passphrase change` at random moments (the new key derivation uses the
/// production parameters, about half a second): afterwards exactly one of the old and the
/// new passphrase opens the store, and `check` is clean.
#[test]
fn passphrase_change_killed_at_random_moments() {
    const ITERATIONS: usize = 10;
    let seed = seed();
    let _guard = SeedGuard { test: "passphrase_change_killed_at_random_moments", seed };
    let mut rng = Rng::new(seed);
    let p = Profile::new();
    populate(&p);
    // Two complete changes: the first puts production KDF parameters in the header, the
    // second measures how long a change takes with them (unlock + new key derivation).
    let mut current = PASS.to_string();
    let mut took = Duration::ZERO;
    for name in ["calibration one", "calibration two"] {
        let t0 = Instant::now();
        p.cmd_with(&["passphrase", "change"], |c| {
            c.env("CASEBRIDGE_PASSPHRASE", &current).env("CASEBRIDGE_NEW_PASSPHRASE", name);
        })
        .ok();
        took = t0.elapsed();
        current = name.to_string();
    }
    // Kill anywhere from the start to a bit after the typical end (at least 0..1500 ms).
    let max_ms = (took.as_millis() as u64 * 13 / 10).max(1500);
    eprintln!("passphrase change: seed {seed}, a change takes {took:?}; kills in 0..{max_ms} ms");
    let mut changed = 0;

    for i in 0..ITERATIONS {
        let next = format!("passphrase number {i} {}", rng.token(6));
        let delay = Duration::from_millis(rng.below(max_ms));
        let mut c = p.command(&["passphrase", "change"]);
        c.env("CASEBRIDGE_PASSPHRASE", &current).env("CASEBRIDGE_NEW_PASSPHRASE", &next);
        c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        let mut child = spawn(&mut c).expect("spawn passphrase change");
        let start = Instant::now();
        let finished = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break Some(status);
            }
            if start.elapsed() >= delay {
                child.kill().expect("SIGKILL");
                child.wait().expect("wait");
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if let Some(status) = finished {
            assert!(status.success(), "iteration {i}: passphrase change failed on its own: {status:?}");
        }

        // Exactly one of the two opens the store (the probe is `check`, which also verifies it).
        let probe = |pass: &str| {
            p.cmd_with(&["check", "--json"], |c| {
                c.env("CASEBRIDGE_PASSPHRASE", pass);
            })
        };
        let old = probe(&current);
        if old.success() {
            assert!(finished.is_none(), "iteration {i}: the change reported success but the old passphrase still works\n{old}");
            assert_eq!(old.json()["ok"], serde_json::Value::Bool(true), "iteration {i}\n{old}");
        } else {
            old.fails_with("wrong passphrase");
            let new = probe(&next);
            new.ok();
            assert_eq!(new.json()["ok"], serde_json::Value::Bool(true), "iteration {i}\n{new}");
            current = next;
            changed += 1;
        }
    }
    eprintln!("passphrase change: {changed} of {ITERATIONS} interrupted changes took effect");
}

#[test]
fn passphrase_from_a_file() {
    let p = Profile::new();
    for (name, content) in [("pass-plain", PASS.to_string()), ("pass-newline", format!("{PASS}\n"))] {
        let file = p.write_file(name, content.as_bytes());
        let out = p.cmd_with(&["--passphrase-file", s(&file), "whoami", "--json"], |c| {
            c.env_remove("CASEBRIDGE_PASSPHRASE");
        });
        out.ok();
    }
    let wrong = p.write_file("pass-wrong", WRONG_PASS.as_bytes());
    p.cmd_with(&["--passphrase-file", s(&wrong), "whoami"], |c| {
        c.env_remove("CASEBRIDGE_PASSPHRASE");
    })
    .fails_with("wrong passphrase");
    let missing = p.path("no-such-file");
    p.cmd_with(&["--passphrase-file", s(&missing), "whoami"], |c| {
        c.env_remove("CASEBRIDGE_PASSPHRASE");
    })
    .fails();
    fs::remove_file(p.path("pass-plain")).ok();
}

/// No passphrase anywhere and no terminal to ask on (a new session via setsid): a clean error,
/// not a hang.
#[test]
fn no_passphrase_and_no_terminal_is_a_clean_error() {
    let p = Profile::new();
    let mut c = Command::new("setsid");
    c.arg(BIN).args(["case", "list"]).env("CASEBRIDGE_STORE", &p.store).env_remove("CASEBRIDGE_PASSPHRASE");
    let out = run(c, Duration::from_secs(20));
    out.fails();
    assert!(out.stderr.to_lowercase().contains("passphrase"), "the error should say a passphrase is needed\n{out}");
}
