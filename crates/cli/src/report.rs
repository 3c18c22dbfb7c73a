//! `casebridge report CASE --out FILE`: the court report of a case, as a PDF with numbered
//! pages or (`--html`) one self-contained HTML file. The work is done by
//! `casebridge_court::report`; this prints the file's SHA-256 alone on the last line of stdout.

use std::io::Write;
use std::path::PathBuf;

use casebridge_app::court;
use casebridge_core::Error;
use casebridge_court::report::{Format, ReportError, ReportOptions};
use clap::Args;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::{output, progress};

/// Arguments of `report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Where to write the report (must not exist; written to FILE.partial first)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Write one self-contained HTML file instead of a PDF
    #[arg(long)]
    pub html: bool,
    /// Why the report is made (shown in it and recorded in the case's access log)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print JSON: {path, sha256, pages, items, damaged}
    #[arg(long)]
    pub json: bool,
}

/// The court crate's errors as the CLI's.
fn cli_error(e: ReportError) -> CliError {
    match e {
        ReportError::Store(e) => e.into(),
        ReportError::WouldOverwrite { path } => Error::WouldOverwrite { path }.into(),
        ReportError::PartialExists { path } => CliError::WriteFile {
            reason: format!("{} exists (left by an interrupted report?); remove it or choose another --out", path.display()),
            path,
        },
        ReportError::Write { path, reason } => CliError::WriteFile { path, reason },
        other => Error::Invalid { field: "report", reason: other.to_string() }.into(),
    }
}

/// Runs `report`.
pub fn run(ctx: &mut Ctx, a: &ReportArgs, out: &mut dyn Write) -> Result<()> {
    // Refused before the passphrase is asked for.
    if std::fs::symlink_metadata(&a.out).is_ok() {
        return Err(Error::WouldOverwrite { path: a.out.clone() }.into());
    }
    let mut store = ctx.open()?;
    let pb = progress::bytes(0);
    pb.set_message("checking evidence for the report");
    let opts = ReportOptions { format: if a.html { Format::Html } else { Format::Pdf }, reason: a.reason.clone() };
    let result = court::report(&mut store, &a.case, &a.out, &opts, &mut progress::track(&pb));
    pb.finish_and_clear();
    let written = result.map_err(cli_error)?;
    if !written.damaged.is_empty() {
        let ids: Vec<String> = written.damaged.iter().map(|id| id.to_string()).collect();
        let mut err = std::io::stderr();
        let _ = writeln!(
            err,
            "warning: the stored content of {} item(s) failed its check ({}); the report says so; run `casebridge check --read-data`",
            ids.len(),
            ids.join(", ")
        );
    }
    if a.json {
        return output::json(out, &written);
    }
    let pages = written.pages.map(|p| format!("{p} page{}, ", if p == 1 { "" } else { "s" })).unwrap_or_default();
    writeln!(
        out,
        "{}: {pages}{} evidence item{}",
        output::line(&written.path.display().to_string()),
        written.items,
        if written.items == 1 { "" } else { "s" }
    )?;
    writeln!(out, "{}", written.sha256)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use crate::{Cli, Command};

    #[test]
    fn report_takes_a_case_an_output_and_options() {
        let cli =
            Cli::try_parse_from(["casebridge", "report", "BER-1", "--out", "r.html", "--html", "--reason", "court", "--json"]).unwrap();
        let Command::Report(a) = cli.command else { panic!("not report") };
        assert_eq!(
            (a.case.as_str(), a.out.to_str(), a.html, a.reason.as_deref(), a.json),
            ("BER-1", Some("r.html"), true, Some("court"), true)
        );
        let e = Cli::try_parse_from(["casebridge", "report", "BER-1"]).unwrap_err();
        assert_eq!(e.exit_code(), 2, "--out is required");
    }
}
