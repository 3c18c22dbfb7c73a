//! `casebridge demo --dir DIR`: a complete, local Casebridge world to look at.
//!
//! The first run creates, under `DIR`:
//!
//! | path | what |
//! | --- | --- |
//! | `agency/` | an agency directory ("Demo Police Berlin") and its endpoint's store |
//! | `investigator/` | a profile store: Det. Insp. Vera Brandt, enrolled at the agency |
//! | `volunteer/` | a profile store: Mila Jansen, enrolled at the agency |
//! | `photos/` | the generated sample photos (JPEG with EXIF capture time and GPS) |
//! | `demo.json` | the [`Manifest`]: endpoint, passphrase, paths; written last |
//!
//! and plays the whole loop through the same code the CLI and the desktop app run
//! (`casebridge_app`): the endpoint is started in-process on 127.0.0.1, both profiles enrol
//! with invite codes, the investigator opens three cases (notes, tags, imported photos) and
//! publishes two briefs (area, time window, every volunteer), the volunteer syncs and submits
//! four times, the investigator syncs and accepts one submission, rejects one, asks for
//! information on one and leaves one pending, and both sync again, so the volunteer holds
//! verified receipts and sees the decisions.
//!
//! Then it serves the endpoint in the foreground until Ctrl-C or SIGTERM (unless
//! `--no-serve`). A later run on the same `DIR` creates nothing: it serves again, on the same
//! address (the profiles pinned it). Every store uses the production KDF and the one demo
//! passphrase [`DEMO_PASSPHRASE`]; the demo is for looking at Casebridge, not for real cases.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use casebridge_agency::{admin, ServeConfig};
use casebridge_app::import::{import_files, Checked};
use casebridge_app::{BriefInput, GeoPoint, ReviewDecision, Role, Session, SubmitInput};
use casebridge_core::exif_write::{ascii, dms, ifd, long, rationals, splice_exif, tiff};
use casebridge_core::{EvidenceOptions, KdfParams, Passphrase};
use casebridge_protocol::{InviteRequest, InviteResponse};
use casebridge_trust::Agency;
use chrono::{DateTime, Duration, FixedOffset, Offset as _, Utc};
use clap::Args;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{io_reason, CliError, Result};

/// The passphrase of the demo's agency and both profiles (printed; for the demo only).
pub const DEMO_PASSPHRASE: &str = "demo-passphrase-1";
/// The manifest inside the demo directory; its presence marks a complete demo.
pub const MANIFEST_FILE: &str = "demo.json";
/// Written first, so an unfinished setup is told apart from a directory that is not a demo.
const MARKER_FILE: &str = ".casebridge-demo";
/// The manifest's format version.
const MANIFEST_VERSION: u32 = 1;
/// The agency's name.
const AGENCY_NAME: &str = "Demo Police Berlin";
/// The investigator's name.
const INVESTIGATOR: &str = "Det. Insp. Vera Brandt";
/// The volunteer's name.
const VOLUNTEER: &str = "Mila Jansen";

/// Arguments of `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The demo directory: created the first time (it must be new or empty), reused afterwards
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Address the demo endpoint listens on [default: a free port on 127.0.0.1 the first
    /// time, the same address on later runs (the profiles are enrolled at it)]
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Set the demo up (when it is not yet) and exit without serving
    #[arg(long)]
    pub no_serve: bool,
    /// Print the manifest as JSON (once the demo is ready) instead of text
    #[arg(long)]
    pub json: bool,
}

/// What a demo holds, counted when it was made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Cases of the investigator.
    pub cases: usize,
    /// Briefs published.
    pub briefs: usize,
    /// Photos imported by the investigator.
    pub evidence: usize,
    /// Submissions by the volunteer.
    pub submissions: usize,
    /// Of those, accepted.
    pub accepted: usize,
    /// Rejected.
    pub rejected: usize,
    /// Information requested.
    pub info_requested: usize,
    /// Not decided yet.
    pub pending: usize,
    /// Receipts the volunteer holds.
    pub receipts: usize,
}

/// `DIR/demo.json`: where everything is, for people and scripts. `serving` and `pid` say
/// whether (and which process) serves the endpoint now; scripts wait for `serving` with their
/// child's pid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// `https://127.0.0.1:PORT`, the address the profiles are enrolled at.
    pub endpoint: String,
    /// The address the endpoint listens on.
    pub listen: SocketAddr,
    /// The passphrase of the agency and both profiles.
    pub passphrase: String,
    /// The agency directory.
    pub agency: PathBuf,
    /// The investigator's store directory.
    pub investigator: PathBuf,
    /// The volunteer's store directory.
    pub volunteer: PathBuf,
    /// The sample photos.
    pub photos: PathBuf,
    /// When the demo was made.
    pub created_at: DateTime<Utc>,
    /// What it holds.
    pub summary: Summary,
    /// True while a `casebridge demo` process serves the endpoint.
    pub serving: bool,
    /// That process.
    pub pid: Option<u32>,
}

