//! `casebridge passphrase ...`: change the store's passphrase.

use std::io::Write;

use casebridge_core::KdfParams;
use clap::Subcommand;

use crate::context::Ctx;
use crate::error::Result;

/// The `passphrase` subcommands.
#[derive(Subcommand, Debug)]
pub enum PassphraseCommand {
    /// Change the passphrase (the new one from CASEBRIDGE_NEW_PASSPHRASE or a prompt)
    Change,
}

/// Runs a `passphrase` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &PassphraseCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        PassphraseCommand::Change => {
            // Unlock with the old passphrase first, so a wrong one fails before asking for a new one.
            let mut store = ctx.open()?;
            let new = ctx.pass.replacement()?;
            store.change_passphrase(&new, KdfParams::INTERACTIVE)?;
            writeln!(out, "passphrase changed for {}; only the new passphrase opens it now", ctx.dir().display())?;
            Ok(())
        }
    }
}
