//! The crash campaign's paths that need an agency: bundle export, upload (the client killed),
//! complete (the endpoint killed while uploads complete), restart (the endpoint killed while it
//! starts and a client resumes), and review of a submission fetched over the endpoint.
//!
//! The endpoint's store (`AGENCY/store`) is checked with the CLI while no endpoint holds it:
//! `casebridge --store AGENCY/store check --read-data` under the agency passphrase. A bundle is
//! in it when its `log` has the `bundle_imported` event naming the bundle id; the client's
//! acknowledgement of a bundle is the agency's receipt, kept in the client's store
//! (`receipt list`). A client never uploads a bundle again once it holds its receipt, so a
//! receipted bundle missing from the agency store stays missing: checking that every receipt
//! the client holds is in the agency store at each endpoint kill finds a lost one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use casebridge_core::{KdfParams, Passphrase, Role};
use casebridge_testkit::fixtures::create_store;
use serde_json::Value;

use super::{delay, log_summaries, missing, run_killed, run_path, start, time, Tally, Violation, ROUND};
use crate::endpoint::{invite, member, new_agency, run, Endpoint, AGENCY_PASS};
use crate::harness::{in_process, s, spawn, str_field, Output, Profile, Rng, BIN};

const MB: u64 = 1_000_000;

/// An agency with its endpoint, an investigator with a case and a brief, and a volunteer who
/// has pulled the brief.
pub struct World {
    admin: Profile,
    /// The agency directory.
    pub agency: PathBuf,
    /// The endpoint while it runs.
    pub endpoint: Option<Endpoint>,
    /// Its address (restarts reuse it: members hold the URL).
    pub addr: String,
    /// The investigator.
    pub inv: Profile,
    /// The volunteer.
    pub vol: Profile,
    /// The investigator's case.
    pub case: String,
    /// The brief the volunteer answers.
    pub brief: String,
}

impl World {
    /// Sets it all up. The endpoint's store is created here with cheap KDF parameters (the
    /// endpoint creates it with the production ones on first start), so every open is cheap.
    pub fn new() -> World {
        let admin = Profile::empty();
        let agency = admin.root().join("agency");
        new_agency(&agency);
        in_process(|| {
            // The TLS key too: sealed under the agency passphrase with cheap parameters, so a
            // restart costs what the endpoint does, not a production key derivation.
            casebridge_agency::tls::ensure_certificate(&agency, &Passphrase::new(AGENCY_PASS), KdfParams::INSECURE_FOR_TESTS)
                .expect("create the endpoint certificate");
            drop(create_store(&agency.join("store"), AGENCY_PASS, "Test Police endpoint", Role::Supervisor));
        });
        let endpoint = Endpoint::start(&agency);
        let addr = endpoint.addr.to_string();
        let inv = member(Role::Investigator, "Vera Brandt");
        inv.cmd(&["enrol", &invite(&admin, &agency, "investigator", "Vera Brandt", &[])]).ok();
        let case = inv.new_case("Bike thefts, Mitte");
        let brief = inv.cmd(&["brief", "publish", &case, "--title", "Dashcam footage", "--body", "Main St"]).ok().stdout.trim().to_string();
        inv.cmd(&["sync"]).ok();
        let vol = member(Role::Volunteer, "Mila Jansen");
        vol.cmd(&["enrol", &invite(&admin, &agency, "volunteer", "Mila Jansen", &[])]).ok();
        vol.cmd(&["sync"]).ok();
        World { admin, agency, endpoint: Some(endpoint), addr, inv, vol, case, brief }
    }

    /// Stops the endpoint cleanly (SIGTERM).
    pub fn stop(&mut self) {
        if let Some(e) = self.endpoint.take() {
            e.stop();
        }
    }

    /// Starts the endpoint again on its address.
    pub fn restart(&mut self) -> Duration {
        assert!(self.endpoint.is_none(), "the endpoint is running");
        let (e, t) = time(|| Endpoint::start_at(&self.agency, &self.addr));
        self.endpoint = Some(e);
        t
    }

    /// `cmd` on the endpoint's store (no endpoint may be running).
    pub fn agency_cmd(&self, args: &[&str]) -> Output {
        let store = self.agency.join("store");
        self.admin.cmd_with(args, |c| {
            c.env("CASEBRIDGE_STORE", &store).env("CASEBRIDGE_PASSPHRASE", AGENCY_PASS);
        })
    }

