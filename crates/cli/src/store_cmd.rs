//! `casebridge store ...`: maintenance of the store itself.

use std::io::Write;

use clap::{Args, Subcommand};

use crate::context::Ctx;
use crate::error::Result;
use crate::output::{self, Fields};

/// The `store` subcommands.
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Delete the index and rebuild it from the signed journal
    Rebuild(RebuildArgs),
}

/// Arguments of `store rebuild`.
#[derive(Args, Debug)]
pub struct RebuildArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs a `store` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &StoreCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        StoreCommand::Rebuild(a) => {
            let pass = ctx.passphrase()?;
            let report = casebridge_app::profile::rebuild(&ctx.store_dir, &pass)?;
            if a.json {
                return output::json(out, &report);
            }
            writeln!(out, "rebuilt the index from the journal")?;
            let mut f = Fields::default();
            f.add("events replayed", report.events.to_string());
            f.add("cases", report.cases.to_string());
            f.add("evidence items", report.evidence.to_string());
            f.write(out)?;
            Ok(())
        }
    }
}
