//! `casebridge init` and `casebridge whoami`: the profile behind a store.

use std::io::Write;

use casebridge_app::profile;
use casebridge_core::{KdfParams, Role, WhoAmI};
use clap::Args;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::Result;
use crate::output::{self, Fields};

/// Arguments of `init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Your name as others will see it
    #[arg(long)]
    pub name: String,
    /// Your role: investigator, volunteer or supervisor
    #[arg(long, default_value = "investigator", value_name = "ROLE")]
    pub role: String,
    /// Print the new profile as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `whoami`.
#[derive(Args, Debug)]
pub struct WhoamiArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// The profile as printed: the core's [`WhoAmI`] plus the store directory.
#[derive(Serialize)]
struct Profile<'a> {
    #[serde(flatten)]
    me: &'a WhoAmI,
    store: String,
}

/// Creates a store.
pub fn init(ctx: &mut Ctx, args: &InitArgs, out: &mut dyn Write) -> Result<()> {
    // Everything that can be checked without the passphrase is checked before asking for it.
    let role: Role = args.role.parse().map_err(casebridge_core::Error::from)?;
    profile::check_new(ctx.dir(), &args.name)?;
    let pass = ctx.pass.for_new_store(&ctx.store_dir)?;
    let store = profile::create(&ctx.store_dir, &pass, &args.name, role, KdfParams::INTERACTIVE)?;
    let me = store.whoami();
    if args.json {
        return output::json(out, &Profile { me, store: ctx.dir().display().to_string() });
    }
    writeln!(out, "created store at {}", ctx.dir().display())?;
    fields(me).write(out)?;
    Ok(())
}

/// Shows who this profile is.
pub fn whoami(ctx: &mut Ctx, args: &WhoamiArgs, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open()?;
    let me = store.whoami();
    if args.json {
        return output::json(out, &Profile { me, store: ctx.dir().display().to_string() });
    }
    let mut f = fields(me);
    f.add("device id", me.device_id.to_string());
    f.add("store", ctx.dir().display().to_string());
    f.write(out)?;
    Ok(())
}

fn fields(me: &WhoAmI) -> Fields {
    let mut f = Fields::default();
    f.add("name", &me.name);
    f.add("role", me.role.as_str());
    f.add("member id", me.member_id.to_string());
    f.add("fingerprint", &me.fingerprint);
    f
}
