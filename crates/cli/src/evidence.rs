//! `casebridge evidence ...`: import, list, show, export and verify evidence, and read its
//! custody trail.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use casebridge_core::{AddedEvidence, Error, EvidenceOptions, EvidenceView, GeoPoint};
use chrono::{DateTime, FixedOffset};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::{io_reason, CliError, Result};
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

/// Checks that `path` is a regular, readable file; returns its size.
fn check_file(path: &Path) -> Result<u64> {
    let bad = |reason: String| CliError::BadFile { path: path.to_path_buf(), reason };
    let meta = fs::metadata(path).map_err(|e| bad(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(bad("it is a directory".into()));
    }
    if !meta.is_file() {
        return Err(bad("it is not a regular file".into()));
    }
    File::open(path).map_err(|e| bad(io_reason(&e)))?;
    Ok(meta.len())
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
    let mut total = 0u64;
    for f in &a.files {
        total = total.saturating_add(check_file(f)?);
    }
    let opts = EvidenceOptions { description: a.description.clone(), captured_at, location };

    let mut store = ctx.open()?;
    let case = store.resolve_case(&a.case)?;
    let pb = progress::bytes(total);
    let mut done: Vec<(AddedEvidence, &Path)> = Vec::with_capacity(a.files.len());
    let mut base = 0u64;
    for (i, path) in a.files.iter().enumerate() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        pb.set_message(format!("[{}/{}] {}", i + 1, a.files.len(), output::line(&name)));
        let result = store.add_evidence(case, path, &opts, &mut |n: u64| {
            pb.set_position(base.saturating_add(n));
            true
        });
        let added = match result {
            Ok(added) => added,
            Err(e) => {
                pb.finish_and_clear();
                return Err(partial(done, a, out, e.into()));
            }
        };
        base = base.saturating_add(added.size);
        if !a.json {
            pb.suspend(|| writeln!(out, "{}  {}  {}", added.id, added.sha256, output::line(&path.display().to_string())))?;
        }
        done.push((added, path));
    }
    pb.finish_and_clear();
    if a.json {
        output::json(out, &json_added(&done))?;
    }
    Ok(())
}

fn json_added<'a>(done: &'a [(AddedEvidence, &Path)]) -> Vec<Added<'a>> {
    done.iter().map(|(added, path)| Added { added, path: path.display().to_string() }).collect()
}

/// The error for a failure after `done` files were imported: in JSON mode those are still
/// printed, because they are committed and a script needs their ids.
fn partial(done: Vec<(AddedEvidence, &Path)>, a: &AddArgs, out: &mut dyn Write, e: CliError) -> CliError {
    if done.is_empty() {
        return e;
    }
    if a.json {
        if let Err(w) = output::json(out, &json_added(&done)) {
            return w;
        }
    }
    CliError::PartialImport { done: done.len(), total: a.files.len(), source: Box::new(e) }
}

// ----- list / show ---------------------------------------------------------------------------

/// The evidence table used by `evidence list` and `case show`.
pub fn table() -> Table {
    Table::new(&["ID", "SHA256", "SIZE", "TYPE", "NAME"]).right(2)
}

/// One row of [`table`].
pub fn table_row(t: &mut Table, e: &EvidenceView) {
    t.row(vec![e.id.to_string(), e.sha256.clone(), output::size(e.size), e.media_type.clone(), e.original_name.clone()]);
}

fn list(ctx: &mut Ctx, a: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open()?;
    let case = store.resolve_case(&a.case)?;
    let items = store.list_evidence(case)?;
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
    let mut store = ctx.open()?;
    let id = store.resolve_evidence(&a.id)?;
    let e = store.evidence(id)?;
    crate::access::log(&mut store, e.case_id, Some(id), "viewed", a.reason.as_deref())?;
    if a.json {
        return output::json(out, &e);
    }
    let mut f = Fields::default();
    f.add("id", e.id.to_string());
    f.add("case", e.case_id.to_string());
    f.add("sha256", &e.sha256);
    f.add("size", format!("{} bytes ({})", e.size, output::size(e.size)));
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
    if fs::symlink_metadata(&a.out).is_ok() {
        return Err(Error::WouldOverwrite { path: a.out.clone() }.into());
    }
    let mut store = ctx.open()?;
    let id = store.resolve_evidence(&a.id)?;
    let size = store.evidence(id)?.size;
    let pb = progress::bytes(size);
    pb.set_message("exporting");
    let result = store.export_evidence(id, &a.out, a.reason.clone(), &mut |n: u64| {
        pb.set_position(n);
        true
    });
    pb.finish_and_clear();
    let exported = result?;
    let case = store.evidence(id)?.case_id;
    crate::access::log(&mut store, case, Some(id), "exported", a.reason.as_deref())?;
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
    let id = store.resolve_evidence(&a.id)?;
    let e = store.evidence(id)?;
    let pb = progress::bytes(e.size);
    pb.set_message("verifying");
    let result = store.verify_evidence(id, &mut |n: u64| {
        pb.set_position(n);
        true
    });
    pb.finish_and_clear();
    result.map_err(|err| damaged(id, err))?;
    if a.json {
        return output::json(out, &Verified { id, sha256: e.sha256, size: e.size, ok: true });
    }
    writeln!(out, "ok  {id}  {}  intact; custody \"verified\" recorded", e.sha256)?;
    Ok(())
}

/// Content that fails its hash or its authentication is reported as damage to this item
/// (the core's hash-mismatch text speaks of a partial output, which `verify` has none of).
fn damaged(id: uuid::Uuid, e: Error) -> CliError {
    match e {
        Error::HashMismatch => CliError::Damaged { id, what: "its content does not match its recorded SHA-256".into() },
        Error::Crypto => CliError::Damaged { id, what: "its content fails authentication".into() },
        Error::Corruption { what } => CliError::Damaged { id, what },
        other => other.into(),
    }
}

fn custody(ctx: &mut Ctx, a: &IdArgs, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open()?;
    let id = store.resolve_evidence(&a.id)?;
    let trail = store.custody(id)?;
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
