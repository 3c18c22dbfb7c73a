//! `casebridge agency ...`: an agency directory (keys under the agency passphrase, issued
//! credentials, revocation list, receipts), and, on a profile, pinning an agency.
//!
//! Every command but `pin` works on `--dir DIR` and needs no profile store; `show` and
//! `export-public` need no passphrase either.

use std::io::Write;
use std::path::{Path, PathBuf};

use casebridge_core::{KdfParams, Role};
use casebridge_trust::{now, parse_duration, Agency, AgencyPublic, Credential, CredentialStatus, Reason, RevocationList};
use chrono::{DateTime, FixedOffset};
use clap::{Args, Subcommand};
use serde::Serialize;
use uuid::Uuid;

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::files;
use crate::output::{self, Fields, Table};

/// The `agency` subcommands.
#[derive(Subcommand, Debug)]
pub enum AgencyCommand {
    /// Create an agency directory: a root signing key and a sealing key under a passphrase
    Init(InitArgs),
    /// Show an agency's id, name, public keys and fingerprints (no passphrase needed)
    Show(DirArgs),
    /// Write the agency's public file (identity and current revocation list) for members to pin
    ExportPublic(ExportPublicArgs),
    /// Issue a credential for a member's request (checks that the request is signed by its key)
    Issue(IssueArgs),
    /// Revoke every credential issued to a member: publishes the next revocation list
    Revoke(RevokeArgs),
    /// List the credentials this agency has issued
    Issued(DirArgs),
    /// On this profile: pin an agency from its public file and keep its newer revocation list
    Pin(PinArgs),
    /// Run the agency endpoint (HTTPS, default 127.0.0.1:8443) until SIGINT/SIGTERM
    Serve(crate::endpoint::ServeArgs),
    /// Make a one-time invite code for a new member (printed alone on the last line)
    Invite(crate::endpoint::InviteArgs),
    /// Clean up the endpoint's directory now: expire abandoned uploads and remove content no
    /// event names (through the running endpoint, or directly when none runs)
    Gc(DirArgs),
    /// Check the whole agency: the store's journal chain, signatures, index and (with
    /// --read-data) every object's hash, orphan objects, issued credentials and receipts;
    /// exit 1 when anything is wrong (through the running endpoint, or directly)
    Check(AgencyCheckArgs),
    /// Move an embedded agency into a cluster (PostgreSQL and an S3 bucket): the same members
    /// log in, every earlier receipt verifies, feeds continue from each member's cursor
    Migrate(MigrateArgs),
    /// The agency's retention rules, signed with its root key: `set --file rules.json`, `show`
    #[command(subcommand)]
    Retention(crate::retention::AgencyRetentionCommand),
    /// The endpoint's own access log (who fetched which item, each feed page and content
    /// fetch), every entry's agency signature and its chain verified; exit 1 when an entry is
    /// forged or left out (through the running endpoint, or directly)
    AccessLog(AgencyAccessLogArgs),
}

/// Arguments of `agency access-log`.
#[derive(Args, Debug)]
pub struct AgencyAccessLogArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Only fetches by this member id
    #[arg(long, value_name = "MEMBER")]
    pub member: Option<String>,
    /// Only fetches at or after this time, RFC 3339 with offset, e.g. 2026-03-01T00:00:00+01:00
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `agency migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The embedded agency's directory (no endpoint may serve it meanwhile)
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The cluster's PostgreSQL database (empty; also read from CASEBRIDGE_DATABASE_URL)
    #[arg(long, value_name = "URL", env = "CASEBRIDGE_DATABASE_URL", hide_env_values = true)]
    pub database: String,
    /// The cluster's S3 bucket, s3://BUCKET[/PREFIX] (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION)
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]")]
    pub objects: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `agency check`.
#[derive(Args, Debug)]
pub struct AgencyCheckArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Also re-hash every object (reads all content)
    #[arg(long)]
    pub read_data: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `agency init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The agency directory to create (new or empty)
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The agency's name as members will see it
    #[arg(long)]
    pub name: String,
    /// A cluster agency: its PostgreSQL database (postgres://USER:PASSWORD@HOST:PORT/DB; also
    /// read from CASEBRIDGE_DATABASE_URL), with --objects
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// A cluster agency: its S3 bucket, s3://BUCKET[/PREFIX] (the endpoint and keys come from
    /// AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]")]
    pub objects: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of commands on an agency directory.
