//! The cluster agency (issue 15), measured against the real servers of `scripts/services`
//! (PostgreSQL 15 and SeaweedFS on 127.0.0.1) with the replicas as real `casebridge agency
//! serve` processes of the release CLI, and HAProxy in front of two of them.
//!
//! 1. **Open-loop intake** (`cluster-intake`): volunteers (each its own store, enrolled
//!    in-process through the endpoint's invites with the CLI's own enrol and export use cases,
//!    as `sync` makes them) submit 1 MB bundles at a fixed arrival rate: arrival `i` is due at
//!    `t0 + i / rate` whatever happened to the earlier ones (an open loop), and goes to
//!    volunteer `i mod V`, who uploads its own bundles in order. Latency is from the arrival's
//!    due time to the verified receipt, so a volunteer still busy with its previous bundle, or
//!    a generator running late, counts against the endpoint. The rate steps up; a step is met
//!    when every bundle is receipted (receipt verified, "accepted") and p99 < 500 ms; the
//!    ladder stops at the first step missed. Every bundle of a step is sealed before its clock
//!    starts. For the embedded agency, a cluster of one replica (volunteers talk to it
//!    directly) and a cluster of two behind HAProxy (the same cluster agency and volunteers,
//!    its second replica started). `agency check` at the end of each deployment.
//! 2. **1 GiB upload** (`cluster-upload`): one volunteer's bundle with a 1 GiB file, begin →
//!    receipt through a replica, next to `aws s3 cp` of the same bundle file to the same
//!    SeaweedFS (awscli from `.tools/bench-venv`, multipart by default).
//! 3. **Journal append** (`cluster-journal`): the part of a bundle's completion that the whole
//!    cluster serialises, measured on its own against PostgreSQL: the transaction with the
//!    advisory lock, the catch-up read, the journal insert, the receipt record and the commit,
//!    by 1, 2, 4 … appenders at once.
//!
//! The endpoint's CPU is utime + stime of the replica processes from /proc/PID/stat over the
//! timed phase; PostgreSQL's (postmaster and backends) and SeaweedFS's are read the same way
//! and reported apart (those servers are shared with other test runs on this machine).

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use casebridge_app::StoreHandle;
use casebridge_core::{KdfParams, Role, Store, SubmitOptions};
use casebridge_protocol::{BundleOutcome, UploadOutcome};
use casebridge_sync::{Engine, HttpTransport, Outbox, Pending, SystemClock};
use casebridge_trust::AgencyPublic;
use uuid::Uuid;

use crate::report::{median, millis, ratio, Section};
use crate::services::{pg_cpu, proc_cpu, Haproxy, Services};
use crate::sync::{
    casebridge_binary, check_receipt, cli_invite, export_pending, invite, load_limits, machine_busy, mb_per_s, ms, percentile, pull_into,
    transport_at, transport_for, warm_up, Cli, Server, Timed, World,
};
use crate::sys;
use crate::workload::{passphrase, write_random_file, Rng};

/// A deployment the intake is measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Deployment {
    /// Today's agency: one `agency serve` on its directory.
    Embedded,
    /// A cluster agency with one replica; the volunteers talk to it directly.
    #[value(name = "cluster-1")]
    Cluster1,
    /// The same cluster agency with two replicas behind HAProxy (round robin, TCP).
    #[value(name = "cluster-2")]
    Cluster2,
}

impl Deployment {
    fn describe(self) -> &'static str {
        match self {
            Deployment::Embedded => "embedded agency (one `agency serve` on its directory)",
            Deployment::Cluster1 => "cluster agency, 1 replica (PostgreSQL + SeaweedFS), volunteers connect to it directly",
            Deployment::Cluster2 => "cluster agency, 2 replicas behind HAProxy (TCP, round robin)",
        }
    }
}

#[derive(clap::Args)]
pub struct IntakeArgs {
    /// The `casebridge` binary the replicas run [default: next to this binary, else
    /// target/release/casebridge]. Build it with `cargo build --release -p casebridge-cli`.
    #[arg(long, value_name = "PATH")]
    pub casebridge: Option<PathBuf>,
    /// Arrival rates tried in turn, bundles per second; the ladder stops at the first missed.
    #[arg(long, value_delimiter = ',', default_value = "10,20,40,60,80,100,125,150,200", value_name = "R,R,...")]
    pub rates: Vec<f64>,
    /// Seconds of arrivals at each rate.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub step_secs: f64,
    /// Volunteers the arrivals are spread over (round robin).
    #[arg(long, default_value_t = 100)]
    pub volunteers: usize,
    /// Content size of each bundle (one file).
    #[arg(long, default_value = "1MB", value_name = "BYTES")]
    pub size: String,
    /// The latency bound a step must keep at p99 (arrival → verified receipt).
    #[arg(long, default_value_t = 500)]
    pub p99_ms: u64,
    /// Which deployments, in this order.
    #[arg(long, value_delimiter = ',', default_value = "embedded,cluster-1,cluster-2", value_name = "D,D,...")]
    pub deployments: Vec<Deployment>,
    /// A smoke run for CI (about 50 s, most of it setup): 3 volunteers, rates 2 and 5, 1.5 s each.
    #[arg(long)]
    pub quick: bool,
    /// Directory for the agencies, stores and bundles (the cluster's objects go to SeaweedFS).
    #[arg(long, default_value = crate::SHM)]
    pub dir: PathBuf,
    /// Keep the work directory and the cluster's database and bucket; prints where.
    #[arg(long)]
    pub keep: bool,
}

#[derive(clap::Args)]
pub struct UploadArgs {
    /// The `casebridge` binary (see `cluster-intake`).
    #[arg(long, value_name = "PATH")]
    pub casebridge: Option<PathBuf>,
    /// Size of the bundle's one file.
    #[arg(long, default_value = "1GiB", value_name = "SIZE")]
    pub size: String,
    /// Runs (each a new submission; each followed by its `aws s3 cp`).
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// The `aws` command of the peer [default: .tools/bench-venv/bin/aws, installed by
    /// scripts/setup].
    #[arg(long, value_name = "PATH")]
    pub aws: Option<PathBuf>,
    /// Directory for the agency, the volunteer store and the bundle.
    #[arg(long, default_value = crate::SHM)]
    pub dir: PathBuf,
    /// Keep the work directory, database and bucket.
    #[arg(long)]
    pub keep: bool,
}

