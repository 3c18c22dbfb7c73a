//! `casebridge sync [--watch] [--json]` and `casebridge sync status [--json]`: send what this
//! profile recorded and fetch what the agency lets this member see. The round itself is the
//! shared use case `casebridge_app::sync::round` (the desktop shell runs the same code).

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use casebridge_app::RoundReport;
use casebridge_app::StoreHandle;
use casebridge_core::{Passphrase, Store};
use casebridge_trust::parse_duration;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::output::{self, Fields, Table};

/// Arguments of `sync`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SyncArgs {
    /// `sync status`
    #[command(subcommand)]
    pub sub: Option<SyncSub>,
    /// Keep syncing every --interval until interrupted
    #[arg(long)]
    pub watch: bool,
    /// Pause between rounds with --watch
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub interval: String,
    /// Print progress as JSON lines, then a JSON summary per round
    #[arg(long)]
    pub json: bool,
}

/// The `sync` subcommands.
#[derive(Subcommand, Debug)]
pub enum SyncSub {
    /// Show pending bundles, last success and error, and bundles the agency refused (no passphrase needed)
    Status(StatusArgs),
}

/// Arguments of `sync status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// One round's summary line in `--json` mode.
#[derive(Serialize)]
struct Synced<'a> {
    event: &'static str,
    #[serde(flatten)]
    report: &'a RoundReport,
}

/// Runs `sync` or `sync status`.
pub fn run(ctx: &mut Ctx, a: &SyncArgs, out: &mut dyn Write) -> Result<()> {
    if let Some(SyncSub::Status(s)) = &a.sub {
        return status(ctx, s, out);
    }
    let interval = parse_duration(&a.interval)
        .ok()
        .and_then(|d| d.to_std().ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| CliError::Usage(format!("invalid --interval '{}': expected a duration such as 30s, 5m", a.interval)))?;
    let pass = ctx.passphrase()?;
    let rt = casebridge_app::sync::runtime()?;
    loop {
        match one_round(ctx, &pass, &rt, a.json, out) {
            Ok(r) => {
                if a.json {
                    serde_json::to_writer(&mut *out, &Synced { event: "synced", report: &r }).map_err(std::io::Error::from)?;
                    writeln!(out)?;
                } else {
                    writeln!(
                        out,
                        "sync done: {} bundle(s) sent, {} event(s) received ({} new), {} item(s) of content fetched",
                        r.uploaded, r.pulled, r.imported, r.content_fetched
                    )?;
                    if r.refused > 0 {
                        writeln!(
                            out,
                            "{} bundle(s) refused by the agency and set aside (not sent again); `casebridge sync status` says why",
                            r.refused
                        )?;
                    }
                }
                out.flush()?;
            }
            Err(e) if a.watch => writeln!(std::io::stderr(), "error: {e}")?,
            Err(e) => return Err(e),
        }
        if !a.watch {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

/// Opens the store for one round only, so other commands can use it between `--watch` rounds.
fn one_round(ctx: &Ctx, pass: &Passphrase, rt: &tokio::runtime::Runtime, json: bool, out: &mut dyn Write) -> Result<RoundReport> {
    let handle = StoreHandle::new(Store::open(ctx.dir(), pass)?);
    // Progress lines go out as they happen; the engine calls back from its worker threads.
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&lines);
    let mut on_event = move |ev: &casebridge_sync::Event| {
        if json {
            if let Ok(line) = serde_json::to_string(ev) {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        }
    };
    let result = rt.block_on(casebridge_app::sync::round(&handle, ctx.dir(), Arc::new(AtomicBool::new(false)), &mut on_event));
    for line in lines.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        writeln!(out, "{line}")?;
    }
    handle.close();
    Ok(result?)
}

fn status(ctx: &mut Ctx, a: &StatusArgs, out: &mut dyn Write) -> Result<()> {
    ctx.require_store()?;
    let s = casebridge_app::sync::status(ctx.dir())?;
    if a.json {
        return output::json(out, &s);
    }
    let when = |t: &Option<chrono::DateTime<chrono::Utc>>| t.map(|t| output::time(&t.fixed_offset())).unwrap_or_else(|| "never".into());
    let mut f = Fields::default();
    f.add("pending", format!("{} bundle(s), {}", s.pending, output::size(s.pending_bytes)));
    f.add("last success", when(&s.last_success));
    f.add("last attempt", when(&s.last_attempt));
    f.add("last error", s.last_error.as_deref().map(output::line).unwrap_or_else(|| "-".into()));
    f.add("feed cursor", s.cursor.to_string());
    f.add("refused", format!("{} bundle(s) set aside", s.refused.len()));
    f.write(out)?;
    if !s.refused.is_empty() {
        writeln!(out)?;
        writeln!(out, "Refused by the agency (kept in {}, never sent again):", casebridge_app::outbox::refused_dir(ctx.dir()).display())?;
        let mut t = Table::new(&["BUNDLE", "REFUSED", "CODE", "CARRIED", "REASON"]);
        for r in &s.refused {
            let carried = match r.carried.submissions.len() {
                0 => "-".to_string(),
                1 => format!("submission {}", r.carried.submissions[0]),
                n => format!("{n} submissions"),
            };
            t.row(vec![
                r.bundle_id.to_string(),
                output::time(&r.refused_at.fixed_offset()),
                r.code.clone(),
                carried,
                output::line(&r.message),
            ]);
        }
        t.write(out)?;
    }
    Ok(())
}
