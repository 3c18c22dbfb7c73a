//! `casebridge export court CASE --out DIR`: the court evidence package of a case
//! (docs/FORMAT.md, "Court evidence package"), checked by hand with `sha256sum -c SHA256SUMS`
//! or with the independent `casebridge-verify DIR --agency-root HEX`. The work is done by
//! `casebridge_court::package`; this prints the agency root fingerprint HEX that the court
//! should obtain from the agency out of band.

use std::io::Write;
use std::path::{Path, PathBuf};

use casebridge_court::package::PackageError;
use clap::{Args, Subcommand};

use crate::context::Ctx;
use crate::error::{io_reason, CliError, Result};
use crate::output::{self, Fields};
use crate::progress;

/// The `export` subcommands.
#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Write a case's court evidence package (signed manifest, events, originals, agency
    /// documents) to a new directory that anyone can check with `casebridge-verify DIR --agency-root HEX`
    Court(CourtArgs),
}

/// Arguments of `export court`.
#[derive(Args, Debug)]
pub struct CourtArgs {
    /// Case id, unique id prefix, or agency reference
    #[arg(value_name = "CASE")]
    pub case: String,
    /// The package directory (must not exist, or be empty)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Why the package is made (recorded in the case's access log)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print JSON: {package_id, case_id, files, items, events, bytes, credentials, receipts, agency_id, agency_root_fingerprint, path}
    #[arg(long)]
    pub json: bool,
}

/// Runs an `export` subcommand.
pub fn run(ctx: &mut Ctx, cmd: &ExportCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        ExportCommand::Court(a) => court(ctx, a, out),
    }
}

const NOT_EMPTY: &str = "it exists and is not empty; a package is written only to a new or empty directory";

/// The exporter's errors as the CLI's.
fn cli_error(e: PackageError) -> CliError {
    match e {
        PackageError::Core(e) => e.into(),
        PackageError::Trust(e) => e.into(),
        PackageError::NotEmpty { path } => CliError::WriteFile { path, reason: NOT_EMPTY.into() },
        PackageError::Io { path, source, .. } => CliError::WriteFile { path, reason: io_reason(&source) },
        other => casebridge_core::Error::Invalid { field: "package", reason: other.to_string() }.into(),
    }
}

/// Refuses, before the passphrase is asked for, an output that the exporter would refuse.
fn check_out(path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return Ok(()) };
    let empty_dir = meta.is_dir() && std::fs::read_dir(path).map(|mut rd| rd.next().is_none()).unwrap_or(false);
    if !empty_dir {
        return Err(CliError::WriteFile { path: path.to_path_buf(), reason: NOT_EMPTY.into() });
    }
    Ok(())
}