#[derive(clap::Args)]
pub struct JournalArgs {
    /// Bundles appended at each concurrency.
    #[arg(long, default_value_t = 2000)]
    pub bundles: usize,
    /// Journal records per bundle (what one accepted 1 MB bundle appends; `cluster-intake`
    /// reports it for its cluster).
    #[arg(long, default_value_t = 6)]
    pub records: usize,
    /// Bytes of each record (`cluster-intake` measured 920 on average).
    #[arg(long, default_value_t = 920)]
    pub record_bytes: usize,
    /// Bytes of the receipt record written in the same transaction.
    #[arg(long, default_value_t = 700)]
    pub receipt_bytes: usize,
    /// Appenders at once (each its own connection), one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub appenders: Vec<usize>,
    /// Keep the database.
    #[arg(long)]
    pub keep: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

// ----- a cluster agency ----------------------------------------------------------------------------

/// A cluster agency made with `agency init --database --objects`, its directory copied for a
/// second replica.
struct ClusterAgency {
    dirs: [PathBuf; 2],
    database: String,
    database_url: String,
    bucket: String,
}

fn init_cluster(cli: &Cli, svc: &Services, root: &Path, limits: Option<&serde_json::Value>) -> Result<ClusterAgency> {
    fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let (database, database_url) = svc.fresh_database()?;
    let bucket = svc.fresh_bucket()?;
    let a = root.join("agency-a");
    eprintln!("cluster: agency init --database (database {database}) --objects s3://{bucket}/agency");
    // The URL (with its password) goes through the environment, never an argument that an
    // error message would repeat.
    let init = Cli {
        bin: cli.bin.clone(),
        env: cli.env.iter().cloned().chain([("CASEBRIDGE_DATABASE_URL".to_string(), database_url.clone())]).collect(),
    };
    let objects = format!("s3://{bucket}/agency");
    init.run(
        None,
        &[
            OsStr::new("agency"),
            OsStr::new("init"),
            OsStr::new("--dir"),
            a.as_os_str(),
            OsStr::new("--name"),
            OsStr::new("Bench agency"),
            OsStr::new("--objects"),
            OsStr::new(&objects),
        ],
    )?;
    if let Some(l) = limits {
        let path = a.join(casebridge_agency::LIMITS_FILE);
        fs::write(&path, serde_json::to_vec_pretty(l)?).with_context(|| format!("writing {}", path.display()))?;
    }
    let b = root.join("agency-b");
    copy_for_replica(&a, &b)?;
    Ok(ClusterAgency { dirs: [a, b], database, database_url, bucket })
}

/// Copies an agency directory for another replica machine: keys, certificate, cluster.json
/// and limits; never the replica's local copy of the store, its socket or serve file.
fn copy_for_replica(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if ["replica", "admin.sock", "serve.json", "lock"].contains(&name.as_str()) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_for_replica(&entry.path(), &to.join(&name))?;
        } else {
            fs::copy(entry.path(), to.join(&name)).with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The `aws` command: `wanted`, else .tools/bench-venv/bin/aws.
fn aws_binary(wanted: Option<&Path>) -> Result<PathBuf> {
    let p = wanted.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".tools/bench-venv/bin/aws"));
    if !p.is_file() {
        bail!(
            "the peer `aws` is not at {}: run `bash scripts/setup` (it installs awscli into .tools/bench-venv), or give --aws PATH",
            p.display()
        );
    }
    Ok(p)
}

