//! `casebridge bundle ...`: export a case as a signed bundle sealed to an agency, verify a
//! bundle offline, and open one into an agency-side profile store with a signed receipt.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use casebridge_app::bundle::Received;
use casebridge_app::credentials::Unusable;
use casebridge_app::export::{self, ExportError, ToAgency};
use casebridge_core::Role;
use casebridge_protocol::BundleOutcome;
use casebridge_trust::bundle::{self, Anchor, BlobSink, Opened, Verified};
use casebridge_trust::{now, CredentialStatus, TrustError};
use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;
use uuid::Uuid;

use crate::agency::unlock;
use crate::context::Ctx;
use crate::error::{io_reason, CliError, Result};
use crate::files;
use crate::output::{self, Fields, Table};
use crate::progress;

/// The `bundle` subcommands.
#[derive(Subcommand, Debug)]
pub enum BundleCommand {
    /// Write a case's events and evidence as one bundle, signed by this profile and sealed to an agency
    Export(ExportArgs),
    /// Verify a bundle offline with the agency's keys; prints VERIFIED or REJECTED with a reason code
    Verify(VerifyArgs),
    /// Verify a bundle and import it into an agency-side profile store; writes a signed receipt
    Open(OpenArgs),
}

/// Arguments of `bundle export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(long, value_name = "CASE")]
    pub case: String,
    /// The recipient agency's public file (pinned on first use; must match the pinned agency)
    #[arg(long, value_name = "AGENCY_PUBLIC_FILE")]
    pub to: PathBuf,
    /// Where to write the bundle (must not exist)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Only events at or after this journal position (the "index" of `casebridge log --json`)
    #[arg(long, value_name = "SEQ")]
    pub since: Option<u64>,
    /// Do not seal the bundle to the agency (anyone holding it can read it)
    #[arg(long)]
    pub no_seal: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bundle verify`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("anchor").required(true).args(["agency_dir", "agency_public"])))]
pub struct VerifyArgs {
    /// The bundle file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The agency directory (agency passphrase; opens sealed bundles)
    #[arg(long, value_name = "DIR")]
    pub agency_dir: Option<PathBuf>,
    /// The agency's public file (no passphrase; unsealed bundles only)
    #[arg(long, value_name = "FILE")]
    pub agency_public: Option<PathBuf>,
    /// Print JSON (also when the bundle is rejected)
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bundle open`.
#[derive(Args, Debug)]
pub struct OpenArgs {
    /// The bundle file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The agency directory the bundle is sealed to (agency passphrase)
    #[arg(long, value_name = "DIR")]
    pub agency_dir: PathBuf,
    /// The agency-side profile store to import into [default: --store]
    #[arg(long, value_name = "STORE_DIR")]
    pub into: Option<PathBuf>,
    /// Where to write the signed receipt (must not exist) [default: FILE.receipt]
    #[arg(long, value_name = "FILE")]
    pub receipt_out: Option<PathBuf>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs a `bundle` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &BundleCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        BundleCommand::Export(a) => export(ctx, a, out),
        BundleCommand::Verify(a) => verify(ctx, a, out),
        BundleCommand::Open(a) => open(ctx, a, out),
    }
}

