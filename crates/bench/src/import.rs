//! Import throughput: `Store::add_evidence` of one large file, next to `sha256sum` and
//! `age -e` of the same file on tmpfs, and next to `dd conv=fsync` on the real disk.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use casebridge_core::EvidenceOptions;

use crate::report::{at_least, at_most, cpu_median, median, mib_per_s, ratio, spread, walls, Section};
use crate::sys::{self, Sample};
use crate::workload::{fresh_store, write_random_file, Rng};

#[derive(clap::Args)]
pub struct Args {
    /// Size of the file to import.
    #[arg(long, default_value = "1GiB")]
    pub size: String,
    /// Directory for the file and the tmpfs stores (should be tmpfs).
    #[arg(long, default_value = crate::SHM)]
    pub dir: PathBuf,
    /// A directory on the real disk for the disk import (default: the temp dir, else /var/tmp).
    #[arg(long)]
    pub disk_dir: Option<PathBuf>,
    /// Runs of each measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

/// Headroom kept free beyond the files a run writes.
const MARGIN: u64 = 256 << 20;

pub fn run(a: &Args) -> Result<Vec<Section>> {
    let size = sys::parse_size(&a.size)?;
    let runs = a.runs.max(1);
    let kind = sys::fs_kind(&a.dir)?;
    // The input, one store object and one peer output exist at once.
    let need = 3 * size + MARGIN;
    let free = sys::free_bytes(&a.dir)?;
    if free < need {
        bail!("{} has {} free; this run needs {}", a.dir.display(), sys::human(free), sys::human(need));
    }
    let work = tempfile::Builder::new().prefix("casebridge-bench-import-").tempdir_in(&a.dir).context("creating a work directory")?;
    let file = work.path().join("input.bin");
    eprintln!("generating {} of pseudo-random data in {} (not timed)", sys::human(size), work.path().display());
    write_random_file(&file, size, &mut Rng::fresh())?;

    let tmpfs = tmpfs_section(a, &kind, work.path(), &file, size, runs)?;
    let disk = disk_section(a, &file, size, runs)?;
    Ok(vec![tmpfs, disk])
}

/// One timed `add_evidence` into a store created (and unlocked) beforehand, untimed.
fn time_import(store_dir: &Path, file: &Path, size: u64) -> Result<Sample> {
    let (mut store, case) = fresh_store(store_dir)?;
    let (added, elapsed) =
        sys::measure(|| store.add_evidence(case, file, &EvidenceOptions::default(), &mut |_: u64| true).context("importing the file"))?;
    if added.size != size {
        bail!("the store imported {} bytes of a {size}-byte file", added.size);
    }
    drop(store);
    std::fs::remove_dir_all(store_dir).with_context(|| format!("removing {}", store_dir.display()))?;
    Ok(elapsed)
}

fn age_recipient(work: &Path) -> Result<String> {
    let key = work.join("age-key.txt");
    let status = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .status()
        .context("running age-keygen")?;
    if !status.success() {
        bail!("age-keygen failed: {status}");
    }
    let text = std::fs::read_to_string(&key).context("reading the age key file")?;
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .map(|s| s.trim().to_string())
        .context("the age key file names no public key")
}

fn tmpfs_section(a: &Args, kind: &sys::FsKind, work: &Path, file: &Path, size: u64, runs: usize) -> Result<Section> {
    let recipient = if sys::have("age") { Some(age_recipient(work)?) } else { None };
    let watch = sys::CpuWatch::start();
    let mut ours = Vec::new();
    let mut sha = Vec::new();
    let mut age = Vec::new();
    let mut floor = Vec::new();
    for run in 0..runs {
        eprintln!("tmpfs run {}/{runs}: sha256sum, add_evidence{}", run + 1, if recipient.is_some() { ", age" } else { "" });
        sys::settle();
        sha.push(sys::time_command("sha256sum", &[file.as_os_str()])?);
        ours.push(time_import(&work.join(format!("store-{run}")), file, size)?);
        floor.push(sys::measure(|| read_and_hash(file))?.1);
        if let Some(r) = &recipient {
            let out = work.join("out.age");
            age.push(sys::time_command(
                "age",
                &[OsStr::new("-e"), OsStr::new("-r"), OsStr::new(r), OsStr::new("-o"), out.as_os_str(), file.as_os_str()],
            )?);
            std::fs::remove_file(&out).context("removing the age output")?;
        }
    }

    let mut s = Section::new(
        format!("Import of {} on {} ({})", sys::human(size), kind.name, a.dir.display()),
        vec!["what", "wall time: median (min–max)", "CPU time (median)", "throughput", "ours / this (wall time)"],
    );
    s.context.push(format!(
        "File: {} pseudo-random bytes on {}; each run: `sha256sum FILE`, then `Store::add_evidence` into a fresh store, then reading and hashing FILE in-process (the floor for an import, whose reading thread does exactly this), then `age -e -r R -o OUT FILE`.",
        size, kind.name
    ));
    s.context.push(
        "Ours is timed around `add_evidence` only: the store is created and unlocked (KdfParams::INTERACTIVE) before the clock starts."
            .into(),
    );
    s.context.push(format!("Disturbance: {}.", watch.others()));
    let m_ours = median(&walls(&ours));
    let m_sha = median(&walls(&sha));
    s.row(vec![
        "`Store::add_evidence` (ours)".into(),
        spread(&walls(&ours)),
        cpu_median(&ours),
        format!("{:.0} MiB/s", mib_per_s(size, m_ours)),
        "1.00x".into(),
    ]);
    let r_sha = m_ours.as_secs_f64() / m_sha.as_secs_f64().max(1e-9);
    s.row(vec![
        "`sha256sum FILE`".into(),
        spread(&walls(&sha)),
        cpu_median(&sha),
        format!("{:.0} MiB/s", mib_per_s(size, m_sha)),
        ratio(r_sha),
    ]);
    let m_floor = median(&walls(&floor));
    s.row(vec![
        "read + SHA-256 in-process (ring, 1 thread, 1 MiB reads)".into(),
        spread(&walls(&floor)),
        cpu_median(&floor),
        format!("{:.0} MiB/s", mib_per_s(size, m_floor)),
        ratio(m_ours.as_secs_f64() / m_floor.as_secs_f64().max(1e-9)),
    ]);
    let r_age = if recipient.is_some() {
        let m_age = median(&walls(&age));
        let r = m_ours.as_secs_f64() / m_age.as_secs_f64().max(1e-9);
        s.row(vec![
            "`age -e -r R -o OUT FILE`".into(),
            spread(&walls(&age)),
            cpu_median(&age),
            format!("{:.0} MiB/s", mib_per_s(size, m_age)),
            ratio(r),
        ]);
        Some(r)
    } else {
        s.row(vec!["age".into(), "age: not installed".into(), "–".into(), "–".into(), "–".into()]);
        None
    };
    if !kind.tmpfs {
        s.verdicts.push(format!("Note: {} is {}, not tmpfs; the target below assumes tmpfs.", a.dir.display(), kind.name));
    }
    s.verdicts.push(format!("Target: import ≤ 0.30x `sha256sum` time on tmpfs: {}", at_most(r_sha, 0.30, "x")));
    s.verdicts.push(format!("Per-run ratios ours / sha256sum (each run's pair): {}", paired(&ours, &sha, |o, p| o / p)));
    if let Some(r) = r_age {
        s.verdicts.push(format!("For reference (no target): ours / age = {}", ratio(r)));
    }
    Ok(s)
}

fn disk_section(a: &Args, file: &Path, size: u64, runs: usize) -> Result<Section> {
    let (disk, kind) = sys::disk_dir(a.disk_dir.as_deref())?;
    let need = 2 * size + MARGIN;
    let free = sys::free_bytes(&disk)?;
    if free < need {
        bail!("{} has {} free; the disk run needs {}", disk.display(), sys::human(free), sys::human(need));
    }
    let watch = sys::CpuWatch::start();
    let work = tempfile::Builder::new().prefix("casebridge-bench-disk-").tempdir_in(&disk).context("creating a work directory on disk")?;
    let mut ours = Vec::new();
    let mut dd = Vec::new();
    for run in 0..runs {
        eprintln!("disk run {}/{runs}: add_evidence, dd conv=fsync", run + 1);
        sys::settle();
        ours.push(time_import(&work.path().join(format!("store-{run}")), file, size)?);
        let out = work.path().join("dd.out");
        let mut if_arg = std::ffi::OsString::from("if=");
        if_arg.push(file);
        let mut of_arg = std::ffi::OsString::from("of=");
        of_arg.push(&out);
        dd.push(sys::time_command(
            "dd",
            &[if_arg.as_os_str(), of_arg.as_os_str(), OsStr::new("bs=1M"), OsStr::new("conv=fsync"), OsStr::new("status=none")],
        )?);
        std::fs::remove_file(&out).context("removing the dd output")?;
    }
    let m_ours = median(&walls(&ours));
    let m_dd = median(&walls(&dd));
    let (t_ours, t_dd) = (mib_per_s(size, m_ours), mib_per_s(size, m_dd));
    let r = t_ours / t_dd.max(1e-9);
    let mut s = Section::new(
        format!("Import of {} to disk ({}, {})", sys::human(size), kind.name, work.path().parent().unwrap_or(&disk).display()),
        vec!["what", "wall time: median (min–max)", "CPU time (median)", "throughput", "ours / this (MiB/s)"],
    );
    s.context.push(format!(
        "Source file on {} (read from RAM), written to {}; each run: `Store::add_evidence` into a fresh store (with its fsyncs), then `dd if=FILE of=OUT bs=1M conv=fsync`.",
        a.dir.display(),
        disk.display()
    ));
    s.context.push(format!("Disturbance: {}.", watch.others()));
    s.row(vec![
        "`Store::add_evidence` (ours)".into(),
        spread(&walls(&ours)),
        cpu_median(&ours),
        format!("{t_ours:.0} MiB/s"),
        "1.00x".into(),
    ]);
    s.row(vec!["`dd bs=1M conv=fsync`".into(), spread(&walls(&dd)), cpu_median(&dd), format!("{t_dd:.0} MiB/s"), ratio(r)]);
    s.verdicts.push(format!("Target: disk import ≥ 0.8x dd's write speed: {}", at_least(r, 0.8, "x")));
    s.verdicts.push(format!("Per-run ratios of speed, ours / dd (each run's pair): {}", paired(&ours, &dd, |o, p| p / o)));
    Ok(s)
}

/// `f(ours, peer)` of each run's pair of wall times, in run order.
fn paired(ours: &[Sample], peer: &[Sample], f: impl Fn(f64, f64) -> f64) -> String {
    ours.iter().zip(peer).map(|(o, p)| ratio(f(o.wall.as_secs_f64(), p.wall.as_secs_f64().max(1e-9)))).collect::<Vec<_>>().join(", ")
}

/// Reads `file` in 1 MiB blocks and hashes it with ring's SHA-256: the work of the import's
/// reading thread, without sealing or writing.
fn read_and_hash(file: &Path) -> Result<[u8; 32]> {
    use std::io::Read;
    let mut f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).context("reading the input file")?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Ok(out)
}
