//! The agency endpoint and sync (issue 4): the real `casebridge agency serve` process on
//! 127.0.0.1 over real HTTPS, driven by the sync engine (`casebridge_sync::Engine` over
//! `HttpTransport`) in this process.
//!
//! 1. **Upload of a large bundle**: a volunteer enrolled and synced through the CLI
//!    (`agency invite`, `enrol`, `sync`, `submit BRIEF FILE`) has one sealed bundle in its
//!    outbox; the engine uploads it (begin, 4 MiB PUTs, complete). The PUT phase and the whole
//!    upload (with the server's verify + open on complete) are timed apart, next to `curl
//!    -T BUNDLE` to a sink in this process (plain HTTP, and HTTPS) in the same run. (`curl
//!    --data-binary @FILE` reads the file into memory first and refuses files over 1 GiB, which
//!    a sealed 1 GiB video is; `-T` streams it from the file, as the engine does.)
//! 2. **Many volunteers at once**: N volunteers (enrolled in-process through the endpoint's
//!    invites with the CLI's own enrol and export use cases from casebridge-app, each with M
//!    sealed bundles prepared before the clock starts) upload at the same time, each its own
//!    bundles in order. Per-bundle latency is begin → complete with the
//!    receipt. The server's peak RSS is its VmHWM; nothing is lost or duplicated when every
//!    receipt verifies, names a distinct bundle, says "accepted", and an investigator's feed
//!    holds exactly N × M submissions, the ones the volunteers made. Then one more volunteer
//!    uploads M bundles alone: the unloaded latency, the peer of the loaded one.
//!
//! The server is a separate process: build it first with `cargo build --release -p
//! casebridge-cli` (the binary is looked for next to this one, or given with `--casebridge`).
//! Every store and the agency use the production `KdfParams::INTERACTIVE` (the bench does not
//! enable `test-kdf`); unlocks happen before any clock starts.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use casebridge_agency::admin;
use casebridge_app::StoreHandle;
use casebridge_core::{EventKind, KdfParams, Role, SignedEvent, Store, SubmitOptions};
use casebridge_protocol::{
    Document, EnrolRequest, EnrolResponse, Feed, Health, InviteRequest, InviteResponse, Role as WireRole, UploadBegin, UploadOutcome,
    UploadState,
};
use casebridge_sync::{Auth, Engine, HttpTransport, Outbox, Pending, SyncError, SystemClock, Transport};
use casebridge_trust::{Agency, AgencyPublic, Receipt, SignedDoc};
use hyper::body::Body as _;
use nix::sys::resource::{getrusage, UsageWho};
use tokio::io::AsyncWrite;
use uuid::Uuid;

use crate::report::{median, ratio, spread, Section};
use crate::sys;
use crate::workload::{passphrase, write_random_file, Rng, PASSPHRASE};

#[derive(clap::Args)]
pub struct Args {
    /// The `casebridge` binary that runs the endpoint and the CLI steps [default: `casebridge`
    /// next to this binary, else target/release/casebridge]. Build it with `cargo build
    /// --release -p casebridge-cli`.
    #[arg(long, value_name = "PATH")]
    pub casebridge: Option<PathBuf>,
    /// Size of the large bundle's content (one file); `0` skips the large upload.
    #[arg(long, default_value = "1GiB", value_name = "SIZE")]
    pub upload_size: String,
    /// Runs of the large upload (each a new submission; the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Volunteers uploading at the same time; `0` skips the concurrent part.
    #[arg(long, default_value_t = 200)]
    pub volunteers: usize,
    /// Bundles each volunteer submits (one file each).
    #[arg(long, default_value_t = 10)]
    pub bundles: usize,
    /// Content size of each of those bundles (one file).
    #[arg(long, default_value = "1MB", value_name = "BYTES")]
    pub size: String,
    /// Directory for the agencies, stores, bundles and files (the endpoint fsyncs every chunk:
    /// on tmpfs that costs nothing, on a disk it is part of the figures).
    #[arg(long, default_value = crate::SHM)]
    pub dir: PathBuf,
    /// Keep the work directory for inspection; prints its path.
    #[arg(long, hide = true)]
    pub keep: bool,
}

/// Headroom kept free beyond what a run writes.
const MARGIN: u64 = 512 << 20;
/// How long the endpoint may take to start (it unlocks the agency, the TLS key and its store).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Linux's USER_HZ: the unit of the CPU times in /proc/PID/stat.
const USER_HZ: u64 = 100;

pub fn run(a: &Args) -> Result<Vec<Section>> {
    let bin = casebridge_binary(a.casebridge.as_deref())?;
    let upload_size = sys::parse_size(&a.upload_size)?;
    let size = sys::parse_size(&a.size)?;
    if a.volunteers > 0 && (a.bundles == 0 || size == 0) {
        bail!("--bundles and --size must be above zero (or --volunteers 0 to skip the concurrent part)");
    }
    let runs = a.runs.max(1);
    let kind = sys::fs_kind(&a.dir)?;
    // The large upload: input, volunteer store, bundle, the endpoint's upload file and its store
    // at once, plus what each run leaves in both stores. The concurrent part: the same content
    // in the volunteer stores, the bundles and the agency store.
    let need_upload = upload_size * (5 + 2 * runs as u64);
    let need_load = size.saturating_add(16 << 10) * (a.volunteers as u64 + 1) * a.bundles as u64 * 3;
    let need = need_upload.max(need_load) + MARGIN;
    let free = sys::free_bytes(&a.dir)?;
    let avail = if kind.tmpfs { sys::meminfo_kib("MemAvailable").map(|k| k * 1024).unwrap_or(0) } else { u64::MAX };
    if free.min(avail) < need {
        // Only a tmpfs is bounded by RAM as well.
        let ram = if kind.tmpfs { format!(" (RAM available {})", sys::human(avail)) } else { String::new() };
        bail!("{} has {} free{ram}; this run needs {}", a.dir.display(), sys::human(free), sys::human(need));
    }
    if !sys::have("curl") {
        bail!("the peer is curl, which is not installed (apt-get install -y curl)");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let work = tempfile::Builder::new().prefix("casebridge-bench-sync-").tempdir_in(&a.dir).context("creating a work directory")?;
    let cli = Cli { bin };
    let mut sections = Vec::new();
    if upload_size > 0 {
        let root = work.path().join("upload");
        sections.push(upload(&rt, &cli, &root, &kind, a, upload_size, runs)?);
        if !a.keep {
            fs::remove_dir_all(&root).context("removing the upload scenario's files")?;
        }
    }
    if a.volunteers > 0 {
        let root = work.path().join("load");
        sections.push(load(&rt, &cli, &root, &kind, a, size)?);
    }
    if a.keep {
        eprintln!("sync: kept the work directory {}", work.keep().display());
    }
    Ok(sections)
}

/// `wanted`, else `casebridge` next to this binary, else target/release/casebridge.
fn casebridge_binary(wanted: Option<&Path>) -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = match wanted {
        Some(w) => vec![w.to_path_buf()],
        None => {
            let mut v = Vec::new();
            if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
                v.push(dir.join("casebridge"));
            }
            v.push(PathBuf::from("target/release/casebridge"));
            v
        }
    };
    candidates.iter().find(|p| p.is_file()).cloned().with_context(|| {
        format!(
            "the casebridge binary is not at {}: build it with `cargo build --release -p casebridge-cli`, or give --casebridge PATH",
            candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" or ")
        )
    })
}

