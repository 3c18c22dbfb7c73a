//! `casebridge case ...`: open, list, show and edit cases.

use std::io::Write;

use casebridge_app::cases;
use casebridge_core::{CaseDetail, CaseEdit, CaseFilter, CaseStatus};
use clap::{ArgGroup, Args, Subcommand};

use crate::context::Ctx;
use crate::error::Result;
use crate::evidence;
use crate::output::{self, Fields, Table};

/// The `case` subcommands.
#[derive(Subcommand, Debug)]
pub enum CaseCommand {
    /// Open a new case; prints its id
    New(NewArgs),
    /// List cases, most recently changed first
    List(ListArgs),
    /// Show a case with its evidence and notes (police staff's views are recorded in its access log)
    Show(ShowArgs),
    /// Change a case's title, summary, status, reference or tags
    Edit(EditArgs),
    /// Show who viewed, exported, reported on or redacted the case's material, when and why
    AccessLog(crate::access::AccessLogArgs),
    /// Record that a contributor's identity may be disclosed in court material for the case
    Disclose(crate::access::DiscloseArgs),
    /// Add an investigator to a case's team (supervisors and the case's lead); the agency serves a case only to its team and supervisors
    Assign(TeamArgs),
    /// Remove a member from a case's team (supervisors and the case's lead; never the lead)
    Unassign(TeamArgs),
    /// Put a case under legal hold: nothing of it may be deleted until released (supervisors)
    Hold(HoldArgs),
    /// Release a case's legal hold (supervisors)
    Release(HoldArgs),
}

/// Arguments of `case hold` and `case release`.
#[derive(Args, Debug)]
pub struct HoldArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Why: the proceedings or order (recorded with the hold)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

/// Arguments of `case assign` and `case unassign`.
#[derive(Args, Debug)]
pub struct TeamArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// The member's id (as `casebridge whoami` shows it on their device, or `agency issued` at the agency)
    #[arg(value_name = "MEMBER")]
    pub member: String,
}

/// Arguments of `case new`.
#[derive(Args, Debug)]
pub struct NewArgs {
    /// Title
    #[arg(long)]
    pub title: String,
    /// Summary
    #[arg(long)]
    pub summary: Option<String>,
    /// Agency reference, e.g. BER-2026-000123
    #[arg(long)]
    pub reference: Option<String>,
    /// A tag (repeat for more)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Category, e.g. burglary: the agency's retention rules are set per category
    #[arg(long, value_name = "CATEGORY")]
    pub category: Option<String>,
}

/// Arguments of `case list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only cases with this status: open, active, suspended or closed
    #[arg(long)]
    pub status: Option<String>,
    /// Only cases with something matching TEXT (full-text: title, summary, reference, tags, notes, evidence names and descriptions, briefs, submissions; every word must match, the last also as a prefix), best match first; --json adds each case's best match (score, hits, hit_kind, hit_id, matches with field, snippet and ranges)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `case show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Why it is viewed (recorded in the case's access log)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `case edit`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)))]
pub struct EditArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// New title
    #[arg(long, group = "change")]
    pub title: Option<String>,
    /// New summary
    #[arg(long, group = "change")]
    pub summary: Option<String>,
    /// New status: open, active, suspended or closed
    #[arg(long, group = "change")]
    pub status: Option<String>,
    /// New agency reference
    #[arg(long, group = "change")]
    pub reference: Option<String>,
    /// New category (the agency's retention rules are set per category)
    #[arg(long, group = "change", value_name = "CATEGORY")]
    pub category: Option<String>,
    /// A tag (repeat for more): the case's tags become exactly these
    #[arg(long = "tag", value_name = "TAG", group = "change", conflicts_with = "clear_tags")]
    pub tags: Vec<String>,
    /// Remove all of the case's tags
    #[arg(long, group = "change")]
    pub clear_tags: bool,
}

/// Runs a `case` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &CaseCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        CaseCommand::New(a) => new(ctx, a, out),
        CaseCommand::List(a) => list(ctx, a, out),
        CaseCommand::Show(a) => show(ctx, a, out),
        CaseCommand::Edit(a) => edit(ctx, a, out),
        CaseCommand::AccessLog(a) => crate::access::access_log(ctx, a, out),
        CaseCommand::Disclose(a) => crate::access::disclose(ctx, a, out),
        CaseCommand::Assign(a) => {
            let id = cases::assign(&mut ctx.open()?, &a.case, &a.member)?;
            writeln!(out, "{} is on the team of case {id}; the agency learns it at the next sync", a.member.trim())?;
            Ok(())
        }
        CaseCommand::Hold(a) => {
            let id = cases::hold(&mut ctx.open()?, &a.case, &a.reason)?;
            writeln!(out, "case {id} is under legal hold")?;
            Ok(())
        }
        CaseCommand::Release(a) => {
            let id = cases::release(&mut ctx.open()?, &a.case, &a.reason)?;
            writeln!(out, "the legal hold on case {id} is released")?;
            Ok(())
        }
        CaseCommand::Unassign(a) => {
            let id = cases::unassign(&mut ctx.open()?, &a.case, &a.member)?;
            writeln!(out, "{} is off the team of case {id}; the agency stops serving it to them after the next sync", a.member.trim())?;
            Ok(())
        }
    }
}

