//! The agency endpoint from the command line: `agency serve` runs it, `agency invite` makes
//! one-time invite codes (through the running endpoint's admin socket when it runs), and
//! `enrol CODE` joins a profile to an agency online.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use casebridge_agency::{admin, read_serve_info, ServeConfig, DEFAULT_LISTEN};
use casebridge_protocol::{InviteRequest, InviteResponse, OldKeys, RevokeRequest, RevokeResponse, Role};
use casebridge_trust::parse_duration;
use clap::Args;
use serde::Serialize;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::output::{self, Fields};

/// A multi-threaded tokio runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(casebridge_app::sync::runtime()?)
}

pub(crate) fn agency_err(e: casebridge_agency::AgencyError) -> CliError {
    CliError::Sync(e.to_string())
}

/// A request body for the admin socket.
fn json_body(body: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(body).map_err(|e| CliError::Sync(e.to_string()))
}

/// Asks the endpoint serving `dir`, when one runs, over its admin socket (`method path` with
/// `body`): Some(its answer), or None when no endpoint runs (the caller then works on the
/// directory itself). An answer that is not a `T` fails with `unexpected: <why>`.
pub(crate) fn ask_endpoint<T: serde::de::DeserializeOwned>(
    dir: &Path,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    unexpected: &str,
) -> Result<Option<T>> {
    let rt = runtime()?;
    match rt.block_on(admin::call(dir, method, path, body)).map_err(agency_err)? {
        Some(v) => Ok(Some(serde_json::from_value(v).map_err(|e| CliError::Sync(format!("{unexpected}: {e}")))?)),
        None => Ok(None),
    }
}

/// Arguments of `agency serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Address to listen on (HTTPS); other than loopback only when you mean it
    #[arg(long, value_name = "ADDR:PORT", default_value_t = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
}

/// Runs `agency serve` until SIGINT or SIGTERM; then stops accepting, finishes requests in
/// flight and closes the store.
pub fn serve(ctx: &mut Ctx, a: &ServeArgs, out: &mut dyn Write) -> Result<()> {
    let limits = casebridge_agency::Limits::load(&a.dir).map_err(agency_err)?;
    let pass = ctx.pass.agency(&a.dir)?;
    init_logging();
    let rt = runtime()?;
    rt.block_on(async {
        let signals = StopSignals::install();
        let mut config = ServeConfig::new(&a.dir, a.listen, pass);
        config.limits = limits;
        let server = casebridge_agency::serve(config).await.map_err(agency_err)?;
        let info = read_serve_info(&a.dir).ok().flatten();
        writeln!(out, "serving agency {} on {}", a.dir.display(), server.url())?;
        if let Some(i) = info {
            writeln!(out, "certificate sha256 {}", i.cert_fp)?;
        }
        out.flush()?;
        let stop = server.shutdown_handle();
        tokio::spawn(async move {
            signals.wait().await;
            stop.shutdown();
        });
        server.wait().await.map_err(agency_err)?;
        writeln!(out, "stopped")?;
        Ok(())
    })
}

/// SIGINT and SIGTERM, caught from the moment this is made (before the endpoint says it
/// listens: a stop sent right after start-up is a graceful shutdown, not a kill).
struct StopSignals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            StopSignals { streams: signal(SignalKind::interrupt()).and_then(|i| Ok((i, signal(SignalKind::terminate())?))).ok() }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Structured logs to stderr; `CASEBRIDGE_LOG` sets the filter (default `info`).
fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("CASEBRIDGE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).with_ansi(ansi).try_init();
}