/// `aws ARGS` against the services' S3 server, with no user configuration read.
fn aws(bin: &Path, svc: &Services, args: &[&OsStr]) -> Result<Duration> {
    let t = Instant::now();
    let out = std::process::Command::new(bin)
        .args(args)
        .arg("--endpoint-url")
        .arg(&svc.s3_endpoint)
        .envs(svc.aws_env())
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let wall = t.elapsed();
    if !out.status.success() {
        let what = args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        bail!("`aws {what}` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(wall)
}

/// Removes a bucket this bench made, with what it holds (best effort: a warning otherwise).
fn remove_bucket(svc: &Services, bucket: &str) {
    if !bucket.starts_with("cbbench-") {
        return;
    }
    let Ok(bin) = aws_binary(None) else {
        eprintln!("cluster: bucket {bucket} left on the S3 server (no aws in .tools/bench-venv to remove it)");
        return;
    };
    if let Err(e) = aws(&bin, svc, &["s3", "rb", &format!("s3://{bucket}"), "--force"].map(OsStr::new)) {
        eprintln!("cluster: bucket {bucket} left on the S3 server: {e:#}");
    }
}

/// `agency check --dir DIR --json`: "clean (…)" or what it found.
fn agency_check(cli: &Cli, dir: &Path) -> (bool, String) {
    match cli.run(None, &[OsStr::new("agency"), OsStr::new("check"), OsStr::new("--dir"), dir.as_os_str(), OsStr::new("--json")]) {
        Ok(out) => match serde_json::from_str::<serde_json::Value>(out.trim()) {
            Ok(v) if v["ok"] == true => (true, format!("clean ({} receipts, {} credentials)", v["receipts"], v["credentials"])),
            Ok(v) => (false, format!("NOT clean: {v}")),
            Err(e) => (false, format!("unreadable answer: {e}")),
        },
        Err(e) => (false, format!("NOT clean: {e:#}")),
    }
}

// ----- 1. open-loop intake ---------------------------------------------------------------------

/// A volunteer with its store kept open, so that each step seals its bundles without another
/// unlock.
struct IntakeVol {
    member: Uuid,
    dir: PathBuf,
    handle: StoreHandle,
}

fn prepare_vols(rt: &tokio::runtime::Runtime, world: &World, root: &Path, n: usize) -> Result<Vec<IntakeVol>> {
    eprintln!("intake: preparing {n} volunteers (store with KdfParams::INTERACTIVE, invite, enrol, brief); not timed");
    fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    crate::sys::par_map(n, |i| {
        let name = format!("Volunteer {i}");
        let dir = root.join(format!("v{i:04}"));
        let handle = StoreHandle::new(Store::create(&dir, &passphrase(), &name, Role::Volunteer, KdfParams::INTERACTIVE)?);
        let code = rt.block_on(invite(&world.agency_dir, &name))?;
        rt.block_on(casebridge_app::enrol::enrol(&handle, &code)).with_context(|| format!("enrolling {name}"))?;
        let member = handle.with(|store| {
            Ok((|| -> Result<Uuid> {
                let (transport, member) = transport_for(store)?;
                rt.block_on(pull_into(&transport, store))?;
                Ok(member)
            })())
        })??;
        Ok(IntakeVol { member, dir, handle })
    })
    .context("preparing the volunteers")
}

/// Seals `counts[j]` more bundles of `size` bytes in volunteer j's outbox (one thread per CPU).
fn seal_bundles(vols: &[IntakeVol], brief: Uuid, counts: &[usize], size: u64) -> Result<()> {
    crate::sys::par_map(vols.len().min(counts.len()), |j| {
        let (v, k) = (&vols[j], counts[j]);
        let input = v.dir.with_extension("input");
        let mut rng = Rng::fresh();
        v.handle.with(|store| {
            Ok((|| -> Result<()> {
                for _ in 0..k {
                    write_random_file(&input, size, &mut rng)?;
                    store.submit(brief, std::slice::from_ref(&input), &SubmitOptions::default(), &mut |_: u64| true)?;
                    export_pending(store)?;
                }
                Ok(())
            })())
        })??;
        let _ = fs::remove_file(&input);
        Ok(())
    })
    .map(drop)
    .context("sealing the bundles")
}

/// One arrival as its volunteer saw it.
struct Arrival {
    member: Uuid,
    bundle_id: Uuid,
    /// When it was due (the open loop's clock).
    due: Instant,
    /// When its volunteer began the upload (later than `due` when it was still busy).
    began: Instant,
    done: Instant,
    result: std::result::Result<UploadOutcome, String>,
}

/// Runs the open loop: arrival i due at t0 + i / rate, to volunteer i mod V, who uploads its
/// next prepared bundle. Returns the arrivals and the generator's largest lateness.
async fn open_loop(lanes: Vec<(Uuid, HttpTransport, Outbox, Vec<Pending>)>, rate: f64, count: usize) -> (Vec<Arrival>, Duration) {
    let mut txs = Vec::with_capacity(lanes.len());
    let mut tasks = Vec::with_capacity(lanes.len());
    for (member, transport, outbox, pending) in lanes {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        txs.push(tx);
        tasks.push(tokio::spawn(async move {
            let engine = Engine::new(transport, SystemClock);
            let mut pending = pending.into_iter();
            let mut out = Vec::new();
            while let Some(due) = rx.recv().await {
                let began = Instant::now();
                let Some(p) = pending.next() else {
                    out.push(Arrival { member, bundle_id: Uuid::nil(), due, began, done: began, result: Err("no bundle prepared".into()) });
                    continue;
                };
                let r = engine.upload(&p, &mut |_| {}).await;
                let done = Instant::now();
                let result = match r {
                    Ok(o) => outbox.mark_sent(p.bundle_id).map(|()| o).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                out.push(Arrival { member, bundle_id: p.bundle_id, due, began, done, result });
            }
            out
        }));
    }
    let interval = Duration::from_secs_f64(1.0 / rate.max(1e-6));
    let t0 = tokio::time::Instant::now() + Duration::from_millis(20);
    let mut lag = Duration::ZERO;
    for i in 0..count {
        let at = t0 + interval.mul_f64(i as f64);
        tokio::time::sleep_until(at).await;
        lag = lag.max(tokio::time::Instant::now().saturating_duration_since(at));
        if let Some(tx) = txs.get(i % txs.len().max(1)) {
            let _ = tx.send(at.into_std());
        }
    }
    drop(txs);
    let mut out = Vec::with_capacity(count);
    for t in tasks {
        match t.await {
            Ok(v) => out.extend(v),
            Err(e) => out.push(Arrival {
                member: Uuid::nil(),
                bundle_id: Uuid::nil(),
                due: Instant::now(),
                began: Instant::now(),
                done: Instant::now(),
                result: Err(format!("a volunteer's task failed: {e}")),
            }),
        }
    }
    (out, lag)
}

/// The CPU clocks read around a step.
#[derive(Clone, Copy, Default)]
struct Clocks {
    busy: Duration,
    me: Duration,
    endpoint: Duration,
    haproxy: Duration,
    pg: Duration,
    weed: Duration,
}

struct Watched<'a> {
    servers: Vec<&'a Server>,
    haproxy: Option<u32>,
    /// The postmaster, and the database whose backends are the cluster's.
    pg: Option<(u32, String)>,
    weed: Option<u32>,
}

impl Watched<'_> {
    fn read(&self) -> Clocks {
        Clocks {
            busy: machine_busy(),
            me: sys::cpu_self(),
            endpoint: self.servers.iter().map(|s| s.cpu()).sum(),
            haproxy: self.haproxy.map(|p| proc_cpu(p, false)).unwrap_or_default(),
            pg: self.pg.as_ref().map(|(pid, db)| pg_cpu(*pid, db)).unwrap_or_default(),
            weed: self.weed.map(|p| proc_cpu(p, false)).unwrap_or_default(),
        }
    }
}

impl std::ops::Sub for Clocks {
    type Output = Clocks;
    fn sub(self, o: Clocks) -> Clocks {
        Clocks {
            busy: self.busy.saturating_sub(o.busy),
            me: self.me.saturating_sub(o.me),
            endpoint: self.endpoint.saturating_sub(o.endpoint),
            haproxy: self.haproxy.saturating_sub(o.haproxy),
            pg: self.pg.saturating_sub(o.pg),
            weed: self.weed.saturating_sub(o.weed),
        }
    }
}

/// One rate of the ladder.
struct Step {
    rate: f64,
    count: usize,
    accepted: usize,
    failures: Vec<String>,
    /// Due → verified receipt, sorted.
    latency: Vec<Duration>,
    /// Begin → receipt, sorted.
    service: Vec<Duration>,
    wall: Duration,
    cpu: Clocks,
    lag: Duration,
    prep: Duration,
}

impl Step {
    fn met(&self, bound: Duration) -> bool {
        self.failures.is_empty() && self.accepted == self.count && percentile(&self.latency, 0.99) < bound
    }

    fn per_bundle(&self, d: Duration) -> String {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0 / self.accepted.max(1) as f64)
    }

    /// CPU time of processes other than those watched, as the doc's disturbance measure.
    fn disturbance(&self) -> String {
        let c = &self.cpu;
        let ours = c.me + c.endpoint + c.haproxy + c.pg + c.weed;
        let others = c.busy.saturating_sub(ours).as_secs_f64() / self.wall.as_secs_f64().max(1e-9);
        let n = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        format!("{others:.2} of {n} CPUs ({:.0} %)", others / n as f64 * 100.0)
    }
}

struct Ladder {
    deployment: Deployment,
    volunteers: usize,
    steps: Vec<Step>,
    check: (bool, String),
    /// Journal records per accepted bundle and their mean size (the cluster only).
    journal: Option<(f64, f64)>,
    setup: Duration,
}

