//! `casebridge`: the command-line interface of Casebridge.
//!
//! This file is glue: it parses the arguments, resolves the global options into a [`Ctx`],
//! runs one command module (one per noun) and maps errors to exit codes:
//! 0 success, 1 any error (printed to stderr as `error: <message>`), 2 usage errors (clap).
//!
//! A command module is a thin shell over the use cases of `casebridge_app`, which the desktop
//! shell calls too: it parses its arguments, asks for passphrases, opens the store, calls one
//! use case, and prints text or JSON. Advice naming `casebridge` commands and flags is added
//! here ([`error::hint`]). The agency operator's commands (`agency ...`, `bundle verify`,
//! `receipt verify`) call the agency crate and the trust library directly: they work on an
//! agency directory, not on a profile, and the desktop has none of them.

mod access;
mod agency;
mod brief;
mod bundle;
mod case;
mod check;
mod context;
mod court;
mod credential;
mod demo;
mod endpoint;
mod error;
mod evidence;
mod files;
mod log;
mod note;
mod output;
mod pass;
mod passphrase;
mod profile;
mod progress;
mod receipt;
mod redact;
mod report;
mod retention;
mod review;
mod store_cmd;
mod submit;
mod sync_cmd;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::context::Ctx;
use crate::error::{CliError, Result};
use crate::pass::PassSources;

/// Casebridge: cases and evidence in an encrypted local store, with a signed trail of every change.
///
/// The passphrase is read from CASEBRIDGE_PASSPHRASE, else from --passphrase-file, else asked
/// for on the terminal. It is never given as a command-line value. An agency directory's
/// passphrase likewise: CASEBRIDGE_AGENCY_PASSPHRASE, else --agency-passphrase-file, else asked.
#[derive(Parser, Debug)]
#[command(name = "casebridge", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    // The environment fallbacks are read in `run`, not by clap: clap refuses a set but empty
    // variable, and an empty variable should mean "not set".
    /// The store directory [env: CASEBRIDGE_STORE] [default: the platform data directory + /casebridge]
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// Read the passphrase from the first line of FILE [env: CASEBRIDGE_PASSPHRASE_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// Read the agency directory's passphrase from the first line of FILE
    #[arg(long, global = true, value_name = "FILE")]
    pub agency_passphrase_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands, one module each.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new store and profile (identity key, member id)
    Init(profile::InitArgs),
    /// Show this profile: name, role, member id, key fingerprint
    Whoami(profile::WhoamiArgs),
    /// Open, list, show and edit cases
    #[command(subcommand)]
    Case(case::CaseCommand),
    /// Add notes to cases
    #[command(subcommand)]
    Note(note::NoteCommand),
    /// Import, list, show, export and verify evidence; read its custody trail
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// Show the signed events, oldest first
    Log(log::LogArgs),
    /// The access log of every case this store holds (or --case), by --member and --since: for the data-protection officer
    AccessLog(access::AccessLogAllArgs),
    /// Verify the whole store (journal, signatures, index; with --read-data every item's content)
    Check(check::CheckArgs),
    /// Maintain the store
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
    /// Change the passphrase
    #[command(subcommand)]
    Passphrase(passphrase::PassphraseCommand),
    /// Create and run an agency directory (credentials, revocation); pin an agency on this profile
    #[command(subcommand)]
    Agency(agency::AgencyCommand),
    /// Request, install and show this profile's credentials from agencies
    #[command(subcommand)]
    Credential(credential::CredentialCommand),
    /// Export a case as a signed, sealed bundle; verify a bundle; open one into a store
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Verify an agency's receipt; keep and list the receipts for bundles this profile sent
    #[command(subcommand)]
    Receipt(receipt::ReceiptCommand),
    /// Write the court report of a case (PDF with numbered pages, or --html); prints its SHA-256
    Report(report::ReportArgs),
    /// Export court material: `export court CASE --out DIR` writes the evidence package
    #[command(subcommand)]
    Export(court::ExportCommand),
    /// Briefs: investigators publish and withdraw them; volunteers read those addressed to them
    #[command(subcommand)]
    Brief(brief::BriefCommand),
    /// Submit files in answer to a brief (volunteers); queued for `casebridge sync`
    Submit(submit::SubmitArgs),
    /// Withdraw one of your submissions (volunteers, while none of its items is accepted): the agency deletes its items
    Withdraw(retention::WithdrawArgs),
    /// Retention at the agency: `retention run --dir DIR [--dry-run]` deletes what the rules and withdrawals say must go
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Review volunteers' submissions: list, show, accept, reject, request-info
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Join an agency online with an invite code: installs the credential, pins the agency
    Enrol(endpoint::EnrolArgs),
    /// Send queued work to the agency endpoint and fetch what it has for you (`sync status`)
    Sync(sync_cmd::SyncArgs),
    /// Make a demo (agency, investigator, volunteer, cases, briefs, submissions) and serve it
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    // Usage errors exit 2 and --help/--version exit 0, as clap decides.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of stdout went away (`casebridge log | head`): nothing to report.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The default store directory.
fn default_store() -> Result<PathBuf> {
    dirs::data_dir().map(|d| d.join("casebridge")).ok_or(CliError::NoDataDir)
}