// ----- the CLI and the endpoint process ------------------------------------------------------

/// Runs `casebridge` commands with the bench passphrase in the environment.
struct Cli {
    bin: PathBuf,
}

impl Cli {
    /// Runs `casebridge [--store STORE] ARGS`; fails with its stderr when it fails.
    fn run(&self, store: Option<&Path>, args: &[&OsStr]) -> Result<String> {
        let mut c = Command::new(&self.bin);
        if let Some(s) = store {
            c.arg("--store").arg(s);
        }
        c.args(args)
            .env("CASEBRIDGE_PASSPHRASE", PASSPHRASE)
            .env("CASEBRIDGE_AGENCY_PASSPHRASE", PASSPHRASE)
            .env_remove("CASEBRIDGE_STORE")
            .env_remove("CASEBRIDGE_PASSPHRASE_FILE")
            .env_remove("CASEBRIDGE_NEW_PASSPHRASE")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        let what = args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        let out = c.output().with_context(|| format!("running {} {what}", self.bin.display()))?;
        if !out.status.success() {
            bail!("`casebridge {what}` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The last line of stdout, trimmed (where `agency invite`, `case new` and `brief publish`
    /// print what they made).
    fn last_line(&self, store: Option<&Path>, args: &[&OsStr]) -> Result<String> {
        let out = self.run(store, args)?;
        Ok(out.lines().last().unwrap_or_default().trim().to_string())
    }
}

/// A running `casebridge agency serve`; SIGKILLed on drop unless stopped.
struct Server {
    child: Option<Child>,
    pid: u32,
    url: String,
}

impl Server {
    fn start(cli: &Cli, dir: &Path, log: &Path) -> Result<Server> {
        let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(&cli.bin)
            .args(["agency", "serve", "--dir"])
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .env("CASEBRIDGE_AGENCY_PASSPHRASE", PASSPHRASE)
            .env_remove("CASEBRIDGE_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .with_context(|| format!("starting {} agency serve", cli.bin.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("the endpoint's stdout")?;
        let mut server = Server { child: Some(child), pid, url: String::new() };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).map_err(|_| {
                anyhow::anyhow!("the endpoint did not say where it listens within {} s; see {}", START_TIMEOUT.as_secs(), log.display())
            })?;
            if let Some((_, url)) =
                line.rsplit_once(" on ").filter(|(head, u)| head.starts_with("serving agency") && u.starts_with("https://"))
            {
                server.url = url.trim().to_string();
                return Ok(server);
            }
        }
    }

    /// A KiB field of the server's /proc/PID/status (VmHWM, VmRSS).
    fn status_kib(&self, field: &str) -> Option<u64> {
        let text = fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        text.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
    }

    /// CPU time (user + system) the server has used so far.
    fn cpu(&self) -> Duration {
        fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok().and_then(|s| stat_cpu(&s)).unwrap_or_default()
    }

    /// SIGTERM, then wait (SIGKILL after 60 s).
    fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let _ = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            if let Some(status) = child.try_wait().context("waiting for the endpoint")? {
                if !status.success() {
                    bail!("the endpoint exited with {status} on SIGTERM");
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        bail!("the endpoint did not stop within 60 s of SIGTERM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// utime + stime from the text of /proc/PID/stat (fields 14 and 15, after the command name,
/// which may hold spaces and parentheses).
fn stat_cpu(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field N is f[N - 3].
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// The CPU time that processes other than this one, its waited-for children (curl, the CLI)
/// and the endpoint used during the measured windows: what disturbed the figures on a shared
/// machine. (`sys::CpuWatch` cannot see the endpoint, a child that is not waited for.)
#[derive(Default)]
struct Others {
    others: Duration,
    wall: Duration,
}

/// The start of a measured window.
struct Window {
    busy: Duration,
    ours: Duration,
    t: Instant,
}

impl Others {
    fn ours(server: &Server) -> Duration {
        let children = getrusage(UsageWho::RUSAGE_CHILDREN)
            .map(|u| {
                let tv = |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec().max(0) as u64, (t.tv_usec().max(0) as u32) * 1000);
                tv(u.user_time()) + tv(u.system_time())
            })
            .unwrap_or_default();
        sys::cpu_self() + children + server.cpu()
    }

    fn open(&self, server: &Server) -> Window {
        Window { busy: machine_busy(), ours: Others::ours(server), t: Instant::now() }
    }

    fn close(&mut self, w: Window, server: &Server) {
        let busy = machine_busy().saturating_sub(w.busy);
        let ours = Others::ours(server).saturating_sub(w.ours);
        self.others += busy.saturating_sub(ours);
        self.wall += w.t.elapsed();
    }

    /// "other processes kept 0.12 of 2 CPUs busy on average over these 30 s (6 % of the machine)".
    fn describe(&self) -> String {
        let wall = self.wall.as_secs_f64().max(1e-9);
        let others = self.others.as_secs_f64() / wall;
        let n = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        format!(
            "other processes kept {others:.2} of {n} CPUs busy on average over these {wall:.0} s ({:.0} % of the machine; this process, curl and the endpoint not counted)",
            others / n as f64 * 100.0
        )
    }
}

/// CPU time all CPUs spent not idle since boot (/proc/stat, in USER_HZ ticks), as in sys.rs.
fn machine_busy() -> Duration {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else { return Duration::ZERO };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = v.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, x)| x).sum();
    Duration::from_millis(busy * 1000 / USER_HZ)
}

/// An agency with its endpoint running, and an investigator (enrolled with the CLI) who has
/// published a brief to every volunteer.
struct World {
    agency_dir: PathBuf,
    server: Server,
    public: AgencyPublic,
    investigator: PathBuf,
    brief: Uuid,
    setup: Duration,
}

impl World {
    fn start(cli: &Cli, root: &Path) -> Result<World> {
        let t = Instant::now();
        fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let agency_dir = root.join("agency");
        eprintln!("sync: creating the agency (KdfParams::INTERACTIVE) and starting `casebridge agency serve`");
        drop(Agency::init(&agency_dir, "Bench agency", &passphrase(), KdfParams::INTERACTIVE).context("creating the agency")?);
        let (public, _) = Agency::read_public(&agency_dir).context("reading the agency")?;
        let server = Server::start(cli, &agency_dir, &root.join("serve.log"))?;
        let investigator = root.join("investigator");
        drop(Store::create(&investigator, &passphrase(), "Bench Investigator", Role::Investigator, KdfParams::INTERACTIVE)?);
        let code = cli_invite(cli, &agency_dir, "investigator", "Bench Investigator")?;
        let inv = Some(investigator.as_path());
        cli.run(inv, &[OsStr::new("enrol"), OsStr::new(&code)])?;
        let case = cli.last_line(inv, &[OsStr::new("case"), OsStr::new("new"), OsStr::new("--title"), OsStr::new("Bench case")])?;
        let brief = cli
            .last_line(inv, &["brief", "publish", &case, "--title", "Footage wanted", "--body", "Anything from Main St"].map(OsStr::new))?;
        let brief: Uuid = brief.parse().with_context(|| format!("`brief publish` printed {brief:?}, not a brief id"))?;
        cli.run(inv, &[OsStr::new("sync")])?;
        Ok(World { agency_dir, server, public, investigator, brief, setup: t.elapsed() })
    }
}

fn cli_invite(cli: &Cli, agency: &Path, role: &str, name: &str) -> Result<String> {
    let code = cli.last_line(
        None,
        &[
            OsStr::new("agency"),
            OsStr::new("invite"),
            OsStr::new("--dir"),
            agency.as_os_str(),
            OsStr::new("--role"),
            OsStr::new(role),
            OsStr::new("--name"),
            OsStr::new(name),
        ],
    )?;
    if !code.starts_with("cbinv1.") {
        bail!("`agency invite` did not end with an invite code: {code:?}");
    }
    Ok(code)
}

// ----- members in-process ----------------------------------------------------------------------

/// An invite code from the running endpoint, through its admin socket (what `agency invite`
/// does).
async fn invite(agency: &Path, name: &str) -> Result<String> {
    let req = InviteRequest {
        role: WireRole::Volunteer,
        name: name.into(),
        expires_in_secs: 24 * 3600,
        url: None,
        valid_for_secs: Some(30 * 24 * 3600),
        member: None,
        old_keys: None,
    };
    let answer = admin::call(agency, "POST", "/admin/invite", Some(serde_json::to_value(&req)?))
        .await
        .context("asking the endpoint for an invite")?
        .context("the endpoint is not running (no admin socket)")?;
    let resp: InviteResponse = serde_json::from_value(answer).context("reading the invite")?;
    Ok(resp.code)
}

/// The HTTPS transport of an enrolled profile (what `casebridge sync` builds), and its member id.
fn transport_for(store: &Store) -> Result<(HttpTransport, Uuid)> {
    let endpoint = store.endpoints()?.into_iter().next().context("the profile is not enrolled")?;
    let me = store.whoami().clone();
    let signer = store.detached_signer();
    let auth = Auth {
        agency_id: endpoint.agency_id,
        member_id: me.member_id,
        key_hex: me.public_key.clone(),
        signer: Arc::new(move |context: &[u8], message: &[u8]| signer.sign_detached(context, message)),
    };
    Ok((HttpTransport::new(&endpoint.url, &endpoint.cert_sha256, auth)?, me.member_id))
}

/// Pulls the feed into `store` (events only: a volunteer's feed here holds the brief).
async fn pull_into(transport: &HttpTransport, store: &mut Store) -> Result<()> {
    let engine = Engine::new(transport.clone(), SystemClock);
    let mut on_page = |feed: Feed| -> Result<()> {
        let mut events = Vec::with_capacity(feed.events.len());
        for e in &feed.events {
            events.push(SignedEvent::from_envelope(B64.decode(e).context("feed event")?)?);
        }
        store.import_events(&events, Vec::new())?;
        Ok(())
    };
    engine.pull::<anyhow::Error>(0, &mut on_page, &mut |_| {}).await?;
    Ok(())
}

/// What `casebridge submit` does after `Store::submit`: the shared use case
/// (`casebridge_app::outbox::export_pending`) seals one bundle per changed case, with this
/// profile's own events since its last export, into `STORE/sync/outbox`. Returns their bytes.
fn export_pending(store: &mut Store) -> Result<u64> {
    let (agency, _, cred) = casebridge_app::outbox::agency(store)?;
    let mut bytes = 0;
    for done in casebridge_app::outbox::export_pending(store, &agency, &cred)? {
        bytes += fs::metadata(&done.path).with_context(|| format!("reading {}", done.path.display()))?.len();
    }
    Ok(bytes)
}

/// Checks an upload's receipt: signed by the agency, for this bundle and sender.
fn check_receipt(public: &AgencyPublic, outcome: &UploadOutcome, bundle_id: Uuid, sender: Uuid) -> Result<()> {
    let doc = SignedDoc::parse(&B64.decode(&outcome.receipt).context("the receipt is not base64")?)?;
    let r = Receipt::verify(&doc, &public.root_key_bytes()?, public.agency_id)?;
    if r.bundle_id != bundle_id || r.sender != sender || outcome.bundle_id != bundle_id {
        bail!("the receipt for bundle {bundle_id} names bundle {} from {}", r.bundle_id, r.sender);
    }
    Ok(())
}

// ----- a transport that times the upload phases ------------------------------------------------

#[derive(Default, Clone, Copy)]
struct Marks {
    begin: Duration,
    puts: u32,
    put_first: Option<Instant>,
    put_last: Option<Instant>,
    complete: Duration,
}

/// `HttpTransport` with stopwatches around begin, the PUTs and complete; the engine drives
/// it exactly as it drives the plain transport.
struct Timed {
    inner: HttpTransport,
    marks: Mutex<Marks>,
}

impl Timed {
    fn mark(&self, f: impl FnOnce(&mut Marks)) {
        f(&mut self.marks.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn take(&self) -> Marks {
        std::mem::take(&mut *self.marks.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Transport for Timed {
    async fn health(&self) -> casebridge_sync::Result<Health> {
        self.inner.health().await
    }

    async fn enrol(&self, request: EnrolRequest) -> casebridge_sync::Result<EnrolResponse> {
        self.inner.enrol(request).await
    }

    async fn revocation(&self) -> casebridge_sync::Result<Document> {
        self.inner.revocation().await
    }

    async fn begin(&self, begin: UploadBegin) -> casebridge_sync::Result<UploadState> {
        let t = Instant::now();
        let r = self.inner.begin(begin).await;
        self.mark(|m| m.begin += t.elapsed());
        r
    }

    async fn status(&self, upload_id: Uuid) -> casebridge_sync::Result<UploadState> {
        self.inner.status(upload_id).await
    }

    async fn put(&self, upload_id: Uuid, offset: u64, chunk: Bytes) -> casebridge_sync::Result<UploadState> {
        let t = Instant::now();
        let r = self.inner.put(upload_id, offset, chunk).await;
        let end = Instant::now();
        self.mark(|m| {
            m.put_first.get_or_insert(t);
            m.put_last = Some(end);
            m.puts += 1;
        });
        r
    }

    async fn complete(&self, upload_id: Uuid) -> casebridge_sync::Result<UploadOutcome> {
        let t = Instant::now();
        let r = self.inner.complete(upload_id).await;
        self.mark(|m| m.complete += t.elapsed());
        r
    }

    async fn feed(&self, after: u64, limit: usize) -> casebridge_sync::Result<Feed> {
        self.inner.feed(after, limit).await
    }

    async fn content(&self, sha256: &str, out: &mut (dyn AsyncWrite + Unpin + Send)) -> casebridge_sync::Result<u64> {
        self.inner.content(sha256, out).await
    }
}

/// Authenticates (and opens a connection) before a clock starts: a one-event feed page.
async fn warm_up(transport: &impl Transport) -> Result<()> {
    // A pooled connection the server closed while idle fails once; the second try reconnects.
    if transport.feed(0, 1).await.is_err() {
        transport.feed(0, 1).await.context("warming up the connection")?;
    }
    Ok(())
}

// ----- the curl peer's sink ----------------------------------------------------------------------

/// An HTTP/1.1 server on 127.0.0.1:0 that reads and discards request bodies and answers with
/// the byte count; with `tls`, over rustls (ring) like the endpoint.
async fn start_sink(tls: Option<tokio_rustls::TlsAcceptor>) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the sink")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(drain);
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            let _ = http.serve_connection(hyper_util::rt::TokioIo::new(s), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    Ok(addr)
}

async fn drain(req: hyper::Request<hyper::body::Incoming>) -> std::result::Result<hyper::Response<String>, hyper::Error> {
    let mut body = req.into_body();
    let mut n = 0u64;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Some(data) = frame?.data_ref() {
            n += data.len() as u64;
        }
    }
    Ok(hyper::Response::new(n.to_string()))
}

/// A self-signed certificate for 127.0.0.1: the acceptor, and the certificate as PEM for curl.
fn sink_tls() -> Result<(tokio_rustls::TlsAcceptor, String)> {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).context("making the sink's certificate")?;
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), ck.cert.pem()))
}

/// `curl -T FILE URL` (a streamed PUT of the file), timed as a whole process; checks the sink
/// got every byte.
fn curl(file: &Path, url: &str, cacert: Option<&Path>) -> Result<Duration> {
    let mut c = Command::new("curl");
    c.args(["-sS", "--fail", "--noproxy", "*", "-H", "Content-Type: application/octet-stream", "-T"]);
    c.arg(file);
    if let Some(ca) = cacert {
        c.arg("--cacert").arg(ca);
    }
    c.arg(url).stdin(Stdio::null());
    let t = Instant::now();
    let out = c.output().context("running curl")?;
    let wall = t.elapsed();
    if !out.status.success() {
        bail!("curl to {url} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    let got: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().context("the sink's answer")?;
    let size = fs::metadata(file)?.len();
    if got != size {
        bail!("the sink received {got} of {size} bytes from curl");
    }
    Ok(wall)
}

// ----- 1. one large bundle ---------------------------------------------------------------------

struct UploadRun {
    bundle_bytes: u64,
    total: Duration,
    marks: Marks,
    server_cpu: Duration,
    client_cpu: Duration,
    curl_http: Duration,
    curl_https: Duration,
}

impl UploadRun {
    fn put_phase(&self) -> Duration {
        match (self.marks.put_first, self.marks.put_last) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            _ => Duration::ZERO,
        }
    }
}

fn upload(rt: &tokio::runtime::Runtime, cli: &Cli, root: &Path, kind: &sys::FsKind, a: &Args, size: u64, runs: usize) -> Result<Section> {
    let world = World::start(cli, root)?;
    let vol = root.join("volunteer");
    eprintln!("sync: a volunteer enrols and pulls the brief through the CLI (`agency invite`, `enrol`, `sync`)");
    drop(Store::create(&vol, &passphrase(), "Bench Volunteer", Role::Volunteer, KdfParams::INTERACTIVE)?);
    let code = cli_invite(cli, &world.agency_dir, "volunteer", "Bench Volunteer")?;
    cli.run(Some(&vol), &[OsStr::new("enrol"), OsStr::new(&code)])?;
    cli.run(Some(&vol), &[OsStr::new("sync")])?;
    let (transport, member) = {
        let store = Store::open(&vol, &passphrase()).context("opening the volunteer store")?;
        transport_for(&store)?
    };
    let engine = Engine::new(Timed { inner: transport, marks: Mutex::default() }, SystemClock);
    let outbox = Outbox::open(casebridge_app::outbox::outbox_dir(&vol))?;

    let (acceptor, pem) = sink_tls()?;
    let pem_path = root.join("sink-cert.pem");
    fs::write(&pem_path, pem).context("writing the sink's certificate")?;
    let plain = rt.block_on(start_sink(None))?;
    let tls = rt.block_on(start_sink(Some(acceptor)))?;
    let (plain_url, tls_url) = (format!("http://{plain}/sink"), format!("https://{tls}/sink"));

    let mut others = Others::default();
    let mut done: Vec<UploadRun> = Vec::new();
    let mut submit_s = Vec::new();
    for run in 0..runs {
        let input = root.join("video.bin");
        eprintln!("sync: run {}/{runs}: {} of pseudo-random bytes, `casebridge submit` (not timed)", run + 1, sys::human(size));
        write_random_file(&input, size, &mut Rng::fresh())?;
        let t = Instant::now();
        cli.run(Some(&vol), &[OsStr::new("submit"), world.brief.to_string().as_ref(), input.as_os_str()])?;
        submit_s.push(t.elapsed());
        fs::remove_file(&input).context("removing the input")?;
        let pending: Vec<Pending> = outbox.pending()?;
        let [p] = pending.as_slice() else { bail!("expected one bundle in the outbox after `submit`, found {}", pending.len()) };

        sys::settle();
        eprintln!("sync: run {}/{runs}: engine upload of {}, then curl to the sinks", run + 1, sys::human(p.size));
        rt.block_on(warm_up(engine.transport()))?;
        engine.transport().take();
        let window = others.open(&world.server);
        let (server_cpu0, client_cpu0) = (world.server.cpu(), sys::cpu_self());
        let t = Instant::now();
        let outcome = rt.block_on(engine.upload(p, &mut |_| {}))?;
        let total = t.elapsed();
        let (server_cpu, client_cpu) = (world.server.cpu().saturating_sub(server_cpu0), sys::cpu_self().saturating_sub(client_cpu0));
        let marks = engine.transport().take();
        if outcome.outcome != "accepted" {
            bail!("the endpoint answered {:?} for the large bundle", outcome.outcome);
        }
        check_receipt(&world.public, &outcome, p.bundle_id, member)?;
        outbox.mark_sent(p.bundle_id)?;
        let sent = outbox.dir().join(casebridge_sync::SENT_DIR).join(p.path.file_name().context("bundle file name")?);

        let curl_http = curl(&sent, &plain_url, None)?;
        let curl_https = curl(&sent, &tls_url, Some(&pem_path))?;
        others.close(window, &world.server);
        fs::remove_file(&sent).context("removing the sent bundle")?;
        done.push(UploadRun { bundle_bytes: p.size, total, marks, server_cpu, client_cpu, curl_http, curl_https });
    }
    let disturbance = others.describe();
    let hwm = world.server.status_kib("VmHWM:").unwrap_or(0);
    world.server.stop()?;
    Ok(upload_section(a, kind, size, &done, &submit_s, world.setup, hwm, &disturbance))
}

/// MB/s (10^6 bytes per second, as curl and the issue count).
fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

#[allow(clippy::too_many_arguments)]
fn upload_section(
    a: &Args,
    kind: &sys::FsKind,
    size: u64,
    runs: &[UploadRun],
    submit: &[Duration],
    setup: Duration,
    hwm_kib: u64,
    disturbance: &str,
) -> Section {
    let mut s = Section::new(
        format!("Upload of a {} evidence bundle to the agency endpoint on {} ({})", sys::human(size), kind.name, a.dir.display()),
        vec!["what", "wall time: median (min–max)", "throughput (median run)", "this / `curl` plain HTTP", "this / `curl` HTTPS"],
    );
    let bundle = runs.first().map(|r| r.bundle_bytes).unwrap_or(0);
    s.context.push(format!(
        "The endpoint is a separate process, `casebridge agency serve --listen 127.0.0.1:0` (the release CLI), over HTTPS (rustls, ring) on loopback. Its agency directory, the volunteer store and every file are on {}{}: the endpoint fsyncs each chunk and the upload state file, {}.",
        a.dir.display(),
        if kind.tmpfs { " (tmpfs)" } else { "" },
        if kind.tmpfs { "which costs nothing on tmpfs" } else { "which reaches the disk here" }
    ));
    s.context.push(format!(
        "Setup (not timed, {:.1} s): agency init in-process, the endpoint started, an investigator enrolled with `agency invite` + `enrol`, `case new`, `brief publish`, `sync`; a volunteer store created in-process, enrolled with `agency invite` + `enrol`, brief pulled with `sync`. All with KdfParams::INTERACTIVE.",
        setup.as_secs_f64()
    ));
    s.context.push(format!(
        "Each of {} run(s): {} of pseudo-random bytes submitted with `casebridge submit BRIEF FILE` (not timed; median {:.1} s, import + sealed export), giving a sealed bundle of {} bytes in the outbox. Then, in this process, a one-event feed request (authentication and connection, not timed), then `Engine::upload` over `HttpTransport` with the default 4 MiB chunks: begin, PUTs, complete. Then the same bundle file with `curl -T BUNDLE` (a PUT streamed from the file; `--data-binary @FILE` refuses files over 1 GiB) to a sink in this process that reads and discards the body (hyper; plain HTTP, then HTTPS with rustls), each a whole curl process.",
        runs.len(),
        sys::human(size),
        median(submit).as_secs_f64(),
        bundle
    ));
    s.context.push(format!(
        "Every receipt verified against the agency key and named the bundle; outcome \"accepted\". The endpoint's peak RSS (VmHWM of the server process over the whole scenario): {:.1} MiB.",
        hwm_kib as f64 / 1024.0
    ));
    s.context.push(format!("Disturbance: {disturbance}."));
    let med = |f: &dyn Fn(&UploadRun) -> Duration| median(&runs.iter().map(f).collect::<Vec<_>>());
    let all = |f: &dyn Fn(&UploadRun) -> Duration| runs.iter().map(f).collect::<Vec<_>>();
    let (curl_http, curl_https) = (med(&|r| r.curl_http), med(&|r| r.curl_https));
    let vs = |d: Duration, peer: Duration| ratio(peer.as_secs_f64() / d.as_secs_f64().max(1e-9));
    let put = med(&|r| r.put_phase());
    let total = med(&|r| r.total);
    let puts = runs.first().map(|r| r.marks.puts).unwrap_or(0);
    s.row(vec![
        format!("engine: PUT phase ({puts} PUTs of ≤ 4 MiB, first sent → last answered)"),
        spread(&all(&|r| r.put_phase())),
        format!("{:.0} MB/s", mb_per_s(bundle, put)),
        vs(put, curl_http),
        vs(put, curl_https),
    ]);
    s.row(vec![
        "engine: whole upload (begin + PUTs + complete: the endpoint verifies and opens the bundle)".into(),
        spread(&all(&|r| r.total)),
        format!("{:.0} MB/s", mb_per_s(bundle, total)),
        vs(total, curl_http),
        vs(total, curl_https),
    ]);
    s.row(vec![
        "  of which complete (verify + open into the agency store, receipt)".into(),
        spread(&all(&|r| r.marks.complete)),
        format!("{:.0} MB/s", mb_per_s(bundle, med(&|r| r.marks.complete))),
        "–".into(),
        "–".into(),
    ]);
    s.row(vec!["  of which begin".into(), spread(&all(&|r| r.marks.begin)), "–".into(), "–".into(), "–".into()]);
    s.row(vec![
        "`curl -T BUNDLE http://127.0.0.1/sink` (plain HTTP)".into(),
        spread(&all(&|r| r.curl_http)),
        format!("{:.0} MB/s", mb_per_s(bundle, curl_http)),
        "1.00x".into(),
        "–".into(),
    ]);
    s.row(vec![
        "`curl -T BUNDLE --cacert C https://127.0.0.1/sink` (HTTPS)".into(),
        spread(&all(&|r| r.curl_https)),
        format!("{:.0} MB/s", mb_per_s(bundle, curl_https)),
        "–".into(),
        "1.00x".into(),
    ]);
    let cpu = |f: &dyn Fn(&UploadRun) -> Duration| median(&all(f)).as_secs_f64();
    s.context.push(format!(
        "CPU during the whole upload (median run): endpoint process {:.2} s, this process (the engine) {:.2} s, over a wall time of {:.2} s on {} CPUs.",
        cpu(&|r| r.server_cpu),
        cpu(&|r| r.client_cpu),
        total.as_secs_f64(),
        std::thread::available_parallelism().map(usize::from).unwrap_or(1)
    ));
    let pairs: Vec<String> = runs.iter().map(|r| ratio(r.curl_http.as_secs_f64() / r.put_phase().as_secs_f64().max(1e-9))).collect();
    let pairs_total: Vec<String> = runs.iter().map(|r| ratio(r.curl_http.as_secs_f64() / r.total.as_secs_f64().max(1e-9))).collect();
    s.verdicts.push(format!(
        "Target ≥ 0.5x of curl (speed ratio, plain HTTP peer): PUT phase {}; whole upload {}. Per run (PUT phase): {}; (whole): {}.",
        crate::report::at_least(curl_http.as_secs_f64() / put.as_secs_f64().max(1e-9), 0.5, "x"),
        crate::report::at_least(curl_http.as_secs_f64() / total.as_secs_f64().max(1e-9), 0.5, "x"),
        pairs.join(", "),
        pairs_total.join(", ")
    ));
    s.verdicts.push(format!(
        "Target ≥ 250 MB/s: PUT phase {}; whole upload {}.",
        crate::report::at_least(mb_per_s(bundle, put), 250.0, " MB/s"),
        crate::report::at_least(mb_per_s(bundle, total), 250.0, " MB/s")
    ));
    s
}

// ----- 2. many volunteers at once --------------------------------------------------------------

/// A volunteer ready to upload: its transport (enrolled, authenticated later) and its outbox.
struct Volunteer {
    member: Uuid,
    transport: HttpTransport,
    outbox: Outbox,
    /// The submissions its bundles carry.
    submissions: Vec<Uuid>,
    bytes: u64,
}

fn prepare_volunteer(rt: &tokio::runtime::Runtime, world: &World, dir: &Path, name: &str, bundles: usize, size: u64) -> Result<Volunteer> {
    let handle = StoreHandle::new(Store::create(dir, &passphrase(), name, Role::Volunteer, KdfParams::INTERACTIVE)?);
    let code = rt.block_on(invite(&world.agency_dir, name))?;
    // What `casebridge enrol CODE` runs: the credential request to the endpoint the code
    // names, the answer checked against the code, the credential installed, the endpoint kept.
    rt.block_on(casebridge_app::enrol::enrol(&handle, &code))?;
    handle.with(|store| Ok(submit_all(rt, world, store, dir, name, bundles, size)))?
}

/// Pulls the brief, then `bundles` times: a new file, `Store::submit`, the sealed export.
fn submit_all(
    rt: &tokio::runtime::Runtime,
    world: &World,
    store: &mut Store,
    dir: &Path,
    name: &str,
    bundles: usize,
    size: u64,
) -> Result<Volunteer> {
    let (transport, member) = transport_for(store)?;
    rt.block_on(pull_into(&transport, store))?;
    let input = dir.with_extension("input");
    let mut rng = Rng::fresh();
    let mut submissions = Vec::with_capacity(bundles);
    let mut bytes = 0;
    for _ in 0..bundles {
        write_random_file(&input, size, &mut rng)?;
        let view = store.submit(world.brief, std::slice::from_ref(&input), &SubmitOptions::default(), &mut |_: u64| true)?;
        submissions.push(view.id);
        bytes += export_pending(store)?;
    }
    fs::remove_file(&input).context("removing an input file")?;
    let outbox = Outbox::open(casebridge_app::outbox::outbox_dir(dir))?;
    if outbox.pending()?.len() != bundles {
        bail!("{name} has {} bundles in its outbox, expected {bundles}", outbox.pending()?.len());
    }
    Ok(Volunteer { member, transport, outbox, submissions, bytes })
}

/// One bundle's upload as a volunteer saw it.
struct Uploaded {
    bundle_id: Uuid,
    latency: Duration,
    /// Of the latency: first PUT sent → last PUT answered.
    put: Duration,
    /// Of the latency: complete sent → answered (the endpoint verifies and opens the bundle).
    complete: Duration,
    result: std::result::Result<UploadOutcome, String>,
}

impl Uploaded {
    fn failed(error: String) -> Uploaded {
        Uploaded { bundle_id: Uuid::nil(), latency: Duration::ZERO, put: Duration::ZERO, complete: Duration::ZERO, result: Err(error) }
    }
}

/// Uploads the volunteer's outbox in order, timing each bundle from begin to the receipt.
async fn upload_all(v: Arc<Volunteer>) -> Vec<Uploaded> {
    let engine = Engine::new(Timed { inner: v.transport.clone(), marks: Mutex::default() }, SystemClock);
    let pending = match v.outbox.pending() {
        Ok(p) => p,
        Err(e) => return vec![Uploaded::failed(e.to_string())],
    };
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        let t = Instant::now();
        let r = engine.upload(&p, &mut |_| {}).await;
        let latency = t.elapsed();
        let marks = engine.transport().take();
        let put = match (marks.put_first, marks.put_last) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            _ => Duration::ZERO,
        };
        let failed = r.is_err();
        let result = match r {
            Ok(o) => v.outbox.mark_sent(p.bundle_id).map(|()| o).map_err(|e: SyncError| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        out.push(Uploaded { bundle_id: p.bundle_id, latency, put, complete: marks.complete, result });
        if failed {
            // Later bundles are sequenced after this one: they would be refused.
            break;
        }
    }
    out
}

/// Nearest-rank percentile of sorted samples (p in 0..=1).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Submission events in the investigator's feed: (all, distinct ids).
fn count_submissions(rt: &tokio::runtime::Runtime, world: &World) -> Result<(usize, std::collections::BTreeSet<Uuid>)> {
    let (transport, _) = {
        let store = Store::open(&world.investigator, &passphrase()).context("opening the investigator store")?;
        transport_for(&store)?
    };
    let engine = Engine::new(transport, SystemClock);
    let mut all = 0usize;
    let mut ids = std::collections::BTreeSet::new();
    let mut on_page = |feed: Feed| -> Result<()> {
        for e in &feed.events {
            let ev = SignedEvent::from_envelope(B64.decode(e).context("feed event")?)?;
            if let EventKind::SubmissionMade { submission_id, .. } = &ev.body().kind {
                all += 1;
                ids.insert(*submission_id);
            }
        }
        Ok(())
    };
    rt.block_on(engine.pull::<anyhow::Error>(0, &mut on_page, &mut |_| {}))?;
    Ok((all, ids))
}

struct LoadFigures {
    volunteers: usize,
    bundles: usize,
    wall: Duration,
    bytes: u64,
    latencies: Vec<Duration>,
    puts: Vec<Duration>,
    completes: Vec<Duration>,
    failures: Vec<String>,
    receipts_ok: usize,
    distinct_receipts: usize,
    feed_all: usize,
    feed_distinct: usize,
    feed_expected_match: bool,
    hwm_before_kib: u64,
    hwm_after_kib: u64,
    rss_after_kib: u64,
    server_cpu: Duration,
    client_cpu: Duration,
    solo: Vec<Duration>,
    solo_puts: Vec<Duration>,
    solo_completes: Vec<Duration>,
    solo_bytes: u64,
    prep: Duration,
    setup: Duration,
    disturbance: String,
}

fn load(rt: &tokio::runtime::Runtime, cli: &Cli, root: &Path, kind: &sys::FsKind, a: &Args, size: u64) -> Result<Section> {
    let world = World::start(cli, root)?;
    let (n, m) = (a.volunteers, a.bundles);
    // One more volunteer than the load uses: it uploads alone afterwards (the unloaded peer).
    let total = n + 1;
    eprintln!(
        "sync: preparing {total} volunteers in-process (store, invite, enrol, pull, {m} × submit + sealed export of {}); not timed",
        mb(size)
    );
    let t = Instant::now();
    let next = AtomicUsize::new(0);
    let ready: Mutex<Vec<Option<Volunteer>>> = Mutex::new((0..total).map(|_| None).collect());
    let workers = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let vdir = root.join("volunteers");
    fs::create_dir_all(&vdir).context("creating the volunteers' directory")?;
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= total {
                            return Ok(());
                        }
                        let v = prepare_volunteer(rt, &world, &vdir.join(format!("v{i:04}")), &format!("Volunteer {i}"), m, size)
                            .with_context(|| format!("preparing volunteer {i}"))?;
                        ready.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(v);
                        if (i + 1).is_multiple_of(25) {
                            eprintln!("sync: {} volunteers ready", i + 1);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("a preparing thread panicked"))??;
        }
        Ok(())
    })?;
    let prep = t.elapsed();
    let mut vols: Vec<Volunteer> = ready.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect();
    if vols.len() != total {
        bail!("prepared {} of {total} volunteers", vols.len());
    }
    let solo = vols.pop().context("the solo volunteer")?;
    let vols: Vec<Arc<Volunteer>> = vols.into_iter().map(Arc::new).collect();
    let bytes: u64 = vols.iter().map(|v| v.bytes).sum();

    eprintln!("sync: {n} volunteers authenticate (not timed), then upload {m} bundles each, all at once");
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for v in &vols {
            let v = Arc::clone(v);
            set.spawn(async move { warm_up(&v.transport).await });
        }
        while let Some(r) = set.join_next().await {
            r.context("a warm-up task failed")??;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    sys::settle();
    let mut others = Others::default();
    let window = others.open(&world.server);
    let hwm_before_kib = world.server.status_kib("VmHWM:").unwrap_or(0);
    let (server_cpu0, client_cpu0) = (world.server.cpu(), sys::cpu_self());
    let t = Instant::now();
    let results: Vec<(Arc<Volunteer>, Vec<Uploaded>)> = rt.block_on(async {
        let handles: Vec<_> = vols.iter().map(|v| (Arc::clone(v), tokio::spawn(upload_all(Arc::clone(v))))).collect();
        let mut out = Vec::with_capacity(handles.len());
        for (v, h) in handles {
            let r = h.await.unwrap_or_else(|e| vec![Uploaded::failed(format!("task: {e}"))]);
            out.push((v, r));
        }
        out
    });
    let wall = t.elapsed();
    let (server_cpu, client_cpu) = (world.server.cpu().saturating_sub(server_cpu0), sys::cpu_self().saturating_sub(client_cpu0));
    others.close(window, &world.server);
    let disturbance = others.describe();
    let hwm_after_kib = world.server.status_kib("VmHWM:").unwrap_or(0);
    let rss_after_kib = world.server.status_kib("VmRSS:").unwrap_or(0);

    // Nothing lost, nothing twice: receipts, then the agency's own view through the feed.
    let mut latencies = Vec::new();
    let (mut puts, mut completes) = (Vec::new(), Vec::new());
    let mut failures = Vec::new();
    let mut receipts_ok = 0usize;
    let mut distinct = std::collections::BTreeSet::new();
    for (v, ups) in &results {
        if ups.len() != m {
            failures.push(format!("volunteer {} uploaded {} of {m} bundles", v.member, ups.len()));
        }
        for u in ups {
            match &u.result {
                Ok(o) if o.outcome == "accepted" => match check_receipt(&world.public, o, u.bundle_id, v.member) {
                    Ok(()) => {
                        receipts_ok += 1;
                        distinct.insert(u.bundle_id);
                        latencies.push(u.latency);
                        puts.push(u.put);
                        completes.push(u.complete);
                    }
                    Err(e) => failures.push(format!("bundle {}: {e}", u.bundle_id)),
                },
                Ok(o) => failures.push(format!("bundle {}: outcome {}", u.bundle_id, o.outcome)),
                Err(e) => failures.push(format!("bundle {}: {e}", u.bundle_id)),
            }
        }
    }
    latencies.sort();
    puts.sort();
    completes.sort();
    eprintln!("sync: counting the submissions the agency holds (an investigator's feed)");
    let (feed_all, feed_ids) = count_submissions(rt, &world)?;
    let expected: std::collections::BTreeSet<Uuid> = vols.iter().flat_map(|v| v.submissions.iter().copied()).collect();
    let feed_expected_match = feed_ids == expected;

    eprintln!("sync: one more volunteer uploads {m} bundles alone (the unloaded latency)");
    rt.block_on(warm_up(&solo.transport))?;
    let solo_bytes = solo.bytes;
    let solo_ups = rt.block_on(upload_all(Arc::new(solo)));
    let mut solo_lat = Vec::new();
    let (mut solo_puts, mut solo_completes) = (Vec::new(), Vec::new());
    for u in &solo_ups {
        match &u.result {
            Ok(o) if o.outcome == "accepted" => {
                solo_lat.push(u.latency);
                solo_puts.push(u.put);
                solo_completes.push(u.complete);
            }
            Ok(o) => bail!("the solo volunteer's bundle {} came back {}", u.bundle_id, o.outcome),
            Err(e) => bail!("the solo volunteer's bundle {} failed: {e}", u.bundle_id),
        }
    }
    world.server.stop()?;
    let f = LoadFigures {
        volunteers: n,
        bundles: m,
        wall,
        bytes,
        latencies,
        puts,
        completes,
        failures,
        receipts_ok,
        distinct_receipts: distinct.len(),
        feed_all,
        feed_distinct: feed_ids.len(),
        feed_expected_match,
        hwm_before_kib,
        hwm_after_kib,
        rss_after_kib,
        server_cpu,
        client_cpu,
        solo: solo_lat,
        solo_puts,
        solo_completes,
        solo_bytes,
        prep,
        setup: world.setup,
        disturbance,
    };
    Ok(load_section(a, kind, size, &f))
}

/// Bytes in decimal megabytes (the "1 MB bundles").
fn mb(bytes: u64) -> String {
    format!("{:.3} MB", bytes as f64 / 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn load_section(a: &Args, kind: &sys::FsKind, size: u64, f: &LoadFigures) -> Section {
    let expected = f.volunteers * f.bundles;
    let mut s = Section::new(
        format!(
            "{} volunteers uploading {} bundles of {} each at once, on {} ({})",
            f.volunteers,
            f.bundles,
            mb(size),
            kind.name,
            a.dir.display()
        ),
        vec!["figure", "value", "peer (same run)", "target", "met?"],
    );
    s.context.push(format!(
        "The endpoint is `casebridge agency serve` in its own process, over HTTPS on 127.0.0.1; its agency directory and all stores on {}{} (each chunk is fsynced: {}). This process simulates the volunteers: one `HttpTransport` (own connection, own session) and one `Engine` each, {} tokio tasks on a {}-thread runtime; each uploads its own bundles in order (they are sequenced) with `Engine::upload`, no pause between bundles. Client and server share the machine's {} CPUs.",
        a.dir.display(),
        if kind.tmpfs { " (tmpfs)" } else { "" },
        if kind.tmpfs { "free on tmpfs" } else { "real disk writes" },
        f.volunteers,
        std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        std::thread::available_parallelism().map(usize::from).unwrap_or(1),
    ));
    s.context.push(format!(
        "Setup (not timed): the agency and investigator as in the upload scenario ({:.1} s); then {} volunteers prepared in-process ({:.1} s): store (KdfParams::INTERACTIVE), an invite through the endpoint's admin socket, `casebridge_app::enrol::enrol` (what `casebridge enrol` runs), the brief pulled from the feed, then {} × (`Store::submit` of {} of pseudo-random bytes + `casebridge_app::outbox::export_pending`, the sealed export `casebridge submit` runs). Before the clock: every volunteer authenticates and opens its connection (a one-event feed request).",
        f.setup.as_secs_f64(),
        f.volunteers + 1,
        f.prep.as_secs_f64(),
        f.bundles,
        mb(size)
    ));
    s.context.push(format!(
        "Latency per bundle: `Engine::upload` from begin to the answer of complete with the receipt (one PUT each: the bundle is {} on average). Bundles: {} in total, {}.",
        mb(f.bytes / expected.max(1) as u64),
        expected,
        mb(f.bytes)
    ));
    s.context.push(format!("Disturbance: {}.", f.disturbance));
    let bundles_ok = f.latencies.len();
    let per_s = bundles_ok as f64 / f.wall.as_secs_f64().max(1e-9);
    let p50 = percentile(&f.latencies, 0.50);
    let p99 = percentile(&f.latencies, 0.99);
    let max = f.latencies.last().copied().unwrap_or_default();
    let mut solo = f.solo.clone();
    solo.sort();
    let solo_p50 = percentile(&solo, 0.5);
    let solo_line = format!(
        "one volunteer alone afterwards: {} bundles, median {}, max {}",
        solo.len(),
        ms(solo_p50),
        ms(solo.last().copied().unwrap_or_default())
    );
    s.row(vec![
        "wall time, first begin → last receipt".into(),
        format!("{:.2} s", f.wall.as_secs_f64()),
        "–".into(),
        "–".into(),
        "–".into(),
    ]);
    s.row(vec![
        "throughput".into(),
        format!("{per_s:.1} bundles/s, {:.1} MB/s", mb_per_s(f.bytes, f.wall)),
        format!(
            "alone: {:.1} bundles/s, {:.1} MB/s",
            solo.len() as f64 / solo.iter().sum::<Duration>().as_secs_f64().max(1e-9),
            mb_per_s(f.solo_bytes, solo.iter().sum())
        ),
        "–".into(),
        "–".into(),
    ]);
    s.row(vec!["latency p50".into(), ms(p50), solo_line.clone(), "–".into(), "–".into()]);
    s.row(vec![
        "latency p99".into(),
        ms(p99),
        solo_line,
        "< 250 ms".into(),
        if p99 < Duration::from_millis(250) {
            "**met**".into()
        } else {
            format!("**MISSED** ({:.1}x the target)", p99.as_secs_f64() / 0.25)
        },
    ]);
    s.row(vec!["latency max".into(), ms(max), "–".into(), "–".into(), "–".into()]);
    let part = |v: &[Duration]| format!("p50 {}, p99 {}", ms(percentile(v, 0.5)), ms(percentile(v, 0.99)));
    let solo_part = |v: &[Duration]| format!("alone: median {}", ms(median(v)));
    s.row(vec!["  of which the PUT".into(), part(&f.puts), solo_part(&f.solo_puts), "–".into(), "–".into()]);
    s.row(vec![
        "  of which complete (verify + open into the agency store)".into(),
        part(&f.completes),
        solo_part(&f.solo_completes),
        "–".into(),
        "–".into(),
    ]);
    s.row(vec![
        "endpoint peak RSS (VmHWM)".into(),
        format!("{:.1} MiB (VmRSS at the end {:.1} MiB)", f.hwm_after_kib as f64 / 1024.0, f.rss_after_kib as f64 / 1024.0),
        format!("before the clock (after enrolling {}): {:.1} MiB", f.volunteers + 1, f.hwm_before_kib as f64 / 1024.0),
        "–".into(),
        "–".into(),
    ]);
    s.row(vec![
        "CPU during the timed phase".into(),
        format!("endpoint {:.1} s, volunteers' process {:.1} s", f.server_cpu.as_secs_f64(), f.client_cpu.as_secs_f64()),
        format!(
            "available: {:.1} s ({} CPUs × wall)",
            f.wall.as_secs_f64() * std::thread::available_parallelism().map(usize::from).unwrap_or(1) as f64,
            std::thread::available_parallelism().map(usize::from).unwrap_or(1)
        ),
        "–".into(),
        "–".into(),
    ]);
    let lost = expected.saturating_sub(f.feed_distinct);
    let dup = f.feed_all.saturating_sub(f.feed_distinct);
    let intact = f.failures.is_empty()
        && f.receipts_ok == expected
        && f.distinct_receipts == expected
        && f.feed_all == expected
        && f.feed_expected_match;
    s.row(vec![
        "lost / duplicated".into(),
        format!(
            "{lost} / {dup}: {} receipts verified, {} distinct bundles, all \"accepted\"; the investigator's feed holds {} submissions, {} distinct, {} the volunteers made",
            f.receipts_ok,
            f.distinct_receipts,
            f.feed_all,
            f.feed_distinct,
            if f.feed_expected_match { "exactly" } else { "NOT" }
        ),
        "–".into(),
        format!("0 / 0, {expected} held"),
        if intact { "**met**".into() } else { "**MISSED**".into() },
    ]);
    for e in f.failures.iter().take(5) {
        s.verdicts.push(format!("Failure: {e}"));
    }
    if f.failures.len() > 5 {
        s.verdicts.push(format!("… and {} more failures.", f.failures.len() - 5));
    }
    s.verdicts.push(format!(
        "Little's law: {} volunteers always waiting on an upload at {per_s:.1} bundles/s means a mean latency of about {:.0} ms ({} / {per_s:.1}); the p99 target of 250 ms at this concurrency needs about {:.0} bundles/s.",
        f.volunteers,
        f.volunteers as f64 / per_s.max(1e-9) * 1000.0,
        f.volunteers,
        f.volunteers as f64 / 0.25
    ));
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&v, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&v[..1], 0.99), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn stat_cpu_reads_utime_and_stime_past_the_command_name() {
        let line = "4242 (casebridge (x) y) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 25 0 0 20 0 3 0 100 1000 200";
        assert_eq!(stat_cpu(line), Some(Duration::from_millis(1750)));
        assert_eq!(stat_cpu("garbage"), None);
    }
}
