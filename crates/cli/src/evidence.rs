//! `casebridge evidence ...`: import, list, show, export and verify evidence, and read its
//! custody trail.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use casebridge_app::evidence;
use casebridge_app::import::{self, Checked, Import, ImportFailure};
use casebridge_app::StoreHandle;
use casebridge_core::{AddedEvidence, EvidenceOptions, EvidenceView, GeoPoint};
use chrono::{DateTime, FixedOffset};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::files;
use crate::output::{self, Fields, Table};
use crate::progress;

/// The `evidence` subcommands.
#[derive(Subcommand, Debug)]
pub enum EvidenceCommand {
    /// Import files into a case; prints each item's id and SHA-256
    Add(AddArgs),
    /// List a case's evidence, oldest first
    List(ListArgs),
    /// Show one evidence item (police staff's views are recorded in the case's access log)
    Show(ShowArgs),
    /// Write an item's original bytes to a new file (never overwrites), re-checking its hash
    Export(ExportArgs),
    /// Re-hash an item's content and record custody "verified"
    Verify(IdArgs),
    /// Show an item's custody trail
    Custody(IdArgs),
    /// Make a redacted copy of an image (metadata stripped, regions blurred) with signed
    /// provenance; the original is never modified
    Redact(crate::redact::RedactArgs),
}

/// Arguments of `evidence add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Files to import
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Description (applies to every file)
    #[arg(long)]
    pub description: Option<String>,
    /// Claimed capture time, RFC 3339 with offset, e.g. 2026-03-14T09:30:00+01:00
    #[arg(long, value_name = "RFC3339")]
    pub captured_at: Option<String>,
    /// Claimed capture place as LAT,LON in degrees, e.g. 52.52,13.405
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub location: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `evidence list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of commands on one item.
#[derive(Args, Debug)]
pub struct IdArgs {
    /// Evidence id or unique id prefix
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `evidence show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Evidence id or unique id prefix
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why it is viewed (recorded in the case's access log)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `evidence export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Evidence id or unique id prefix
    #[arg(value_name = "ID")]
    pub id: String,
    /// Where to write the file (must not exist)
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Why it is exported (recorded in the custody trail and the case's access log)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs an `evidence` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &EvidenceCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        EvidenceCommand::Add(a) => add(ctx, a, out),
        EvidenceCommand::List(a) => list(ctx, a, out),
        EvidenceCommand::Show(a) => show(ctx, a, out),
        EvidenceCommand::Export(a) => export(ctx, a, out),
        EvidenceCommand::Verify(a) => verify(ctx, a, out),
        EvidenceCommand::Custody(a) => custody(ctx, a, out),
        EvidenceCommand::Redact(a) => crate::redact::run(ctx, a, out),
    }
}

// ----- add -----------------------------------------------------------------------------------

/// Parses `--captured-at`: RFC 3339 with an offset.
pub fn parse_captured_at(s: &str) -> Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim()).map_err(|_| CliError::CapturedAt { value: s.to_string() })
}

/// One imported file as printed in JSON.
#[derive(Serialize)]
struct Added<'a> {
    #[serde(flatten)]
    added: &'a AddedEvidence,
    /// The file as the user named it.
    path: String,
}