#[allow(clippy::too_many_arguments)]
fn climb(
    rt: &tokio::runtime::Runtime,
    a: &IntakeArgs,
    world: &World,
    public: &AgencyPublic,
    vols: &[IntakeVol],
    url: Option<&str>,
    watched: &Watched,
    rates: &[f64],
    step_secs: f64,
    size: u64,
) -> Result<Vec<Step>> {
    let bound = Duration::from_millis(a.p99_ms);
    let mut transports = Vec::with_capacity(vols.len());
    for v in vols {
        transports.push(v.handle.with(|store| Ok(transport_at(store, url)))??.0);
    }
    let mut steps = Vec::new();
    for &rate in rates {
        let count = ((rate * step_secs).round() as usize).max(1);
        let v = vols.len();
        let counts: Vec<usize> = (0..v).map(|j| count / v + usize::from(j < count % v)).collect();
        eprintln!("intake: {rate} bundles/s for {step_secs} s: sealing {count} bundles (not timed)");
        let t = Instant::now();
        seal_bundles(vols, world.brief, &counts, size)?;
        let prep = t.elapsed();
        let mut lanes = Vec::with_capacity(v);
        for (vol, transport) in vols.iter().zip(&transports) {
            let outbox = Outbox::open(casebridge_app::outbox::outbox_dir(&vol.dir))?;
            let pending = outbox.pending()?;
            lanes.push((vol.member, transport.clone(), outbox, pending));
        }
        sys::settle();
        // Authenticated, with a connection open, before the clock (an idle one may have
        // been closed while the bundles were sealed).
        rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for t in &transports {
                let t = t.clone();
                set.spawn(async move { warm_up(&t).await });
            }
            while let Some(r) = set.join_next().await {
                r.context("a warm-up task failed")??;
            }
            Ok::<(), anyhow::Error>(())
        })?;
        eprintln!("intake: {rate} bundles/s: {count} arrivals over {v} volunteers");
        let c0 = watched.read();
        let t = Instant::now();
        let (arrivals, lag) = rt.block_on(open_loop(lanes, rate, count));
        let wall = t.elapsed();
        let cpu = watched.read() - c0;
        let mut step =
            Step { rate, count, accepted: 0, failures: Vec::new(), latency: Vec::new(), service: Vec::new(), wall, cpu, lag, prep };
        let mut seen = std::collections::BTreeSet::new();
        for ar in &arrivals {
            match &ar.result {
                Ok(o) if o.outcome == BundleOutcome::Accepted => match check_receipt(public, o, ar.bundle_id, ar.member) {
                    Ok(()) if seen.insert(ar.bundle_id) => {
                        step.accepted += 1;
                        step.latency.push(ar.done.saturating_duration_since(ar.due));
                        step.service.push(ar.done.saturating_duration_since(ar.began));
                    }
                    Ok(()) => step.failures.push(format!("bundle {} receipted twice", ar.bundle_id)),
                    Err(e) => step.failures.push(format!("bundle {}: {e:#}", ar.bundle_id)),
                },
                Ok(o) => step.failures.push(format!("bundle {}: outcome {}", ar.bundle_id, o.outcome)),
                Err(e) => step.failures.push(format!("bundle {}: {e}", ar.bundle_id)),
            }
        }
        if arrivals.len() != count {
            step.failures.push(format!("{} of {count} arrivals came back", arrivals.len()));
        }
        step.latency.sort();
        step.service.sort();
        for vol in vols {
            let sent = casebridge_app::outbox::outbox_dir(&vol.dir).join(casebridge_sync::SENT_DIR);
            if sent.exists() {
                fs::remove_dir_all(&sent).with_context(|| format!("removing {}", sent.display()))?;
            }
        }
        let met = step.met(bound);
        eprintln!(
            "intake: {rate} bundles/s: {}/{count} receipted, p99 {}, endpoint CPU {} per bundle: {}",
            step.accepted,
            ms(percentile(&step.latency, 0.99)),
            step.per_bundle(step.cpu.endpoint),
            if met { "met" } else { "MISSED" }
        );
        steps.push(step);
        if !met {
            break;
        }
    }
    Ok(steps)
}

/// The ladder to climb: (rates, seconds per rate, volunteers), `--quick`'s or the arguments',
/// refused when a value is not a positive finite number.
fn plan(a: &IntakeArgs) -> Result<(Vec<f64>, f64, usize)> {
    let (rates, step_secs, nvols) = if a.quick { (vec![2.0, 5.0], 1.5, 3) } else { (a.rates.clone(), a.step_secs, a.volunteers) };
    if nvols == 0 {
        bail!("--volunteers must be above zero");
    }
    if rates.is_empty() || rates.iter().any(|r| !r.is_finite() || *r <= 0.0) {
        bail!("--rates must list arrival rates above zero (bundles per second), e.g. 10,20,40");
    }
    if !step_secs.is_finite() || step_secs <= 0.0 {
        bail!("--step-secs must be above zero");
    }
    if a.deployments.is_empty() {
        bail!("--deployments names none of embedded, cluster-1, cluster-2");
    }
    Ok((rates, step_secs, nvols))
}

pub fn run_intake(a: &IntakeArgs) -> Result<Vec<Section>> {
    let bin = casebridge_binary(a.casebridge.as_deref())?;
    let size = sys::parse_size(&a.size)?;
    if size == 0 {
        bail!("--size must be above zero");
    }
    let (rates, step_secs, nvols) = plan(a)?;
    let rt = runtime()?;
    let work = tempfile::Builder::new().prefix("casebridge-bench-intake-").tempdir_in(&a.dir).context("creating a work directory")?;
    let limits = load_limits(nvols);
    let mut ladders = Vec::new();
    if a.deployments.contains(&Deployment::Embedded) {
        let t = Instant::now();
        let cli = Cli { bin: bin.clone(), env: Vec::new() };
        let root = work.path().join("embedded");
        let world = World::start(&cli, &root, Some(&limits))?;
        let vols = prepare_vols(&rt, &world, &root.join("volunteers"), nvols)?;
        let setup = t.elapsed();
        let watched = Watched { servers: vec![&world.server], haproxy: None, pg: None, weed: None };
        let steps = climb(&rt, a, &world, &world.public, &vols, None, &watched, &rates, step_secs, size)?;
        let check = agency_check(&cli, &world.agency_dir);
        drop(vols);
        world.server.stop()?;
        ladders.push(Ladder { deployment: Deployment::Embedded, volunteers: nvols, steps, check, journal: None, setup });
        if !a.keep {
            fs::remove_dir_all(&root).context("removing the embedded run's files")?;
        }
    }
    let clustered: Vec<Deployment> = a.deployments.iter().copied().filter(|d| *d != Deployment::Embedded).collect();
    if !clustered.is_empty() {
        let svc = Services::get()?;
        let t = Instant::now();
        let cli = Cli { bin: bin.clone(), env: svc.aws_env() };
        let root = work.path().join("cluster");
        let c = init_cluster(&cli, &svc, &root, Some(&limits))?;
        let server_a = Server::start(&cli, &c.dirs[0], &root.join("serve-a.log"))?;
        let world = World::around(&cli, &root, c.dirs[0].clone(), server_a, t)?;
        let vols = prepare_vols(&rt, &world, &root.join("volunteers"), nvols)?;
        let setup = t.elapsed();
        let mut server_b: Option<Server> = None;
        let mut first = true;
        for d in clustered {
            let t = Instant::now();
            let journal0 = journal_stats(&svc, &c.database_url);
            let haproxy = match d {
                Deployment::Cluster2 => {
                    if server_b.is_none() {
                        eprintln!("intake: starting the second replica and HAProxy in front of both");
                        server_b = Some(Server::start(&cli, &c.dirs[1], &root.join("serve-b.log"))?);
                    }
                    let addrs = [&world.server, server_b.as_ref().context("replica b")?]
                        .iter()
                        .map(|s| s.url.trim_start_matches("https://").parse().with_context(|| format!("a replica's address {}", s.url)))
                        .collect::<Result<Vec<std::net::SocketAddr>>>()?;
                    Some(Haproxy::start(&addrs)?)
                }
                _ => None,
            };
            let url = haproxy.as_ref().map(|h| format!("https://{}", h.addr));
            let mut servers = vec![&world.server];
            if d == Deployment::Cluster2 {
                servers.extend(server_b.as_ref());
            }
            let watched = Watched {
                servers,
                haproxy: haproxy.as_ref().map(|h| h.pid),
                pg: svc.pg_pid.map(|p| (p, c.database.clone())),
                weed: svc.weed_pid,
            };
            // The first cluster deployment carries the cluster's setup; a later one its own.
            let setup = if first { setup + t.elapsed() } else { t.elapsed() };
            first = false;
            let steps = climb(&rt, a, &world, &world.public, &vols, url.as_deref(), &watched, &rates, step_secs, size)?;
            drop(haproxy);
            let check = agency_check(&cli, &c.dirs[0]);
            let journal1 = journal_stats(&svc, &c.database_url);
            let accepted: usize = steps.iter().map(|s| s.accepted).sum();
            let journal = match (journal0, journal1) {
                (Some((n0, b0)), Some((n1, b1))) if accepted > 0 && n1 > n0 => {
                    Some(((n1 - n0) as f64 / accepted as f64, (b1 - b0) as f64 / (n1 - n0) as f64))
                }
                _ => None,
            };
            ladders.push(Ladder { deployment: d, volunteers: nvols, steps, check, journal, setup });
        }
        drop(vols);
        if let Some(b) = server_b {
            b.stop()?;
        }
        world.server.stop()?;
        if a.keep {
            eprintln!("intake: kept database {} and bucket {}", c.database, c.bucket);
        } else {
            svc.drop_database(&c.database)?;
            remove_bucket(&svc, &c.bucket);
        }
    }
    if a.keep {
        eprintln!("intake: kept the work directory {}", work.keep().display());
    }
    let mut sections: Vec<Section> = ladders.iter().map(|l| ladder_section(a, l, &rates, step_secs, size)).collect();
    sections.push(summary_section(a, &ladders));
    Ok(sections)
}