/// A path from the environment; unset and empty are the same.
fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn run(cli: Cli) -> Result<()> {
    let store_dir = match cli.store.or_else(|| env_path("CASEBRIDGE_STORE")) {
        Some(dir) => dir,
        None => default_store()?,
    };
    let passphrase_file = cli.passphrase_file.or_else(|| env_path("CASEBRIDGE_PASSPHRASE_FILE"));
    let mut ctx = Ctx { store_dir, pass: PassSources::from_process(passphrase_file, cli.agency_passphrase_file)? };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    dispatch(&mut ctx, &cli.command, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Runs one command, writing its output to `out`.
pub fn dispatch(ctx: &mut Ctx, command: &Command, out: &mut dyn Write) -> Result<()> {
    match command {
        Command::Init(a) => profile::init(ctx, a, out),
        Command::Whoami(a) => profile::whoami(ctx, a, out),
        Command::Case(c) => case::run(ctx, c, out),
        Command::Note(c) => note::run(ctx, c, out),
        Command::Evidence(c) => evidence::run(ctx, c, out),
        Command::Log(a) => log::run(ctx, a, out),
        Command::AccessLog(a) => access::access_log_all(ctx, a, out),
        Command::Check(a) => check::run(ctx, a, out),
        Command::Store(c) => store_cmd::run(ctx, c, out),
        Command::Passphrase(c) => passphrase::run(ctx, c, out),
        Command::Agency(c) => agency::run(ctx, c, out),
        Command::Credential(c) => credential::run(ctx, c, out),
        Command::Bundle(c) => bundle::run(ctx, c, out),
        Command::Receipt(c) => receipt::run(ctx, c, out),
        Command::Report(a) => report::run(ctx, a, out),
        Command::Export(c) => court::run(ctx, c, out),
        Command::Brief(c) => brief::run(ctx, c, out),
        Command::Submit(a) => submit::run(ctx, a, out),
        Command::Withdraw(a) => retention::withdraw(ctx, a, out),
        Command::Retention(c) => retention::run(ctx, c, out),
        Command::Review(c) => review::run(ctx, c, out),
        Command::Enrol(a) => endpoint::enrol(ctx, a, out),
        Command::Sync(a) => sync_cmd::run(ctx, a, out),
        Command::Demo(a) => demo::run(a, out),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use casebridge_core::{KdfParams, Passphrase, Role, Store};
    use clap::CommandFactory;

    use super::*;

    pub(crate) const PASS: &str = "correct horse battery";

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("casebridge").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        let before = parse(&["--store", "/s", "--passphrase-file", "/p", "case", "list"]).unwrap();
        let after = parse(&["case", "list", "--store", "/s", "--passphrase-file", "/p"]).unwrap();
        for cli in [before, after] {
            assert_eq!(cli.store.as_deref(), Some(Path::new("/s")));
            assert_eq!(cli.passphrase_file.as_deref(), Some(Path::new("/p")));
        }
    }

    #[test]
    fn there_is_no_passphrase_flag() {
        let e = parse(&["--passphrase", "secret", "whoami"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn init_defaults_to_investigator() {
        let Command::Init(a) = parse(&["init", "--name", "Vera"]).unwrap().command else { panic!("not init") };
        assert_eq!(a.role, "investigator");
        assert!(parse(&["init"]).is_err(), "--name is required");
    }

    #[test]
    fn case_new_takes_repeated_tags() {
        let cli = parse(&["case", "new", "--title", "T", "--tag", "a", "--tag", "b"]).unwrap();
        let Command::Case(case::CaseCommand::New(a)) = cli.command else { panic!("not case new") };
        assert_eq!(a.tags, ["a", "b"]);
    }

    #[test]
    fn case_edit_needs_something_to_change() {
        assert_eq!(parse(&["case", "edit", "abcd"]).unwrap_err().exit_code(), 2);
        assert!(parse(&["case", "edit", "abcd", "--status", "closed"]).is_ok());
    }

    #[test]
    fn evidence_add_takes_files_and_a_negative_location() {
        let cli = parse(&["evidence", "add", "CASE", "a.jpg", "b.jpg", "--location", "-33.9,18.4", "--json"]).unwrap();
        let Command::Evidence(evidence::EvidenceCommand::Add(a)) = cli.command else { panic!("not evidence add") };
        assert_eq!(a.files, [PathBuf::from("a.jpg"), PathBuf::from("b.jpg")]);
        assert_eq!(a.location.as_deref(), Some("-33.9,18.4"));
        assert!(a.json);
        assert_eq!(parse(&["evidence", "add", "CASE"]).unwrap_err().exit_code(), 2, "FILE is required");
    }

    #[test]
    fn log_case_is_optional() {
        assert!(parse(&["log"]).is_ok());
        assert!(parse(&["log", "BER-1", "--json"]).is_ok());
    }

    #[test]
    fn captured_at_needs_rfc3339_with_offset() {
        assert!(evidence::parse_captured_at("2026-03-14T09:30:00+01:00").is_ok());
        assert!(evidence::parse_captured_at("2026-03-14T09:30:00Z").is_ok());
        let e = evidence::parse_captured_at("2024-13-01").unwrap_err();
        assert_eq!(e.to_string(), "invalid --captured-at '2024-13-01': expected RFC 3339 such as 2026-03-14T09:30:00+01:00");
        assert!(evidence::parse_captured_at("2026-03-14T09:30:00").is_err(), "an offset is required");
    }

    // ----- commands in-process against a store with cheap KDF parameters -------------------

    fn store() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        Store::create(&dir, &Passphrase::new(PASS), "Vera Brandt", Role::Investigator, KdfParams::INSECURE_FOR_TESTS).unwrap();
        (tmp, dir)
    }

    pub(crate) fn run_in(dir: &Path, args: &[&str]) -> Result<String> {
        let cli = parse(args).unwrap();
        // The core already waits out sled's lock after a `Store` of this process was dropped.
        let pass = PassSources {
            env: Some(Passphrase::new(PASS)),
            new_env: None,
            file: None,
            agency_env: None,
            agency_file: None,
            interactive: false,
        };
        let mut ctx = Ctx { store_dir: dir.to_path_buf(), pass };
        let mut out = Vec::new();
        dispatch(&mut ctx, &cli.command, &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn case_new_prints_the_id_alone_and_json_is_one_document() {
        let (_tmp, dir) = store();
        let id = run_in(&dir, &["case", "new", "--title", "Bike thefts", "--reference", "BER-2026-000123"]).unwrap();
        let id = id.trim_end();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id:?}");
        let list: serde_json::Value = serde_json::from_str(&run_in(&dir, &["case", "list", "--json"]).unwrap()).unwrap();
        assert_eq!(list[0]["id"], id);
        assert_eq!(list[0]["evidence_count"], 0);
        let shown: serde_json::Value =
            serde_json::from_str(&run_in(&dir, &["case", "show", "BER-2026-000123", "--json"]).unwrap()).unwrap();
        assert_eq!(shown["id"], id);
        assert!(shown["evidence"].as_array().unwrap().is_empty());
    }

    #[test]
    fn evidence_add_checks_every_input_before_importing() {
        let (tmp, dir) = store();
        let case = run_in(&dir, &["case", "new", "--title", "T"]).unwrap().trim_end().to_string();
        let good = tmp.path().join("good.txt");
        std::fs::write(&good, b"hello").unwrap();
        let good = good.to_str().unwrap();
        let missing = tmp.path().join("missing.jpg");
        let e = run_in(&dir, &["evidence", "add", &case, good, missing.to_str().unwrap()]).unwrap_err();
        assert!(e.to_string().contains("missing.jpg") && e.to_string().contains("nothing was imported"), "{e}");
        let e = run_in(&dir, &["evidence", "add", &case, good, "--location", "95,0"]).unwrap_err();
        assert!(e.to_string().contains("latitude"), "{e}");
        let e = run_in(&dir, &["evidence", "add", &case, good, "--captured-at", "yesterday"]).unwrap_err();
        assert!(e.to_string().starts_with("invalid --captured-at 'yesterday'"), "{e}");
        assert!(run_in(&dir, &["evidence", "list", &case, "--json"]).unwrap().trim() == "[]");

        let out = run_in(&dir, &["evidence", "add", &case, good, "--location", "-33.9,18.4"]).unwrap();
        let fields: Vec<&str> = out.trim_end().split("  ").collect();
        assert_eq!(fields.len(), 3, "{out:?}");
        assert_eq!(fields[1], casebridge_core::to_hex(&casebridge_core::sha256(b"hello")));
        assert_eq!(fields[2], good);
        let shown: serde_json::Value = serde_json::from_str(&run_in(&dir, &["evidence", "show", fields[0], "--json"]).unwrap()).unwrap();
        assert_eq!(shown["location"]["lat"], -33.9);
        assert_eq!(shown["case_id"], case.as_str());
    }
}