/// Runs `demo`.
pub fn run(a: &DemoArgs, out: &mut dyn Write) -> Result<()> {
    let dir = prepare_dir(&a.dir)?;
    let mut manifest = match read_manifest(&dir)? {
        Some(m) => {
            if let Some(l) = a.listen {
                if l != m.listen {
                    return Err(CliError::Usage(format!(
                        "invalid --listen {l}: the demo in {} is enrolled at {}; leave --listen out to serve there",
                        dir.display(),
                        m.endpoint
                    )));
                }
            }
            if !a.json {
                writeln!(out, "using the demo in {} (made {})", dir.display(), crate::output::time(&m.created_at.fixed_offset()))?;
            }
            m
        }
        None => {
            if !a.json {
                writeln!(out, "creating a demo in {} (takes a few seconds)", dir.display())?;
                out.flush()?;
            }
            let listen = a.listen.unwrap_or(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0));
            create(&dir, listen, KdfParams::INTERACTIVE).map_err(|e| {
                CliError::Usage(format!(
                    "the demo could not be created: {e}; remove {} and run `casebridge demo --dir {}` again",
                    dir.display(),
                    dir.display()
                ))
            })?
        }
    };
    if a.no_serve {
        return report(a.json, &manifest, false, out);
    }
    init_logging();
    let rt = crate::endpoint::runtime()?;
    rt.block_on(async {
        let pass = Passphrase::new(manifest.passphrase.clone());
        let server = casebridge_agency::serve(ServeConfig::new(&manifest.agency, manifest.listen, pass))
            .await
            .map_err(|e| CliError::Sync(format!("the demo endpoint could not start on {}: {e}", manifest.listen)))?;
        let signal = stop_signal()?;
        let stop = server.shutdown_handle();
        tokio::spawn(async move {
            signal.await;
            stop.shutdown();
        });
        manifest.serving = true;
        manifest.pid = Some(std::process::id());
        write_manifest(&dir, &manifest)?;
        report(a.json, &manifest, true, out)?;
        out.flush()?;
        let served = server.wait().await.map_err(|e| CliError::Sync(e.to_string()));
        manifest.serving = false;
        manifest.pid = None;
        write_manifest(&dir, &manifest)?;
        served?;
        if !a.json {
            writeln!(out, "demo endpoint stopped")?;
        }
        Ok(())
    })
}

/// Checks `dir` and creates it when new; returns it absolute. A directory holding an
/// unfinished setup, or anything that is not a demo, is refused.
fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err(CliError::Usage(format!("{} is not a directory; give a new or empty directory for the demo", dir.display())))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_private_dir(dir)?,
        Err(e) => return Err(CliError::ReadFile { path: dir.to_path_buf(), reason: io_reason(&e) }),
    }
    let dir = std::fs::canonicalize(dir).map_err(|e| CliError::ReadFile { path: dir.to_path_buf(), reason: io_reason(&e) })?;
    if dir.join(MANIFEST_FILE).exists() {
        return Ok(dir);
    }
    if dir.join(MARKER_FILE).exists() {
        return Err(CliError::Usage(format!(
            "an earlier demo setup in {} did not finish; remove the directory and run `casebridge demo` again",
            dir.display()
        )));
    }
    let mut entries = std::fs::read_dir(&dir).map_err(|e| CliError::ReadFile { path: dir.clone(), reason: io_reason(&e) })?;
    if entries.next().is_some() {
        return Err(CliError::Usage(format!(
            "{} is not empty and holds no Casebridge demo (no {MANIFEST_FILE}); give a new or empty directory",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Creates a directory only its owner can enter (it holds the demo's keys).
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(|e| CliError::WriteFile { path: dir.to_path_buf(), reason: io_reason(&e) })
}

fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::ReadFile { path, reason: io_reason(&e) }),
    };
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| CliError::ReadFile { path: path.clone(), reason: format!("it is not a demo manifest ({e})") })?;
    if m.version != MANIFEST_VERSION {
        return Err(CliError::ReadFile { path, reason: format!("manifest version {} is not supported; make a new demo", m.version) });
    }
    // The paths inside are where the demo was made; the directory may have moved since.
    Ok(Some(Manifest {
        agency: dir.join("agency"),
        investigator: dir.join("investigator"),
        volunteer: dir.join("volunteer"),
        photos: dir.join("photos"),
        ..m
    }))
}

