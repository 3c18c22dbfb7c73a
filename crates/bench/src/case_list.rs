//! The case list on a big store: 10,000 cases with 10 evidence items each (100,000 items,
//! about 210,000 journal events), next to the same operations on an empty store measured in
//! the same run.
//!
//! The big store takes minutes to build, so it is kept in `--dir` and reused by later runs
//! (`--rebuild` builds it again). The directory is marked as ours on creation; a directory
//! without the mark is never modified.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use casebridge_core::{CaseFilter, EvidenceOptions, KdfParams, NewCase, Role, Store, JOURNAL_DIR, JOURNAL_FILE};

use crate::report::{cpu_median, median, millis, spread, walls, Section};
use crate::sys::{self, Sample};
use crate::unlock::time_opens;
use crate::workload::{fresh_store, passphrase, Rng, PASSPHRASE};

pub const DEFAULT_DIR: &str = "/dev/shm/casebridge-bench-cases";
pub const DEFAULT_CASES: usize = 10_000;
pub const DEFAULT_PER_CASE: usize = 10;
/// Bytes of each evidence item.
const ITEM_SIZE: usize = 64;
/// Marks a directory as made by this benchmark.
const MARK: &str = "casebridge-bench-cache";
/// Written once the store is complete: `cases per_case setup_seconds`.
const COMPLETE: &str = "complete";

#[derive(clap::Args)]
pub struct Args {
    /// Where the big store is built and kept (tmpfs, so that the setup's fsyncs are cheap).
    #[arg(long, default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// Cases in the big store.
    #[arg(long, default_value_t = DEFAULT_CASES)]
    pub cases: usize,
    /// Evidence items per case.
    #[arg(long, default_value_t = DEFAULT_PER_CASE)]
    pub per_case: usize,
    /// Runs of each timing (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// The `casebridge` binary (default: `casebridge` next to this binary, i.e. target/release).
    #[arg(long)]
    pub cli: Option<PathBuf>,
    /// Build the store again even when a complete one is cached.
    #[arg(long)]
    pub rebuild: bool,
}

/// How the big store came to be.
struct Setup {
    seconds: f64,
    reused: bool,
}

