//! Retention (issue 16): `casebridge retention run --dir A [--dry-run]` deletes what the
//! agency's retention rules and its volunteers' withdrawals say must go (through the running
//! endpoint when one serves the directory, else directly); `casebridge agency retention set`
//! and `show` keep the rules; `casebridge withdraw SUBMISSION` is a volunteer's withdrawal.

use std::io::Write;
use std::path::PathBuf;

use casebridge_agency::RetentionReport;
use casebridge_app::briefs;
use casebridge_trust::{Agency, RulesFile};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::context::Ctx;
use crate::endpoint::{agency_err, ask_endpoint};
use crate::error::{CliError, Result};
use crate::output::{self, Fields, Table};

/// The `retention` subcommands.
#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Delete what the agency's retention rules and its volunteers' withdrawals say must go
    /// (crypto-shredding, a signed tombstone per item); cases under legal hold are skipped
    Run(RunArgs),
}

/// Arguments of `retention run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Say what would be deleted and why; delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON: {via, dry_run, rules_version, deleted: [{evidence_id, case_id, submission_id, rule, age_days, reason}], held: [...], unfinished}
    #[arg(long)]
    pub json: bool,
}

/// `agency retention` subcommands.
#[derive(Subcommand, Debug)]
pub enum AgencyRetentionCommand {
    /// Sign the rules in FILE ({"rules": [{"id", "category" | "submissions", "after_days"}]}) as the agency's retention rules
    Set(SetArgs),
    /// Show the agency's current retention rules
    Show(ShowArgs),
}

/// Arguments of `agency retention set`.
#[derive(Args, Debug)]
pub struct SetArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The rules, JSON
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `agency retention show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `withdraw`.
#[derive(Args, Debug)]
pub struct WithdrawArgs {
    /// Your submission's id or unique id prefix (from `casebridge review list`)
    #[arg(value_name = "SUBMISSION")]
    pub submission: String,
    /// Why (the agency keeps it with the withdrawal)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs a `retention` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &RetentionCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        RetentionCommand::Run(a) => run_rules(ctx, a, out),
    }
}

/// Runs an `agency retention` subcommand.
pub fn agency(ctx: &mut Ctx, cmd: &AgencyRetentionCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        AgencyRetentionCommand::Set(a) => set(ctx, a, out),
        AgencyRetentionCommand::Show(a) => show(a, out),
    }
}

#[derive(Serialize)]
struct RunView {
    /// `endpoint` (through the running endpoint) or `direct`.
    via: &'static str,
    #[serde(flatten)]
    report: RetentionReport,
}

fn run_rules(ctx: &mut Ctx, a: &RunArgs, out: &mut dyn Write) -> Result<()> {
    let body = serde_json::json!({ "dry_run": a.dry_run });
    let view = match ask_endpoint(&a.dir, "POST", "/admin/retention", Some(body), "unexpected answer from the endpoint")? {
        Some(report) => RunView { via: "endpoint", report },
        None => {
            // A missing agency is reported before any passphrase is asked for.
            Agency::read_public(&a.dir)?;
            let pass = ctx.pass.agency(&a.dir)?;
            RunView { via: "direct", report: casebridge_agency::retention_offline(&a.dir, &pass, a.dry_run).map_err(agency_err)? }
        }
    };
    if a.json {
        return output::json(out, &view);
    }
    let r = &view.report;
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    match r.rules_version {
        Some(v) => writeln!(out, "retention rules version {v}; withdrawals always apply")?,
        None => writeln!(out, "no retention rules set (`casebridge agency retention set`); withdrawals still apply")?,
    }
    if r.deleted.is_empty() {
        writeln!(out, "nothing to delete")?;
    } else {
        writeln!(out, "{verb} {} item(s):", r.deleted.len())?;
        write_table(&r.deleted, out)?;
    }
    if !r.held.is_empty() {
        writeln!(out, "kept under legal hold, {} item(s):", r.held.len())?;
        write_table(&r.held, out)?;
    }
    if r.unfinished > 0 {
        let verb = if r.dry_run { "would destroy" } else { "destroyed" };
        writeln!(out, "{verb} the content of {} item(s) deleted earlier (a run interrupted before it was gone)", r.unfinished)?;
    }
    Ok(())
}

fn write_table(items: &[casebridge_agency::Deletion], out: &mut dyn Write) -> Result<()> {
    let mut t = Table::new(&["ITEM", "CASE", "RULE", "AGE", "WHY"]).right(3).indent(2);
    for d in items {
        t.row(vec![d.evidence_id.to_string(), d.case_id.to_string(), d.rule.clone(), format!("{}d", d.age_days), output::line(&d.reason)]);
    }
    t.write(out)?;
    Ok(())
}

fn set(ctx: &mut Ctx, a: &SetArgs, out: &mut dyn Write) -> Result<()> {
    let bytes = std::fs::read(&a.file).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", a.file.display())))?;
    // Checked before the agency is unlocked: a bad file asks for no passphrase.
    let rules = RulesFile::parse(&bytes)?;
    let body = serde_json::to_value(&rules).map_err(|e| CliError::Usage(e.to_string()))?;
    // A running endpoint holds the agency's keys (and its directory's lock): it signs them.
    let signed = match ask_endpoint::<casebridge_trust::RetentionRules>(
        &a.dir,
        "POST",
        "/admin/retention/rules",
        Some(body),
        "unexpected answer from the endpoint",
    )? {
        Some(signed) => signed,
        None => crate::agency::unlock(ctx, &a.dir)?.set_retention(&rules)?.0,
    };
    if a.json {
        return output::json(out, &signed);
    }
    writeln!(
        out,
        "retention rules version {} signed ({} rule(s)); the next `casebridge retention run` applies them",
        signed.version,
        signed.rules.len()
    )?;
    Ok(())
}

fn show(a: &ShowArgs, out: &mut dyn Write) -> Result<()> {
    let (public, _) = Agency::read_public(&a.dir)?;
    let records = casebridge_agency::deployment::records(&a.dir).map_err(agency_err)?;
    let current = Agency::retention_in(records.as_ref(), &public)?.map(|(r, _)| r);
    if a.json {
        return output::json(out, &current);
    }
    let Some(r) = current else {
        writeln!(
            out,
            "no retention rules set: `casebridge agency retention set --dir DIR --file rules.json`; withdrawals are always deleted"
        )?;
        return Ok(());
    };
    let mut f = Fields::default();
    f.add("version", r.version.to_string());
    f.add("signed", output::time(&r.issued_at));
    f.write(out)?;
    let mut t = Table::new(&["RULE", "APPLIES TO", "AFTER"]).right(2).indent(2);
    for rule in &r.rules {
        let target = match (&rule.category, rule.submissions) {
            (Some(c), _) => format!("cases of category {c}"),
            (None, Some(o)) => format!("submissions {}", o.as_str()),
            (None, None) => "-".into(),
        };
        t.row(vec![rule.id.clone(), target, format!("{} days", rule.after_days)]);
    }
    t.write(out)?;
    Ok(())
}

/// Runs `withdraw`.
pub fn withdraw(ctx: &mut Ctx, a: &WithdrawArgs, out: &mut dyn Write) -> Result<()> {
    let s = briefs::withdraw_submission(&mut ctx.open()?, &a.submission, a.reason.clone())?;
    if a.json {
        return output::json(out, &s);
    }
    writeln!(out, "submission {} withdrawn; the agency deletes its items once `casebridge sync` has sent the withdrawal", s.submission.id)?;
    Ok(())
}