fn add(ctx: &mut Ctx, a: &AddArgs, out: &mut dyn Write) -> Result<()> {
    // Every input is checked before the store is opened, so a typo costs nothing.
    let captured_at = a.captured_at.as_deref().map(parse_captured_at).transpose()?;
    let location = a.location.as_deref().map(str::parse::<GeoPoint>).transpose()?;
    let files = Checked::new(a.files.clone())?;
    let opts = EvidenceOptions { description: a.description.clone(), captured_at, location };

    let handle = StoreHandle::new(ctx.open()?);
    let case = handle.with(|s| Ok(s.resolve_case(&a.case)?))?;
    let pb = progress::bytes(files.total());
    // A line that cannot be written stops the import after the file in progress.
    let stop = AtomicBool::new(false);
    let mut write_error: Option<std::io::Error> = None;
    let mut shown = usize::MAX;
    let result = import::import_each(
        &handle,
        Import { case, files: &files, opts: &opts, cancel: &stop },
        &mut |p| {
            if p.item != shown {
                shown = p.item;
                pb.set_message(format!("[{}/{}] {}", p.item + 1, a.files.len(), output::line(p.name)));
            }
            pb.set_position(p.done);
        },
        &mut |i, added| {
            if a.json || write_error.is_some() {
                return;
            }
            let line = || writeln!(out, "{}  {}  {}", added.id, added.sha256, output::line(&a.files[i].display().to_string()));
            if let Err(e) = pb.suspend(line) {
                write_error = Some(e);
                stop.store(true, Ordering::SeqCst);
            }
        },
    );
    pb.finish_and_clear();
    if let Some(e) = write_error {
        return Err(e.into());
    }
    match result {
        Ok(done) if a.json => output::json(out, &json_added(&done, &a.files)),
        Ok(_) => Ok(()),
        Err(failure) => Err(partial(failure, a, out)),
    }
}

fn json_added<'a>(done: &'a [AddedEvidence], paths: &[PathBuf]) -> Vec<Added<'a>> {
    done.iter().zip(paths).map(|(added, path)| Added { added, path: path.display().to_string() }).collect()
}

/// The error for a failure after some files were imported: in JSON mode those are still
/// printed, because they are committed and a script needs their ids.
fn partial(f: ImportFailure, a: &AddArgs, out: &mut dyn Write) -> CliError {
    if f.done.is_empty() {
        return f.error.into();
    }
    if a.json {
        if let Err(w) = output::json(out, &json_added(&f.done, &a.files)) {
            return w;
        }
    }
    CliError::PartialImport { done: f.done.len(), total: a.files.len(), source: Box::new(f.error.into()) }
}

// ----- list / show ---------------------------------------------------------------------------

/// The evidence table used by `evidence list` and `case show`.
pub fn table() -> Table {
    Table::new(&["ID", "SHA256", "SIZE", "TYPE", "NAME"]).right(2)
}

/// One row of [`table`].
pub fn table_row(t: &mut Table, e: &EvidenceView) {
    let name = match &e.deleted {
        Some(d) => deleted_line(d),
        None => e.original_name.clone(),
    };
    t.row(vec![e.id.to_string(), e.sha256.clone(), output::size(e.size), e.media_type.clone(), name]);
}

/// "deleted under rule R on DATE": what is shown of a deleted item in place of its content.
pub fn deleted_line(d: &casebridge_core::DeletedView) -> String {
    format!("deleted under rule {} on {}", output::line(&d.rule), d.deleted_at.format("%Y-%m-%d"))
}

fn list(ctx: &mut Ctx, a: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let items = evidence::list(&mut ctx.open()?, &a.case)?;
    if a.json {
        return output::json(out, &items);
    }
    if items.is_empty() {
        writeln!(out, "no evidence in this case yet: add some with `casebridge evidence add CASE FILE...`")?;
        return Ok(());
    }
    let mut t = table();
    for e in &items {
        table_row(&mut t, e);
    }
    t.write(out)?;
    Ok(())
}

fn place(p: &GeoPoint) -> String {
    format!("{}, {}", p.lat, p.lon)
}