/// Checks that the bundle file can be read, before any passphrase is asked for.
fn check_readable(path: &Path) -> Result<()> {
    let bad = |reason: String| CliError::ReadFile { path: path.to_path_buf(), reason };
    let meta = std::fs::metadata(path).map_err(|e| bad(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(bad("it is a directory".into()));
    }
    File::open(path).map_err(|e| bad(io_reason(&e)))?;
    Ok(())
}

// ----- export ----------------------------------------------------------------------------------

fn export(ctx: &mut Ctx, a: &ExportArgs, out: &mut dyn Write) -> Result<()> {
    files::refuse_existing(&a.out)?;
    let (file, _, _) = files::read_public(&a.to)?;
    let mut store = ctx.open()?;
    let pb = progress::bytes(0);
    pb.set_message("exporting bundle");
    let to = ToAgency { case: &a.case, agency: &file, since: a.since, seal: !a.no_seal };
    let result = export::to_agency(&mut store, to, &a.out, &mut progress::track(&pb));
    pb.finish_and_clear();
    let (summary, agency) = result.map_err(export_error)?;
    if a.json {
        return output::json(out, &summary);
    }
    let mut f = Fields::default();
    f.add("bundle", summary.bundle_id.to_string());
    f.add("sequence", summary.seq.to_string());
    f.add("events", summary.events.to_string());
    f.add("blobs", summary.blobs.to_string());
    f.add("bytes", format!("{} ({})", summary.bytes, output::size(summary.bytes)));
    f.add("manifest", &summary.manifest_hash);
    let to = format!("{} ({})", agency.name, agency.agency_id);
    f.add(if summary.sealed { "sealed to" } else { "for (NOT sealed)" }, to);
    f.add("file", summary.path.display().to_string());
    f.write(out)?;
    Ok(())
}

/// Why the export failed, with the CLI's advice for a credential that cannot be used.
fn export_error(e: ExportError) -> CliError {
    match e {
        ExportError::Store(e) => e.into(),
        ExportError::Trust(e) => e.into(),
        ExportError::Credential { agency, why } => match why {
            Unusable::Trust(e) => e.into(),
            Unusable::Missing => CliError::NoCredential { agency: agency.name, agency_id: agency.agency_id },
            Unusable::NotValid { status: CredentialStatus::Revoked, list_version, .. } => {
                CliError::CredentialNotValid { agency: agency.name, why: format!("is revoked (revocation list version {list_version})") }
            }
            Unusable::NotValid { status, credential: c, .. } => CliError::CredentialNotValid {
                agency: agency.name,
                why: format!("is {status}: it is valid from {} to {}", output::time(&c.not_before), output::time(&c.not_after)),
            },
        },
    }
}

// ----- verify ----------------------------------------------------------------------------------

/// One blob as reported.
#[derive(Serialize)]
struct BlobView {
    sha256: String,
    size: u64,
}

/// What `bundle verify --json` prints, verified or rejected (then the bundle's own fields are
/// null: nothing in a rejected bundle is vouched for).
#[derive(Serialize)]
struct Verdict {
    verdict: &'static str,
    reason: Option<&'static str>,
    message: String,
    bundle_id: Option<Uuid>,
    agency_id: Uuid,
    sender: Option<Uuid>,
    sender_name: Option<String>,
    role: Option<Role>,
    case_id: Option<Uuid>,
    seq: Option<u64>,
    manifest_hash: Option<String>,
    events: Option<usize>,
    blobs: Vec<BlobView>,
    bytes: Option<u64>,
    sealed: Option<bool>,
}

impl Verdict {
    fn verified(v: &Verified, agency_name: &str) -> Verdict {
        let m = &v.manifest;
        Verdict {
            verdict: "verified",
            reason: None,
            message: format!(
                "signed by {} with a valid, unrevoked credential from {}; every event signature and blob hash checks",
                m.sender,
                output::line(agency_name)
            ),
            bundle_id: Some(m.bundle_id),
            agency_id: m.recipient_agency,
            sender: Some(m.sender),
            // Known only when the agency's own record opened the credential's name commitment.
            sender_name: v.name.as_ref().map(|d| d.name.clone()),
            role: Some(v.credential.role),
            case_id: m.case_id,
            seq: Some(m.seq),
            manifest_hash: Some(v.manifest_hash.clone()),
            events: Some(m.events.len()),
            blobs: m.blobs.iter().map(|b| BlobView { sha256: b.sha256.clone(), size: b.size }).collect(),
            bytes: Some(v.bytes),
            sealed: Some(v.sealed),
        }
    }

    fn rejected(e: &TrustError, agency_id: Uuid) -> Verdict {
        Verdict {
            verdict: "rejected",
            reason: Some(e.reason.code()),
            message: e.message.clone(),
            bundle_id: None,
            agency_id,
            sender: None,
            sender_name: None,
            role: None,
            case_id: None,
            seq: None,
            manifest_hash: None,
            events: None,
            blobs: Vec::new(),
            bytes: None,
            sealed: None,
        }
    }
}

/// Verifies with a spinner (drawn only once any passphrase prompt is over).
fn check_bundle(path: &Path, anchor: &Anchor<'_>) -> casebridge_trust::Result<Verified> {
    let pb = progress::spinner("verifying bundle");
    let result = bundle::verify(path, anchor, BlobSink::Check, &mut |n: u64| {
        pb.set_position(n);
        true
    });
    pb.finish_and_clear();
    result
}

fn verify(ctx: &mut Ctx, a: &VerifyArgs, out: &mut dyn Write) -> Result<()> {
    check_readable(&a.file)?;
    let (result, agency) = match (&a.agency_dir, &a.agency_public) {
        (Some(dir), _) => {
            let agency = unlock(ctx, dir)?;
            let (list, _) = agency.current_revocation()?;
            let names = agency.names()?;
            let issued = agency.issued()?;
            let anchor = Anchor::new(agency.public(), &list, Some(agency.sealing_identity())).at(now()).issued(&issued).names(&names);
            (check_bundle(&a.file, &anchor), agency.public().clone())
        }
        (None, public_file) => {
            // clap requires one of the two.
            let public_file = public_file.as_deref().ok_or(casebridge_core::Error::Invalid {
                field: "arguments",
                reason: "give --agency-dir DIR or --agency-public FILE".into(),
            })?;
            let (_, public, list) = files::read_public(public_file)?;
            // Without the agency's own current list, a stale one may miss a revocation.
            let result = list.check_fresh(now()).and_then(|()| {
                let anchor = Anchor::new(&public, &list, None);
                check_bundle(&a.file, &anchor)
            });
            (result, public)
        }
    };
    let verdict = match &result {
        Ok(v) => Verdict::verified(v, &agency.name),
        Err(e) if casebridge_app::exchange::is_verdict(e) => Verdict::rejected(e, agency.agency_id),
        Err(_) => return result.map(|_| ()).map_err(CliError::from),
    };
    if a.json {
        output::json(out, &verdict)?;
    } else {
        write_verdict(&verdict, &agency.name, out)?;
    }
    match result {
        Ok(_) => Ok(()),
        Err(source) => Err(CliError::Rejected { what: "bundle", source }),
    }
}

fn write_verdict(v: &Verdict, agency_name: &str, out: &mut dyn Write) -> Result<()> {
    if let Some(reason) = v.reason {
        writeln!(out, "REJECTED {reason}: {}", output::line(&v.message))?;
        return Ok(());
    }
    let opt = |u: Option<Uuid>| u.map_or_else(|| "-".into(), |u| u.to_string());
    let mut f = Fields::default();
    f.add("bundle", opt(v.bundle_id));
    f.add("agency", format!("{agency_name} ({})", v.agency_id));
    f.add("sender", opt(v.sender));
    f.add("sender name", v.sender_name.as_deref().unwrap_or("-"));
    f.add("role", v.role.map_or("-", Role::as_str));
    f.add("case", opt(v.case_id));
    f.add("sequence", v.seq.unwrap_or_default().to_string());
    f.add("manifest", v.manifest_hash.as_deref().unwrap_or("-"));
    f.add("sealed", if v.sealed == Some(true) { "yes" } else { "no" });
    f.add("events", v.events.unwrap_or_default().to_string());
    f.add("blobs", format!("{} ({} bytes)", v.blobs.len(), v.bytes.unwrap_or_default()));
    f.write(out)?;
    let mut t = Table::new(&[]).indent(2).right(1);
    for b in &v.blobs {
        t.row(vec![b.sha256.clone(), b.size.to_string()]);
    }
    t.write(out)?;
    writeln!(out, "VERIFIED")?;
    Ok(())
}

// ----- open ------------------------------------------------------------------------------------

/// What `bundle open --json` prints.
#[derive(Serialize)]
struct OpenReport<'a> {
    #[serde(flatten)]
    opened: &'a Opened,
    receipt: Option<String>,
}

