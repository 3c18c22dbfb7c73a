//! Peak RSS of a whole import process.
//!
//! `rss` re-executes this binary as `rss-probe STORE [FILE]`, which runs
//! `import-child STORE [FILE]` (open with the real KDF, import FILE), waits for it and reads
//! `getrusage(RUSAGE_CHILDREN).ru_maxrss`. Going through a probe means the probe's only
//! waited-for child is that one import, so the figure is that process's own peak and never
//! the maximum over earlier children. The import child also reports its own `VmHWM` from
//! /proc/self/status as a cross-check.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use casebridge_core::{CaseFilter, EvidenceOptions, Store};
use nix::sys::resource::{getrusage, UsageWho};

use crate::report::{at_most, Section};
use crate::sys;
use crate::workload::{fresh_store, passphrase, write_random_file, Rng};

#[derive(clap::Args)]
pub struct Args {
    /// File sizes to import, one child process each.
    #[arg(long, default_values_t = vec!["1GiB".to_string(), "4GiB".to_string()])]
    pub size: Vec<String>,
    /// Directory for the files and stores (tmpfs when there is room, else a disk directory is used).
    #[arg(long, default_value = crate::SHM)]
    pub dir: PathBuf,
}

#[derive(clap::Args)]
pub struct ChildArgs {
    /// The store directory.
    pub store: PathBuf,
    /// The file to import into the store's first case; without it, the child only opens the store.
    pub file: Option<PathBuf>,
    /// (rss-probe only) Run this `casebridge` binary's `evidence add CASE FILE` instead of import-child.
    #[arg(long, requires = "case")]
    pub cli: Option<PathBuf>,
    /// (rss-probe only) The case id for `--cli`.
    #[arg(long)]
    pub case: Option<String>,
}

/// The target from the issue, for every child alike.
const TARGET_MIB: f64 = 32.0;
const MARGIN: u64 = 512 << 20;

/// What one child reported.
struct Figures {
    maxrss_kib: u64,
    vmhwm_kib: u64,
    /// RSS right after the unlock (the KDF's memory freed).
    after_unlock_kib: u64,
    /// Highest RSS sampled during the import.
    during_import_kib: Option<u64>,
    unlock_s: f64,
    import_s: Option<f64>,
}

