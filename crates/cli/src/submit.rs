//! `casebridge submit BRIEF FILE...`: a volunteer answers a brief. The files become evidence
//! with custody "submitted", and a signed, sealed bundle goes into the outbox for
//! `casebridge sync` to upload.

use std::io::Write;
use std::path::PathBuf;

use casebridge_app::briefs;
use casebridge_app::files::Checked;
use casebridge_core::{GeoPoint, SubmitOptions};
use clap::Args;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::Result;
use crate::evidence::parse_captured_at;
use crate::output::{self, Fields};
use crate::progress;

/// Arguments of `submit`.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// Brief id or unique id prefix (from `casebridge brief list`)
    #[arg(value_name = "BRIEF")]
    pub brief: String,
    /// Files to submit (photos, video, audio, documents)
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// What the files show, in your words
    #[arg(long)]
    pub description: Option<String>,
    /// When it was captured, RFC 3339 with offset, e.g. 2026-03-14T09:30:00+01:00
    #[arg(long, value_name = "RFC3339")]
    pub captured_at: Option<String>,
    /// Where it was captured as LAT,LON, e.g. 52.52,13.405
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub location: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Submitted {
    #[serde(flatten)]
    submission: casebridge_core::SubmissionView,
    outbox: Vec<PathBuf>,
}

/// Runs `submit`.
pub fn run(ctx: &mut Ctx, a: &SubmitArgs, out: &mut dyn Write) -> Result<()> {
    // Every input is checked before the store is opened.
    let captured_at = a.captured_at.as_deref().map(parse_captured_at).transpose()?;
    let location = a.location.as_deref().map(str::parse::<GeoPoint>).transpose()?;
    let files = Checked::new(a.files.clone())?;
    let mut store = ctx.open()?;
    let pb = progress::bytes(files.total());
    pb.set_message("sealing your submission");
    let opts = SubmitOptions { description: a.description.clone(), captured_at, location };
    let result = briefs::submit_files(&mut store, &a.brief, &files, &opts, &mut |n: u64| {
        pb.set_position(n);
        true
    });
    pb.finish_and_clear();
    let briefs::Submitted { submission, outbox, agency } = result?;
    let outbox: Vec<PathBuf> = outbox.iter().map(|b| b.path.clone()).collect();
    if a.json {
        return output::json(out, &Submitted { submission, outbox });
    }
    let mut f = Fields::default();
    f.add("submission", submission.id.to_string());
    f.add("brief", format!("{} ({})", submission.brief_title.as_deref().map(output::line).unwrap_or_default(), submission.brief_id));
    for i in &submission.items {
        f.add("item", format!("{}  {}  {}", i.evidence_id, i.sha256, output::line(&i.name)));
    }
    f.add("outbox", format!("{} sealed bundle(s) for {}; run `casebridge sync` to send", outbox.len(), agency.name));
    f.write(out)?;
    Ok(())
}