#[derive(Args, Debug)]
pub struct DirArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `agency export-public`.
#[derive(Args, Debug)]
pub struct ExportPublicArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Where to write the public file (must not exist)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Arguments of `agency issue`.
#[derive(Args, Debug)]
pub struct IssueArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The member's request, from `casebridge credential request`
    #[arg(value_name = "REQ")]
    pub request: PathBuf,
    /// The role granted: investigator, supervisor or volunteer
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// The name on the credential [default: the name in the request]
    #[arg(long)]
    pub name: Option<String>,
    /// How long the credential is valid, e.g. 365d, 12w, 72h
    #[arg(long, value_name = "DURATION", default_value = "365d")]
    pub valid_for: String,
    /// Where to write the credential (must not exist)
    #[arg(long, value_name = "CRED")]
    pub out: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `agency revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The agency directory
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The member id (see `casebridge agency issued`)
    #[arg(value_name = "MEMBER")]
    pub member: String,
    /// Why (kept in the signed list)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `agency pin`.
#[derive(Args, Debug)]
pub struct PinArgs {
    /// The agency public file, from `casebridge agency export-public`
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs an `agency` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &AgencyCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        AgencyCommand::Init(a) => init(ctx, a, out),
        AgencyCommand::Show(a) => show(a, out),
        AgencyCommand::ExportPublic(a) => export_public(a, out),
        AgencyCommand::Issue(a) => issue(ctx, a, out),
        AgencyCommand::Revoke(a) => revoke(ctx, a, out),
        AgencyCommand::Issued(a) => issued(ctx, a, out),
        AgencyCommand::Serve(a) => crate::endpoint::serve(ctx, a, out),
        AgencyCommand::Invite(a) => crate::endpoint::invite(ctx, a, out),
        AgencyCommand::Gc(a) => crate::endpoint::gc(ctx, a, out),
        AgencyCommand::Check(a) => crate::endpoint::check(ctx, a, out),
        AgencyCommand::Migrate(a) => migrate(ctx, a, out),
        AgencyCommand::Pin(a) => pin(ctx, a, out),
        AgencyCommand::Retention(c) => crate::retention::agency(ctx, c, out),
        AgencyCommand::AccessLog(a) => access_log(ctx, a, out),
    }
}

/// Unlocks an agency directory; a missing agency is reported before any passphrase is asked for.
pub fn unlock(ctx: &mut Ctx, dir: &Path) -> Result<Agency> {
    Agency::read_public(dir)?;
    let pass = ctx.pass.agency(dir)?;
    casebridge_agency::deployment::open_agency(dir, &pass).map_err(crate::endpoint::agency_err)
}

/// An agency as printed by `init`, `show` and `pin`.
#[derive(Serialize)]
pub struct AgencyView<'a> {
    #[serde(flatten)]
    public: &'a AgencyPublic,
    root_fingerprint: String,
    sealing_fingerprint: String,
    revocation_version: u64,
    revoked: usize,
    revocation_expires_at: DateTime<FixedOffset>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dir: Option<String>,
}

impl<'a> AgencyView<'a> {
    /// The view of `public` with its revocation list.
    pub fn new(public: &'a AgencyPublic, list: &RevocationList, dir: Option<&Path>) -> AgencyView<'a> {
        AgencyView {
            public,
            root_fingerprint: public.root_fingerprint(),
            sealing_fingerprint: public.sealing_fingerprint(),
            revocation_version: list.version,
            revoked: list.entries.len(),
            revocation_expires_at: list.expires_at,
            dir: dir.map(|d| d.display().to_string()),
        }
    }

    fn fields(&self, keys: bool) -> Fields {
        let mut f = Fields::default();
        f.add("agency", self.public.agency_id.to_string());
        f.add("name", &self.public.name);
        if keys {
            f.add("root key", &self.public.root_key);
            f.add("sealing recipient", &self.public.sealing_recipient);
        }
        f.add("root fingerprint", &self.root_fingerprint);
        f.add("sealing fingerprint", &self.sealing_fingerprint);
        if keys {
            f.add("created", output::time(&self.public.created_at));
        }
        f.add("revocation list", revocation_line(self.revocation_version, self.revoked, &self.revocation_expires_at));
        f
    }
}

/// `version 3, 1 revoked key, fresh until T` (or `expired at T`).
pub fn revocation_line(version: u64, revoked: usize, expires_at: &DateTime<FixedOffset>) -> String {
    let keys = if revoked == 1 { "key" } else { "keys" };
    let fresh = if now() <= *expires_at { "fresh until" } else { "EXPIRED at" };
    format!("version {version}, {revoked} revoked {keys}, {fresh} {}", output::time(expires_at))
}

fn init(ctx: &mut Ctx, a: &InitArgs, out: &mut dyn Write) -> Result<()> {
    // What can be checked without the passphrase is checked before asking for it.
    if a.name.trim().is_empty() {
        return Err(casebridge_core::Error::Invalid { field: "name", reason: "it is empty; give the agency's name".into() }.into());
    }
    if a.dir.join("agency.json").exists() {
        return Err(casebridge_core::Error::AlreadyExists { path: a.dir.clone() }.into());
    }
    let cluster = cluster_config(a)?;
    if let Some(config) = &cluster {
        casebridge_agency::deployment::parse_objects(&config.objects).map_err(crate::endpoint::agency_err)?;
    }
    let pass = ctx.pass.for_new_agency(&a.dir)?;
    let (agency, made) = match &cluster {
        None => {
            let agency = Agency::init(&a.dir, &a.name, &pass, KdfParams::INTERACTIVE)?;
            // The endpoint's TLS certificate, which invite codes name and members pin.
            casebridge_agency::tls::ensure_certificate(&a.dir, &pass, KdfParams::INTERACTIVE).map_err(|e| CliError::Sync(e.to_string()))?;
            (agency, None)
        }
        Some(config) => {
            let (agency, made) = casebridge_agency::deployment::init_cluster(&a.dir, &a.name, &pass, KdfParams::INTERACTIVE, config)
                .map_err(crate::endpoint::agency_err)?;
            (agency, Some(made))
        }
    };
    let (list, _) = agency.current_revocation()?;
    #[derive(Serialize)]
    struct View<'a> {
        #[serde(flatten)]
        agency: AgencyView<'a>,
        /// `embedded` or `cluster`.
        deployment: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        cluster: Option<casebridge_agency::deployment::ClusterInit>,
    }
    let view = View {
        agency: AgencyView::new(agency.public(), &list, Some(&a.dir)),
        deployment: if made.is_some() { "cluster" } else { "embedded" },
        cluster: made,
    };
    if a.json {
        return output::json(out, &view);
    }
    writeln!(out, "created agency at {}", a.dir.display())?;
    let mut f = view.agency.fields(false);
    if let Some(c) = &view.cluster {
        f.add("database", &c.database);
        f.add("objects", &c.objects);
        f.add("replicas", format!("copy {} to each replica machine; run `agency serve` there", a.dir.display()));
    }
    f.write(out)?;
    Ok(())
}

/// The cluster configuration `agency init` was given: none for an embedded agency. The
/// database comes from --database or CASEBRIDGE_DATABASE_URL, and makes a cluster only with
/// --objects.
fn cluster_config(a: &InitArgs) -> Result<Option<casebridge_agency::deployment::ClusterConfig>> {
    let env = std::env::var(casebridge_agency::deployment::DATABASE_URL_ENV).ok().filter(|u| !u.trim().is_empty());
    match (&a.objects, a.database.clone().or(env)) {
        (None, _) if a.database.is_some() => Err(casebridge_core::Error::Invalid {
            field: "database",
            reason: "a cluster agency needs its object store too: add --objects s3://BUCKET[/PREFIX]".into(),
        }
        .into()),
        (None, _) => Ok(None),
        (Some(_), None) => Err(casebridge_core::Error::Invalid {
            field: "objects",
            reason: "a cluster agency needs its database too: add --database URL or set CASEBRIDGE_DATABASE_URL".into(),
        }
        .into()),
        (Some(objects), Some(database)) => {
            Ok(Some(casebridge_agency::deployment::ClusterConfig { database, objects: objects.trim().to_string(), s3: None }))
        }
    }
}

fn migrate(ctx: &mut Ctx, a: &MigrateArgs, out: &mut dyn Write) -> Result<()> {
    let config =
        casebridge_agency::deployment::ClusterConfig { database: a.database.clone(), objects: a.objects.trim().to_string(), s3: None };
    casebridge_agency::deployment::parse_objects(&config.objects).map_err(crate::endpoint::agency_err)?;
    Agency::read_public(&a.dir)?;
    let pass = ctx.pass.agency(&a.dir)?;
    let report = casebridge_agency::deployment::migrate(&a.dir, &pass, &config).map_err(crate::endpoint::agency_err)?;
    if a.json {
        return output::json(out, &report);
    }
    let mut f = Fields::default();
    f.add("migrated", a.dir.display().to_string());
    f.add("database", &report.database);
    f.add("objects", format!("{} ({} objects, {})", report.objects, report.objects_copied, output::size(report.object_bytes)));
    f.add("journal", format!("{} records", report.journal_records));
    f.add("records", format!("{} (credentials, receipts, invites, revocation list)", report.records));
    if report.uploads_left > 0 {
        f.add("uploads", format!("{} in progress left behind: their members' clients begin them again", report.uploads_left));
    }
    f.add("set aside", &report.set_aside);
    f.add("next", "copy the directory to each replica machine and run `agency serve` there");
    f.write(out)?;
    Ok(())
}

/// The current revocation list of the agency in `dir`, whichever its deployment (no
/// passphrase needed).
fn current_list(dir: &Path) -> Result<(RevocationList, casebridge_trust::SignedDoc)> {
    let (public, _) = Agency::read_public(dir)?;
    let records = casebridge_agency::deployment::records(dir).map_err(crate::endpoint::agency_err)?;
    Ok(Agency::revocation_in(records.as_ref(), &public)?)
}

fn show(a: &DirArgs, out: &mut dyn Write) -> Result<()> {
    let (public, _) = Agency::read_public(&a.dir)?;
    let (list, _) = current_list(&a.dir)?;
    let view = AgencyView::new(&public, &list, Some(&a.dir));
    if a.json {
        return output::json(out, &view);
    }
    view.fields(true).write(out)?;
    Ok(())
}

fn export_public(a: &ExportPublicArgs, out: &mut dyn Write) -> Result<()> {
    files::refuse_existing(&a.out)?;
    let records = casebridge_agency::deployment::records(&a.dir).map_err(crate::endpoint::agency_err)?;
    let file = Agency::public_file_in(&a.dir, records.as_ref())?;
    let (public, list) = file.verify()?;
    let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::from)?;
    files::write_new(&a.out, &bytes)?;
    let mut f = AgencyView::new(&public, &list, None).fields(false);
    f.add("written to", a.out.display().to_string());
    f.write(out)?;
    Ok(())
}

/// A credential as printed by `agency issue`, `agency issued` and `credential ...`.
#[derive(Serialize)]
pub struct CredentialView<'a> {
    #[serde(flatten)]
    pub credential: &'a Credential,
    /// The name the credential commits to, where it is known (the agency's sealed record, the
    /// member's own profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// valid, expired, not yet valid or revoked.
    pub status: CredentialStatus,
    /// Where it was written (`agency issue`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

fn issue(ctx: &mut Ctx, a: &IssueArgs, out: &mut dyn Write) -> Result<()> {
    let role: Role = a.role.parse().map_err(casebridge_core::Error::from)?;
    let valid_for = parse_duration(&a.valid_for).map_err(|_| CliError::ValidFor { value: a.valid_for.clone() })?;
    files::refuse_existing(&a.out)?;
    let request = files::read_doc(&a.request)?;
    let agency = unlock(ctx, &a.dir)?;
    // The request's proof of possession (its signature by the key it names) is checked here.
    let (cred, doc, name) = agency.issue(&request, role, a.name.as_deref(), valid_for).map_err(|source| match source.reason {
        Reason::Io | Reason::Unavailable | Reason::Store => CliError::Trust(source),
        _ => CliError::Document { path: a.request.clone(), source },
    })?;
    files::write_new(&a.out, &doc.to_bytes())?;
    let view = CredentialView {
        credential: &cred,
        name: Some(&name.name),
        status: CredentialStatus::Valid,
        path: Some(a.out.display().to_string()),
    };
    if a.json {
        return output::json(out, &view);
    }
    let mut f = credential_fields(&cred, Some(&name.name), None);
    f.add("written to", a.out.display().to_string());
    f.write(out)?;
    Ok(())
}

/// The fields of one credential, after an `agency` line when given.
pub fn credential_fields(c: &Credential, name: Option<&str>, agency: Option<String>) -> Fields {
    let mut f = Fields::default();
    if let Some(agency) = agency {
        f.add("agency", agency);
    }
    f.add("serial", c.serial.to_string());
    f.add("member", c.member_id.to_string());
    f.add("name", name.unwrap_or("(not held: the credential commits to the name without holding it)"));
    f.add("role", c.role.as_str());
    f.add("scopes", c.scopes.join(", "));
    f.add("valid from", output::time(&c.not_before));
    f.add("valid until", output::time(&c.not_after));
    f
}

#[derive(Serialize)]
struct Revoked {
    member_id: Uuid,
    version: u64,
    count: usize,
    expires_at: DateTime<FixedOffset>,
}

fn revoke(ctx: &mut Ctx, a: &RevokeArgs, out: &mut dyn Write) -> Result<()> {
    let member = Uuid::parse_str(a.member.trim()).map_err(|_| CliError::MemberId { value: a.member.clone() })?;
    // While the endpoint serves the directory, it holds the agency: ask it (the revocation
    // then takes effect on the next request).
    let r = if let Some(r) = crate::endpoint::revoke_via_endpoint(&a.dir, member, a.reason.clone())? {
        let (list, _) = current_list(&a.dir)?;
        Revoked { member_id: member, version: r.version, count: r.revoked, expires_at: list.expires_at }
    } else {
        let agency = unlock(ctx, &a.dir)?;
        let list = agency.revoke(member, a.reason.clone())?;
        Revoked { member_id: member, version: list.version, count: list.entries.len(), expires_at: list.expires_at }
    };
    if a.json {
        return output::json(out, &r);
    }
    let mut f = Fields::default();
    f.add("revoked member", member.to_string());
    f.add("revocation list", revocation_line(r.version, r.count, &r.expires_at));
    f.add("next", "publish it with `casebridge agency export-public`; members and investigators pin the new file");
    f.write(out)?;
    Ok(())
}

fn issued(ctx: &mut Ctx, a: &DirArgs, out: &mut dyn Write) -> Result<()> {
    // Issued credentials (members' names) are sealed at rest: the running endpoint answers over
    // its admin socket; without one, the agency is unlocked here.
    Agency::read_public(&a.dir)?;
    let answer = crate::endpoint::ask_endpoint(&a.dir, "GET", "/admin/issued", None, "the endpoint answered unexpected credentials")?;
    let creds: Vec<casebridge_trust::NamedCredential> = match answer {
        Some(creds) => creds,
        None => unlock(ctx, &a.dir)?
            .issued_with_names()?
            .into_iter()
            .map(|(credential, d)| casebridge_trust::NamedCredential { credential, name: d.map(|d| d.name) })
            .collect(),
    };
    let (list, _) = current_list(&a.dir)?;
    let t = now();
    let views: Vec<CredentialView<'_>> = creds
        .iter()
        .map(|c| CredentialView {
            credential: &c.credential,
            name: c.name.as_deref(),
            status: c.credential.status(Some(&list), t),
            path: None,
        })
        .collect();
    if a.json {
        return output::json(out, &views);
    }
    if views.is_empty() {
        writeln!(out, "no credentials issued yet: issue one with `casebridge agency issue --dir DIR REQ --role ROLE --out CRED`")?;
        return Ok(());
    }
    let mut table = Table::new(&["MEMBER", "ROLE", "SERIAL", "VALID FROM", "VALID UNTIL", "STATUS", "NAME"]);
    for v in &views {
        let c = v.credential;
        table.row(vec![
            c.member_id.to_string(),
            c.role.as_str().into(),
            c.serial.to_string(),
            output::time(&c.not_before),
            output::time(&c.not_after),
            v.status.as_str().into(),
            v.name.unwrap_or("-").to_string(),
        ]);
    }
    table.write(out)?;
    Ok(())
}

fn pin(ctx: &mut Ctx, a: &PinArgs, out: &mut dyn Write) -> Result<()> {
    let (file, _, _) = files::read_public(&a.file)?;
    let (public, list) = casebridge_app::agencies::pin(&mut ctx.open()?, &file)?;
    let view = AgencyView::new(&public, &list, None);
    if a.json {
        return output::json(out, &view);
    }
    writeln!(out, "pinned agency {} ({}); compare the fingerprints with the agency's", output::line(&public.name), public.agency_id)?;
    view.fields(false).write(out)?;
    Ok(())
}

/// `agency access-log --dir A [--member M] [--since T] [--json]`: the endpoint's own access
/// log, verified (the whole log is verified; the filters choose what is printed).
fn access_log(ctx: &mut Ctx, a: &AgencyAccessLogArgs, out: &mut dyn Write) -> Result<()> {
    let member = match &a.member {
        Some(m) => Some(
            Uuid::parse_str(m.trim())
                .map_err(|_| casebridge_core::Error::Invalid { field: "member", reason: format!("'{m}' is not a member id") })?,
        ),
        None => None,
    };
    let since = match &a.since {
        Some(t) => Some(DateTime::parse_from_rfc3339(t.trim()).map_err(|_| casebridge_core::Error::Invalid {
            field: "since",
            reason: format!("'{t}' is not an RFC 3339 time with offset, e.g. 2026-03-01T00:00:00+01:00"),
        })?),
        None => None,
    };
    Agency::read_public(&a.dir)?;
    let report: casebridge_agency::endpoint_log::AccessLogReport =
        match crate::endpoint::ask_endpoint(&a.dir, "GET", "/admin/access-log", None, "the endpoint answered an unexpected access log")? {
            Some(r) => r,
            None => casebridge_agency::endpoint_log::report(&unlock(ctx, &a.dir)?),
        };
    let entries: Vec<&casebridge_agency::endpoint_log::EndpointAccess> =
        report.entries.iter().filter(|e| member.is_none_or(|m| e.member == m) && since.is_none_or(|t| e.at >= t)).collect();
    let ok = report.problems.is_empty();
    if a.json {
        #[derive(Serialize)]
        struct View<'a> {
            ok: bool,
            entries: Vec<&'a casebridge_agency::endpoint_log::EndpointAccess>,
            problems: &'a [casebridge_core::Problem],
        }
        output::json(out, &View { ok, entries, problems: &report.problems })?;
    } else {
        if entries.is_empty() {
            writeln!(out, "no fetches recorded that match")?;
        } else {
            let mut t = Table::new(&["SEQ", "WHEN", "MEMBER", "ROLE", "WHAT", "ITEMS", "CASES"]).right(0);
            for e in &entries {
                t.row(vec![
                    e.seq.to_string(),
                    output::time(&e.at),
                    e.member.to_string(),
                    e.role.as_str().to_string(),
                    e.action.clone(),
                    e.items.iter().map(Uuid::to_string).collect::<Vec<_>>().join(","),
                    e.cases.iter().map(Uuid::to_string).collect::<Vec<_>>().join(","),
                ]);
            }
            t.write(out)?;
        }
        let f = Fields::default();
        crate::check::write_verdict(out, f, &report.problems, ok)?;
    }
    crate::check::verdict(&report.problems, ok)
}
