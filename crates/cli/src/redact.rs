//! `casebridge evidence redact ID`: a redacted copy of an image (metadata stripped, regions
//! blurred or filled), added as a new item with signed provenance; the original is never modified.
//! The work is done by `casebridge_court::redact`.

use std::io::Write;

use casebridge_app::court;
use casebridge_core::Error;
use casebridge_court::redact::{RedactError, RedactOptions, Region, RegionMode};
use clap::{ArgGroup, Args};
use serde::Serialize;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::output;

/// Arguments of `evidence redact`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("redaction").required(true).multiple(true)))]
pub struct RedactArgs {
    /// Evidence id or unique id prefix of a JPEG or PNG image
    #[arg(value_name = "ID")]
    pub id: String,
    /// Remove all metadata: EXIF (GPS position, camera serial number, maker notes), XMP, ICC,
    /// text chunks
    #[arg(long, group = "redaction")]
    pub strip_metadata: bool,
    /// Blur a region X,Y,W,H (pixels of the upright image) until it is unreadable; repeat for
    /// more. Metadata is always stripped from a redacted copy, with or without --strip-metadata
    #[arg(long = "blur", value_name = "X,Y,W,H", group = "redaction", value_parser = parse_region)]
    pub blur: Vec<Region>,
    /// Paint a region X,Y,W,H black instead of blurring it; repeat for more (not with --blur)
    #[arg(long = "fill", value_name = "X,Y,W,H", group = "redaction", conflicts_with = "blur", value_parser = parse_region)]
    pub fill: Vec<Region>,
    /// Why (recorded in the case's access log)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

fn parse_region(s: &str) -> std::result::Result<Region, String> {
    s.parse::<Region>().map_err(|e| e.to_string())
}

/// What `evidence redact --json` prints.
#[derive(Serialize)]
struct Redacted {
    id: Uuid,
    sha256: String,
    size: u64,
    media_type: String,
    original_id: Uuid,
    original_sha256: String,
    operations: Vec<String>,
}

/// The court crate's errors as the CLI's: the store's pass through; the rest are refusals of
/// what was asked, shown with their full message.
fn cli_error(e: RedactError) -> CliError {
    match e {
        RedactError::Store(e) => e.into(),
        // The court crate says what to ask for in product words; the CLI names its flags.
        RedactError::NothingToDo => Error::Invalid {
            field: "redaction",
            reason: "nothing to redact: ask for --strip-metadata, --blur X,Y,W,H (or --fill X,Y,W,H) or both; nothing was added".into(),
        }
        .into(),
        other => Error::Invalid { field: "redaction", reason: other.to_string() }.into(),
    }
}

/// Runs `evidence redact`.
pub fn run(ctx: &mut Ctx, a: &RedactArgs, out: &mut dyn Write) -> Result<()> {
    let (regions, mode) = if a.fill.is_empty() { (a.blur.clone(), RegionMode::Blur) } else { (a.fill.clone(), RegionMode::Fill) };
    let opts = RedactOptions { strip_metadata: a.strip_metadata, regions, mode, reason: a.reason.clone() };
    let (added, prov, name) = court::redact(&mut ctx.open()?, &a.id, &opts).map_err(cli_error)?;
    if a.json {
        return output::json(
            out,
            &Redacted {
                id: added.id,
                sha256: added.sha256,
                size: added.size,
                media_type: added.media_type,
                original_id: prov.original_id,
                original_sha256: prov.original_sha256,
                operations: prov.operations,
            },
        );
    }
    writeln!(out, "{}  {}  {}", added.id, added.sha256, output::line(&name))?;
    writeln!(out, "derived from {}  {}", prov.original_id, prov.original_sha256)?;
    writeln!(out, "operations: {}", prov.operations.join("; "))?;
    if !a.strip_metadata {
        writeln!(out, "note: metadata (EXIF, GPS, camera serial numbers) is always stripped from a redacted copy")?;
    }
    Ok(())
}
