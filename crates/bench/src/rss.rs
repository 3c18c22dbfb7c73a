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
}

/// The target from the issue, for every child alike.
const TARGET_MIB: f64 = 32.0;
const MARGIN: u64 = 512 << 20;

/// What one child reported.
struct Figures {
    maxrss_kib: u64,
    vmhwm_kib: u64,
    unlock_s: f64,
    import_s: Option<f64>,
}

pub fn run(a: &Args) -> Result<Section> {
    let sizes = a.size.iter().map(|s| sys::parse_size(s)).collect::<Result<Vec<u64>>>()?;
    let mut s = Section::new(
        "Peak RSS of a whole import process",
        vec!["child process", "files on", "ru_maxrss", "VmHWM (child's own)", "unlock", "import", "target ≤ 32 MiB"],
    );
    s.context.push(
        "Each row is a fresh process (this binary re-executed): `Store::open` with the store's real KDF parameters (KdfParams::INTERACTIVE: Argon2id m = 19 MiB, t = 60, p = 1), then `add_evidence` of the file. ru_maxrss comes from getrusage(RUSAGE_CHILDREN) in a probe process whose only child is that one."
            .into(),
    );
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
            let f = probe_child(&store_dir, None)?;
            s.row(vec![
                "open only (unlock, no import)".into(),
                kind.name.into(),
                mib(f.maxrss_kib),
                mib(f.vmhwm_kib),
                format!("{:.3} s", f.unlock_s),
                "–".into(),
                at_most(f.maxrss_kib as f64 / 1024.0, TARGET_MIB, " MiB"),
            ]);
            open_only_done = true;
        }
        let file = work.path().join("input.bin");
        eprintln!("rss: generating {} in {} (not measured)", sys::human(size), dir.display());
        write_random_file(&file, size, &mut Rng::fresh())?;
        eprintln!("rss: open + import {}", sys::human(size));
        let f = probe_child(&store_dir, Some(&file))?;
        s.row(vec![
            format!("open + import {}", sys::human(size)),
            kind.name.into(),
            mib(f.maxrss_kib),
            mib(f.vmhwm_kib),
            format!("{:.3} s", f.unlock_s),
            f.import_s.map(|t| format!("{t:.3} s")).unwrap_or_else(|| "–".into()),
            at_most(f.maxrss_kib as f64 / 1024.0, TARGET_MIB, " MiB"),
        ]);
        import_peaks.push((size, f.maxrss_kib));
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

/// Runs `rss-probe STORE [FILE]` and parses what it prints.
fn probe_child(store: &Path, file: Option<&Path>) -> Result<Figures> {
    sys::settle();
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("rss-probe").arg(store);
    if let Some(f) = file {
        cmd.arg(f);
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
        vmhwm_kib: num("vmhwm_kib")? as u64,
        unlock_s: num("unlock_s")?,
        import_s: field("import_s").and_then(|v| v.parse().ok()),
    })
}

/// `rss-probe`: the parent of exactly one import child.
pub fn probe(a: &ChildArgs) -> Result<()> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("import-child").arg(&a.store);
    if let Some(f) = &a.file {
        cmd.arg(f);
    }
    let out = cmd.output().context("running import-child")?;
    if !out.status.success() {
        bail!("import-child failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
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
    let mut import = String::new();
    if let Some(file) = &a.file {
        let case = store.list_cases(&CaseFilter::default())?.first().map(|c| c.id).context("the store has no case")?;
        let t = Instant::now();
        let added = store.add_evidence(case, file, &EvidenceOptions::default(), &mut |_: u64| true).context("importing")?;
        import = format!(" import_s={:.3} bytes={}", t.elapsed().as_secs_f64(), added.size);
    }
    drop(store);
    println!("vmhwm_kib={} unlock_s={unlock_s:.3}{import}", vm_hwm_kib().unwrap_or(0));
    Ok(())
}

/// This process's peak RSS as the kernel reports it in /proc/self/status.
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
