//! `casebridge note ...`: notes on a case.

use std::io::Write;

use clap::{Args, Subcommand};

use crate::context::Ctx;
use crate::error::Result;

/// The `note` subcommands.
#[derive(Subcommand, Debug)]
pub enum NoteCommand {
    /// Add a note to a case; prints the note's id
    Add(AddArgs),
    /// Correct a note you wrote: a signed amendment replaces its text; the original stays in its history and the journal
    Amend(AmendArgs),
}

/// Arguments of `note amend`.
#[derive(Args, Debug)]
pub struct AmendArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// The note's id or a unique prefix of it (as `casebridge case show CASE --json` lists them)
    #[arg(value_name = "NOTE")]
    pub note: String,
    /// The note's corrected text
    #[arg(long, value_name = "TEXT")]
    pub text: String,
    /// Why it is corrected (kept with the amendment)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Arguments of `note add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// The note (quote it; use `--` before text that starts with '-')
    #[arg(value_name = "TEXT")]
    pub text: String,
}

/// Runs a `note` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &NoteCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        NoteCommand::Add(a) => {
            let id = casebridge_app::cases::note(&mut ctx.open()?, &a.case, &a.text)?;
            writeln!(out, "{id}")?;
            Ok(())
        }
        NoteCommand::Amend(a) => {
            let (_, note) = casebridge_app::cases::amend_note(&mut ctx.open()?, &a.case, &a.note, &a.text, a.reason.clone())?;
            writeln!(out, "amended note {note}; the original stays in its history")?;
            Ok(())
        }
    }
}
