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
            // Both passphrases are gathered (the old one first, as a person expects to be asked)
            // and the new one's policy is checked before the store is unlocked: a refused change
            // touches nothing, not even the index. A wrong old passphrase then fails on unlock.
            let old = ctx.passphrase()?;
            let new = ctx.pass.replacement()?;
            casebridge_app::profile::change_passphrase(ctx.dir(), &old, &new, KdfParams::INTERACTIVE)?;
            writeln!(out, "passphrase changed for {}; only the new passphrase opens it now", ctx.dir().display())?;
            Ok(())
        }
    }
}
