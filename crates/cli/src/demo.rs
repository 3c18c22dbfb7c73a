//! `casebridge demo --dir DIR`: the arguments, and the printing of what the demo world
//! (`casebridge_demo`, which makes and serves it) reports. The hints that name `casebridge`
//! commands and flags are added here, to the demo's errors.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use casebridge_demo::{DemoError, Event, Manifest, Options, AGENCY_NAME, INVESTIGATOR, VOLUNTEER};
use clap::Args;

use crate::error::{io_reason, CliError, Result};

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

/// Runs `demo`.
pub fn run(a: &DemoArgs, out: &mut dyn Write) -> Result<()> {
    let options = Options { dir: a.dir.clone(), listen: a.listen, serve: !a.no_serve };
    casebridge_demo::run(&options, &mut |event| print(a.json, event, out).map_err(into_io)).map_err(cli_error)
}

/// A printing error as the demo carries it back (the I/O error itself, so that a closed
/// stdout is still recognised).
fn into_io(e: CliError) -> std::io::Error {
    match e {
        CliError::Output(e) => e,
        e => std::io::Error::other(e.to_string()),
    }
}

/// Prints one step of the demo (text, or the manifest alone with `--json`).
fn print(json: bool, event: Event<'_>, out: &mut dyn Write) -> Result<()> {
    match event {
        Event::Found { dir, manifest } if !json => {
            writeln!(out, "using the demo in {} (made {})", dir.display(), crate::output::time(&manifest.created_at.fixed_offset()))?
        }
        Event::Creating { dir } if !json => {
            writeln!(out, "creating a demo in {} (takes a few seconds)", dir.display())?;
            out.flush()?;
        }
        Event::Starting => init_logging(),
        Event::Ready { manifest, serving } => {
            report(json, manifest, serving, out)?;
            out.flush()?;
        }
        Event::Stopped if !json => writeln!(out, "demo endpoint stopped")?,
        _ => {}
    }
    Ok(())
}

/// The demo's error as the CLI shows it, with what to do in `casebridge` terms.
fn cli_error(e: DemoError) -> CliError {
    match e {
        DemoError::Output(e) => CliError::Output(e),
        DemoError::App(e) => CliError::App(e),
        DemoError::Trust(e) => CliError::Trust(e),
        DemoError::ReadFile { path, source } => CliError::ReadFile { reason: io_reason(&source), path },
        DemoError::BadManifest { path, reason } => CliError::ReadFile { path, reason },
        DemoError::WriteFile { path, source } => CliError::WriteFile { reason: io_reason(&source), path },
        DemoError::ListenMismatch { listen, dir, endpoint } => CliError::Usage(format!(
            "invalid --listen {listen}: the demo in {} is enrolled at {endpoint}; leave --listen out to serve there",
            dir.display()
        )),
        e @ DemoError::Unfinished { .. } => CliError::Usage(format!("{e}; remove the directory and run `casebridge demo` again")),
        DemoError::NotCreated { dir, source } => CliError::Usage(format!(
            "the demo could not be created: {}; remove {} and run `casebridge demo --dir {}` again",
            cli_error(*source),
            dir.display(),
            dir.display()
        )),
        e => CliError::Usage(e.to_string()),
    }
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

/// The endpoint's logs go to stderr at `warn` unless `CASEBRIDGE_LOG` says otherwise.
fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("CASEBRIDGE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).with_ansi(ansi).try_init();
}