/// (records, bytes) in the cluster's journal.
fn journal_stats(svc: &Services, url: &str) -> Option<(u64, u64)> {
    let out = svc.psql(url, "SELECT count(*) || ' ' || coalesce(sum(length(record)), 0) FROM journal").ok()?;
    let mut it = out.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some((it.next()??, it.next()??))
}

fn ladder_section(a: &IntakeArgs, l: &Ladder, rates: &[f64], step_secs: f64, size: u64) -> Section {
    let mut s = Section::new(
        format!("Open-loop intake: {}", l.deployment.describe()),
        vec![
            "offered rate",
            "bundles receipted",
            "latency p50 / p99 / max (due → receipt)",
            "begin → receipt p99",
            "endpoint CPU per bundle",
            "PostgreSQL + SeaweedFS + HAProxy CPU per bundle",
            "volunteers' process CPU per bundle",
            "disturbance (other processes)",
            "met?",
        ],
    );
    s.context.push(format!(
        "{} volunteers, each with its own store (KdfParams::INTERACTIVE), enrolled through the endpoint's invites; setup {:.0} s, not timed. Rates tried in turn: {} bundles/s, {step_secs} s each, {} of content each (one file), every bundle of a step sealed before its clock starts; the ladder stops at the first rate missed.",
        l.volunteers,
        l.setup.as_secs_f64(),
        rates.iter().map(|r| format!("{r}")).collect::<Vec<_>>().join(", "),
        sys::human(size)
    ));
    s.context.push(format!(
        "Open loop: arrival i is due at t0 + i / rate (fixed interval) and goes to volunteer i mod {}; latency is from the due time to the verified receipt (a volunteer still busy, or a late generator, counts). Met: every bundle receipted (\"accepted\", receipt verified, none twice) and p99 < {} ms.",
        l.volunteers, a.p99_ms
    ));
    for st in &l.steps {
        let c = &st.cpu;
        s.row(vec![
            format!("{} bundles/s ({} in {:.1} s)", st.rate, st.count, st.wall.as_secs_f64()),
            format!("{} of {}", st.accepted, st.count),
            format!("{} / {} / {}", ms(percentile(&st.latency, 0.5)), ms(percentile(&st.latency, 0.99)), ms(percentile(&st.latency, 1.0))),
            ms(percentile(&st.service, 0.99)),
            st.per_bundle(c.endpoint),
            if l.deployment == Deployment::Embedded {
                "–".into()
            } else {
                format!("{} + {} + {}", st.per_bundle(c.pg), st.per_bundle(c.weed), st.per_bundle(c.haproxy))
            },
            st.per_bundle(c.me),
            st.disturbance(),
            if st.met(Duration::from_millis(a.p99_ms)) { "met".into() } else { "**MISSED**".into() },
        ]);
        for f in st.failures.iter().take(3) {
            s.verdicts.push(format!("At {} bundles/s: {f}", st.rate));
        }
        if st.failures.len() > 3 {
            s.verdicts.push(format!("At {} bundles/s: … and {} more failures.", st.rate, st.failures.len() - 3));
        }
        if st.lag > Duration::from_millis(50) {
            s.verdicts.push(format!("At {} bundles/s the generator ran up to {} late (counted in the latency).", st.rate, ms(st.lag)));
        }
    }
    if l.deployment != Deployment::Embedded {
        s.context.push("CPU apart from the replicas (utime + stime from /proc over the timed phase): PostgreSQL counts the backends serving the cluster's database (the replicas' pooled connections; not its WAL writer or checkpointer, which all databases share); SeaweedFS is its whole `weed server` process, shared with any other test run on this machine at the time; HAProxy its one process.".into());
    }
    let prep: Vec<Duration> = l.steps.iter().map(|s| s.prep).collect();
    s.context.push(format!("Sealing the bundles of a step (not timed): median {:.1} s.", median(&prep).as_secs_f64()));
    s.verdicts.push(format!("`agency check` at the end: {}.", l.check.1));
    if let Some((per, bytes)) = l.journal {
        s.verdicts.push(format!("The cluster's journal grew by {per:.2} records per receipted bundle, {bytes:.0} bytes each on average."));
    }
    s
}

fn summary_section(a: &IntakeArgs, ladders: &[Ladder]) -> Section {
    let bound = Duration::from_millis(a.p99_ms);
    let mut s = Section::new(
        "Open-loop intake: the highest rate met per deployment",
        vec!["deployment", "highest rate met", "p99 there", "endpoint CPU per bundle there", "goal ≤ 4 ms", "next rate", "agency check"],
    );
    for l in ladders {
        let best = l.steps.iter().rfind(|st| st.met(bound));
        let next = l.steps.iter().find(|st| !st.met(bound));
        let cpu_ms = best.map(|b| b.cpu.endpoint.as_secs_f64() * 1000.0 / b.accepted.max(1) as f64);
        s.row(vec![
            l.deployment.describe().into(),
            best.map(|b| format!("{} bundles/s", b.rate)).unwrap_or_else(|| "none".into()),
            best.map(|b| ms(percentile(&b.latency, 0.99))).unwrap_or_else(|| "–".into()),
            cpu_ms.map(|c| format!("{c:.2} ms")).unwrap_or_else(|| "–".into()),
            cpu_ms.map(|c| crate::report::at_most(c, 4.0, " ms")).unwrap_or_else(|| "–".into()),
            match next {
                Some(n) => format!(
                    "{} bundles/s missed: {} of {} receipted, p99 {}",
                    n.rate,
                    n.accepted,
                    n.count,
                    ms(percentile(&n.latency, 0.99))
                ),
                None => "none missed (the ladder ended)".into(),
            },
            if l.check.0 { "clean".into() } else { format!("**{}**", l.check.1) },
        ]);
    }
    s
}