/// Arguments of `agency invite`.
#[derive(Args, Debug)]
pub struct InviteArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The role the member will get: volunteer, investigator or supervisor
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// The member's name as the agency knows them
    #[arg(long)]
    pub name: String,
    /// How long the code works, e.g. 72h, 7d
    #[arg(long, value_name = "DURATION", default_value = "72h")]
    pub expires: String,
    /// The endpoint address to put in the code [default: where `agency serve` listens]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// How long the credential issued at enrolment is valid
    #[arg(long, value_name = "DURATION", default_value = "365d")]
    pub valid_for: String,
    /// An invite for an existing member (a new device or a lost key): only this member id may
    /// enrol with it, with a new key. Requires --old-key
    #[arg(long, value_name = "ID")]
    pub member: Option<Uuid>,
    /// With --member: `revoke` the member's earlier keys when the new key enrols (a lost or
    /// stolen device) or `keep` them (a second device)
    #[arg(long, value_name = "keep|revoke", requires = "member")]
    pub old_key: Option<String>,
    /// Print JSON (the code is still on the last line of stdout)
    #[arg(long)]
    pub json: bool,
}

fn old_keys(a: &InviteArgs) -> Result<Option<OldKeys>> {
    match (a.member, a.old_key.as_deref().map(|s| s.trim().to_ascii_lowercase())) {
        (None, _) => Ok(None),
        (Some(_), None) => Err(CliError::Usage(
            "an invite for an existing member says what happens to their earlier keys: add --old-key revoke (a lost device) or --old-key keep (a second device)".into(),
        )),
        (Some(_), Some(k)) if k == "keep" => Ok(Some(OldKeys::Keep)),
        (Some(_), Some(k)) if k == "revoke" => Ok(Some(OldKeys::Revoke)),
        (Some(_), Some(k)) => Err(CliError::Usage(format!("invalid --old-key '{k}': use keep or revoke"))),
    }
}

fn role(s: &str) -> Result<Role> {
    match s.trim().to_ascii_lowercase().as_str() {
        "volunteer" => Ok(Role::Volunteer),
        "investigator" => Ok(Role::Investigator),
        "supervisor" => Ok(Role::Supervisor),
        other => Err(CliError::Usage(format!("invalid --role '{other}': use volunteer, investigator or supervisor"))),
    }
}

fn seconds(flag: &str, s: &str) -> Result<u64> {
    let d =
        parse_duration(s).map_err(|_| CliError::Usage(format!("invalid {flag} '{s}': expected a duration such as 72h, 7d, 30m or 2w")))?;
    u64::try_from(d.num_seconds()).ok().filter(|n| *n > 0).ok_or_else(|| CliError::Usage(format!("invalid {flag} '{s}': must be positive")))
}

/// Runs `agency invite`: through the running endpoint when there is one, else directly on the
/// directory (the code then names `--url`, which is required).
pub fn invite(_ctx: &mut Ctx, a: &InviteArgs, out: &mut dyn Write) -> Result<()> {
    if a.name.trim().is_empty() {
        return Err(CliError::Usage("invalid --name: it is empty".into()));
    }
    if let Some(u) = &a.url {
        if !u.starts_with("https://") {
            return Err(CliError::Usage(format!("invalid --url '{u}': the endpoint address starts with https://")));
        }
    }
    let req = InviteRequest {
        role: role(&a.role)?,
        name: a.name.trim().to_string(),
        expires_in_secs: seconds("--expires", &a.expires)?,
        url: a.url.clone(),
        valid_for_secs: Some(seconds("--valid-for", &a.valid_for)?),
        member: a.member,
        old_keys: old_keys(a)?,
    };
    if !a.dir.join("agency.json").exists() {
        return Err(CliError::Usage(format!(
            "{} is not an agency directory (no agency.json): create one with `casebridge agency init`",
            a.dir.display()
        )));
    }
    let answer = ask_endpoint(&a.dir, "POST", "/admin/invite", Some(json_body(&req)?), "the endpoint answered an unexpected invite")?;
    let resp: InviteResponse = match answer {
        Some(resp) => resp,
        None => {
            let Some(url) = a.url.as_deref() else {
                return Err(CliError::Usage(
                    "the agency endpoint is not running for this directory: start `casebridge agency serve`, or give --url with the address members will reach".into(),
                ));
            };
            admin::create_invite(&a.dir, &req, url).map_err(agency_err)?
        }
    };
    if a.json {
        #[derive(Serialize)]
        struct View<'a> {
            invite_id: Uuid,
            role: &'a str,
            name: &'a str,
            expires_at: String,
            code: &'a str,
        }
        output::json(
            out,
            &View {
                invite_id: resp.invite_id,
                role: req.role.as_str(),
                name: &req.name,
                expires_at: output::time(&resp.expires_at),
                code: &resp.code,
            },
        )?;
    } else {
        let mut f = Fields::default();
        f.add("invite", resp.invite_id.to_string());
        f.add("for", format!("{} ({})", output::line(&req.name), req.role.as_str()));
        f.add("expires", output::time(&resp.expires_at));
        f.add("use", "give the member the code below; it works once: `casebridge enrol CODE`");
        f.write(out)?;
    }
    writeln!(out, "{}", resp.code)?;
    Ok(())
}