fn new(ctx: &mut Ctx, a: &NewArgs, out: &mut dyn Write) -> Result<()> {
    let new = casebridge_core::NewCase {
        title: a.title.clone(),
        summary: a.summary.clone(),
        reference: a.reference.clone(),
        tags: a.tags.clone(),
        category: a.category.clone(),
    };
    let id = cases::create_case(&mut ctx.open()?, new)?;
    writeln!(out, "{id}")?;
    Ok(())
}

fn list(ctx: &mut Ctx, a: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let status = a.status.as_deref().map(str::parse::<CaseStatus>).transpose()?;
    let search = a.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let cases = match search {
        None => cases::matching(&mut ctx.open()?, &CaseFilter { status, search: None })?,
        Some(text) => {
            // The full-text engine, over an index built in memory for this command.
            let mut store = ctx.open()?;
            let hits = casebridge_app::search::cases_once(&store, text, status)?;
            // The view is recorded like the unsearched list: one entry naming the cases shown.
            casebridge_app::access::log_case_list(&mut store, hits.iter().map(|h| h.case.id).collect())?;
            if a.json {
                return output::json(out, &hits);
            }
            hits.into_iter().map(|h| h.case).collect()
        }
    };
    if a.json {
        return output::json(out, &cases);
    }
    if cases.is_empty() {
        let filtered = a.status.is_some() || a.search.is_some();
        writeln!(out, "{}", if filtered { "no cases match" } else { "no cases yet: open one with `casebridge case new --title TITLE`" })?;
        return Ok(());
    }
    let mut t = Table::new(&["ID", "REFERENCE", "STATUS", "EVIDENCE", "UPDATED", "TITLE"]).right(3);
    for c in &cases {
        t.row(vec![
            c.id.to_string(),
            c.reference.clone().unwrap_or_else(|| "-".into()),
            c.status.as_str().into(),
            c.evidence_count.to_string(),
            output::opt_time(c.updated_at.as_ref()),
            c.title.clone(),
        ]);
    }
    t.write(out)?;
    Ok(())
}

fn show(ctx: &mut Ctx, a: &ShowArgs, out: &mut dyn Write) -> Result<()> {
    let detail = cases::show(&mut ctx.open()?, &a.case, a.reason.as_deref())?;
    if a.json {
        return output::json(out, &detail);
    }
    write_detail(&detail, out)
}

fn write_detail(c: &CaseDetail, out: &mut dyn Write) -> Result<()> {
    let mut f = Fields::default();
    f.add("case", c.id.to_string());
    f.add("reference", c.reference.as_deref().unwrap_or("-"));
    f.add("title", &c.title);
    f.add("status", c.status.as_str());
    f.add("tags", if c.tags.is_empty() { "-".into() } else { c.tags.join(", ") });
    f.add("category", c.category.as_deref().unwrap_or("-"));
    f.add("created", output::opt_time(c.created_at.as_ref()));
    f.add("updated", output::opt_time(c.updated_at.as_ref()));
    f.add("summary", c.summary.as_deref().unwrap_or("-"));
    let team: Vec<String> = c
        .team
        .iter()
        .map(|m| {
            let who = m.name.as_deref().map_or_else(|| m.id.to_string(), |n| format!("{} ({})", output::line(n), m.id));
            if m.lead {
                format!("{who}, lead")
            } else {
                who
            }
        })
        .collect();
    f.add("team", if team.is_empty() { "-".into() } else { team.join("; ") });
    if let Some(h) = &c.hold {
        let by = h.by_name.as_deref().map_or_else(|| h.by.to_string(), output::line);
        f.add("legal hold", format!("{} (since {}, by {by})", output::line(&h.reason), output::time(&h.at)));
    }
    if !c.on_team {
        f.add("note", "you are not on this case's team: the agency no longer sends you its news");
    }
    f.write(out)?;

    writeln!(out)?;
    writeln!(out, "evidence ({})", c.evidence.len())?;
    if !c.evidence.is_empty() {
        let mut t = evidence::table().indent(2);
        for e in &c.evidence {
            evidence::table_row(&mut t, e);
        }
        t.write(out)?;
    }

    writeln!(out)?;
    writeln!(out, "notes ({})", c.notes.len())?;
    for n in &c.notes {
        let who = n.author_name.clone().unwrap_or_else(|| n.author.to_string());
        writeln!(out, "  {}  {}", output::time(&n.at), output::line(&who))?;
        writeln!(out, "    {}", output::block(&n.text, 4))?;
    }
    Ok(())
}

fn edit(ctx: &mut Ctx, a: &EditArgs, out: &mut dyn Write) -> Result<()> {
    let status = a.status.as_deref().map(str::parse::<CaseStatus>).transpose()?;
    let tags = if a.clear_tags {
        Some(Vec::new())
    } else if a.tags.is_empty() {
        None
    } else {
        if a.tags.iter().all(|t| t.trim().is_empty()) {
            return Err(casebridge_app::AppError::invalid(
                "tag",
                "every --tag given is blank: give a tag, or --clear-tags to remove them all",
            )
            .into());
        }
        Some(a.tags.clone())
    };
    let edit = CaseEdit {
        title: a.title.clone(),
        summary: a.summary.clone(),
        status,
        reference: a.reference.clone(),
        category: a.category.clone(),
        tags,
    };
    let id = cases::edit(&mut ctx.open()?, &a.case, edit)?;
    writeln!(out, "updated case {id}")?;
    Ok(())
}
