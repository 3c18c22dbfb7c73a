//! `casebridge check`: verify the whole store.

use std::io::Write;

use clap::Args;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::output::{self, Fields, Table};
use crate::progress;

/// Arguments of `check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Also re-hash every evidence item's content (reads all of it)
    #[arg(long)]
    pub read_data: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs the check; fails (exit 1) after printing the report when anything is wrong.
pub fn run(ctx: &mut Ctx, a: &CheckArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = ctx.open()?;
    let pb = if a.read_data { progress::spinner("re-hashing evidence") } else { indicatif::ProgressBar::hidden() };
    let report = casebridge_app::profile::check(&mut store, a.read_data, &mut |done| pb.set_position(done));
    pb.finish_and_clear();
    let mut report = report?;
    for p in &mut report.problems {
        p.message = crate::error::cli_words(&p.code, std::mem::take(&mut p.message));
    }
    if a.json {
        output::json(out, &report)?;
    } else {
        let mut f = Fields::default();
        let authors = if report.authors == 1 { "author" } else { "authors" };
        f.add("journal events", format!("{} from {} {authors}", report.events, report.authors));
        f.add("index records", report.index_records.to_string());
        f.add("cases", report.cases.to_string());
        f.add("evidence items", report.evidence.to_string());
        f.add("notes", report.notes.to_string());
        if a.read_data {
            f.add("content re-hashed", format!("{} items, {}", report.objects_checked, output::size(report.bytes_checked)));
        } else {
            f.add("content re-hashed", "no (use --read-data to re-hash every item)");
        }
        f.add("orphan objects", format!("{} (left by interrupted imports; harmless)", report.orphan_objects));
        write_verdict(out, f, &report.problems, report.ok)?;
    }
    verdict(&report.problems, report.ok)
}

/// The end of a check's text report (the store's, the agency's): the fields with the count of
/// problems, each problem by code, then `ok` or `NOT OK`.
pub(crate) fn write_verdict(out: &mut dyn Write, mut f: Fields, problems: &[casebridge_core::Problem], ok: bool) -> Result<()> {
    f.add("problems", problems.len().to_string());
    f.write(out)?;
    if !problems.is_empty() {
        let mut t = Table::new(&[]).indent(2);
        for p in problems {
            t.row(vec![p.code.clone(), format!("{}: {}", p.item, p.message)]);
        }
        t.write(out)?;
    }
    writeln!(out, "{}", if ok { "ok" } else { "NOT OK" })?;
    Ok(())
}

/// A check's outcome as the command's: exit 1 (`CheckFailed`) when anything is wrong.
pub(crate) fn verdict(problems: &[casebridge_core::Problem], ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(CliError::CheckFailed { count: problems.len().max(1) })
    }
}