/// Runs `agency gc --dir A`: one cleanup (docs/ENDPOINT.md, "Quotas and cleanup"). While the
/// endpoint serves the directory it holds the agency and its store, so it is asked over its
/// admin socket; otherwise the agency is unlocked here (which also keeps an endpoint from
/// starting meanwhile) under the limits of `A/limits.json`.
pub fn gc(ctx: &mut Ctx, a: &crate::agency::DirArgs, out: &mut dyn Write) -> Result<()> {
    #[derive(Serialize)]
    struct View {
        /// `endpoint` (through the running endpoint) or `direct`.
        via: &'static str,
        #[serde(flatten)]
        report: casebridge_agency::GcReport,
    }
    let limits = casebridge_agency::Limits::load(&a.dir).map_err(agency_err)?;
    let view = match ask_endpoint(&a.dir, "POST", "/admin/gc", None, "unexpected answer from the endpoint")? {
        Some(report) => View { via: "endpoint", report },
        None => {
            // A missing agency is reported before any passphrase is asked for.
            casebridge_trust::Agency::read_public(&a.dir)?;
            let pass = ctx.pass.agency(&a.dir)?;
            View { via: "direct", report: casebridge_agency::collect_offline(&a.dir, &pass, limits).map_err(agency_err)? }
        }
    };
    if a.json {
        return output::json(out, &view);
    }
    let r = &view.report;
    let mut f = Fields::default();
    f.add("cleaned", if view.via == "endpoint" { "by the running endpoint" } else { "directly (no endpoint running)" });
    f.add("expired uploads", format!("{} removed ({})", r.uploads_expired, output::size(r.upload_bytes)));
    f.add("upload records", format!("{} removed (completed or expired over an expiry ago)", r.records_removed));
    f.add("orphan content", format!("{} objects removed ({})", r.orphan_objects, output::size(r.orphan_bytes)));
    if r.orphans_kept > 0 {
        f.add("kept", format!("{} recent objects no event names yet (an upload may be about to name them)", r.orphans_kept));
    }
    if r.uploads_busy > 0 {
        f.add("skipped", format!("{} uploads in use by a request (the next cleanup sees them)", r.uploads_busy));
    }
    f.write(out)?;
    Ok(())
}

