//! `casebridge review ...`: investigators review volunteers' submissions (accept, reject, ask
//! for information); volunteers see their own submissions and the decisions on them.

use std::io::Write;

use casebridge_app::briefs;
use casebridge_app::Submission;
use casebridge_core::ReviewDecision;
use clap::{Args, Subcommand};
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::output::{self, Fields, Table};

/// The `review` subcommands.
#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// List submissions, newest first (volunteers: your own)
    List(ListArgs),
    /// Show one submission with its items and decisions
    Show(ShowArgs),
    /// Accept a submission (or --item ones): the evidence joins the case, custody "accepted"
    Accept(DecideArgs),
    /// Reject a submission (or --item ones), with a reason the volunteer sees
    Reject(DecideArgs),
    /// Ask the volunteer for more information (--reason says what)
    RequestInfo(DecideArgs),
}

/// Arguments of `review list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only submissions in this state: pending, accepted, rejected, info_requested, mixed, refused
    #[arg(long)]
    pub state: Option<String>,
    /// Print JSON: an array of {id, brief_id, case_id, submitted_at, state, items, ...}
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `review show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Submission id or unique id prefix
    #[arg(value_name = "SUBMISSION")]
    pub submission: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of a decision.
#[derive(Args, Debug)]
pub struct DecideArgs {
    /// Submission id or unique id prefix
    #[arg(value_name = "SUBMISSION")]
    pub submission: String,
    /// Why (the volunteer sees it); required to ask for information
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Decide only these items (evidence ids); default: every item of the submission
    #[arg(long = "item", value_name = "EVIDENCE")]
    pub items: Vec<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs a `review` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &ReviewCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        ReviewCommand::List(a) => list(ctx, a, out),
        ReviewCommand::Show(a) => {
            let s = briefs::submission(&mut ctx.open()?, &a.submission)?;
            if a.json {
                return output::json(out, &s);
            }
            show(&s, out)
        }
        ReviewCommand::Accept(a) => decide(ctx, a, ReviewDecision::Accepted, out),
        ReviewCommand::Reject(a) => decide(ctx, a, ReviewDecision::Rejected, out),
        ReviewCommand::RequestInfo(a) => decide(ctx, a, ReviewDecision::InfoRequested, out),
    }
}

const STATES: [&str; 6] = ["pending", "accepted", "rejected", "info_requested", "mixed", "refused"];

/// The state for people: `refused by the agency: <reason>` for a submission the agency refused
/// (see `casebridge sync status`).
fn state_text(m: &Submission) -> String {
    match &m.refused {
        Some(r) => format!("refused by the agency: {}", output::line(&r.message)),
        None => m.submission.state.to_string(),
    }
}

fn list(ctx: &mut Ctx, a: &ListArgs, out: &mut dyn Write) -> Result<()> {
    if let Some(s) = &a.state {
        if !STATES.contains(&s.as_str()) {
            return Err(CliError::Usage(format!("invalid --state '{s}': use one of {}", STATES.join(", "))));
        }
    }
    let subs: Vec<Submission> =
        briefs::submissions_where(&mut ctx.open()?, |s| a.state.as_deref().is_none_or(|st| s.submission.state.as_str() == st))?;
    if a.json {
        return output::json(out, &subs);
    }
    if subs.is_empty() {
        writeln!(out, "no submissions: run `casebridge sync` to fetch new ones")?;
        return Ok(());
    }
    let mut t = Table::new(&["ID", "SUBMITTED", "STATE", "ITEMS", "BRIEF"]).right(3);
    for l in &subs {
        let s = &l.submission;
        t.row(vec![
            s.id.to_string(),
            output::time(&s.submitted_at),
            state_text(l),
            s.items.len().to_string(),
            s.brief_title.as_deref().map(output::line).unwrap_or_else(|| s.brief_id.to_string()),
        ]);
    }
    t.write(out)?;
    Ok(())
}

fn show(l: &Submission, out: &mut dyn Write) -> Result<()> {
    let s = &l.submission;
    let mut f = Fields::default();
    f.add("submission", s.id.to_string());
    f.add("brief", format!("{} ({})", s.brief_title.as_deref().map(output::line).unwrap_or_default(), s.brief_id));
    f.add("submitted", output::time(&s.submitted_at));
    f.add("state", state_text(l));
    if let Some(r) = &l.refused {
        f.add(
            "refused",
            format!(
                "bundle {} at {} ({}); submit again to a current brief",
                r.bundle_id,
                output::time(&r.refused_at.fixed_offset()),
                r.code
            ),
        );
    }
    if let Some(d) = &s.description {
        f.add("description", d);
    }
    f.write(out)?;
    writeln!(out)?;
    let mut t = Table::new(&["EVIDENCE", "STATE", "SIZE", "NAME", "REASON"]);
    for i in &s.items {
        t.row(vec![
            i.evidence_id.to_string(),
            i.state.to_string(),
            output::size(i.size),
            output::line(&i.name),
            i.reason.as_deref().map(output::line).unwrap_or_else(|| "-".into()),
        ]);
    }
    t.write(out)?;
    Ok(())
}

fn decide(ctx: &mut Ctx, a: &DecideArgs, decision: ReviewDecision, out: &mut dyn Write) -> Result<()> {
    let items: Vec<Uuid> = a
        .items
        .iter()
        .map(|i| Uuid::parse_str(i.trim()).map_err(|_| CliError::Usage(format!("invalid --item '{i}': give an evidence id"))))
        .collect::<Result<_>>()?;
    let s = briefs::review(&mut ctx.open()?, &a.submission, decision, &items, a.reason.clone())?;
    if a.json {
        return output::json(out, &s);
    }
    writeln!(out, "submission {} is now {}; run `casebridge sync` to tell the volunteer", s.id, s.state)?;
    Ok(())
}
