//! Evidence bundles (issue 3): export, verify and open of a bundle carrying one large video
//! and of one carrying 10,000 small photos, next to `age -e` on the same data in the same run,
//! and the peak RSS of each phase as a whole process.
//!
//! Every phase runs in its own process, this binary re-executed as `bundle probe PHASE ...`,
//! which runs `bundle child PHASE ...`, waits for it and reads
//! `getrusage(RUSAGE_CHILDREN).ru_maxrss` (the probe's only child is that one phase). The child
//! unlocks what it needs (store and/or agency, production KDF parameters), then resets its
//! peak-RSS counter (`echo 5 > /proc/self/clear_refs`, which Linux also uses for ru_maxrss),
//! then times the phase alone. So the time excludes the unlock, and ru_maxrss is the peak of the
//! phase rather than that of the KDF; the unlock's own peak is reported next to it.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use casebridge_core::{CaseFilter, EvidenceOptions, KdfParams, NewCase, Role, Store};
use casebridge_trust::bundle::{self, Anchor, BlobSink, ExportOptions};
use casebridge_trust::{parse_duration, profile, Agency};
use clap::{Subcommand, ValueEnum};
use nix::sys::resource::{getrusage, UsageWho};

use crate::report::{cpu_median, median, mib_per_s, ratio, spread, walls, Section};
use crate::sys::{self, Sample};
use crate::workload::{passphrase, write_random_file, Rng};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    internal: Option<Internal>,
    /// Size of the video in the first bundle.
    #[arg(long, default_value = "1GiB")]
    pub size: String,
    /// Number of photos in the second bundle.
    #[arg(long, default_value_t = 10_000)]
    pub photos: usize,
    /// Mean size of a photo (each is drawn uniformly within ±20 % of it).
    #[arg(long, default_value = "20KiB")]
    pub photo_size: String,
    /// A smaller video measured for peak RSS only (one run), to tell bytes from item count;
    /// `0` skips it.
    #[arg(long, default_value = "256MiB")]
    pub control_size: String,
    /// Runs of each timing (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Directory for the agency, stores, bundles and peer files (should be tmpfs).
    #[arg(long, default_value = crate::SHM)]
    pub dir: PathBuf,
    /// Keep the work directory (agency, stores, bundles) for inspection; prints its path.
    #[arg(long, hide = true)]
    pub keep: bool,
}

#[derive(Subcommand)]
enum Internal {
    /// (internal) Unlocks, runs one phase, prints its own figures.
    #[command(hide = true)]
    Child(PhaseArgs),
    /// (internal) Runs `bundle child` and reports its ru_maxrss.
    #[command(hide = true)]
    Probe(PhaseArgs),
}

#[derive(clap::Args, Clone)]
struct PhaseArgs {
    #[arg(value_enum)]
    phase: Phase,
    /// The agency directory.
    #[arg(long)]
    agency: PathBuf,
    /// The bundle file (written by export, read by verify and open).
    #[arg(long)]
    bundle: PathBuf,
    /// The volunteer store (export) or the investigator store (open).
    #[arg(long)]
    store: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Phase {
    Export,
    Verify,
    Open,
}

impl Phase {
    const ALL: [Phase; 3] = [Phase::Export, Phase::Verify, Phase::Open];

    fn name(self) -> &'static str {
        match self {
            Phase::Export => "export",
            Phase::Verify => "verify",
            Phase::Open => "open",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Phase::Export => "`bundle::export` (sealed to the agency)",
            Phase::Verify => "`bundle::verify` (unseal, `BlobSink::Check`)",
            Phase::Open => "`bundle::open_into` a fresh investigator store",
        }
    }
}

/// The line a child (and its probe) prints its figures on.
const TAG: &str = "bundle-figures:";
/// Headroom kept free beyond the files a case writes.
const MARGIN: u64 = 512 << 20;