/// Runs `agency check` (through the running endpoint, or directly when none runs); fails
/// (exit 1) after printing the report when anything is wrong.
pub fn check(ctx: &mut Ctx, a: &crate::agency::AgencyCheckArgs, out: &mut dyn Write) -> Result<()> {
    #[derive(Serialize)]
    struct View {
        /// `endpoint` (through the running endpoint) or `direct`.
        via: &'static str,
        #[serde(flatten)]
        report: casebridge_agency::AgencyCheck,
    }
    let body = serde_json::json!({ "read_data": a.read_data });
    let view = match ask_endpoint(&a.dir, "POST", "/admin/check", Some(body), "unexpected answer from the endpoint")? {
        Some(report) => View { via: "endpoint", report },
        None => {
            casebridge_trust::Agency::read_public(&a.dir)?;
            let pass = ctx.pass.agency(&a.dir)?;
            View { via: "direct", report: casebridge_agency::check_offline(&a.dir, &pass, a.read_data).map_err(agency_err)? }
        }
    };
    let r = &view.report;
    if a.json {
        output::json(out, &view)?;
    } else {
        let s = &r.store;
        let mut f = Fields::default();
        f.add("checked", if view.via == "endpoint" { "through the running endpoint" } else { "directly (no endpoint running)" });
        f.add("journal events", format!("{} from {} authors, chains and signatures verified", s.events, s.authors));
        f.add("index records", s.index_records.to_string());
        if a.read_data {
            f.add("content re-hashed", format!("{} objects, {}", s.objects_checked, output::size(s.bytes_checked)));
        } else {
            f.add("content re-hashed", "no (use --read-data to re-hash every object)");
        }
        f.add("orphan objects", format!("{} ({}; `agency gc` removes them)", r.orphan_objects, output::size(r.orphan_bytes)));
        f.add("credentials", format!("{} verified with the root key", r.credentials));
        f.add("receipts", format!("{} verified with the root key", r.receipts));
        f.add("endpoint access log", format!("{} entries, signatures and chain verified", r.access_log_entries));
        crate::check::write_verdict(out, f, &r.problems, r.ok)?;
    }
    crate::check::verdict(&r.problems, r.ok)
}

/// `agency revoke` through the running endpoint, if it runs: Some(answer), else None.
pub fn revoke_via_endpoint(dir: &Path, member: Uuid, reason: Option<String>) -> Result<Option<RevokeResponse>> {
    let body = json_body(&RevokeRequest { member_id: member, reason })?;
    ask_endpoint(dir, "POST", "/admin/revoke", Some(body), "unexpected answer from the endpoint")
}

/// Arguments of `enrol`.
#[derive(Args, Debug)]
#[command(after_long_help = ENROL_HELP)]
pub struct EnrolArgs {
    /// The invite code from the agency (starts with `cbinv1.`)
    #[arg(value_name = "CODE")]
    pub code: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs `enrol CODE` (the shared use case `casebridge_app::enrol::enrol`): sends this
/// profile's signed credential request with the invite's secret, checks that the agency
/// answering is the one the code names, installs the credential, pins the agency and remembers
/// the endpoint.
/// `casebridge enrol --help`: what an invite made for an existing member does.
const ENROL_HELP: &str = "\
A new device, or a replacement for a lost key: the agency makes an invite for the existing
member (`casebridge agency invite --member ID --old-key keep|revoke`). Enrol with it from a NEW
profile (`casebridge init` on the new device): the profile takes the member id ID instead of
its own, and its events carry ID with this device's own key, in a chain of their own. With
`--old-key keep` both devices keep syncing; with `--old-key revoke` the old device's key is
revoked and its next sync is refused. A profile that already holds case work or a credential
cannot take another member id (profile_not_fresh), and the invite stays unused.";

pub fn enrol(ctx: &mut Ctx, a: &EnrolArgs, out: &mut dyn Write) -> Result<()> {
    casebridge_app::enrol::parse_invite(&a.code)?;
    let handle = casebridge_app::StoreHandle::new(ctx.open()?);
    let rt = runtime()?;
    let view = rt.block_on(casebridge_app::enrol::enrol(&handle, &a.code))?;
    handle.close();
    if a.json {
        return output::json(out, &view);
    }
    let mut f = Fields::default();
    f.add("enrolled at", format!("{} ({})", output::line(&view.agency), view.agency_id));
    f.add(
        "as",
        format!(
            "{} {}",
            serde_json::to_value(view.role).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            view.member_id
        ),
    );
    f.add("endpoint", &view.endpoint);
    f.add("valid until", output::time(&view.valid_until));
    f.add("next", "run `casebridge sync` to fetch briefs and send your work");
    f.write(out)?;
    Ok(())
}
