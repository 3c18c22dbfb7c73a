//! `casebridge brief ...`: investigators publish and withdraw briefs; volunteers list and read
//! the briefs addressed to them (pulled by `casebridge sync`).

use std::io::Write;

use casebridge_app::briefs;
use casebridge_core::{Area, BriefView, NewBrief};
use clap::{Args, Subcommand};
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::evidence::parse_captured_at;
use crate::output::{self, Fields, Table};

/// The `brief` subcommands.
#[derive(Subcommand, Debug)]
pub enum BriefCommand {
    /// Publish a brief on a case (investigators); prints its id. `casebridge sync` sends it
    Publish(PublishArgs),
    /// Withdraw a brief (investigators); volunteers stop seeing it after their next sync
    Withdraw(IdArgs),
    /// List the briefs (volunteers: those addressed to you), newest first
    List(ListArgs),
    /// Show one brief
    Show(ShowArgs),
}

/// Arguments of `brief publish`.
#[derive(Args, Debug)]
pub struct PublishArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Title volunteers see
    #[arg(long)]
    pub title: String,
    /// What volunteers are asked to look for (plain text)
    #[arg(long, value_name = "TEXT")]
    pub body: String,
    /// Where: LAT,LON,RADIUS_M, e.g. 52.52,13.405,500
    #[arg(long, value_name = "LAT,LON,RADIUS_M", allow_hyphen_values = true)]
    pub area: Option<String>,
    /// Start of the time window asked about (RFC 3339 with offset)
    #[arg(long, value_name = "RFC3339")]
    pub from: Option<String>,
    /// End of the time window asked about (RFC 3339 with offset)
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// Who sees it: `all` (every volunteer of the agency, the default) or member ids
    #[arg(long, value_name = "all|MEMBER", num_args = 1.., default_value = "all")]
    pub audience: Vec<String>,
}

/// A brief id argument.
#[derive(Args, Debug)]
pub struct IdArgs {
    /// Brief id or unique id prefix
    #[arg(value_name = "BRIEF")]
    pub brief: String,
}

/// Arguments of `brief list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Include withdrawn briefs
    #[arg(long)]
    pub all: bool,
    /// Print JSON: an array of {id, title, body, area, from, until, ...}
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `brief show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Brief id or unique id prefix
    #[arg(value_name = "BRIEF")]
    pub brief: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs a `brief` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &BriefCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        BriefCommand::Publish(a) => publish(ctx, a, out),
        BriefCommand::Withdraw(a) => {
            let id = briefs::withdraw(&mut ctx.open()?, &a.brief)?;
            writeln!(out, "brief {id} withdrawn; run `casebridge sync` to tell volunteers")?;
            Ok(())
        }
        BriefCommand::List(a) => list(ctx, a, out),
        BriefCommand::Show(a) => show(ctx, a, out),
    }
}

/// Parses `--audience`: `all`, or member ids.
fn audience(values: &[String]) -> Result<Vec<Uuid>> {
    if values.iter().any(|v| v.trim().eq_ignore_ascii_case("all")) {
        if values.len() > 1 {
            return Err(CliError::Usage("--audience takes either `all` or member ids, not both".into()));
        }
        return Ok(Vec::new());
    }
    values.iter().map(|v| Uuid::parse_str(v.trim()).map_err(|_| CliError::MemberId { value: v.clone() })).collect()
}

fn publish(ctx: &mut Ctx, a: &PublishArgs, out: &mut dyn Write) -> Result<()> {
    // Every input is checked before the store is opened.
    let area = a.area.as_deref().map(str::parse::<Area>).transpose()?;
    let from = a.from.as_deref().map(|s| parse_captured_at(s).map_err(|_| window_err("--from", s))).transpose()?;
    let until = a.until.as_deref().map(|s| parse_captured_at(s).map_err(|_| window_err("--until", s))).transpose()?;
    let audience = audience(&a.audience)?;
    let brief = NewBrief { case: Uuid::nil(), title: a.title.clone(), text: a.body.clone(), area, from, until, audience };
    let id = briefs::publish_on(&mut ctx.open()?, &a.case, brief)?;
    writeln!(out, "{id}")?;
    Ok(())
}

fn window_err(flag: &str, value: &str) -> CliError {
    CliError::Usage(format!("invalid {flag} '{value}': expected RFC 3339 such as 2026-03-14T09:30:00+01:00"))
}

/// An area for people.
pub fn area(a: &Option<Area>) -> String {
    a.map(|a| format!("{:.5},{:.5} within {} m", a.lat, a.lon, a.radius_m)).unwrap_or_else(|| "-".into())
}

fn window(b: &BriefView) -> String {
    match (&b.from, &b.until) {
        (None, None) => "-".into(),
        (f, u) => format!("{} .. {}", output::opt_time(f.as_ref()), output::opt_time(u.as_ref())),
    }
}

fn list(ctx: &mut Ctx, a: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let held = briefs::list(&ctx.open()?, a.all)?;
    if a.json {
        return output::json(out, &held);
    }
    if held.is_empty() {
        writeln!(out, "no briefs: run `casebridge sync` to fetch new ones")?;
        return Ok(());
    }
    let mut t = Table::new(&["ID", "PUBLISHED", "AREA", "WINDOW", "TITLE"]);
    for b in &held {
        let title = if b.withdrawn { format!("{} (withdrawn)", output::line(&b.title)) } else { output::line(&b.title) };
        t.row(vec![b.id.to_string(), output::opt_time(b.published_at.as_ref()), area(&b.area), window(b), title]);
    }
    t.write(out)?;
    Ok(())
}

fn show(ctx: &mut Ctx, a: &ShowArgs, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open()?;
    let b = briefs::show(&store, &a.brief)?;
    if a.json {
        return output::json(out, &b);
    }
    let mut f = Fields::default();
    f.add("brief", b.id.to_string());
    f.add("title", output::line(&b.title));
    f.add("status", if b.withdrawn { "withdrawn" } else { "open" });
    f.add("published", output::opt_time(b.published_at.as_ref()));
    f.add("area", area(&b.area));
    f.add("window", window(&b));
    if store.whoami().role != casebridge_core::Role::Volunteer {
        f.add("case", b.case_id.to_string());
        let who = if b.audience.is_empty() {
            "all volunteers".to_string()
        } else {
            b.audience.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ")
        };
        f.add("audience", who);
    }
    f.add("body", &b.body);
    f.write(out)?;
    Ok(())
}