pub fn run(a: &Args) -> Result<Section> {
    let runs = a.runs.max(1);
    prepare_dir(&a.dir)?;
    let store_dir = a.dir.join("store");
    let setup = ensure_store(a, &store_dir)?;
    let kind = sys::fs_kind(&a.dir)?;
    let journal_bytes = fs::metadata(store_dir.join(JOURNAL_DIR).join(JOURNAL_FILE)).map(|m| m.len()).unwrap_or(0);

    // The peer: a store with one case and nothing else, on the same file system.
    let peer = tempfile::Builder::new().prefix("peer-").tempdir_in(&a.dir).context("creating the peer store's directory")?;
    let peer_dir = peer.path().join("store");
    drop(fresh_store(&peer_dir)?);

    eprintln!("case-list: timing opens (big store, empty store)");
    let watch = sys::CpuWatch::start();
    // Interleaved, so that a disturbance hits both alike.
    let (mut open_big, mut open_empty) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        open_big.extend(time_opens(&store_dir, 1)?);
        open_empty.extend(time_opens(&peer_dir, 1)?);
    }

    eprintln!("case-list: timing list_cases");
    let store = Store::open(&store_dir, &passphrase()).context("opening the big store")?;
    sys::settle();
    let (list_first, list, evidence) = time_list(&store, runs, a.cases)?;
    let (detail, lookup) = time_lookups(&store, runs)?;
    drop(store);
    let peer_store = Store::open(&peer_dir, &passphrase())?;
    let (list_empty_first, list_empty, _) = time_list(&peer_store, runs, 1)?;
    drop(peer_store);

    let mut s = Section::new(
        format!("Case list: {} cases, {} evidence items", a.cases, evidence),
        vec!["what", "big store: median (min–max)", "empty store (1 case), same run"],
    );
    s.context.push(format!(
        "Big store on {} ({}), journal {} ({} events); {} {}.",
        kind.name,
        store_dir.display(),
        sys::human(journal_bytes),
        1 + a.cases + 2 * a.cases * a.per_case,
        if setup.reused { "reused from an earlier run; its setup took" } else { "built in this run, setup took" },
        format_setup(setup.seconds)
    ));
    s.context.push(format!(
        "Evidence items: {ITEM_SIZE} distinct pseudo-random bytes each, imported with `add_evidence` from small files; KdfParams::INTERACTIVE."
    ));
    s.context.push(format!("Disturbance during the in-process timings: {}.", watch.others()));
    s.row(vec![
        "`Store::open` (wall; CPU median)".into(),
        format!("{}; CPU {}", spread(&walls(&open_big)), cpu_median(&open_big)),
        format!("{}; CPU {}", spread(&walls(&open_empty)), cpu_median(&open_empty)),
    ]);
    s.row(vec![
        "`list_cases(&CaseFilter::default())`, first call after open (wall; CPU)".into(),
        format!("{}; CPU {}", millis(list_first.wall), millis(list_first.cpu)),
        format!("{}; CPU {}", millis(list_empty_first.wall), millis(list_empty_first.cpu)),
    ]);
    s.row(vec![
        format!("`list_cases(&CaseFilter::default())`, {runs} further calls (wall: median (min–max); CPU median)"),
        ms_spread(&list),
        ms_spread(&list_empty),
    ]);

    s.row(vec!["`Store::case(id)` of the newest case (its items and notes)".into(), ms_spread(&detail), "–".into()]);
    s.row(vec!["`resolve_evidence` by a 28-character id prefix".into(), ms_spread(&lookup), "–".into()]);

    match cli_binary(a.cli.as_deref()) {
        Some(bin) => {
            eprintln!("case-list: timing `casebridge case list --json`");
            let (big, out_bytes) = time_cli(&bin, &store_dir, runs)?;
            let (empty, _) = time_cli(&bin, &peer_dir, runs)?;
            s.row(vec![
                format!("`casebridge case list --json` (whole process, stdout {} to a pipe)", sys::human(out_bytes)),
                spread(&big),
                spread(&empty),
            ]);
            let list_part = median(&big).saturating_sub(median(&empty));
            s.verdicts.push(format!(
                "The CLI on the big store takes {} more than on the empty store (where its time is process start and unlock): that is what listing and printing {} cases costs it.",
                millis(list_part),
                a.cases
            ));
        }
        None => {
            s.row(vec!["`casebridge case list --json`".into(), "skipped: target/release/casebridge not built".into(), "–".into()]);
        }
    }
    let (big, empty) = (median(&walls(&open_big)).as_secs_f64(), median(&walls(&open_empty)).as_secs_f64());
    let extra = (big - empty) * 1000.0;
    let verdict = if big <= empty * 1.10 { "met" } else { "MISSED" };
    let cpu = |v: &[Sample]| median(&v.iter().map(|s| s.cpu).collect::<Vec<_>>()).as_secs_f64();
    s.verdicts.push(format!(
        "Target: `Store::open` does not scale with the journal (taken as: median wall time within 10 % of the empty store's): {verdict} ({big:.3} s vs {empty:.3} s, {extra:+.0} ms; CPU {:.3} s vs {:.3} s).",
        cpu(&open_big),
        cpu(&open_empty)
    ));
    let in_order = |v: &[Sample]| v.iter().map(|x| format!("{:.3}", x.wall.as_secs_f64())).collect::<Vec<_>>().join(", ");
    s.verdicts.push(format!(
        "`Store::open` wall times in run order (s): big store {}; empty store {}.",
        in_order(&open_big),
        in_order(&open_empty)
    ));
    s.verdicts.push("No numeric target was given for `list_cases`; the figure is reported as measured.".into());
    Ok(s)
}

/// Times one `list_cases` right after open, then `runs` more; checks the count each time.
/// Returns the first call, the others, and the evidence total the list reports.
fn time_list(store: &Store, runs: usize, cases: usize) -> Result<(Sample, Vec<Sample>, usize)> {
    let mut evidence = 0;
    let mut samples = Vec::new();
    for _ in 0..=runs {
        let (list, sample) = sys::measure(|| Ok(store.list_cases(&CaseFilter::default())?))?;
        if list.len() != cases {
            bail!("list_cases returned {} cases; the store was built with {cases}", list.len());
        }
        evidence = list.iter().map(|c| c.evidence_count).sum();
        samples.push(sample);
    }
    let first = samples.remove(0);
    Ok((first, samples, evidence))
}

/// Times `runs` calls of `case(id)` on the newest case and of `resolve_evidence` on a unique
/// prefix of one of its items.
fn time_lookups(store: &Store, runs: usize) -> Result<(Vec<Sample>, Vec<Sample>)> {
    let newest = store.list_cases(&CaseFilter::default())?.first().map(|c| c.id).context("no case")?;
    let item = store.case(newest)?.evidence.first().map(|e| e.id).context("no evidence")?;
    let prefix = item.hyphenated().to_string()[..28].to_string();
    let (mut detail, mut lookup) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        detail.push(sys::measure(|| Ok(store.case(newest)?))?.1);
        let (found, sample) = sys::measure(|| Ok(store.resolve_evidence(&prefix)?))?;
        if found != item {
            bail!("resolve_evidence({prefix}) found another item");
        }
        lookup.push(sample);
    }
    Ok((detail, lookup))
}