// ----- 2. a 1 GiB upload through the cluster -----------------------------------------------------

pub fn run_upload(a: &UploadArgs) -> Result<Vec<Section>> {
    let bin = casebridge_binary(a.casebridge.as_deref())?;
    let aws_bin = aws_binary(a.aws.as_deref())?;
    let size = sys::parse_size(&a.size)?;
    if size == 0 {
        bail!("--size must be above zero");
    }
    let runs = a.runs.max(1);
    let need = size * 3 + (512 << 20);
    let free = sys::free_bytes(&a.dir)?;
    if free < need {
        bail!("{} has {} free; this run needs {}", a.dir.display(), sys::human(free), sys::human(need));
    }
    let svc = Services::get()?;
    let rt = runtime()?;
    let work = tempfile::Builder::new().prefix("casebridge-bench-cupload-").tempdir_in(&a.dir).context("creating a work directory")?;
    let root = work.path();
    let t = Instant::now();
    let cli = Cli { bin, env: svc.aws_env() };
    let c = init_cluster(&cli, &svc, root, None)?;
    let server = Server::start(&cli, &c.dirs[0], &root.join("serve-a.log"))?;
    let world = World::around(&cli, root, c.dirs[0].clone(), server, t)?;
    let vol = root.join("volunteer");
    eprintln!("cluster-upload: a volunteer enrols through the CLI");
    drop(Store::create(&vol, &passphrase(), "Bench Volunteer", Role::Volunteer, KdfParams::INTERACTIVE)?);
    let code = cli_invite(&cli, &world.agency_dir, "volunteer", "Bench Volunteer")?;
    cli.run(Some(&vol), &[OsStr::new("enrol"), OsStr::new(&code)])?;
    cli.run(Some(&vol), &[OsStr::new("sync")])?;
    let (transport, member) = {
        let store = Store::open(&vol, &passphrase()).context("opening the volunteer store")?;
        transport_for(&store)?
    };
    let setup = t.elapsed();
    let engine = Engine::new(Timed { inner: transport, marks: Mutex::default() }, SystemClock);
    let outbox = Outbox::open(casebridge_app::outbox::outbox_dir(&vol))?;
    let watched =
        Watched { servers: vec![&world.server], haproxy: None, pg: svc.pg_pid.map(|p| (p, c.database.clone())), weed: svc.weed_pid };
    let mut done = Vec::new();
    for run in 0..runs {
        let input = root.join("video.bin");
        eprintln!("cluster-upload: run {}/{runs}: {} of pseudo-random bytes, `casebridge submit` (not timed)", run + 1, sys::human(size));
        write_random_file(&input, size, &mut Rng::fresh())?;
        cli.run(Some(&vol), &[OsStr::new("submit"), world.brief.to_string().as_ref(), input.as_os_str()])?;
        fs::remove_file(&input).context("removing the input")?;
        let pending = outbox.pending()?;
        let [p] = pending.as_slice() else { bail!("expected one bundle in the outbox after `submit`, found {}", pending.len()) };
        sys::settle();
        rt.block_on(warm_up(engine.transport()))?;
        engine.transport().take();
        eprintln!("cluster-upload: run {}/{runs}: engine upload of {} through the replica", run + 1, sys::human(p.size));
        let c0 = watched.read();
        let t = Instant::now();
        let outcome = rt.block_on(engine.upload(p, &mut |_| {}))?;
        let total = t.elapsed();
        let cpu = watched.read() - c0;
        let marks = engine.transport().take();
        if outcome.outcome != BundleOutcome::Accepted {
            bail!("the replica answered {} for the large bundle", outcome.outcome);
        }
        check_receipt(&world.public, &outcome, p.bundle_id, member)?;
        outbox.mark_sent(p.bundle_id)?;
        let sent = outbox.dir().join(casebridge_sync::SENT_DIR).join(p.path.file_name().context("bundle file name")?);
        eprintln!("cluster-upload: run {}/{runs}: `aws s3 cp` of the same bundle file to the same SeaweedFS", run + 1);
        let key = format!("s3://{}/peer/run-{run}.bin", c.bucket);
        sys::settle();
        let p0 = watched.read();
        let peer = aws(&aws_bin, &svc, &[OsStr::new("s3"), OsStr::new("cp"), sent.as_os_str(), OsStr::new(&key)])?;
        let peer_cpu = watched.read() - p0;
        aws(&aws_bin, &svc, &[OsStr::new("s3"), OsStr::new("rm"), OsStr::new(&key)])?;
        fs::remove_file(&sent).context("removing the sent bundle")?;
        done.push(BigRun { bytes: p.size, total, put: marks.put_phase(), complete: marks.complete, cpu, peer, peer_cpu });
    }
    let (check_ok, check) = agency_check(&cli, &c.dirs[0]);
    world.server.stop()?;
    if a.keep {
        eprintln!("cluster-upload: kept {}, database {} and bucket {}", work.keep().display(), c.database, c.bucket);
    } else {
        svc.drop_database(&c.database)?;
        remove_bucket(&svc, &c.bucket);
    }
    Ok(vec![upload_section(&done, setup, size, check_ok, &check)])
}

struct BigRun {
    bytes: u64,
    total: Duration,
    put: Duration,
    complete: Duration,
    cpu: Clocks,
    peer: Duration,
    peer_cpu: Clocks,
}