/// Writes the manifest atomically (a temp file renamed into place).
fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let path = dir.join(MANIFEST_FILE);
    let tmp = dir.join(format!(".{MANIFEST_FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(m).map_err(std::io::Error::from)?;
    std::fs::write(&tmp, bytes).map_err(|e| CliError::WriteFile { path: tmp.clone(), reason: io_reason(&e) })?;
    std::fs::rename(&tmp, &path).map_err(|e| CliError::WriteFile { path, reason: io_reason(&e) })
}

/// Prints what the demo holds and how to open it (or the manifest, with `--json`).
fn report(json: bool, m: &Manifest, serving: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        return crate::output::json(out, m);
    }
    let s = &m.summary;
    writeln!(out, "agency        {AGENCY_NAME}: {}", m.agency.display())?;
    writeln!(out, "investigator  {INVESTIGATOR}: {}", m.investigator.display())?;
    writeln!(out, "volunteer     {VOLUNTEER}: {}", m.volunteer.display())?;
    writeln!(
        out,
        "content       {} cases, {} photos, {} briefs, {} submissions ({} accepted, {} rejected, {} info requested, {} pending), {} receipts",
        s.cases, s.evidence, s.briefs, s.submissions, s.accepted, s.rejected, s.info_requested, s.pending, s.receipts
    )?;
    writeln!(out, "passphrase    {} (the agency and both profiles; a demo only)", m.passphrase)?;
    let desktop = std::env::current_exe()
        .ok()
        .map(|p| p.with_file_name("casebridge-desktop"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("target/release/casebridge-desktop"));
    writeln!(out, "desktop app   CASEBRIDGE_STORE={} {}", m.investigator.display(), desktop.display())?;
    writeln!(out, "              CASEBRIDGE_STORE={} {}", m.volunteer.display(), desktop.display())?;
    writeln!(out, "command line  CASEBRIDGE_PASSPHRASE={} casebridge --store {} review list", m.passphrase, m.investigator.display())?;
    if serving {
        writeln!(out, "demo ready: endpoint {} (Ctrl-C stops it)", m.endpoint)?;
    } else {
        writeln!(out, "demo set up: endpoint {} (not serving; run `casebridge demo --dir DIR` to serve it)", m.endpoint)?;
    }
    Ok(())
}

// ----- creating the demo --------------------------------------------------------------------------

/// Creates the demo in the empty directory `dir` with the endpoint listening on `listen`
/// during the setup (a port 0 is replaced by the port chosen), and writes the manifest. The
/// endpoint is stopped again before this returns, and every store is closed.
fn create(dir: &Path, listen: SocketAddr, kdf: KdfParams) -> Result<Manifest> {
    std::fs::write(dir.join(MARKER_FILE), b"a Casebridge demo directory (casebridge demo)\n")
        .map_err(|e| CliError::WriteFile { path: dir.join(MARKER_FILE), reason: io_reason(&e) })?;
    let pass = Passphrase::new(DEMO_PASSPHRASE);
    let agency_dir = dir.join("agency");
    drop(Agency::init(&agency_dir, AGENCY_NAME, &pass, kdf)?);
    let photos = write_photos(&dir.join("photos"))?;

    let rt = crate::endpoint::runtime()?;
    let mut config = ServeConfig::new(&agency_dir, listen, pass);
    config.kdf = kdf;
    let server = rt.block_on(casebridge_agency::serve(config)).map_err(|e| CliError::Sync(e.to_string()))?;
    let bound = server.local_addr();
    let endpoint = server.url().to_string();

    let result = populate(&rt, dir, &agency_dir, &photos, kdf);
    let stopped = rt.block_on(server.shutdown()).map_err(|e| CliError::Sync(e.to_string()));
    let summary = result?;
    stopped?;

    let m = Manifest {
        version: MANIFEST_VERSION,
        endpoint,
        listen: bound,
        passphrase: DEMO_PASSPHRASE.into(),
        agency: agency_dir,
        investigator: dir.join("investigator"),
        volunteer: dir.join("volunteer"),
        photos: dir.join("photos"),
        created_at: Utc::now(),
        summary,
        serving: false,
        pid: None,
    };
    write_manifest(dir, &m)?;
    Ok(m)
}

/// Invites a member through the running endpoint's admin socket; returns the code.
fn invite(rt: &tokio::runtime::Runtime, agency: &Path, role: casebridge_protocol::Role, name: &str) -> Result<String> {
    let req = InviteRequest {
        role,
        name: name.into(),
        expires_in_secs: 3600,
        url: None,
        valid_for_secs: Some(365 * 86_400),
        member: None,
        old_keys: None,
    };
    let body = serde_json::to_value(&req).map_err(|e| CliError::Sync(e.to_string()))?;
    let answer = rt
        .block_on(admin::call(agency, "POST", "/admin/invite", Some(body)))
        .map_err(|e| CliError::Sync(e.to_string()))?
        .ok_or_else(|| CliError::Sync("the demo endpoint's admin socket did not answer".into()))?;
    let resp: InviteResponse =
        serde_json::from_value(answer).map_err(|e| CliError::Sync(format!("the endpoint answered an unexpected invite: {e}")))?;
    Ok(resp.code)
}

/// One sync round of a profile.
fn sync(rt: &tokio::runtime::Runtime, s: &Session) -> Result<casebridge_app::RoundReport> {
    Ok(rt.block_on(casebridge_app::sync::round(s.store(), s.dir(), Arc::new(AtomicBool::new(false)), &mut |_| {}))?)
}

/// The photos of the demo, by name.
struct Photos(Vec<(String, PathBuf)>);

impl Photos {
    fn get(&self, name: &str) -> Result<PathBuf> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| CliError::Usage(format!("internal: no demo photo named {name}")))
    }
}