fn show(ctx: &mut Ctx, a: &ShowArgs, out: &mut dyn Write) -> Result<()> {
    let e = evidence::show(&mut ctx.open()?, &a.id, a.reason.as_deref())?;
    if a.json {
        return output::json(out, &e);
    }
    let mut f = Fields::default();
    f.add("id", e.id.to_string());
    f.add("case", e.case_id.to_string());
    f.add("sha256", &e.sha256);
    f.add("size", format!("{} bytes ({})", e.size, output::size(e.size)));
    if let Some(d) = &e.deleted {
        f.add("deleted", deleted_line(d));
        if let Some(r) = &d.reason {
            f.add("why", output::line(r));
        }
        f.write(out)?;
        return Ok(());
    }
    f.add("media type", &e.media_type);
    f.add("original name", &e.original_name);
    // The claim and what the content says are both shown when they differ: an investigator
    // must see the disagreement.
    match (&e.claimed.captured_at, &e.extracted.captured_at) {
        (Some(c), Some(x)) if c != x => {
            f.add("captured at", format!("{} (claimed)", output::time(c)));
            f.add("", format!("{} (EXIF)", output::time(x)));
        }
        (Some(c), _) => f.add("captured at", format!("{} (claimed)", output::time(c))),
        (None, Some(x)) => f.add("captured at", format!("{} (EXIF)", output::time(x))),
        (None, None) => f.add("captured at", "-"),
    }
    match (&e.claimed.location, &e.extracted.location) {
        (Some(c), Some(x)) if c != x => {
            f.add("location", format!("{} (claimed)", place(c)));
            f.add("", format!("{} (EXIF)", place(x)));
        }
        (Some(c), _) => f.add("location", format!("{} (claimed)", place(c))),
        (None, Some(x)) => f.add("location", format!("{} (EXIF)", place(x))),
        (None, None) => f.add("location", "-"),
    }
    let camera = e.camera.as_ref().map(|c| [c.make.as_deref(), c.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" "));
    f.add("camera", camera.filter(|c| !c.is_empty()).unwrap_or_else(|| "-".into()));
    f.add("description", e.description.as_deref().unwrap_or("-"));
    let who = e.contributor_name.clone().map(|n| format!("{n} ({})", e.contributor)).unwrap_or_else(|| e.contributor.to_string());
    f.add("contributor", who);
    f.add("added at", output::time(&e.added_at));
    f.write(out)?;
    Ok(())
}

// ----- export / verify / custody -------------------------------------------------------------

fn export(ctx: &mut Ctx, a: &ExportArgs, out: &mut dyn Write) -> Result<()> {
    // Refuse an existing target before asking for the passphrase (the core checks again,
    // atomically, when it creates the file).
    files::refuse_existing(&a.out)?;
    let mut store = ctx.open()?;
    let pb = progress::bytes(0);
    pb.set_message("exporting");
    let result = evidence::export(&mut store, &a.id, &a.out, a.reason.as_deref(), &mut progress::track(&pb));
    pb.finish_and_clear();
    let exported = result?;
    if a.json {
        return output::json(out, &exported);
    }
    writeln!(out, "{}  {}  {}", exported.id, exported.sha256, output::line(&exported.path.display().to_string()))?;
    Ok(())
}

/// What `evidence verify` reports.
#[derive(Serialize)]
struct Verified {
    id: uuid::Uuid,
    sha256: String,
    size: u64,
    ok: bool,
}

fn verify(ctx: &mut Ctx, a: &IdArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = ctx.open()?;
    let pb = progress::bytes(0);
    pb.set_message("verifying");
    let result = evidence::verify(&mut store, &a.id, &mut progress::track(&pb));
    pb.finish_and_clear();
    let e = result?;
    if a.json {
        return output::json(out, &Verified { id: e.id, sha256: e.sha256, size: e.size, ok: true });
    }
    writeln!(out, "ok  {}  {}  intact; custody \"verified\" recorded", e.id, e.sha256)?;
    Ok(())
}

fn custody(ctx: &mut Ctx, a: &IdArgs, out: &mut dyn Write) -> Result<()> {
    let trail = evidence::custody(&mut ctx.open()?, &a.id)?;
    if a.json {
        return output::json(out, &trail);
    }
    let mut t = Table::new(&[]);
    for c in &trail {
        t.row(vec![
            output::time(&c.at),
            c.action.as_str().into(),
            c.actor_name.clone().unwrap_or_else(|| c.actor.to_string()),
            c.device.to_string(),
            c.sha256.clone(),
            c.reason.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t.write(out)?;
    Ok(())
}