/// `median (min–max); CPU median` in milliseconds.
fn ms_spread(v: &[Sample]) -> String {
    let w = walls(v);
    let c: Vec<Duration> = v.iter().map(|s| s.cpu).collect();
    let min = w.iter().min().copied().unwrap_or_default();
    let max = w.iter().max().copied().unwrap_or_default();
    format!("{} ({}–{}); CPU {}", millis(median(&w)), millis(min), millis(max), millis(median(&c)))
}

fn format_setup(s: f64) -> String {
    if s >= 60.0 {
        format!("{:.0} min {:.0} s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// `wanted`, else the `casebridge` binary next to this one (target/release), if it exists.
pub fn cli_binary(wanted: Option<&Path>) -> Option<PathBuf> {
    let p = match wanted {
        Some(w) => w.to_path_buf(),
        None => std::env::current_exe().ok()?.parent()?.join("casebridge"),
    };
    p.is_file().then_some(p)
}

/// Runs the CLI `runs` times; returns wall times and the size of its last stdout.
fn time_cli(bin: &Path, store: &Path, runs: usize) -> Result<(Vec<Duration>, u64)> {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        sys::settle();
        let t = Instant::now();
        let out = Command::new(bin)
            .args(["case", "list", "--json"])
            .env("CASEBRIDGE_STORE", store)
            .env("CASEBRIDGE_PASSPHRASE", PASSPHRASE)
            .env_remove("CASEBRIDGE_NEW_PASSPHRASE")
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        times.push(t.elapsed());
        if !out.status.success() {
            bail!("`casebridge case list --json` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
        }
        bytes = out.stdout.len() as u64;
    }
    Ok((times, bytes))
}

/// Creates `dir` with our mark, or checks that an existing `dir` carries it.
fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        if !dir.join(MARK).is_file() {
            let empty = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.next().is_none();
            if !empty {
                bail!("{} exists and was not made by casebridge-bench; pass another --dir", dir.display());
            }
            fs::write(dir.join(MARK), b"made by casebridge-bench; safe to delete\n")?;
        }
        return Ok(());
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::write(dir.join(MARK), b"made by casebridge-bench; safe to delete\n")?;
    Ok(())
}

/// Reuses a complete store of the requested shape, else builds it.
fn ensure_store(a: &Args, store_dir: &Path) -> Result<Setup> {
    let complete = a.dir.join(COMPLETE);
    if !a.rebuild {
        if let Ok(text) = fs::read_to_string(&complete) {
            let f: Vec<&str> = text.split_whitespace().collect();
            if f.len() == 3 && f[0] == a.cases.to_string() && f[1] == a.per_case.to_string() && store_dir.exists() {
                eprintln!("case-list: reusing the store in {}", store_dir.display());
                return Ok(Setup { seconds: f[2].parse().unwrap_or(0.0), reused: true });
            }
        }
    }
    let _ = fs::remove_file(&complete);
    if store_dir.exists() {
        fs::remove_dir_all(store_dir).with_context(|| format!("removing the incomplete {}", store_dir.display()))?;
    }
    let seconds = build(a, store_dir)?;
    fs::write(&complete, format!("{} {} {seconds:.1}\n", a.cases, a.per_case))?;
    Ok(Setup { seconds, reused: false })
}

fn build(a: &Args, store_dir: &Path) -> Result<f64> {
    let start = Instant::now();
    let scratch = a.dir.join("scratch");
    fs::create_dir_all(&scratch)?;
    let mut store = Store::create(store_dir, &passphrase(), "Bench Investigator", Role::Investigator, KdfParams::INTERACTIVE)
        .with_context(|| format!("creating {}", store_dir.display()))?;
    let mut rng = Rng::fresh();
    let mut item = [0u8; ITEM_SIZE];
    let total = a.cases * a.per_case;
    eprintln!("case-list: building {} cases with {} evidence items in {}", a.cases, total, store_dir.display());
    for i in 0..a.cases {
        let case = store.create_case(NewCase {
            title: format!("Benchmark case {i:05}"),
            summary: Some(format!("Generated case number {i} of {}", a.cases)),
            reference: Some(format!("BENCH-{i:05}")),
            tags: vec!["bench".into()],
            category: None,
        })?;
        for j in 0..a.per_case {
            rng.fill(&mut item);
            let path = scratch.join(format!("item-{j:02}.bin"));
            fs::write(&path, item).with_context(|| format!("writing {}", path.display()))?;
            store.add_evidence(case, &path, &EvidenceOptions::default(), &mut |_: u64| true)?;
        }
        let done = i + 1;
        if done.is_multiple_of(250) || done == a.cases {
            let el = start.elapsed().as_secs_f64();
            let eta = el / done as f64 * (a.cases - done) as f64;
            eprintln!("case-list: {done}/{} cases, {}/{total} items, {el:.0} s elapsed, about {eta:.0} s left", a.cases, done * a.per_case);
        }
    }
    drop(store);
    fs::remove_dir_all(&scratch)?;
    Ok(start.elapsed().as_secs_f64())
}