fn rfc3339(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Berlin's offset (winter time) as the sample data gives it.
fn berlin() -> FixedOffset {
    FixedOffset::east_opt(3600).unwrap_or_else(|| Utc.fix())
}

/// Everything the investigator and the volunteer do; returns the counts.
fn populate(rt: &tokio::runtime::Runtime, dir: &Path, agency: &Path, photos: &Photos, kdf: KdfParams) -> Result<Summary> {
    let inv = Session::new(dir.join("investigator")).with_kdf(kdf);
    inv.profile_create(INVESTIGATOR, Role::Investigator, DEMO_PASSPHRASE.into())?;
    let vol = Session::new(dir.join("volunteer")).with_kdf(kdf);
    vol.profile_create(VOLUNTEER, Role::Volunteer, DEMO_PASSPHRASE.into())?;
    let result = play(rt, agency, photos, &inv, &vol);
    // The stores are closed either way, so the desktop app can open them.
    inv.lock();
    vol.lock();
    result
}

fn play(rt: &tokio::runtime::Runtime, agency: &Path, photos: &Photos, inv: &Session, vol: &Session) -> Result<Summary> {
    use casebridge_protocol::Role as Wire;
    let code = invite(rt, agency, Wire::Investigator, INVESTIGATOR)?;
    rt.block_on(casebridge_app::enrol::enrol(inv.store(), &code))?;
    let code = invite(rt, agency, Wire::Volunteer, VOLUNTEER)?;
    rt.block_on(casebridge_app::enrol::enrol(vol.store(), &code))?;

    // The investigator's cases.
    let bikes = inv.case_create(
        "Bicycle thefts at Alexanderplatz",
        Some("A series of bicycle thefts from the racks around Alexanderplatz station, mostly in the evening.".into()),
        Some("BER-2026-000123".into()),
        vec!["bicycle".into(), "theft".into(), "mitte".into()],
    )?;
    inv.note_add(&bikes, "Station staff report a white van parked on Dircksenstrasse on two of the evenings.")?;
    inv.note_add(&bikes, "Two of the stolen bicycles were red cargo bikes; owners' statements are in the file.")?;
    let hit = inv.case_create(
        "Hit-and-run on Friedrichstrasse",
        Some("A cyclist was struck at the Friedrichstrasse / Leipziger Strasse crossing; the car drove off north.".into()),
        Some("BER-2026-000187".into()),
        vec!["traffic".into(), "hit-and-run".into()],
    )?;
    inv.note_add(&hit, "Witness: a dark estate car, partial plate B-K..., slight damage on the front right.")?;
    let graffiti = inv.case_create(
        "Graffiti at Rosenthaler Platz station",
        Some("Repeated graffiti on the U8 platform walls; the transit operator asked for help.".into()),
        Some("BER-2026-000201".into()),
        vec!["vandalism".into()],
    )?;
    inv.note_add(&graffiti, "Cleaning log from the operator requested.")?;

    let mut evidence = 0;
    for (case, names) in
        [(&bikes, vec!["cctv-rack-west", "cctv-rack-east"]), (&hit, vec!["crossing-overview"]), (&graffiti, vec!["platform-wall"])]
    {
        let case: Uuid = case.parse().map_err(|_| CliError::Usage(format!("internal: case id {case} is not a UUID")))?;
        let files = Checked::new(names.iter().map(|n| photos.get(n)).collect::<Result<_>>()?)?;
        let opts = EvidenceOptions { description: Some("Photo taken by the investigating officer".into()), ..Default::default() };
        evidence += import_files(inv.store(), case, &files, &opts, &AtomicBool::new(false), &mut |_| {})?.len();
    }

    // Briefs: where and when, for every volunteer of the agency.
    let now = Utc::now().with_timezone(&berlin());
    let bikes_brief = inv.brief_publish(BriefInput {
        case_id: bikes.clone(),
        title: "Bicycle racks at Alexanderplatz: photos from last week".into(),
        body: "Did you take photos near the bicycle racks around Alexanderplatz station in the evenings of the last ten days? \
               We are looking for a white van and for people carrying bolt cutters."
            .into(),
        area: Some(casebridge_app::Area { lat: 52.5219, lon: 13.4132, radius_m: 600.0 }),
        from: Some(rfc3339(now - Duration::days(10))),
        until: Some(rfc3339(now - Duration::hours(1))),
        audience: vec!["all".into()],
    })?;
    let hit_brief = inv.brief_publish(BriefInput {
        case_id: hit.clone(),
        title: "Hit-and-run on Friedrichstrasse: dashcam or phone footage".into(),
        body: "A cyclist was struck at the Friedrichstrasse / Leipziger Strasse crossing. Photos or video of a dark estate car \
               around that time help us."
            .into(),
        area: Some(casebridge_app::Area { lat: 52.5097, lon: 13.3889, radius_m: 400.0 }),
        from: Some(rfc3339(now - Duration::days(6))),
        until: Some(rfc3339(now - Duration::days(4))),
        audience: vec!["all".into()],
    })?;
    sync(rt, inv)?;

    // The volunteer: fetch the briefs, answer them, send.
    sync(rt, vol)?;
    vol.accept_conduct()?;
    let submit = |brief: &str, names: &[&str], description: &str| -> Result<String> {
        let paths = names.iter().map(|n| photos.get(n)).collect::<Result<Vec<_>>>()?;
        let s = vol.submit(SubmitInput {
            brief_id: brief.into(),
            paths,
            description: Some(description.into()),
            captured_at: None,
            location: None::<GeoPoint>,
        })?;
        Ok(s.id.to_string())
    };
    let s_accept =
        submit(&bikes_brief, &["bike-rack-evening", "white-van"], "The racks by the World Clock, and a white van that waited there.")?;
    let s_reject = submit(&bikes_brief, &["tram-stop"], "A man with a large bag at the tram stop.")?;
    let s_info = submit(&hit_brief, &["dark-car"], "A dark car driving off fast, north on Friedrichstrasse.")?;
    let s_pending = submit(&hit_brief, &["crossing-after"], "The crossing a few minutes later.")?;
    sync(rt, vol)?;

    // The investigator reviews.
    sync(rt, inv)?;
    inv.review_decide(&s_accept, ReviewDecision::Accepted, &[], None)?;
    inv.review_decide(
        &s_reject,
        ReviewDecision::Rejected,
        &[],
        Some("The photo shows the tram stop, outside the area of the brief.".into()),
    )?;
    inv.review_decide(
        &s_info,
        ReviewDecision::InfoRequested,
        &[],
        Some("Can you tell us the time more exactly, and did you see the number plate?".into()),
    )?;
    sync(rt, inv)?;
    sync(rt, vol)?;

    let subs = inv.submissions_list()?;
    let count = |state: &str| subs.iter().filter(|s| s.state.as_str() == state).count();
    let pending_ok = subs.iter().any(|s| s.id.to_string() == s_pending && s.state == casebridge_core::ReviewState::Pending);
    if !pending_ok {
        return Err(CliError::Usage("internal: the pending demo submission is missing".into()));
    }
    Ok(Summary {
        cases: inv.cases_list(None, None, casebridge_app::CaseSort::Updated)?.len(),
        briefs: inv.briefs_list(false)?.len(),
        evidence,
        submissions: subs.len(),
        accepted: count("accepted"),
        rejected: count("rejected"),
        info_requested: count("info_requested"),
        pending: count("pending"),
        receipts: vol.receipts_list()?.len(),
    })
}

// ----- the endpoint in the foreground ---------------------------------------------------------------

/// Ctrl-C or SIGTERM, listened for from the moment this is called (so a signal that comes
/// right after "demo ready" is not missed).
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let listen = |kind| signal(kind).map_err(|e| CliError::Sync(format!("cannot listen for Ctrl-C and SIGTERM: {e}")));
    let mut term = listen(SignalKind::terminate())?;
    let mut int = listen(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// The endpoint's logs go to stderr at `warn` unless `CASEBRIDGE_LOG` says otherwise.
fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("CASEBRIDGE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).with_ansi(ansi).try_init();
}

// ----- sample photos ------------------------------------------------------------------------------------

/// What a sample photo shows.
#[derive(Clone, Copy)]
enum Subject {
    Bike,
    Van,
    Car,
    Street,
    Wall,
}

/// One sample photo: name, subject, colours, when (days and hours before now) and where.
struct Spec {
    name: &'static str,
    subject: Subject,
    sky: [u8; 3],
    ground: [u8; 3],
    accent: [u8; 3],
    days_ago: i64,
    hour: u32,
    lat: f64,
    lon: f64,
}

const SPECS: [Spec; 9] = [
    Spec {
        name: "cctv-rack-west",
        subject: Subject::Bike,
        sky: [70, 80, 110],
        ground: [90, 90, 95],
        accent: [200, 40, 40],
        days_ago: 8,
        hour: 19,
        lat: 52.5215,
        lon: 13.4105,
    },
    Spec {
        name: "cctv-rack-east",
        subject: Subject::Bike,
        sky: [60, 70, 100],
        ground: [85, 85, 90],
        accent: [40, 90, 200],
        days_ago: 5,
        hour: 20,
        lat: 52.5222,
        lon: 13.4150,
    },
    Spec {
        name: "crossing-overview",
        subject: Subject::Street,
        sky: [150, 180, 220],
        ground: [110, 110, 110],
        accent: [240, 240, 240],
        days_ago: 4,
        hour: 11,
        lat: 52.5097,
        lon: 13.3889,
    },
    Spec {
        name: "platform-wall",
        subject: Subject::Wall,
        sky: [200, 190, 160],
        ground: [120, 110, 100],
        accent: [230, 60, 160],
        days_ago: 3,
        hour: 9,
        lat: 52.5298,
        lon: 13.4013,
    },
    Spec {
        name: "bike-rack-evening",
        subject: Subject::Bike,
        sky: [250, 150, 80],
        ground: [100, 95, 90],
        accent: [200, 30, 30],
        days_ago: 6,
        hour: 19,
        lat: 52.5212,
        lon: 13.4128,
    },
    Spec {
        name: "white-van",
        subject: Subject::Van,
        sky: [240, 140, 90],
        ground: [95, 95, 95],
        accent: [245, 245, 245],
        days_ago: 6,
        hour: 19,
        lat: 52.5225,
        lon: 13.4139,
    },
    Spec {
        name: "tram-stop",
        subject: Subject::Street,
        sky: [120, 150, 190],
        ground: [100, 100, 100],
        accent: [250, 210, 40],
        days_ago: 3,
        hour: 18,
        lat: 52.5238,
        lon: 13.4030,
    },
    Spec {
        name: "dark-car",
        subject: Subject::Car,
        sky: [170, 200, 230],
        ground: [105, 105, 105],
        accent: [30, 35, 45],
        days_ago: 5,
        hour: 8,
        lat: 52.5101,
        lon: 13.3891,
    },
    Spec {
        name: "crossing-after",
        subject: Subject::Street,
        sky: [180, 205, 235],
        ground: [110, 110, 110],
        accent: [240, 240, 240],
        days_ago: 5,
        hour: 8,
        lat: 52.5095,
        lon: 13.3886,
    },
];

const W: u32 = 640;
const H: u32 = 420;

/// Writes every sample photo into `dir`.
fn write_photos(dir: &Path) -> Result<Photos> {
    create_private_dir(dir)?;
    let now = Utc::now().with_timezone(&berlin());
    let mut out = Vec::new();
    for (i, spec) in SPECS.iter().enumerate() {
        let day = (now - Duration::days(spec.days_ago)).date_naive();
        let local = day.and_hms_opt(spec.hour, (i as u32 * 7) % 60, 12).unwrap_or_default();
        let taken = local.format("%Y:%m:%d %H:%M:%S").to_string();
        let offset = berlin().to_string();
        let bytes = photo(spec, i + 1, &taken, &offset)?;
        let path = dir.join(format!("{}.jpg", spec.name));
        std::fs::write(&path, bytes).map_err(|e| CliError::WriteFile { path: path.clone(), reason: io_reason(&e) })?;
        out.push((spec.name.to_string(), path));
    }
    Ok(Photos(out))
}

/// A sample photo: a drawn scene with its number in the corner, as JPEG with EXIF.
fn photo(spec: &Spec, number: usize, taken: &str, offset: &str) -> Result<Vec<u8>> {
    let img = scene(spec, number);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&img)
        .map_err(|e| CliError::Usage(format!("internal: the demo photo could not be encoded: {e}")))?;
    let tiff = exif_tiff(taken, offset, spec.lat, spec.lon);
    splice_exif(&jpeg, &tiff).ok_or_else(|| CliError::Usage("internal: the demo photo is not a JPEG or its EXIF is too large".into()))
}

fn scene(spec: &Spec, number: usize) -> image::RgbImage {
    let mut img = image::RgbImage::from_fn(W, H, |_, y| {
        let horizon = H * 3 / 5;
        if y < horizon {
            let k = y as f32 / horizon as f32;
            image::Rgb(spec.sky.map(|c| (f32::from(c) * (1.0 - 0.35 * k)) as u8))
        } else {
            image::Rgb(spec.ground)
        }
    });
    // Buildings on the horizon.
    for (i, x) in (0..W).step_by(80).enumerate() {
        let h = 60 + ((i as u32 * 37 + number as u32 * 13) % 90);
        let shade = 60 + ((i as u32 * 23) % 50) as u8;
        rect(&mut img, x + 4, H * 3 / 5 - h, 72, h, [shade, shade, shade.saturating_add(10)]);
    }
    let a = spec.accent;
    let dark = [25, 25, 30];
    match spec.subject {
        Subject::Bike => {
            for k in 0..3u32 {
                let x = 120 + k * 150;
                ring(&mut img, x, 330, 38, 6, dark);
                ring(&mut img, x + 95, 330, 38, 6, dark);
                line(&mut img, (x, 330), (x + 45, 280), 6, a);
                line(&mut img, (x + 45, 280), (x + 95, 330), 6, a);
                line(&mut img, (x + 45, 280), (x + 80, 275), 6, a);
            }
            rect(&mut img, 60, 360, 520, 8, [160, 160, 165]);
        }
        Subject::Van => {
            rect(&mut img, 150, 230, 300, 120, a);
            rect(&mut img, 450, 270, 70, 80, a);
            rect(&mut img, 460, 280, 45, 35, [120, 160, 190]);
            disc(&mut img, 220, 355, 30, dark);
            disc(&mut img, 440, 355, 30, dark);
        }
        Subject::Car => {
            rect(&mut img, 160, 280, 330, 60, a);
            rect(&mut img, 220, 240, 200, 45, a);
            rect(&mut img, 235, 250, 80, 30, [120, 150, 180]);
            rect(&mut img, 325, 250, 80, 30, [120, 150, 180]);
            disc(&mut img, 230, 345, 28, dark);
            disc(&mut img, 420, 345, 28, dark);
        }
        Subject::Street => {
            for k in 0..8u32 {
                rect(&mut img, 40 + k * 72, 320, 44, 70, a);
            }
            rect(&mut img, 0, 300, W, 6, [60, 60, 60]);
        }
        Subject::Wall => {
            rect(&mut img, 0, 60, W, 300, [215, 205, 185]);
            for k in 0..6u32 {
                line(&mut img, (60 + k * 90, 300), (110 + k * 90, 120), 10, a);
                ring(&mut img, 100 + k * 90, 200, 24, 5, [40, 40, 160]);
            }
        }
    }
    // The photo's number, large, on a white card in the top left corner.
    rect(&mut img, 16, 16, 112, 96, [250, 250, 250]);
    let digits = number.to_string();
    for (i, d) in digits.bytes().enumerate() {
        seven_segment(&mut img, 30 + i as u32 * 46, 28, d.wrapping_sub(b'0'), [20, 20, 20]);
    }
    img
}

fn put(img: &mut image::RgbImage, x: u32, y: u32, c: [u8; 3]) {
    if x < img.width() && y < img.height() {
        img.put_pixel(x, y, image::Rgb(c));
    }
}

fn rect(img: &mut image::RgbImage, x: u32, y: u32, w: u32, h: u32, c: [u8; 3]) {
    for yy in y..y.saturating_add(h) {
        for xx in x..x.saturating_add(w) {
            put(img, xx, yy, c);
        }
    }
}

fn disc(img: &mut image::RgbImage, cx: u32, cy: u32, r: u32, c: [u8; 3]) {
    ring(img, cx, cy, r, r, c);
}

fn ring(img: &mut image::RgbImage, cx: u32, cy: u32, r: u32, thick: u32, c: [u8; 3]) {
    let (cx, cy, r, inner) = (i64::from(cx), i64::from(cy), i64::from(r), i64::from(r.saturating_sub(thick)));
    for y in (cy - r).max(0)..=cy + r {
        for x in (cx - r).max(0)..=cx + r {
            let d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
            if d <= r * r && d >= inner * inner {
                put(img, x as u32, y as u32, c);
            }
        }
    }
}

fn line(img: &mut image::RgbImage, (x0, y0): (u32, u32), (x1, y1): (u32, u32), thick: u32, c: [u8; 3]) {
    let (x0, y0, x1, y1) = (f64::from(x0), f64::from(y0), f64::from(x1), f64::from(y1));
    let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as u32).max(1);
    for i in 0..=steps {
        let t = f64::from(i) / f64::from(steps);
        let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
        let half = thick / 2;
        rect(img, (x as u32).saturating_sub(half), (y as u32).saturating_sub(half), thick, thick, c);
    }
}