/// `FILE.receipt`, next to the bundle.
fn default_receipt(file: &Path) -> PathBuf {
    let mut s = OsString::from(file.as_os_str());
    s.push(".receipt");
    PathBuf::from(s)
}

fn open(ctx: &mut Ctx, a: &OpenArgs, out: &mut dyn Write) -> Result<()> {
    check_readable(&a.file)?;
    // A receipt path the user named must be new. The default one may be left from an earlier
    // open of this bundle: a duplicate writes no receipt, so it is only checked on acceptance.
    if let Some(p) = &a.receipt_out {
        files::refuse_existing(p)?;
    }
    let receipt_path = a.receipt_out.clone().unwrap_or_else(|| default_receipt(&a.file));
    if let Some(into) = &a.into {
        ctx.store_dir = into.clone();
    }
    ctx.require_store()?;
    let agency = unlock(ctx, &a.agency_dir)?;
    let (list, list_doc) = agency.current_revocation()?;
    let mut store = ctx.open()?;
    let pb = progress::spinner("importing bundle");
    let result = casebridge_app::bundle::open_into(&mut store, &agency, (&list, &list_doc), &a.file, &mut |n: u64| {
        pb.set_position(n);
        true
    });
    pb.finish_and_clear();
    let Received { opened, receipt } = result?;
    let mut receipt_err = None;
    let mut written = None;
    if let Some(doc) = receipt {
        match files::write_new(&receipt_path, &doc.to_bytes()) {
            Ok(()) => written = Some(receipt_path.clone()),
            Err(e) => receipt_err = Some(e),
        }
    }

    if a.json {
        output::json(out, &OpenReport { opened: &opened, receipt: written.as_ref().map(|p| p.display().to_string()) })?;
    } else {
        if opened.outcome == BundleOutcome::Accepted {
            writeln!(out, "accepted bundle {}", opened.bundle_id)?;
        } else {
            writeln!(out, "duplicate: bundle {} was already imported; nothing was added", opened.bundle_id)?;
        }
        let mut f = Fields::default();
        f.add("sender", opened.sender.to_string());
        f.add("sequence", opened.seq.to_string());
        f.add("events added", format!("{} of {}", opened.events_added, opened.events));
        f.add("blobs", opened.blobs.to_string());
        f.add("manifest", &opened.manifest_hash);
        f.add("store", ctx.dir().display().to_string());
        let receipt = match &written {
            Some(p) => p.display().to_string(),
            None if opened.outcome == BundleOutcome::Accepted => "not written (see the error)".into(),
            None => "none (the first import's receipt stands)".into(),
        };
        f.add("receipt", receipt);
        f.write(out)?;
    }
    match receipt_err {
        None => Ok(()),
        Some(e) => Err(CliError::ReceiptNotWritten {
            path: receipt_path,
            reason: e.to_string(),
            copy: a.agency_dir.join("receipts").join(format!("{}.json", opened.bundle_id)),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use casebridge_trust::Reason;

    #[test]
    fn the_default_receipt_sits_next_to_the_bundle() {
        assert_eq!(default_receipt(Path::new("/x/b1.cbb")), PathBuf::from("/x/b1.cbb.receipt"));
    }

    #[test]
    fn setup_failures_are_errors_not_verdicts() {
        assert!(!casebridge_app::exchange::is_verdict(&TrustError::new(Reason::SealingKeyRequired, "sealed: needs --agency-dir")));
        assert!(!casebridge_app::exchange::is_verdict(&TrustError::new(Reason::Io, "reading")));
        assert!(casebridge_app::exchange::is_verdict(&TrustError::new(Reason::SignerRevoked, "revoked")));
        assert!(casebridge_app::exchange::is_verdict(&TrustError::new(Reason::RevocationListExpired, "stale")));
    }
}
