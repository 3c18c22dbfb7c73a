//! `casebridge receipt ...`: the agency's signed statement that it received a bundle. Verify
//! one against the agency's public file; on the sender's profile, keep and list them.

use std::io::Write;
use std::path::PathBuf;

use casebridge_app::receipts;
use casebridge_trust::Receipt;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::files;
use crate::output::{self, Fields, Table};

/// The `receipt` subcommands.
#[derive(Subcommand, Debug)]
pub enum ReceiptCommand {
    /// Verify a receipt against the agency's public key; prints VERIFIED or REJECTED with a reason code
    Verify(VerifyArgs),
    /// On this (the sender's) profile: keep a receipt for a bundle it sent
    Import(ImportArgs),
    /// List the receipts this profile keeps, each verified again
    List(ListArgs),
}

/// Arguments of `receipt verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The receipt file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The agency's public file
    #[arg(long, value_name = "FILE")]
    pub agency_public: PathBuf,
    /// Print JSON (also when the receipt is rejected)
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `receipt import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The receipt file from `casebridge bundle open`
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `receipt list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs a `receipt` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &ReceiptCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        ReceiptCommand::Verify(a) => verify(a, out),
        ReceiptCommand::Import(a) => import(ctx, a, out),
        ReceiptCommand::List(a) => list(ctx, a, out),
    }
}

/// What `receipt verify --json` prints; the receipt's fields only when it verifies.
#[derive(Serialize)]
struct Verdict {
    verdict: &'static str,
    reason: Option<&'static str>,
    message: String,
    #[serde(flatten)]
    receipt: Option<Receipt>,
}

fn fields(r: &Receipt, agency: &str) -> Fields {
    let mut f = Fields::default();
    f.add("agency", agency);
    f.add("bundle", r.bundle_id.to_string());
    f.add("manifest", &r.manifest_hash);
    f.add("sender", r.sender.to_string());
    f.add("sequence", r.seq.to_string());
    f.add("received at", output::time(&r.received_at));
    f.add("outcome", r.outcome.as_str());
    f.add("events", r.events.to_string());
    f.add("blobs", r.blobs.to_string());
    f
}

fn verify(a: &VerifyArgs, out: &mut dyn Write) -> Result<()> {
    let (_, public, _) = files::read_public(&a.agency_public)?;
    let doc = files::read_doc(&a.file)?;
    let result = Receipt::verify(&doc, &public.root_key_bytes()?, public.agency_id);
    let agency = format!("{} ({})", public.name, public.agency_id);
    let verdict = match &result {
        Ok(r) => Verdict {
            verdict: "verified",
            reason: None,
            message: format!("signed by agency {}", output::line(&agency)),
            receipt: Some(r.clone()),
        },
        Err(e) => Verdict { verdict: "rejected", reason: Some(e.reason.code()), message: e.message.clone(), receipt: None },
    };
    if a.json {
        output::json(out, &verdict)?;
    } else if let Ok(r) = &result {
        fields(r, &agency).write(out)?;
        writeln!(out, "VERIFIED")?;
    } else {
        writeln!(out, "REJECTED {}: {}", verdict.reason.unwrap_or_default(), output::line(&verdict.message))?;
    }
    result.map(|_| ()).map_err(|source| CliError::Rejected { what: "receipt", source })
}

fn import(ctx: &mut Ctx, a: &ImportArgs, out: &mut dyn Write) -> Result<()> {
    let doc = files::read_doc(&a.file)?;
    let (r, name) = receipts::keep(&mut ctx.open()?, &doc)?;
    if a.json {
        return output::json(out, &r);
    }
    writeln!(out, "kept the receipt for bundle {}", r.bundle_id)?;
    fields(&r, &format!("{name} ({})", r.agency_id)).write(out)?;
    Ok(())
}

fn list(ctx: &mut Ctx, a: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open()?;
    let held = receipts::held(&store)?;
    if a.json {
        return output::json(out, &held);
    }
    if held.is_empty() {
        writeln!(out, "no receipts yet: keep the one an agency returns with `casebridge receipt import FILE`")?;
        return Ok(());
    }
    let names = receipts::agency_names(&store)?;
    let mut t = Table::new(&["RECEIVED", "BUNDLE", "SEQ", "OUTCOME", "EVENTS", "BLOBS", "VERIFIED", "AGENCY"]).right(2).right(4).right(5);
    for v in &held {
        let r = &v.receipt;
        let agency = names.iter().find(|(id, _)| *id == r.agency_id).map_or_else(|| r.agency_id.to_string(), |(_, n)| n.clone());
        t.row(vec![
            output::time(&r.received_at),
            r.bundle_id.to_string(),
            r.seq.to_string(),
            r.outcome.to_string(),
            r.events.to_string(),
            r.blobs.to_string(),
            if v.verified { "yes" } else { "NO" }.into(),
            agency,
        ]);
    }
    t.write(out)?;
    Ok(())
}
