//! `casebridge log`: the signed events, oldest first.

use std::io::Write;

use clap::Args;

use crate::context::Ctx;
use crate::error::Result;
use crate::output::{self, Table};

/// Arguments of `log`.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// Only the events of this case (id, unique id prefix, or agency reference), including
    /// the custody of its evidence
    #[arg(value_name = "CASE")]
    pub case: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Prints the log.
pub fn run(ctx: &mut Ctx, a: &LogArgs, out: &mut dyn Write) -> Result<()> {
    let entries = casebridge_app::profile::log(&mut ctx.open()?, a.case.as_deref())?;
    if a.json {
        return output::json(out, &entries);
    }
    let mut t = Table::new(&[]);
    for e in &entries {
        t.row(vec![e.author_name.clone().unwrap_or_else(|| e.author.to_string()), output::time(&e.at), e.kind.clone(), e.summary.clone()]);
    }
    t.write(out)?;
    Ok(())
}