pub fn run(a: &Args) -> Result<Section> {
    let sizes = a.size.iter().map(|s| sys::parse_size(s)).collect::<Result<Vec<u64>>>()?;
    let mut s = Section::new(
        "Peak RSS of a whole import process",
        vec![
            "child process",
            "files on",
            "ru_maxrss",
            "VmHWM (child's own)",
            "RSS after unlock / during import",
            "unlock",
            "import",
            "`cp FILE` (same fs)",
            "target ≤ 32 MiB",
        ],
    );
    s.context.push(
        "Each row is a fresh process (this binary re-executed): `Store::open` with the store's real KDF parameters (KdfParams::INTERACTIVE: Argon2id m = 19 MiB, t = 60, p = 1), then `add_evidence` of the file. ru_maxrss comes from getrusage(RUSAGE_CHILDREN) in a probe process whose only child is that one. The times are incidental here; `cp FILE COPY` on the same file system, timed just before, is their peer."
            .into(),
    );
    let cli = crate::case_list::cli_binary(None);
    match &cli {
        Some(b) => s.context.push(format!(
            "The `casebridge evidence add` rows run the real CLI ({}) under the same probe, into a fresh store of the same kind; the CLI prints no figures of its own.",
            b.display()
        )),
        None => s.context.push("`casebridge` is not built next to this binary, so the real CLI was not measured.".into()),
    }
    let watch = sys::CpuWatch::start();
    let mut open_only_done = false;
    let mut import_peaks = Vec::new();
    for size in sizes {
        let (dir, kind) = pick_dir(&a.dir, size)?;
        let work = tempfile::Builder::new().prefix("casebridge-bench-rss-").tempdir_in(&dir).context("creating a work directory")?;
        let store_dir = work.path().join("store");
        drop(fresh_store(&store_dir)?);
        if !open_only_done {
            eprintln!("rss: open only");
            let f = probe_child(&store_dir, None, None)?;
            s.row(vec![
                "open only (unlock, no import)".into(),
                kind.name.into(),
                mib(f.maxrss_kib),
                mib(f.vmhwm_kib),
                format!("{} / –", mib(f.after_unlock_kib)),
                format!("{:.3} s", f.unlock_s),
                "–".into(),
                "–".into(),
                at_most(f.maxrss_kib as f64 / 1024.0, TARGET_MIB, " MiB"),
            ]);
            open_only_done = true;
        }
        let file = work.path().join("input.bin");
        eprintln!("rss: generating {} in {} (not measured)", sys::human(size), dir.display());
        write_random_file(&file, size, &mut Rng::fresh())?;
        // The peer for the import time: the same bytes copied within the same file system.
        let copy = work.path().join("copy.bin");
        sys::settle();
        let cp = sys::time_command("cp", &[file.as_os_str(), copy.as_os_str()])?;
        std::fs::remove_file(&copy).context("removing the copy")?;
        eprintln!("rss: open + import {}", sys::human(size));
        let f = probe_child(&store_dir, Some(&file), None)?;
        s.row(vec![
            format!("open + import {}", sys::human(size)),
            kind.name.into(),
            mib(f.maxrss_kib),
            mib(f.vmhwm_kib),
            format!("{} / {}", mib(f.after_unlock_kib), f.during_import_kib.map(mib).unwrap_or_else(|| "–".into())),
            format!("{:.3} s", f.unlock_s),
            f.import_s.map(|t| format!("{t:.3} s")).unwrap_or_else(|| "–".into()),
            format!("{:.3} s", cp.wall.as_secs_f64()),
            at_most(f.maxrss_kib as f64 / 1024.0, TARGET_MIB, " MiB"),
        ]);
        import_peaks.push((size, f.maxrss_kib));
        // Room for the CLI's copy: the first store's object goes first.
        std::fs::remove_dir_all(&store_dir).context("removing the first store")?;
        if let Some(bin) = &cli {
            // A fresh store, so that the CLI imports new content rather than a duplicate.
            let cli_store = work.path().join("cli-store");
            let (store, case) = fresh_store(&cli_store)?;
            drop(store);
            eprintln!("rss: casebridge evidence add {}", sys::human(size));
            let f = probe_child(&cli_store, Some(&file), Some((bin, case.to_string())))?;
            s.row(vec![
                format!("`casebridge evidence add CASE FILE --json`, {}", sys::human(size)),
                kind.name.into(),
                mib(f.maxrss_kib),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
                at_most(f.maxrss_kib as f64 / 1024.0, TARGET_MIB, " MiB"),
            ]);
        }
    }
    if let (Some(lo), Some(hi)) = (import_peaks.iter().min_by_key(|p| p.1), import_peaks.iter().max_by_key(|p| p.1)) {
        if import_peaks.len() > 1 {
            s.verdicts.push(format!(
                "Flat with file size: the import peaks span {:.1} MiB (lowest {} with {}, highest {} with {}; target: alike).",
                (hi.1 - lo.1) as f64 / 1024.0,
                mib(lo.1),
                sys::human(lo.0),
                mib(hi.1),
                sys::human(hi.0)
            ));
        }
    }
    s.context.push(format!("Disturbance (affects the times only): {}.", watch.others()));
    s.verdicts.push("Target: ≤ 32 MiB peak RSS for a whole import process, for 1 GiB and 4 GiB alike.".into());
    Ok(s)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `dir` when it is tmpfs with room for a file and its stored copy, else a disk directory.
fn pick_dir(dir: &Path, size: u64) -> Result<(PathBuf, sys::FsKind)> {
    let kind = sys::fs_kind(dir)?;
    let need = 2 * size + MARGIN;
    let room_fs = sys::free_bytes(dir)? >= need;
    let room_ram = !kind.tmpfs || sys::meminfo_kib("MemAvailable").map(|k| k * 1024).unwrap_or(0) >= need;
    if room_fs && room_ram {
        return Ok((dir.to_path_buf(), kind));
    }
    eprintln!("rss: {} lacks room for {} (file + stored copy); using a disk directory", dir.display(), sys::human(need));
    let (d, k) = sys::disk_dir(None)?;
    if sys::free_bytes(&d)? < need {
        bail!("no directory with {} free for the {} RSS run", sys::human(need), sys::human(size));
    }
    Ok((d, k))
}

/// Runs `rss-probe STORE [FILE] [--cli BIN --case ID]` and parses what it prints.
fn probe_child(store: &Path, file: Option<&Path>, cli: Option<(&PathBuf, String)>) -> Result<Figures> {
    sys::settle();
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("rss-probe").arg(store);
    if let Some(f) = file {
        cmd.arg(f);
    }
    if let Some((bin, case)) = cli {
        cmd.arg("--cli").arg(bin).arg("--case").arg(case);
    }
    let out = cmd.output().context("running rss-probe")?;
    if !out.status.success() {
        bail!("rss-probe failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field =
        |name: &str| -> Option<&str> { text.split_whitespace().find_map(|w| w.strip_prefix(name).and_then(|r| r.strip_prefix('='))) };
    let num = |name: &str| -> Result<f64> {
        field(name).and_then(|v| v.parse().ok()).with_context(|| format!("rss-probe printed no {name}: {text}"))
    };
    Ok(Figures {
        maxrss_kib: num("maxrss_kib")? as u64,
        vmhwm_kib: num("vmhwm_kib").unwrap_or(0.0) as u64,
        after_unlock_kib: num("after_unlock_kib").unwrap_or(0.0) as u64,
        during_import_kib: field("during_import_kib").and_then(|v| v.parse().ok()),
        unlock_s: num("unlock_s").unwrap_or(0.0),
        import_s: field("import_s").and_then(|v| v.parse().ok()),
    })
}

/// `rss-probe`: the parent of exactly one import child (ours, or the real CLI).
pub fn probe(a: &ChildArgs) -> Result<()> {
    let mut cmd = match (&a.cli, &a.case, &a.file) {
        (Some(bin), Some(case), Some(file)) => {
            let mut c = Command::new(bin);
            c.args(["evidence", "add"])
                .arg(case)
                .arg(file)
                .arg("--json")
                .env("CASEBRIDGE_STORE", &a.store)
                .env("CASEBRIDGE_PASSPHRASE", crate::workload::PASSPHRASE)
                .env_remove("CASEBRIDGE_NEW_PASSPHRASE");
            c
        }
        (Some(_), _, _) => bail!("--cli needs --case and a FILE"),
        (None, _, _) => {
            let mut c = Command::new(std::env::current_exe().context("locating this binary")?);
            c.arg("import-child").arg(&a.store);
            if let Some(f) = &a.file {
                c.arg(f);
            }
            c
        }
    };
    let out = cmd.output().context("running the import child")?;
    if !out.status.success() {
        bail!("the import child failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    if a.cli.is_some() {
        // The CLI's JSON is not ours to parse here; only its peak matters.
        let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
        println!("maxrss_kib={}", usage.max_rss());
        return Ok(());
    }
    // ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN covers the one child waited for above.
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    println!("maxrss_kib={} {}", usage.max_rss(), String::from_utf8_lossy(&out.stdout).trim());
    Ok(())
}

/// `import-child`: what a user's import process does, and nothing else.
pub fn child(a: &ChildArgs) -> Result<()> {
    let t = Instant::now();
    let mut store = Store::open(&a.store, &passphrase()).context("opening the store")?;
    let unlock_s = t.elapsed().as_secs_f64();
    let after_unlock = status_kib("VmRSS:").unwrap_or(0);
    let mut import = String::new();
    if let Some(file) = &a.file {
        let case = store.list_cases(&CaseFilter::default())?.first().map(|c| c.id).context("the store has no case")?;
        // The RSS while the import runs, sampled every 32 chunks (32 MiB) from the progress
        // hook: the import's own footprint, apart from the KDF's earlier peak.
        let mut during = 0u64;
        let mut calls = 0u32;
        let mut sample = |_: u64| {
            if calls.is_multiple_of(32) {
                during = during.max(status_kib("VmRSS:").unwrap_or(0));
            }
            calls = calls.wrapping_add(1);
            true
        };
        let t = Instant::now();
        let added = store.add_evidence(case, file, &EvidenceOptions::default(), &mut sample).context("importing")?;
        import = format!(" import_s={:.3} bytes={} during_import_kib={during}", t.elapsed().as_secs_f64(), added.size);
    }
    drop(store);
    println!("vmhwm_kib={} after_unlock_kib={after_unlock} unlock_s={unlock_s:.3}{import}", status_kib("VmHWM:").unwrap_or(0));
    Ok(())
}

/// A KiB field of /proc/self/status (`VmHWM:` peak RSS, `VmRSS:` current RSS).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
