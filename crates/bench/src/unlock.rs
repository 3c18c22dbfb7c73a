//! Unlock time: `Store::open` of a store created with the production KDF parameters.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use casebridge_core::{KdfParams, Store};

use crate::report::{cpu_median, median, spread, walls, Section};
use crate::sys::{self, Sample};
use crate::workload::{fresh_store, passphrase};

#[derive(clap::Args)]
pub struct Args {
    /// Number of opens (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Directory for the store.
    #[arg(long, default_value = crate::SHM)]
    pub dir: PathBuf,
}

/// The target: roughly half a second on the reference machine.
const TARGET: Duration = Duration::from_millis(500);
/// What "roughly" is taken to mean here.
const TOLERANCE: f64 = 0.25;

/// Opens the store at `dir` `runs` times; the store is dropped outside the timed part.
pub fn time_opens(dir: &std::path::Path, runs: usize) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for _ in 0..runs.max(1) {
        sys::settle();
        let (store, sample) = sys::measure(|| Store::open(dir, &passphrase()).with_context(|| format!("opening {}", dir.display())))?;
        out.push(sample);
        drop(store);
    }
    Ok(out)
}

pub fn run(a: &Args) -> Result<Section> {
    let kind = sys::fs_kind(&a.dir)?;
    let work = tempfile::Builder::new().prefix("casebridge-bench-unlock-").tempdir_in(&a.dir).context("creating a work directory")?;
    let dir = work.path().join("store");
    drop(fresh_store(&dir)?);
    eprintln!("unlock: {} opens", a.runs.max(1));
    let watch = sys::CpuWatch::start();
    let samples = time_opens(&dir, a.runs)?;
    let m = median(&walls(&samples));
    let k = KdfParams::INTERACTIVE;
    let mut s = Section::new("Unlock (`Store::open`)", vec!["what", "wall time: median (min–max)", "CPU time (median)", "target"]);
    s.context.push(format!(
        "A store with one case on {} ({}), KdfParams::INTERACTIVE = Argon2id m = {} KiB, t = {}, p = {}; each open is timed from the call to the unlocked store (the drop is not timed).",
        kind.name,
        a.dir.display(),
        k.m_kib(),
        k.t(),
        k.p()
    ));
    s.context.push(format!("Disturbance: {}.", watch.others()));
    s.row(vec![
        "`Store::open` (KDF + header + journal tail + index)".into(),
        spread(&walls(&samples)),
        cpu_median(&samples),
        "≈ 0.5 s".into(),
    ]);
    let dev = (m.as_secs_f64() / TARGET.as_secs_f64() - 1.0) * 100.0;
    let verdict = if dev.abs() <= TOLERANCE * 100.0 { "met" } else { "MISSED" };
    s.verdicts.push(format!(
        "Target: roughly 0.5 s (taken as ±{:.0} %): {verdict} ({:.3} s, {dev:+.0} % from 0.5 s).",
        TOLERANCE * 100.0,
        m.as_secs_f64()
    ));
    Ok(s)
}