fn court(ctx: &mut Ctx, a: &CourtArgs, out: &mut dyn Write) -> Result<()> {
    check_out(&a.out)?;
    let mut store = ctx.open()?;
    let pb = progress::bytes(0);
    pb.set_message("writing the court package");
    let result = casebridge_app::court::package(&mut store, &a.case, &a.out, a.reason.clone(), &mut progress::track(&pb));
    pb.finish_and_clear();
    let s = result.map_err(cli_error)?;
    if a.json {
        return output::json(out, &s);
    }
    let mut f = Fields::default();
    f.add("package", s.package_id.to_string());
    f.add("case", s.case_id.to_string());
    f.add("events", s.events.to_string());
    f.add("items", s.items.to_string());
    f.add("credentials", s.credentials.to_string());
    f.add("receipts", s.receipts.to_string());
    f.add("agency", s.agency_id.map_or_else(|| "none (no agency pinned: no agency.json)".into(), |id| id.to_string()));
    f.add("files", s.files.to_string());
    f.add("bytes", format!("{} ({})", s.bytes, output::size(s.bytes)));
    f.add("path", s.path.display().to_string());
    f.write(out)?;
    match &s.agency_root_fingerprint {
        Some(fp) => {
            writeln!(
                out,
                "agency root fingerprint: {fp} (obtain it from the agency out of band and pass it to casebridge-verify --agency-root)"
            )?;
            writeln!(
                out,
                "check it with: casebridge-verify {} --agency-root {fp}   (or: cd DIR && sha256sum -c SHA256SUMS)",
                s.path.display()
            )?;
        }
        None => {
            writeln!(
                out,
                "agency root fingerprint: none (no agency pinned): casebridge-verify cannot anchor this package and will not report it VERIFIED"
            )?;
            writeln!(out, "check it with: casebridge-verify {}   (or: cd DIR && sha256sum -c SHA256SUMS)", s.path.display())?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use casebridge_core::{EvidenceOptions, KdfParams, NewCase, Passphrase, Role, Store};
    use clap::Parser;

    // The in-process runner shared with main.rs's tests.
    use crate::tests::{run_in, PASS};

    #[test]
    fn export_court_writes_a_package_and_never_into_a_used_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        let mut store =
            Store::create(&dir, &Passphrase::new(PASS), "Vera Brandt", Role::Investigator, KdfParams::INSECURE_FOR_TESTS).unwrap();
        let case = store.create_case(NewCase { title: "T".into(), reference: Some("BER-9".into()), ..Default::default() }).unwrap();
        let file = tmp.path().join("photo.jpg");
        std::fs::write(&file, b"not really a photo").unwrap();
        let item = store.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
        drop(store);

        let out = tmp.path().join("pkg");
        let json = run_in(&dir, &["export", "court", "BER-9", "--out", out.to_str().unwrap(), "--reason", "trial", "--json"]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["case_id"], case.to_string());
        assert_eq!((v["items"].as_u64(), v["events"].as_u64()), (Some(1), Some(4)), "{json}");
        assert_eq!(v["path"], out.to_str().unwrap());
        assert_eq!(std::fs::read(out.join("originals").join(item.id.to_string())).unwrap(), b"not really a photo");
        assert!(out.join("manifest.json").is_file() && out.join("SHA256SUMS").is_file());

        let e = run_in(&dir, &["export", "court", "BER-9", "--out", out.to_str().unwrap()]).unwrap_err();
        assert!(e.to_string().contains("exists and is not empty"), "{e}");
        let text = run_in(&dir, &["export", "court", "BER-9", "--out", tmp.path().join("pkg2").to_str().unwrap()]).unwrap();
        assert!(text.contains("check it with: casebridge-verify"), "{text}");
        assert!(text.contains("agency root fingerprint: none (no agency pinned)"), "{text}");
        assert!(v["agency_root_fingerprint"].is_null(), "{json}");
        assert!(crate::Cli::try_parse_from(["casebridge", "export", "court", "BER-9"]).is_err(), "--out is required");

        // With an agency pinned, the fingerprint the court must obtain from it is printed.
        let agency_dir = tmp.path().join("agency");
        let agency =
            casebridge_trust::Agency::init(&agency_dir, "Test agency", &Passphrase::new(PASS), KdfParams::INSECURE_FOR_TESTS).unwrap();
        let mut store = Store::open(&dir, &Passphrase::new(PASS)).unwrap();
        casebridge_trust::profile::pin_agency(&mut store, &casebridge_trust::Agency::public_file(&agency_dir).unwrap()).unwrap();
        drop(store);
        let fp = agency.public().root_fingerprint();
        let pkg3 = tmp.path().join("pkg3");
        let text = run_in(&dir, &["export", "court", "BER-9", "--out", pkg3.to_str().unwrap()]).unwrap();
        assert!(
            text.contains(&format!(
                "agency root fingerprint: {fp} (obtain it from the agency out of band and pass it to casebridge-verify --agency-root)\n"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("check it with: casebridge-verify {} --agency-root {fp}", pkg3.display())), "{text}");
        let json = run_in(&dir, &["export", "court", "BER-9", "--out", tmp.path().join("pkg4").to_str().unwrap(), "--json"]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["agency_root_fingerprint"], fp.as_str(), "{json}");
    }
}
