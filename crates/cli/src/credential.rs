//! `casebridge credential ...`: on a profile, ask an agency for a credential, install the one
//! it issues, and show those installed.

use std::io::Write;
use std::path::PathBuf;

use casebridge_app::credentials;
use clap::{Args, Subcommand};

use crate::agency::credential_fields;
use crate::context::Ctx;
use crate::error::Result;
use crate::files;
use crate::output::{self, Fields};

/// The `credential` subcommands.
#[derive(Subcommand, Debug)]
pub enum CredentialCommand {
    /// Write a request for a credential, signed with this profile's key; give it to the agency
    Request(RequestArgs),
    /// Install a credential an agency issued to this profile
    Install(InstallArgs),
    /// Show the installed credentials
    Show(ShowArgs),
}

/// Arguments of `credential request`.
#[derive(Args, Debug)]
pub struct RequestArgs {
    /// Where to write the request (must not exist)
    #[arg(long, value_name = "REQ")]
    pub out: PathBuf,
}

/// Arguments of `credential install`.
#[derive(Args, Debug)]
pub struct InstallArgs {
    /// The credential file from `casebridge agency issue`
    #[arg(value_name = "CRED")]
    pub credential: PathBuf,
    /// The agency's public file: pins the agency first (needed unless it is already pinned)
    #[arg(long, value_name = "FILE")]
    pub agency_public: Option<PathBuf>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `credential show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs a `credential` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &CredentialCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        CredentialCommand::Request(a) => request(ctx, a, out),
        CredentialCommand::Install(a) => install(ctx, a, out),
        CredentialCommand::Show(a) => show(ctx, a, out),
    }
}

fn request(ctx: &mut Ctx, a: &RequestArgs, out: &mut dyn Write) -> Result<()> {
    files::refuse_existing(&a.out)?;
    let store = ctx.open()?;
    let doc = credentials::request(&store);
    files::write_new(&a.out, &doc.to_bytes())?;
    let me = store.whoami();
    writeln!(out, "wrote a credential request to {}", a.out.display())?;
    let mut f = Fields::default();
    f.add("name", &me.name);
    f.add("role", me.role.as_str());
    f.add("member id", me.member_id.to_string());
    f.add("fingerprint", &me.fingerprint);
    f.add("next", "give the request to the agency, then `casebridge credential install CRED --agency-public FILE`");
    f.write(out)?;
    Ok(())
}

fn install(ctx: &mut Ctx, a: &InstallArgs, out: &mut dyn Write) -> Result<()> {
    let doc = files::read_doc(&a.credential)?;
    let public = a.agency_public.as_deref().map(files::read_public).transpose()?;
    let view = credentials::install(&mut ctx.open()?, &doc, public.as_ref().map(|(f, _, _)| f))?;
    if a.json {
        return output::json(out, &view);
    }
    let cred = &view.credential;
    writeln!(out, "installed a credential from agency {} ({})", output::line(&view.agency_name), cred.agency_id)?;
    let mut f = credential_fields(cred, Some(&view.name), None);
    f.add("status", view.status.as_str());
    f.write(out)?;
    Ok(())
}

fn show(ctx: &mut Ctx, a: &ShowArgs, out: &mut dyn Write) -> Result<()> {
    let views = credentials::held(&ctx.open()?)?;
    if a.json {
        return output::json(out, &views);
    }
    if views.is_empty() {
        writeln!(
            out,
            "no credential installed: write a request with `casebridge credential request --out REQ`, then install what the agency issues with `casebridge credential install CRED`"
        )?;
        return Ok(());
    }
    for (i, v) in views.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let mut f = credential_fields(&v.credential, Some(&v.name), Some(format!("{} ({})", v.agency_name, v.credential.agency_id)));
        f.add("status", v.status.as_str());
        f.write(out)?;
    }
    Ok(())
}