/// What one phase process reported.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    /// ru_maxrss of the child (after the reset: the phase's own peak).
    maxrss_kib: u64,
    /// VmHWM right after the unlock, before the reset (the KDF's peak).
    unlock_hwm_kib: u64,
    after_unlock_kib: u64,
    /// Whether the peak counter could be reset after the unlock.
    reset: bool,
    unlock_s: f64,
    phase: Sample,
}

/// One bundle's data, set up before anything is timed.
struct CaseData {
    label: String,
    /// Where its files live (removed at the end).
    root: PathBuf,
    volunteer: PathBuf,
    /// Content bytes carried by the bundle.
    content: u64,
    items: usize,
    /// What `age` encrypts: the video itself, or a tar of the photos.
    age_input: PathBuf,
    age_input_desc: &'static str,
    age_input_bytes: u64,
    setup_s: f64,
}

#[derive(Default)]
struct CaseRuns {
    phases: [Vec<Figures>; 3],
    age_e: Vec<Sample>,
    age_d: Vec<Sample>,
    bundle_bytes: u64,
}

pub fn run(a: &Args) -> Result<Vec<Section>> {
    match &a.internal {
        Some(Internal::Child(p)) => {
            child(p)?;
            return Ok(Vec::new());
        }
        Some(Internal::Probe(p)) => {
            probe(p)?;
            return Ok(Vec::new());
        }
        None => {}
    }
    let size = sys::parse_size(&a.size)?;
    let photo = sys::parse_size(&a.photo_size)?;
    let control = sys::parse_size(&a.control_size)?;
    let runs = a.runs.max(1);
    if photo == 0 || a.photos == 0 || size == 0 {
        bail!("--size, --photos and --photo-size must be above zero");
    }
    let kind = sys::fs_kind(&a.dir)?;
    // Input, volunteer store, the throwaway-key age file, the bundle and the investigator
    // store exist at once for the largest case.
    let largest = size.max(photo * a.photos as u64 * 6 / 5);
    let need = 5 * largest + MARGIN;
    let free = sys::free_bytes(&a.dir)?;
    let avail = if kind.tmpfs { sys::meminfo_kib("MemAvailable").map(|k| k * 1024).unwrap_or(0) } else { u64::MAX };
    if free.min(avail) < need {
        // Only a tmpfs is bounded by RAM as well.
        let ram = if kind.tmpfs { format!(" (RAM available {})", sys::human(avail)) } else { String::new() };
        bail!("{} has {} free{ram}; this run needs {}", a.dir.display(), sys::human(free), sys::human(need));
    }
    let have_age = sys::have("age") && sys::have("age-keygen");
    if !have_age {
        eprintln!("bundle: age is not installed (apt-get install -y age); the peer rows stay empty");
    }

    let work = tempfile::Builder::new().prefix("casebridge-bench-bundle-").tempdir_in(&a.dir).context("creating a work directory")?;
    let agency_dir = work.path().join("agency");
    eprintln!("bundle: creating the agency (KdfParams::INTERACTIVE)");
    let agency = Agency::init(&agency_dir, "Bench agency", &passphrase(), KdfParams::INTERACTIVE).context("creating the agency")?;
    let recipient = agency.public().sealing_recipient.clone();
    drop(agency);
    let peer_key = work.path().join("peer-age-key.txt");
    let peer_recipient = if have_age { Some(age_keygen(&peer_key)?) } else { None };

    let mut rss_cols: Vec<(&'static str, String, [Figures; 3])> = Vec::new();
    if control > 0 {
        let data = video_case(work.path(), &agency_dir, "control", control)?;
        eprintln!("bundle: {} (peak RSS only, one run)", data.label);
        let r = measure_case(&data, &agency_dir, 1, None, None, a.keep)?;
        rss_cols.push(("control video: phase peak", data.label.clone(), peaks(&r)));
        if !a.keep {
            fs::remove_dir_all(&data.root).context("removing the control case")?;
        }
    }

    let watch = sys::CpuWatch::start();
    let mut timed = Vec::new();
    for which in ["video", "photos"] {
        let data = if which == "video" {
            video_case(work.path(), &agency_dir, "video", size)?
        } else {
            photos_case(work.path(), &agency_dir, a.photos, photo)?
        };
        let peer_file = data.root.join("peer.age");
        if let Some(r) = &peer_recipient {
            // The decrypt peer's input, encrypted once (untimed) to a throwaway key of ours.
            sys::time_command(
                "age",
                &[OsStr::new("-e"), OsStr::new("-r"), OsStr::new(r), OsStr::new("-o"), peer_file.as_os_str(), data.age_input.as_os_str()],
            )?;
        }
        let r = measure_case(
            &data,
            &agency_dir,
            runs,
            have_age.then_some(recipient.as_str()),
            have_age.then_some((&peer_key, &peer_file)),
            a.keep,
        )?;
        let col = if which == "video" { "video: phase peak" } else { "photos: phase peak" };
        rss_cols.push((col, data.label.clone(), peaks(&r)));
        if !a.keep {
            fs::remove_dir_all(&data.root).with_context(|| format!("removing {}", data.root.display()))?;
        }
        timed.push((data, r));
    }
    let disturbance = watch.others();
    if a.keep {
        eprintln!("bundle: kept the work directory {}", work.keep().display());
    }

    Ok(vec![time_section(a, &kind, &timed, runs, &disturbance), rss_section(&kind, &rss_cols, &timed)])
}

/// The highest ru_maxrss of each phase over the runs (with that run's unlock figures).
fn peaks(r: &CaseRuns) -> [Figures; 3] {
    let pick = |v: &Vec<Figures>| v.iter().max_by_key(|f| f.maxrss_kib).copied().unwrap_or_default();
    [pick(&r.phases[0]), pick(&r.phases[1]), pick(&r.phases[2])]
}

fn age_keygen(key: &Path) -> Result<String> {
    let status =
        Command::new("age-keygen").arg("-o").arg(key).stderr(Stdio::null()).stdout(Stdio::null()).status().context("running age-keygen")?;
    if !status.success() {
        bail!("age-keygen failed: {status}");
    }
    let text = fs::read_to_string(key).context("reading the age key file")?;
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .map(|s| s.trim().to_string())
        .context("the age key file names no public key")
}

/// A volunteer store enrolled with the agency, with one case; returned open.
fn volunteer(dir: &Path, agency_dir: &Path) -> Result<(Store, uuid::Uuid)> {
    let mut store = Store::create(dir, &passphrase(), "Bench Volunteer", Role::Volunteer, KdfParams::INTERACTIVE)
        .with_context(|| format!("creating a store in {}", dir.display()))?;
    let case = store.create_case(NewCase { title: "Benchmark submission".into(), ..Default::default() }).context("creating a case")?;
    let agency = Agency::open(agency_dir, &passphrase()).context("unlocking the agency")?;
    let request = profile::request_credential(&store);
    let (_, cred, _) = agency.issue(&request, Role::Volunteer, None, parse_duration("365d")?).context("issuing a credential")?;
    drop(agency);
    profile::install_credential(&mut store, &cred, Some(&Agency::public_file(agency_dir)?)).context("installing the credential")?;
    Ok((store, case))
}

fn video_case(work: &Path, agency_dir: &Path, name: &str, size: u64) -> Result<CaseData> {
    let root = work.join(name);
    fs::create_dir_all(&root).context("creating a case directory")?;
    let input = root.join("video.bin");
    eprintln!("bundle: generating a {} video of pseudo-random bytes (not timed)", sys::human(size));
    write_random_file(&input, size, &mut Rng::fresh())?;
    let t = Instant::now();
    let volunteer_dir = root.join("volunteer");
    let (mut store, case) = volunteer(&volunteer_dir, agency_dir)?;
    let added = store.add_evidence(case, &input, &EvidenceOptions::default(), &mut |_: u64| true).context("importing the video")?;
    if added.size != size {
        bail!("the store imported {} bytes of a {size}-byte file", added.size);
    }
    drop(store);
    Ok(CaseData {
        label: format!("{} video", sys::human(size)),
        root,
        volunteer: volunteer_dir,
        content: size,
        items: 1,
        age_input: input,
        age_input_desc: "the video file",
        age_input_bytes: size,
        setup_s: t.elapsed().as_secs_f64(),
    })
}

fn photos_case(work: &Path, agency_dir: &Path, count: usize, mean: u64) -> Result<CaseData> {
    let root = work.join("photos");
    let src = root.join("src");
    fs::create_dir_all(&src).context("creating the photo directory")?;
    eprintln!("bundle: generating {count} photos of about {} pseudo-random bytes each (not timed)", sys::human(mean));
    let mut rng = Rng::fresh();
    let lo = mean * 4 / 5;
    let span = mean * 2 / 5 + 1;
    let mut files = Vec::with_capacity(count);
    let mut content = 0u64;
    for i in 0..count {
        let len = lo + rng.next_u64() % span;
        let path = src.join(format!("IMG_{i:05}.bin"));
        write_random_file(&path, len, &mut rng)?;
        content += len;
        files.push(path);
    }
    let t = Instant::now();
    let volunteer_dir = root.join("volunteer");
    let (mut store, case) = volunteer(&volunteer_dir, agency_dir)?;
    eprintln!("bundle: importing {count} photos into the volunteer store (setup, not timed)");
    for f in &files {
        store.add_evidence(case, f, &EvidenceOptions::default(), &mut |_: u64| true).context("importing a photo")?;
    }
    drop(store);
    let setup_s = t.elapsed().as_secs_f64();
    let tar = root.join("photos.tar");
    let status = Command::new("tar").arg("-cf").arg(&tar).arg("-C").arg(&src).arg(".").status().context("running tar")?;
    if !status.success() {
        bail!("tar failed: {status}");
    }
    let tar_bytes = fs::metadata(&tar).context("reading the tar's size")?.len();
    Ok(CaseData {
        label: format!("{count} photos ({})", sys::human(content)),
        root,
        volunteer: volunteer_dir,
        content,
        items: count,
        age_input: tar,
        age_input_desc: "a tar of the photos (made before timing)",
        age_input_bytes: tar_bytes,
        setup_s,
    })
}

/// `runs` rounds of export → verify → open (each a probed child process), then the peers.
fn measure_case(
    data: &CaseData,
    agency_dir: &Path,
    runs: usize,
    recipient: Option<&str>,
    decrypt: Option<(&PathBuf, &PathBuf)>,
    keep: bool,
) -> Result<CaseRuns> {
    let mut out = CaseRuns::default();
    for run in 0..runs {
        eprintln!(
            "bundle: {} run {}/{runs}: export, verify, open{}",
            data.label,
            run + 1,
            if recipient.is_some() { ", age -e, age -d" } else { "" }
        );
        let bundle_file = data.root.join(format!("bundle-{run}.cbbundle"));
        let investigator = data.root.join(format!("investigator-{run}"));
        let export = probe_phase(Phase::Export, agency_dir, &bundle_file, Some(&data.volunteer))?;
        out.bundle_bytes = fs::metadata(&bundle_file).context("reading the bundle's size")?.len();
        let verify = probe_phase(Phase::Verify, agency_dir, &bundle_file, None)?;
        // A fresh investigator store that pins the agency, created (and its KDF run) untimed.
        {
            let mut inv = Store::create(&investigator, &passphrase(), "Bench Investigator", Role::Investigator, KdfParams::INTERACTIVE)
                .context("creating the investigator store")?;
            profile::pin_agency(&mut inv, &Agency::public_file(agency_dir)?).context("pinning the agency")?;
        }
        let open = probe_phase(Phase::Open, agency_dir, &bundle_file, Some(&investigator))?;
        if !keep {
            fs::remove_file(&bundle_file).context("removing the bundle")?;
            fs::remove_dir_all(&investigator).context("removing the investigator store")?;
        }
        for (i, f) in [export, verify, open].into_iter().enumerate() {
            out.phases[i].push(f);
        }
        if let Some(r) = recipient {
            let age_out = data.root.join("out.age");
            sys::settle();
            out.age_e.push(sys::time_command(
                "age",
                &[OsStr::new("-e"), OsStr::new("-r"), OsStr::new(r), OsStr::new("-o"), age_out.as_os_str(), data.age_input.as_os_str()],
            )?);
            fs::remove_file(&age_out).context("removing the age output")?;
        }
        if let Some((key, file)) = decrypt {
            sys::settle();
            out.age_d.push(sys::time_command("age", &[OsStr::new("-d"), OsStr::new("-i"), key.as_os_str(), file.as_os_str()])?);
        }
    }
    Ok(out)
}

/// Runs `bundle probe PHASE ...` and parses what it prints.
fn probe_phase(phase: Phase, agency: &Path, bundle_file: &Path, store: Option<&Path>) -> Result<Figures> {
    sys::settle();
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(["bundle", "probe", phase.name()]).arg("--agency").arg(agency).arg("--bundle").arg(bundle_file);
    if let Some(s) = store {
        cmd.arg("--store").arg(s);
    }
    let out = cmd.output().context("running bundle probe")?;
    if !out.status.success() {
        bail!("bundle probe {} failed ({}): {}", phase.name(), out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix(TAG)).with_context(|| format!("bundle probe printed no figures: {text}"))?;
    parse_figures(line)
}

fn parse_figures(line: &str) -> Result<Figures> {
    let field =
        |name: &str| -> Option<&str> { line.split_whitespace().find_map(|w| w.strip_prefix(name).and_then(|r| r.strip_prefix('='))) };
    let num = |name: &str| -> Result<f64> { field(name).and_then(|v| v.parse().ok()).with_context(|| format!("no {name} in: {line}")) };
    let secs = |name: &str| -> Result<Duration> { Ok(Duration::from_secs_f64(num(name)?.max(0.0))) };
    Ok(Figures {
        maxrss_kib: num("maxrss_kib")? as u64,
        unlock_hwm_kib: num("unlock_hwm_kib")? as u64,
        after_unlock_kib: num("after_unlock_kib")? as u64,
        reset: field("reset") == Some("1"),
        unlock_s: num("unlock_s")?,
        phase: Sample { wall: secs("wall_s")?, cpu: secs("cpu_s")?, sys: secs("sys_s")? },
    })
}

/// `bundle probe`: the parent of exactly one phase process.
fn probe(p: &PhaseArgs) -> Result<()> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(["bundle", "child", p.phase.name()]).arg("--agency").arg(&p.agency).arg("--bundle").arg(&p.bundle);
    if let Some(s) = &p.store {
        cmd.arg("--store").arg(s);
    }
    let out = cmd.output().context("running the phase child")?;
    if !out.status.success() {
        bail!("the {} child failed ({}): {}", p.phase.name(), out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix(TAG)).context("the phase child printed no figures")?;
    // ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN covers the one child waited for above.
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    println!("{TAG} maxrss_kib={} {}", usage.max_rss(), line.trim());
    Ok(())
}

/// What a phase child has unlocked before its clock starts. One value per process, so the
/// variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Ready {
    Export { store: Store, case: uuid::Uuid, public: casebridge_trust::AgencyPublic, credential: casebridge_trust::SignedDoc },
    Verify { agency: Agency, list: casebridge_trust::RevocationList },
    Open { agency: Agency, list: casebridge_trust::RevocationList, store: Store },
}

/// `bundle child`: unlock, reset the peak counter, run one phase, print the figures.
fn child(p: &PhaseArgs) -> Result<()> {
    let store_dir = || p.store.as_deref().context("this phase needs --store");
    let t = Instant::now();
    let ready = match p.phase {
        Phase::Export => {
            let store = Store::open(store_dir()?, &passphrase()).context("opening the volunteer store")?;
            let case = store.list_cases(&CaseFilter::default())?.first().map(|c| c.id).context("the store has no case")?;
            let (public, _) = Agency::read_public(&p.agency)?;
            let (_, credential) = profile::credential(&store, &public)?.context("the store holds no credential from the agency")?;
            Ready::Export { store, case, public, credential }
        }
        Phase::Verify => {
            let agency = Agency::open(&p.agency, &passphrase()).context("unlocking the agency")?;
            let (list, _) = agency.current_revocation()?;
            Ready::Verify { agency, list }
        }
        Phase::Open => {
            let agency = Agency::open(&p.agency, &passphrase()).context("unlocking the agency")?;
            let (list, _) = agency.current_revocation()?;
            let store = Store::open(store_dir()?, &passphrase()).context("opening the investigator store")?;
            Ready::Open { agency, list, store }
        }
    };
    let unlock_s = t.elapsed().as_secs_f64();
    let unlock_hwm = status_kib("VmHWM:").unwrap_or(0);
    let after_unlock = status_kib("VmRSS:").unwrap_or(0);
    // From here on VmHWM, and the ru_maxrss the probe reads, count the phase only.
    let reset = fs::write("/proc/self/clear_refs", "5").is_ok();
    let mut ready = ready;
    let ((), phase) = sys::measure(|| {
        match &mut ready {
            Ready::Export { store, case, public, credential } => {
                let opts = ExportOptions {
                    case: *case,
                    since: None,
                    agency: public,
                    credential,
                    seal: true,
                    own_only: false,
                    bundle_id: None,
                    sync_point: None,
                    held: None,
                };
                bundle::export(store, &opts, &p.bundle, &mut |_| true).context("exporting")?;
            }
            Ready::Verify { agency, list } => {
                let anchor = Anchor::new(agency.public(), list, Some(agency.sealing_identity()));
                bundle::verify(&p.bundle, &anchor, BlobSink::Check, &mut |_| true).context("verifying")?;
            }
            Ready::Open { agency, list, store } => {
                let anchor = Anchor::new(agency.public(), list, Some(agency.sealing_identity()));
                let opened = bundle::open_into(&p.bundle, &anchor, store, &mut |_| true).context("opening")?;
                if opened.outcome != casebridge_protocol::BundleOutcome::Accepted || opened.events_added == 0 {
                    bail!("the bundle was not imported (outcome {}, {} events added)", opened.outcome, opened.events_added);
                }
            }
        }
        Ok(())
    })?;
    drop(ready);
    println!(
        "{TAG} unlock_s={unlock_s:.3} unlock_hwm_kib={unlock_hwm} after_unlock_kib={after_unlock} reset={} wall_s={:.4} cpu_s={:.4} sys_s={:.4}",
        u8::from(reset),
        phase.wall.as_secs_f64(),
        phase.cpu.as_secs_f64(),
        phase.sys.as_secs_f64()
    );
    Ok(())
}

/// A KiB field of /proc/self/status.
fn status_kib(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn time_section(a: &Args, kind: &sys::FsKind, timed: &[(CaseData, CaseRuns)], runs: usize, disturbance: &str) -> Section {
    let mut s = Section::new(
        format!("Evidence bundles: export, verify, open on {} ({})", kind.name, a.dir.display()),
        vec!["bundle", "what", "wall time: median (min–max)", "CPU time (median)", "content throughput", "this / `age -e` (wall)"],
    );
    s.context.push(format!(
        "Everything (agency, stores, bundles, peer files) on {}{}, so the figures are CPU work, not disk. Contents are pseudo-random bytes (SplitMix64), so nothing compresses or deduplicates; the photos are not real images, only their sizes (uniform within ±20 % of {}) are photo-like.",
        a.dir.display(),
        if kind.tmpfs { " (tmpfs)" } else { "" },
        a.photo_size
    ));
    s.context.push(format!(
        "Each of {runs} runs: export (sealed to the agency), verify (with the agency's sealing key, `BlobSink::Check`), open into a fresh investigator store that pins the agency, each in its own process; then `age -e -r AGENCY_RECIPIENT -o OUT INPUT` on the same data, then `age -d -i KEY FILE` (stdout discarded) of that data encrypted once beforehand to a throwaway key (the decryption floor of verify)."
    ));
    s.context.push(
        "Our times are measured inside the phase process around the library call only: the unlocks before it (KdfParams::INTERACTIVE) are reported separately below. The age rows are whole processes (their startup included)."
            .into(),
    );
    for (data, r) in timed {
        s.context.push(format!(
            "{}: {} content bytes in {} item{}; sealed bundle {} ({} of overhead); setup (store import, untimed) {:.1} s; age input: {} ({}).",
            data.label,
            data.content,
            data.items,
            if data.items == 1 { "" } else { "s" },
            sys::human(r.bundle_bytes),
            sys::human(r.bundle_bytes.saturating_sub(data.content)),
            data.setup_s,
            data.age_input_desc,
            sys::human(data.age_input_bytes),
        ));
        let unlocks: Vec<String> = Phase::ALL
            .iter()
            .enumerate()
            .map(|(i, ph)| {
                let u: Vec<Duration> = r.phases[i].iter().map(|f| Duration::from_secs_f64(f.unlock_s)).collect();
                format!("{} {:.3} s", ph.name(), median(&u).as_secs_f64())
            })
            .collect();
        s.context.push(format!(
            "{}: unlock before each phase, median (not in the times): {} (open unlocks the agency and the investigator store).",
            data.label,
            unlocks.join(", ")
        ));
    }
    s.context.push(format!("Disturbance: {disturbance}."));
    for (data, r) in timed {
        let age_m = (!r.age_e.is_empty()).then(|| median(&walls(&r.age_e)));
        let vs_age = |m: Duration| age_m.map(|a| ratio(m.as_secs_f64() / a.as_secs_f64().max(1e-9))).unwrap_or_else(|| "–".into());
        let mut ratios = Vec::new();
        for (i, ph) in Phase::ALL.iter().enumerate() {
            let samples: Vec<Sample> = r.phases[i].iter().map(|f| f.phase).collect();
            let m = median(&walls(&samples));
            s.row(vec![
                data.label.clone(),
                ph.describe().into(),
                spread(&walls(&samples)),
                cpu_median(&samples),
                format!("{:.0} MiB/s", mib_per_s(data.content, m)),
                vs_age(m),
            ]);
            if !r.age_e.is_empty() {
                let paired: Vec<String> =
                    samples.iter().zip(&r.age_e).map(|(o, p)| ratio(o.wall.as_secs_f64() / p.wall.as_secs_f64().max(1e-9))).collect();
                ratios.push(format!("{} {}", ph.name(), paired.join(", ")));
            }
        }
        if let Some(m) = age_m {
            s.row(vec![
                data.label.clone(),
                format!("`age -e -r R -o OUT INPUT` ({})", sys::human(data.age_input_bytes)),
                spread(&walls(&r.age_e)),
                cpu_median(&r.age_e),
                format!("{:.0} MiB/s", mib_per_s(data.content, m)),
                "1.00x".into(),
            ]);
            let d = median(&walls(&r.age_d));
            s.row(vec![
                data.label.clone(),
                "`age -d -i KEY FILE > /dev/null`".into(),
                spread(&walls(&r.age_d)),
                cpu_median(&r.age_d),
                format!("{:.0} MiB/s", mib_per_s(data.content, d)),
                vs_age(d),
            ]);
            s.verdicts.push(format!("{}: per-run ratios to that run's `age -e`: {}.", data.label, ratios.join("; ")));
        } else {
            s.row(vec![data.label.clone(), "age".into(), "age: not installed".into(), "–".into(), "–".into(), "–".into()]);
        }
    }
    s.verdicts
        .push("No target in the issue for these times: they are reported next to age, which does the sealing part of export alone.".into());
    s
}

fn rss_section(kind: &sys::FsKind, cols: &[(&'static str, String, [Figures; 3])], timed: &[(CaseData, CaseRuns)]) -> Section {
    let mut headers: Vec<&'static str> = vec!["phase (one process each)"];
    headers.extend(cols.iter().map(|c| c.0));
    headers.push("largest − smallest");
    headers.push("unlock before it: peak / RSS after (max over bundles)");
    let mut s = Section::new("Evidence bundles: peak RSS of each phase", headers);
    s.context.push(format!(
        "Files on {}. Each phase is a fresh process (this binary re-executed): it unlocks (KdfParams::INTERACTIVE), resets its peak-RSS counter (`5 > /proc/self/clear_refs`), then runs the phase. \"Phase peak\" is the ru_maxrss a probe process reads from getrusage(RUSAGE_CHILDREN) for that one child: with the reset it is the peak from after the unlock to the process's exit, i.e. the phase's own; the unlock's peak (the Argon2id KDF, m = 19 MiB) is in the last column. The whole process's peak is the larger of the two.",
        kind.name
    ));
    s.context.push(format!("Bundles: {}.", cols.iter().map(|c| format!("{} = {}", c.0, c.1)).collect::<Vec<_>>().join("; ")));
    if timed.iter().any(|(_, r)| r.phases.iter().flatten().any(|f| !f.reset)) {
        s.context
            .push("WARNING: /proc/self/clear_refs could not be written in some child; there the phase peak includes the unlock.".into());
    }
    s.context.push("Each figure is the highest over the runs; the control video ran once.".into());
    let mut spread_notes = Vec::new();
    for (i, ph) in Phase::ALL.iter().enumerate() {
        let mut row = vec![ph.describe().to_string()];
        let peaks: Vec<u64> = cols.iter().map(|c| c.2[i].maxrss_kib).collect();
        row.extend(peaks.iter().map(|k| mib(*k)));
        let (lo, hi) = (peaks.iter().min().copied().unwrap_or(0), peaks.iter().max().copied().unwrap_or(0));
        row.push(mib(hi - lo));
        let unlock_hwm = cols.iter().map(|c| c.2[i].unlock_hwm_kib).max().unwrap_or(0);
        let after = cols.iter().map(|c| c.2[i].after_unlock_kib).max().unwrap_or(0);
        row.push(format!("{} / {}", mib(unlock_hwm), mib(after)));
        s.row(row);
        spread_notes.push(format!("{} {}", ph.name(), mib(hi - lo)));
    }
    s.verdicts.push(format!(
        "Flat in bundle size means the phase peaks of the bundles above stay alike; largest − smallest per phase: {}.",
        spread_notes.join(", ")
    ));
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn probe_line_parses() {
        let f = parse_figures(
            " maxrss_kib=12345 unlock_s=0.512 unlock_hwm_kib=25000 after_unlock_kib=6000 reset=1 wall_s=1.5000 cpu_s=2.2500 sys_s=0.1000",
        )
        .unwrap();
        assert_eq!(f.maxrss_kib, 12345);
        assert_eq!(f.unlock_hwm_kib, 25000);
        assert!(f.reset);
        assert_eq!(f.phase.wall, Duration::from_millis(1500));
        assert!(parse_figures("maxrss_kib=1").is_err());
    }
}
