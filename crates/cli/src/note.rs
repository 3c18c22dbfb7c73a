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
    }
}