fn upload_section(runs: &[BigRun], setup: Duration, size: u64, check_ok: bool, check: &str) -> Section {
    let mut s = Section::new(
        format!("Upload of a {} bundle through a cluster replica vs `aws s3 cp` to the same SeaweedFS", sys::human(size)),
        vec!["what", "wall time per run", "throughput (median run)", "speed vs `aws s3 cp`", "CPU (median run)"],
    );
    let bytes = runs.first().map(|r| r.bytes).unwrap_or(0);
    s.context.push(format!(
        "A cluster agency (`agency init --database --objects`, a fresh database and bucket on the shared PostgreSQL 15 and SeaweedFS), one replica (`casebridge agency serve`, release) over HTTPS on 127.0.0.1. A volunteer enrolled with the CLI submits one file of {} (`casebridge submit`, not timed): a sealed bundle of {bytes} bytes. Setup {:.0} s, not timed.",
        sys::human(size),
        setup.as_secs_f64()
    ));
    s.context.push("The cluster: `Engine::upload` in this process (begin, 4 MiB PUTs the replica stores as part objects under `uploads/ID/` in the bucket, complete: the replica reads the parts back, verifies and opens the bundle, writes its objects, appends to the journal in PostgreSQL, signs the receipt), timed begin → verified receipt. The peer: `aws s3 cp BUNDLE s3://BUCKET/peer/…` (awscli 1.46.2 from .tools/bench-venv, its defaults: multipart above 8 MiB, 8 MiB parts, 10 at once) of the same bundle file to the same SeaweedFS, timed as a whole process (with Python's start, about 0.3 s).".into());
    let med = |f: &dyn Fn(&BigRun) -> Duration| median(&runs.iter().map(f).collect::<Vec<_>>());
    let list = |f: &dyn Fn(&BigRun) -> Duration| runs.iter().map(|r| format!("{:.2} s", f(r).as_secs_f64())).collect::<Vec<_>>().join("; ");
    let peer = med(&|r| r.peer);
    let cpu = |f: &dyn Fn(&BigRun) -> Duration| format!("{:.2} s", med(f).as_secs_f64());
    let vs = |d: Duration| ratio(peer.as_secs_f64() / d.as_secs_f64().max(1e-9));
    s.row(vec![
        "cluster: whole upload (begin → verified receipt)".into(),
        list(&|r| r.total),
        format!("{:.0} MB/s", mb_per_s(bytes, med(&|r| r.total))),
        vs(med(&|r| r.total)),
        format!(
            "replica {}, PostgreSQL {}, SeaweedFS {}, this process {}",
            cpu(&|r| r.cpu.endpoint),
            cpu(&|r| r.cpu.pg),
            cpu(&|r| r.cpu.weed),
            cpu(&|r| r.cpu.me)
        ),
    ]);
    s.row(vec![
        "  of which the PUT phase (first sent → last answered)".into(),
        list(&|r| r.put),
        format!("{:.0} MB/s", mb_per_s(bytes, med(&|r| r.put))),
        vs(med(&|r| r.put)),
        "–".into(),
    ]);
    s.row(vec!["  of which complete".into(), list(&|r| r.complete), "–".into(), "–".into(), "–".into()]);
    s.row(vec![
        "`aws s3 cp BUNDLE s3://…` (multipart, awscli defaults)".into(),
        list(&|r| r.peer),
        format!("{:.0} MB/s", mb_per_s(bytes, peer)),
        "1.00x".into(),
        format!("SeaweedFS {}, aws (Python) not read", cpu(&|r| r.peer_cpu.weed)),
    ]);
    let disturbance = |c: &Clocks, wall: Duration| {
        let others = c.busy.saturating_sub(c.me + c.endpoint + c.pg + c.weed).as_secs_f64() / wall.as_secs_f64().max(1e-9);
        format!("{others:.2} CPUs")
    };
    s.context.push(format!(
        "Disturbance (CPU of processes other than this one, the replica, PostgreSQL and SeaweedFS, over the cluster upload; over the peer it includes the aws process itself): {}.",
        runs.iter().map(|r| format!("{} / {}", disturbance(&r.cpu, r.total), disturbance(&r.peer_cpu, r.peer))).collect::<Vec<_>>().join("; ")
    ));
    s.verdicts.push(format!(
        "Goal ≥ 0.5x of the standard client (speed ratio, whole upload): {}.",
        crate::report::at_least(peer.as_secs_f64() / med(&|r| r.total).as_secs_f64().max(1e-9), 0.5, "x")
    ));
    s.verdicts.push(format!("`agency check` at the end: {}{check}.", if check_ok { "" } else { "**" }));
    s
}

// ----- 3. the journal append ----------------------------------------------------------------------

pub fn run_journal(a: &JournalArgs) -> Result<Vec<Section>> {
    if a.bundles == 0 || a.records == 0 || a.appenders.is_empty() || a.appenders.contains(&0) {
        bail!("--bundles, --records and every --appenders value must be above zero");
    }
    let svc = Services::get()?;
    let rt = runtime()?;
    let (name, url) = svc.fresh_database()?;
    let most = a.appenders.iter().copied().max().unwrap_or(1);
    let result = rt.block_on(async {
        let db = casebridge_cluster::db::Db::connect_with(&url, u32::try_from(most + 2).unwrap_or(u32::MAX))
            .await
            .map_err(|e| anyhow::anyhow!("connecting to the bench's database: {e}"))?;
        db.migrate().await.map_err(|e| anyhow::anyhow!("migrating the bench's database: {e}"))?;
        let db = Arc::new(db);
        let mut rng = Rng::fresh();
        let mut record = vec![0u8; a.record_bytes];
        let mut records = Vec::with_capacity(a.records);
        for _ in 0..a.records {
            rng.fill(&mut record);
            records.push(record.clone());
        }
        let records = Arc::new(records);
        let mut receipt = vec![0u8; a.receipt_bytes];
        rng.fill(&mut receipt);
        let receipt = Arc::new(receipt);
        let mut out = Vec::new();
        // A warm-up round: connections made, the tables' first pages in memory.
        append_round(&db, &records, &receipt, 1, 50).await?;
        for &n in &a.appenders {
            sys::settle();
            eprintln!("cluster-journal: {} bundles by {n} appender(s) at once", a.bundles);
            let ours = || sys::cpu_self() + svc.pg_pid.map(|p| pg_cpu(p, &name)).unwrap_or_default();
            let (busy0, ours0) = (machine_busy(), ours());
            let t = Instant::now();
            let holds = append_round(&db, &records, &receipt, n, a.bundles).await?;
            let wall = t.elapsed();
            let busy = machine_busy().saturating_sub(busy0);
            let others = busy.saturating_sub(ours().saturating_sub(ours0));
            out.push(JournalRound { appenders: n, wall, holds, busy, others });
        }
        let len = db.journal_len().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        db.close().await;
        Ok::<_, anyhow::Error>((out, len))
    });
    if !a.keep {
        svc.drop_database(&name)?;
    } else {
        eprintln!("cluster-journal: kept database {name}");
    }
    let (rounds, len) = result?;
    let expected = 50 + a.bundles * a.appenders.len();
    let expected_records = (expected * a.records) as u64;
    Ok(vec![journal_section(a, &rounds, len, expected_records)])
}

struct JournalRound {
    appenders: usize,
    wall: Duration,
    /// Per bundle: (waited for the lock, held it), sorted by hold.
    holds: Vec<(Duration, Duration)>,
    busy: Duration,
    /// Of `busy`, what processes other than this one and the database's backends used.
    others: Duration,
}