    /// Checks the endpoint's store (stopped or killed endpoint) and returns the bundle ids it
    /// has imported.
    pub fn agency_bundles(&self, tally: &mut Tally, what: &str) -> BTreeSet<String> {
        tally.check(self.agency_cmd(&["check", "--read-data", "--json"]), &format!("{what} (the endpoint's store)"));
        let log = self.agency_cmd(&["log", "--json"]);
        if !log.success() {
            tally.fail(Violation::Unopenable, &format!("{what}: log of the endpoint's store failed\n{log}"));
        }
        bundle_ids(&log_summaries(&log.json(), "bundle_imported"))
    }

    /// The volunteer submits `size` random bytes; returns the ids of the bundles it queued.
    pub fn submit(&self, size: u64, rng: &mut Rng, name: &str) -> BTreeSet<String> {
        let f = self.vol.random_file(name, size, rng.next_u64());
        let v = self.vol.json(&["submit", &self.brief, s(&f), "--json"]);
        fs::remove_file(&f).ok();
        v["outbox"]
            .as_array()
            .expect("outbox paths")
            .iter()
            .filter_map(|p| Path::new(p.as_str()?).file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect()
    }
}

/// The bundle ids in summaries such as "bundle ID imported (...)".
fn bundle_ids(summaries: &[String]) -> BTreeSet<String> {
    summaries.iter().filter_map(|s| s.split_whitespace().nth(1).map(str::to_string)).collect()
}

/// The bundle ids of the receipts a profile holds (all must verify).
fn receipts(p: &Profile, tally: &mut Tally, what: &str) -> BTreeSet<String> {
    let out = p.cmd(&["receipt", "list", "--json"]);
    if !out.success() {
        tally.fail(Violation::Unopenable, &format!("{what}: receipt list failed\n{out}"));
    }
    let mut ids = BTreeSet::new();
    for r in out.json().as_array().expect("receipts").iter() {
        tally.require(r["verified"] == Value::Bool(true), || format!("{what}: a receipt does not verify: {r}"));
        ids.insert(str_field(r, "bundle_id"));
    }
    ids
}

/// The client side after a point: its store checks clean, a sync succeeds (resuming or
/// re-uploading whatever was cut off), nothing is left pending, and the receipts it holds.
fn client_settles(w: &World, tally: &mut Tally, what: &str) -> BTreeSet<String> {
    tally.check(w.vol.cmd(&["check", "--read-data", "--json"]), &format!("{what} (the volunteer's store)"));
    let sync = w.vol.cmd(&["sync", "--json"]);
    tally.require(sync.success(), || format!("{what}: the next sync failed\n{sync}"));
    let status = w.vol.json(&["sync", "status", "--json"]);
    tally.require(status["pending"] == 0, || format!("{what}: bundles still pending after a successful sync: {status}"));
    receipts(&w.vol, tally, what)
}

/// Every bundle the client holds a receipt for is in the agency store.
fn receipted_are_in(tally: &mut Tally, receipted: &BTreeSet<String>, agency: &BTreeSet<String>, what: &str) {
    let gone = missing(receipted, agency);
    tally.require(gone.is_empty(), || format!("{what}: bundles the client holds receipts for are not in the agency store: {gone:?}"));
}

// ----- upload: the client killed ---------------------------------------------------------------

/// `casebridge sync` uploading a 0.5-3 MB submission, killed.
#[test]
fn upload() {
    net_path("upload");
}

/// The endpoint killed while a client uploads and completes a 0.5-3 MB submission.
#[test]
fn complete() {
    net_path("complete");
}

/// The endpoint killed while it starts and a client resumes its upload against it.
#[test]
fn restart() {
    net_path("restart");
}

fn net_path(name: &'static str) {
    run_path(name, ROUND, |n, first, rng, tally| net_round(name, n, first, rng, tally));
}

/// Starts `agency serve` without waiting for it to listen.
fn spawn_serve(dir: &Path, listen: &str) -> std::process::Child {
    let mut c = Command::new(BIN);
    c.args(["agency", "serve", "--dir"])
        .arg(dir)
        .args(["--listen", listen])
        .env("CASEBRIDGE_AGENCY_PASSPHRASE", AGENCY_PASS)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    spawn(&mut c).expect("start agency serve")
}

fn net_round(path: &str, n: usize, first: usize, rng: &mut Rng, tally: &mut Tally) {
    let mut w = World::new();
    // Calibration: one submission's sync, and the endpoint's start.
    w.submit(2 * MB, rng, "warm.bin");
    let (out, t_sync) = time(|| w.vol.cmd(&["sync"]));
    out.ok();
    w.stop();
    let t_start = w.restart();
    // Cold: the endpoint starting with a client syncing right behind it (the client's first
    // connection is refused and retried), until the client has its receipt.
    let t_cold = if path == "restart" {
        w.submit(2 * MB, rng, "warm-cold.bin");
        w.stop();
        let mut server = spawn_serve(&w.agency, &w.addr);
        let (out, t) = time(|| w.vol.cmd(&["sync"]));
        out.ok();
        let _ = server.kill();
        let _ = server.wait();
        w.restart();
        t
    } else {
        t_start + t_sync
    };
    if first == 0 {
        tally.typical.push(("sync of 2 MB", t_sync));
        tally.typical.push(("endpoint start", t_start));
        if path == "restart" {
            tally.typical.push(("start and sync of 2 MB", t_cold));
        }
    }
    let mut receipted = receipts(&w.vol, tally, "calibration");

    for i in first..first + n {
        let size = MB / 2 + rng.below(5 * MB / 2);
        let queued = w.submit(size, rng, &format!("clip-{i}.mp4"));
        let what;
        match path {
            "upload" => {
                let run = run_killed(w.vol.command(&["sync", "--json"]), delay(rng, t_sync));
                tally.outcome(&run);
                what = format!("point {i}: {}", run.what);
                receipted = client_settles(&w, tally, &what);
                // The endpoint's store, every 10 points (and at the end of the round, below).
                // Not right before the round's end: its stop would follow the restart at once,
                // and `agency serve` installs its SIGTERM handler only after it says it listens,
                // so a SIGTERM that early ends it by the signal's default action (reported).
                if (i + 1) % 10 == 0 && i + 1 < first + n {
                    w.stop();
                    let have = w.agency_bundles(tally, &what);
                    receipted_are_in(tally, &receipted, &have, &what);
                    w.restart();
                }
            }
            "complete" | "restart" => {
                let cold = path == "restart";
                // Cold: the endpoint starts now, with the client right behind it.
                let (mut server, typical) = if cold {
                    w.stop();
                    (spawn_serve(&w.agency, &w.addr), t_cold)
                } else {
                    (w.endpoint.take().expect("running").into_child(), t_sync)
                };
                let d = delay(rng, typical);
                let (mut client, out, err) = start(w.vol.command(&["sync", "--json"]));
                let t0 = Instant::now();
                let (server_done, client_done) = loop {
                    if let Some(st) = server.try_wait().expect("try_wait") {
                        break (Some(st), None);
                    }
                    if t0.elapsed() >= d {
                        // Whether the client had its answer before the kill: then the kill
                        // landed after the write (counted as "completed").
                        let client_done = client.try_wait().expect("try_wait");
                        let _ = server.kill();
                        let _ = server.wait();
                        break (None, client_done);
                    }
                    std::thread::sleep(Duration::from_micros(300));
                };
                what = format!("point {i}: endpoint ({}) killed after {d:?} with a client syncing", if cold { "starting" } else { "warm" });
                if let Some(st) = server_done {
                    tally.fail(Violation::Lost, &format!("{what}: the endpoint exited on its own: {st}"));
                }
                // With the endpoint dead: its store opens, checks clean and holds every bundle
                // the client had a receipt for when this point began.
                let have = w.agency_bundles(tally, &what);
                receipted_are_in(tally, &receipted, &have, &what);
                let imported = !queued.is_empty() && queued.iter().all(|b| have.contains(b));
                match (imported, client_done.is_some()) {
                    (true, false) => tally.note("kill after the import, before the client had its receipt"),
                    (true, true) => tally.note("kill after the client had its receipt"),
                    (false, _) => tally.note("kill before the import"),
                }
                w.restart();
                // The client retries against the restarted endpoint; it may also give up.
                let status = client.wait().expect("wait for the client");
                let (stdout, stderr) = (out.join().expect("stdout"), err.join().expect("stderr"));
                tally.require(status.code() == Some(0) || status.code() == Some(1), || {
                    format!("{what}: the client ended with {status}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
                });
                if !status.success() {
                    tally.note("client gave up (exit 1), next sync resumed");
                }
                // The endpoint was killed in every point; "completed" counts the points where the
                // client had finished its sync before the kill.
                let finished_first = client_done.is_some_and(|s| s.success());
                tally.outcome(&super::Killed { what: what.clone(), code: if finished_first { Some(0) } else { None }, stdout, stderr });
                receipted = client_settles(&w, tally, &what);
            }
            other => unreachable!("not a network path: {other}"),
        }
    }
    // The last points' receipts, with the endpoint stopped.
    w.stop();
    let have = w.agency_bundles(tally, "end of round");
    receipted_are_in(tally, &receipted, &have, "end of round");
}

// ----- bundle export --------------------------------------------------------------------------

/// `bundle export` of the investigator's case (1-3 MB of evidence), killed; see `crash::export`.
pub fn export_round(n: usize, first: usize, rng: &mut Rng, tally: &mut Tally) {
    let mut w = World::new();
    w.stop();
    let inv = &w.inv;
    let public = inv.path("agency-public.json");
    run(&w.admin, &["agency", "export-public", "--dir", s(&w.agency), "--out", s(&public)]).ok();
    let f = inv.random_file("camera.bin", MB + rng.below(2 * MB), rng.next_u64());
    inv.add_evidence(&w.case, &f);
    fs::remove_file(&f).ok();
    let exported = |tally: &mut Tally, what: &str| -> BTreeSet<String> {
        let log = inv.cmd(&["log", "--json"]);
        if !log.success() {
            tally.fail(Violation::Unopenable, &format!("{what}: log failed\n{log}"));
        }
        bundle_ids(&log_summaries(&log.json(), "bundle_exported"))
    };
    let verify = |file: &Path| -> Output { run(&w.admin, &["bundle", "verify", s(file), "--agency-dir", s(&w.agency), "--json"]) };
    let out0 = inv.path("calibration.cbb");
    let (out, typical) = time(|| inv.cmd(&["bundle", "export", "--case", &w.case, "--to", s(&public), "--out", s(&out0), "--json"]));
    out.ok();
    fs::remove_file(&out0).ok();
    if first == 0 {
        tally.typical.push(("export", typical));
    }
    let mut acked: BTreeSet<String> = exported(tally, "calibration");

    for i in first..first + n {
        let file = inv.path(&format!("bundle-{i}.cbb"));
        let args = ["bundle", "export", "--case", &w.case, "--to", s(&public), "--out", s(&file), "--json"];
        let run = run_killed(inv.command(&args), delay(rng, typical));
        tally.outcome(&run);
        let what = format!("point {i}: {}", run.what);
        tally.check(inv.cmd(&["check", "--read-data", "--json"]), &what);
        let now = exported(tally, &what);
        let gone = missing(&acked, &now);
        tally.require(gone.is_empty(), || format!("{what}: acknowledged exports are no longer recorded: {gone:?}"));
        if run.acked() {
            let id = str_field(&serde_json::from_str::<Value>(&run.stdout).expect("export --json"), "bundle_id");
            tally.require(now.contains(&id), || format!("{what}: the acknowledged export {id} is not recorded"));
            tally.require(file.exists(), || format!("{what}: the acknowledged bundle file is missing"));
        }
        // The bundle file is there whole (it verifies) or not at all.
        if file.exists() {
            let v = verify(&file);
            tally.require(v.success() && v.json()["verdict"] == "verified", || {
                format!("{what}: the bundle file is there but does not verify\n{v}")
            });
            let id = str_field(&v.json(), "bundle_id");
            if !run.acked() {
                tally.note("killed export left a whole bundle");
                if !now.contains(&id) {
                    // The file was renamed into place but the store did not record the export.
                    tally.note("whole bundle file without its bundle_exported record");
                }
            }
            fs::remove_file(&file).ok();
        }
        let partial = inv.path(&format!(".bundle-{i}.cbb.partial"));
        if partial.exists() {
            tally.note("killed export left a .partial file");
            fs::remove_file(&partial).ok();
        }
        acked = now;
    }
}

// ----- review --------------------------------------------------------------------------------

/// Accept or reject one item of a submission, killed; see `crash::review`.
pub fn review_round(n: usize, first: usize, rng: &mut Rng, tally: &mut Tally) {
    let mut w = World::new();
    let files: Vec<PathBuf> = (0..3).map(|k| w.vol.random_file(&format!("photo-{k}.jpg"), 200_000, rng.next_u64())).collect();
    let mut args = vec!["submit".to_string(), w.brief.clone()];
    args.extend(files.iter().map(|f| s(f).to_string()));
    args.push("--json".into());
    let sub = str_field(&w.vol.json(&args), "id");
    w.vol.cmd(&["sync"]).ok();
    w.inv.cmd(&["sync"]).ok();
    w.stop();
    let inv = &w.inv;
    let state = |tally: &mut Tally, what: &str| -> BTreeMap<String, (String, Option<String>)> {
        let out = inv.cmd(&["review", "show", &sub, "--json"]);
        if !out.success() {
            tally.fail(Violation::Unopenable, &format!("{what}: review show failed\n{out}"));
        }
        out.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| (str_field(i, "evidence_id"), (str_field(i, "state"), i["reason"].as_str().map(str::to_string))))
            .collect()
    };
    let accepted = |tally: &mut Tally, id: &str, what: &str| -> usize {
        let out = inv.cmd(&["evidence", "custody", id, "--json"]);
        if !out.success() {
            tally.fail(Violation::Unopenable, &format!("{what}: evidence custody failed\n{out}"));
        }
        out.json().as_array().expect("custody").iter().filter(|c| c["action"] == "accepted").count()
    };
    let mut model = state(tally, "setup");
    let items: Vec<String> = model.keys().cloned().collect();
    assert_eq!(items.len(), 3, "the submission has three items");
    let (out, typical) = time(|| inv.cmd(&["review", "reject", &sub, "--item", &items[0], "--reason", "calibration"]));
    out.ok();
    if first == 0 {
        tally.typical.push(("decision", typical));
    }
    model = state(tally, "calibration");
    let mut custody: BTreeMap<String, usize> = items.iter().map(|i| (i.clone(), accepted(tally, i, "setup"))).collect();

    for i in first..first + n {
        let item = items[rng.below(3) as usize].clone();
        let accept = rng.below(2) == 0;
        let reason = format!("decision {i} {}", rng.token(6));
        let decision = if accept { "accept" } else { "reject" };
        let run = run_killed(inv.command(&["review", decision, &sub, "--item", &item, "--reason", &reason]), delay(rng, typical));
        tally.outcome(&run);
        let what = format!("point {i}: {}", run.what);
        tally.check(inv.cmd(&["check", "--read-data", "--json"]), &what);
        let now = state(tally, &what);
        let new = (if accept { "accepted" } else { "rejected" }.to_string(), Some(reason.clone()));
        let took = now[&item] == new;
        tally.require(took || !run.acked(), || format!("{what}: the acknowledged decision is not there: {:?}", now[&item]));
        if took && !run.acked() {
            tally.note("killed decision took effect");
        }
        let mut expected = model.clone();
        if took {
            expected.insert(item.clone(), new);
        }
        tally.require(now == expected, || format!("{what}: review state {now:?}, expected {expected:?}"));
        // The decision and its custody entry are one record: both or neither.
        let want = custody[&item] + usize::from(took && accept);
        let have = accepted(tally, &item, &what);
        tally.require(have == want, || {
            format!("{what}: {have} 'accepted' custody entries for {item}, expected {want} (decision took effect: {took})")
        });
        custody.insert(item, have);
        model = now;
    }
}

// ----- submit: a known bug, kept as an ignored reproduction ------------------------------------

/// `casebridge submit` killed at random points, each followed by a sync that must succeed.
///
/// Fails today (found by this campaign, 2026-12-06; reported, not fixed here: the code is in
/// casebridge-trust and casebridge-app). `bundle::export` renames the finished bundle into the
/// outbox and only then records `bundle_exported`. A kill between the two leaves a whole bundle
/// in the outbox that the store never recorded; the next sync uploads it (sequence N accepted),
/// then `outbox::export_pending` exports the same events again with the same sequence N, and
/// the endpoint refuses that one (422 `sequence_rollback`) on every later sync: the outbox is
/// stuck. It took 36 kills to hit the window in the first run. Run with
/// `cargo test -p casebridge-cli --test e2e submit_killed -- --ignored --nocapture`.
#[test]
#[ignore = "known bug: a submit killed between the outbox rename and the bundle_exported record sticks the outbox"]
fn submit_killed_then_sync_succeeds() {
    let seed = crate::harness::seed();
    let _guard = crate::harness::SeedGuard { test: "submit_killed_then_sync_succeeds", seed };
    let mut rng = Rng::new(seed);
    let w = World::new();
    let f = w.vol.random_file("warm.bin", 600_000, rng.next_u64());
    let (out, typical) = time(|| w.vol.cmd(&["submit", &w.brief, s(&f)]));
    out.ok();
    w.vol.cmd(&["sync"]).ok();
    for i in 0..300 {
        let f = w.vol.random_file(&format!("p{i}.bin"), 600_000, rng.next_u64());
        let run = run_killed(w.vol.command(&["submit", &w.brief, s(&f)]), delay(&mut rng, typical));
        fs::remove_file(&f).ok();
        let log = w.vol.json(&["log", "--json"]);
        let recorded = bundle_ids(&log_summaries(&log, "bundle_exported"));
        let unrecorded: Vec<String> = fs::read_dir(w.vol.store.join("sync").join("outbox"))
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.ends_with(".cbb") && !recorded.iter().any(|r| n.starts_with(r.as_str())))
            .collect();
        let sync = w.vol.cmd(&["sync", "--json"]);
        assert!(
            sync.success(),
            "point {i} ({}; outbox files without a bundle_exported record: {unrecorded:?}): the next sync fails\n{sync}",
            run.what
        );
    }
}