/// One digit as seven segments, 36 by 70 pixels, top left at (x, y).
fn seven_segment(img: &mut image::RgbImage, x: u32, y: u32, digit: u8, c: [u8; 3]) {
    // Segments a..g as bits 0..6.
    const MASKS: [u8; 10] = [0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F];
    let Some(mask) = MASKS.get(usize::from(digit)) else { return };
    let (w, h, t) = (36, 70, 8);
    let seg = [
        (x, y, w, t),                     // a
        (x + w - t, y, t, h / 2),         // b
        (x + w - t, y + h / 2, t, h / 2), // c
        (x, y + h - t, w, t),             // d
        (x, y + h / 2, t, h / 2),         // e
        (x, y, t, h / 2),                 // f
        (x, y + h / 2 - t / 2, w, t),     // g
    ];
    for (i, (sx, sy, sw, sh)) in seg.into_iter().enumerate() {
        if mask & (1 << i) != 0 {
            rect(img, sx, sy, sw, sh, c);
        }
    }
}

// ----- EXIF -----------------------------------------------------------------------------------------------

/// A little-endian TIFF block: Make and Model; DateTimeOriginal and OffsetTimeOriginal; GPS.
fn exif_tiff(taken: &str, offset: &str, lat: f64, lon: f64) -> Vec<u8> {
    let ifd0 = |exif_at: u32, gps_at: u32| {
        vec![ascii(0x010F, "Casebridge"), ascii(0x0110, "Demo Camera"), long(0x8769, exif_at), long(0x8825, gps_at)]
    };
    let exif = || vec![ascii(0x9003, taken), ascii(0x9011, offset)];
    let gps = || {
        vec![
            ascii(0x0001, if lat >= 0.0 { "N" } else { "S" }),
            rationals(0x0002, &dms(lat)),
            ascii(0x0003, if lon >= 0.0 { "E" } else { "W" }),
            rationals(0x0004, &dms(lon)),
        ]
    };
    // Sizes do not depend on the pointer values: lay out once to find the offsets.
    let exif_at = 8 + ifd(ifd0(0, 0), 8).len() as u32;
    let gps_at = exif_at + ifd(exif(), exif_at).len() as u32;
    tiff(&[ifd(ifd0(exif_at, gps_at), 8), ifd(exif(), exif_at), ifd(gps(), gps_at)])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use casebridge_core::Store;

    use super::*;

    /// The whole demo with cheap KDF parameters: every state is there, the volunteer holds
    /// verified receipts, and a second run changes nothing.
    #[test]
    fn the_demo_holds_every_review_state_and_receipts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = prepare_dir(&tmp.path().join("demo")).unwrap();
        let m = create(&dir, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0), KdfParams::INSECURE_FOR_TESTS).unwrap();
        assert!(m.endpoint.starts_with("https://127.0.0.1:") && m.listen.port() != 0, "{m:?}");
        assert_eq!(
            m.summary,
            Summary {
                cases: 3,
                briefs: 2,
                evidence: 4,
                submissions: 4,
                accepted: 1,
                rejected: 1,
                info_requested: 1,
                pending: 1,
                receipts: m.summary.receipts
            }
        );
        assert!(m.summary.receipts >= 1);
        assert_eq!(read_manifest(&dir).unwrap().unwrap(), m);

        let pass = Passphrase::new(DEMO_PASSPHRASE);
        {
            let inv = Store::open(&m.investigator, &pass).unwrap();
            let subs = inv.submissions().unwrap();
            let mut states: Vec<&str> = subs.iter().map(|s| s.state.as_str()).collect();
            states.sort_unstable();
            assert_eq!(states, ["accepted", "info_requested", "pending", "rejected"]);
            assert_eq!(inv.briefs(false).unwrap().len(), 2);
            // The photos' EXIF was read: capture time and place, for the investigator's own
            // photos and the volunteer's alike.
            let case = subs.iter().find(|s| s.state.as_str() == "accepted").unwrap().case_id;
            let ev = inv.list_evidence(case).unwrap();
            assert!(ev.len() >= 4, "{ev:?}");
            assert!(ev.iter().all(|e| e.captured_at.is_some() && e.location.is_some() && e.media_type == "image/jpeg"), "{ev:?}");
        }
        {
            let vol = Store::open(&m.volunteer, &pass).unwrap();
            let receipts = casebridge_trust::profile::receipts(&vol).unwrap();
            assert_eq!(receipts.len(), m.summary.receipts);
            let subs = vol.submissions().unwrap();
            assert!(
                subs.iter().any(|s| s.state.as_str() == "rejected" && s.items.iter().any(|i| i.reason.is_some())),
                "the volunteer sees reasons"
            );
        }
        // Again: nothing is created, the manifest is the same.
        let again = prepare_dir(&dir).unwrap();
        assert_eq!(read_manifest(&again).unwrap().unwrap(), m);
    }

    #[test]
    fn a_directory_that_is_not_a_demo_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("notes.txt"), b"mine").unwrap();
        let e = prepare_dir(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("not empty") && e.contains("no demo.json"), "{e}");
        std::fs::write(tmp.path().join(MARKER_FILE), b"").unwrap();
        let e = prepare_dir(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("did not finish"), "{e}");
    }

    #[test]
    fn photos_are_jpegs_with_exif_time_and_place() {
        let tmp = tempfile::tempdir().unwrap();
        let photos = write_photos(&tmp.path().join("p")).unwrap();
        assert_eq!(photos.0.len(), SPECS.len());
        let bytes = std::fs::read(photos.get("dark-car").unwrap()).unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (W, H));
        let exif = &bytes[2..];
        assert!(exif.starts_with(&[0xFF, 0xE1]) && exif[4..].starts_with(b"Exif\0\0II*\0"));
    }
}