/// `bundles` appends by `n` tasks at once, each as a replica appends one bundle: begin, the
/// lock, the catch-up read, the journal insert, the receipt record, commit. Returns (wait,
/// hold) per bundle.
async fn append_round(
    db: &Arc<casebridge_cluster::db::Db>,
    records: &Arc<Vec<Vec<u8>>>,
    receipt: &Arc<Vec<u8>>,
    n: usize,
    bundles: usize,
) -> Result<Vec<(Duration, Duration)>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (db, records, receipt, next) = (Arc::clone(db), Arc::clone(records), Arc::clone(receipt), Arc::clone(&next));
        set.spawn(async move {
            let mut out = Vec::new();
            let mut known = db.journal_len().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            while next.fetch_add(1, Ordering::SeqCst) < bundles {
                let t = Instant::now();
                let mut lock = db.lock_journal().await.map_err(|e| anyhow::anyhow!("the journal lock: {e}"))?;
                let granted = Instant::now();
                // What a replica does under the lock: read what others appended since it last
                // looked, append its bundle's records after them, its receipt, commit.
                let tail = lock.after(known).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                let seq = known + tail.len() as u64;
                lock.append(seq, &records).await.map_err(|e| anyhow::anyhow!("the append: {e}"))?;
                lock.put_record(&format!("receipt/{}", Uuid::new_v4()), &receipt).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                lock.commit().await.map_err(|e| anyhow::anyhow!("the commit: {e}"))?;
                let end = Instant::now();
                known = seq + records.len() as u64;
                out.push((granted.saturating_duration_since(t), end.saturating_duration_since(granted)));
            }
            Ok::<_, anyhow::Error>(out)
        });
    }
    let mut all = Vec::with_capacity(bundles);
    while let Some(r) = set.join_next().await {
        all.extend(r.context("an appender failed")??);
    }
    all.sort_by_key(|(_, h)| *h);
    Ok(all)
}

fn journal_section(a: &JournalArgs, rounds: &[JournalRound], len: u64, expected: u64) -> Section {
    let mut s = Section::new(
        "The journal append: what the whole cluster serialises, per bundle",
        vec![
            "appenders at once",
            "bundles/s (all appenders)",
            "lock held per bundle: median / p99",
            "waiting for the lock: median / p99",
            "ceiling from the hold (1 / median)",
            "CPU busy, all processes (of which others: the disturbance)",
        ],
    );
    s.context.push(format!(
        "Against the shared PostgreSQL 15 (a fresh database migrated by casebridge-cluster; fsync on, synchronous_commit on: each commit waits for its WAL flush). Each bundle as a replica appends it (`casebridge_cluster::db::JournalLock`): BEGIN, SET LOCAL ×2, `pg_advisory_xact_lock`, the catch-up read of what others appended, the journal length, one INSERT of {} records of {} bytes, the receipt record ({} bytes) in `agency_records`, COMMIT. \"Held\" is from the lock granted to the commit answered; each appender has its own connection. What this leaves out: the replica also catches up its local copy and writes the bundle's records to it while holding the lock (follower.rs), which the intake figures include.",
        a.records, a.record_bytes, a.receipt_bytes
    ));
    for r in rounds {
        let holds: Vec<Duration> = r.holds.iter().map(|(_, h)| *h).collect();
        let mut waits: Vec<Duration> = r.holds.iter().map(|(w, _)| *w).collect();
        waits.sort();
        let hold = percentile(&holds, 0.5);
        s.row(vec![
            r.appenders.to_string(),
            format!("{:.0}", r.holds.len() as f64 / r.wall.as_secs_f64().max(1e-9)),
            format!("{} / {}", millis(hold), millis(percentile(&holds, 0.99))),
            format!("{} / {}", millis(percentile(&waits, 0.5)), millis(percentile(&waits, 0.99))),
            format!("{:.0} bundles/s", 1.0 / hold.as_secs_f64().max(1e-9)),
            format!(
                "{:.2} of {} CPUs ({:.2})",
                r.busy.as_secs_f64() / r.wall.as_secs_f64().max(1e-9),
                std::thread::available_parallelism().map(usize::from).unwrap_or(1),
                r.others.as_secs_f64() / r.wall.as_secs_f64().max(1e-9)
            ),
        ]);
    }
    s.verdicts.push(format!(
        "The journal holds {len} records at the end, {} expected: {}.",
        expected,
        if len == expected { "one chain, no gap, nothing lost" } else { "**MISMATCH**" }
    ));
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn step(count: usize, accepted: usize, latencies_ms: &[u64]) -> Step {
        Step {
            rate: 10.0,
            count,
            accepted,
            failures: Vec::new(),
            latency: latencies_ms.iter().map(|m| Duration::from_millis(*m)).collect(),
            service: Vec::new(),
            wall: Duration::from_secs(1),
            cpu: Clocks::default(),
            lag: Duration::ZERO,
            prep: Duration::ZERO,
        }
    }

    #[test]
    fn a_step_is_met_only_with_every_bundle_receipted_and_p99_under_the_bound() {
        let bound = Duration::from_millis(500);
        let fast: Vec<u64> = (1..=100).collect();
        assert!(step(100, 100, &fast).met(bound));
        assert!(!step(100, 99, &fast[..99]).met(bound), "a lost bundle misses the step whatever the latency");
        let mut slow = fast.clone();
        slow[98] = 600;
        slow[99] = 700;
        slow.sort_unstable();
        assert!(!step(100, 100, &slow).met(bound), "p99 at 600 ms misses");
        let mut failed = step(100, 100, &fast);
        failed.failures.push("bundle x: outcome rejected".into());
        assert!(!failed.met(bound));
    }

    #[test]
    fn copy_for_replica_leaves_the_replica_state_behind() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        fs::write(from.path().join("agency.json"), b"{}").unwrap();
        fs::write(from.path().join("serve.json"), b"{}").unwrap();
        fs::create_dir_all(from.path().join("replica/journal")).unwrap();
        fs::create_dir_all(from.path().join("keys")).unwrap();
        fs::write(from.path().join("keys/root.key"), b"k").unwrap();
        copy_for_replica(from.path(), &to.path().join("b")).unwrap();
        assert!(to.path().join("b/agency.json").is_file());
        assert!(to.path().join("b/keys/root.key").is_file());
        assert!(!to.path().join("b/serve.json").exists());
        assert!(!to.path().join("b/replica").exists());
    }

    fn args(extra: &[&str]) -> IntakeArgs {
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            a: IntakeArgs,
        }
        let argv = std::iter::once("x").chain(extra.iter().copied());
        <Wrap as clap::Parser>::try_parse_from(argv).unwrap().a
    }

    #[test]
    fn the_ladder_refuses_rates_and_steps_that_are_not_positive() {
        let (rates, step, n) = plan(&args(&[])).unwrap();
        assert_eq!((rates.first().copied(), step, n), (Some(10.0), 5.0, 100));
        assert_eq!(plan(&args(&["--quick", "--rates", "0"])).unwrap().0, vec![2.0, 5.0], "--quick sets its own ladder");
        for bad in [
            &["--rates", "10,0"][..],
            &["--rates=-5"],
            &["--rates", "NaN"],
            &["--rates", "inf"],
            &["--step-secs", "0"],
            &["--volunteers", "0"],
        ] {
            let err = plan(&args(bad)).unwrap_err().to_string();
            assert!(err.contains("must"), "{bad:?}: {err}");
        }
    }

    #[tokio::test]
    async fn the_open_loop_with_no_volunteers_returns_nothing_and_does_not_panic() {
        let (arrivals, _) = open_loop(Vec::new(), 1000.0, 3).await;
        assert!(arrivals.is_empty());
    }
}
