//! The CLI's one error type. Every message says what was wrong and what to do. The core's
//! messages already do, in the product's words for every front end ("rebuild the index");
//! the CLI puts its own commands and flags in their place ([`cli_words`]: "run `casebridge
//! store rebuild`"), and adds its hint to a message of the use cases that gives no advice
//! ([`hint`]). The trust layer's messages pass through unchanged; they end with their
//! reason code in brackets (`... [signer_revoked]`) for scripts and tests.

use std::io;
use std::path::PathBuf;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An error of the store; its message is shown with the CLI's words for its advice.
    #[error("{}", cli_words(.0.code(), .0.to_string()))]
    Core(#[from] casebridge_core::Error),

    /// An error of the trust layer; its message (ending with `[reason_code]`) is shown with the
    /// CLI's words for its advice ([`trust_words`]).
    #[error("{}", trust_words(.0))]
    Trust(#[from] casebridge_trust::TrustError),

    /// A bundle or receipt was judged and rejected (the verdict is already on stdout).
    #[error("the {what} was rejected: {source}")]
    Rejected {
        /// "bundle" or "receipt".
        what: &'static str,
        /// Why, with its reason code.
        source: casebridge_trust::TrustError,
    },

    /// No passphrase source was available.
    #[error(
        "no passphrase given: set CASEBRIDGE_PASSPHRASE, pass --passphrase-file FILE, or run casebridge in a terminal to be asked for it"
    )]
    NoPassphrase,

    /// `passphrase change` had no source for the new passphrase.
    #[error("no new passphrase given: set CASEBRIDGE_NEW_PASSPHRASE or run casebridge in a terminal to be asked for it")]
    NoNewPassphrase,

    /// No source for an agency directory's passphrase was available.
    #[error(
        "no agency passphrase given: set CASEBRIDGE_AGENCY_PASSPHRASE, pass --agency-passphrase-file FILE, or run casebridge in a terminal to be asked for it"
    )]
    NoAgencyPassphrase,

    /// An environment variable holds bytes that are not UTF-8.
    #[error("{var} is not valid UTF-8; set it to text")]
    NotUnicode {
        /// The variable.
        var: &'static str,
    },

    /// The passphrase file could not be read.
    #[error("cannot read the passphrase file {path}: {reason}")]
    PassphraseFile {
        /// The file given with --passphrase-file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// The passphrase file's first line is empty.
    #[error("the passphrase file {path} is empty: put the passphrase on its first line")]
    EmptyPassphraseFile {
        /// The file given with --passphrase-file.
        path: PathBuf,
    },

    /// The two passphrases typed at the prompt differ.
    #[error("the two passphrases differ; nothing was changed")]
    PassphraseMismatch,

    /// Reading from the terminal failed.
    #[error("cannot read the passphrase from the terminal: {0}")]
    Prompt(io::Error),

    /// There is no platform data directory to hold the default store.
    #[error("cannot find a data directory for this user: give --store DIR or set CASEBRIDGE_STORE")]
    NoDataDir,

    /// A file the user named cannot be read.
    #[error("cannot read {path}: {reason}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// A new file cannot be written (an existing one is reported by the core's `WouldOverwrite`).
    #[error("cannot write {path}: {reason}; nothing was written")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// A file the user named is not the signed document expected.
    #[error("{path}: {source}")]
    Document {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, with its reason code.
        source: casebridge_trust::TrustError,
    },

    /// `--valid-for` is not a duration.
    #[error("invalid --valid-for '{value}': expected a duration such as 365d, 72h, 30m or 2w")]
    ValidFor {
        /// What the user typed.
        value: String,
    },

    /// A member id that is not a UUID.
    #[error("invalid member id '{value}': use a member id from `casebridge agency issued`")]
    MemberId {
        /// What the user typed.
        value: String,
    },

    /// `bundle export` to an agency this profile holds no credential from.
    #[error(
        "this profile has no credential from agency {agency} ({agency_id}): create a request with `casebridge credential request --out REQ`, have the agency issue a credential, then install it with `casebridge credential install CRED`"
    )]
    NoCredential {
        /// The agency's name.
        agency: String,
        /// The agency's id.
        agency_id: uuid::Uuid,
    },

    /// `bundle export` with a credential that is expired, not yet valid or revoked.
    #[error(
        "the credential from agency {agency} {why}; ask the agency for a new one and install it with `casebridge credential install CRED`"
    )]
    CredentialNotValid {
        /// The agency's name.
        agency: String,
        /// What is wrong with it.
        why: String,
    },

    /// `bundle open` imported the bundle but could not write the receipt file.
    #[error("the bundle was imported, but the receipt was not written to {path}: {reason}; the agency's signed copy is {copy}")]
    ReceiptNotWritten {
        /// Where it should have gone.
        path: PathBuf,
        /// Why not.
        reason: String,
        /// The copy the agency directory keeps.
        copy: PathBuf,
    },

    /// An error of the shared use cases (casebridge-app); its message is shown with the CLI's
    /// words for the store's advice (a store error reaches the CLI this way too).
    #[error("{}", cli_words(.0.code.as_str(), .0.message.clone()))]
    App(casebridge_app::AppError),

    /// An argument combination or value that clap cannot check.
    #[error("{0}")]
    Usage(String),

    /// The agency endpoint or the network failed.
    #[error("{0}")]
    Sync(String),

    /// `--captured-at` is not RFC 3339 with an offset.
    #[error("invalid --captured-at '{value}': expected RFC 3339 such as 2026-03-14T09:30:00+01:00")]
    CapturedAt {
        /// What the user typed.
        value: String,
    },

    /// An import failed after some files were already imported (and committed).
    #[error("{source} ({done} of {total} files were imported before this error and are listed on stdout)")]
    PartialImport {
        /// Files imported and committed.
        done: usize,
        /// Files asked for.
        total: usize,
        /// What went wrong with the next file.
        source: Box<CliError>,
    },

    /// `check` found problems (already printed).
    #[error("the check found {count} problem{s} (listed in the report)", s = if *count == 1 { "" } else { "s" })]
    CheckFailed {
        /// How many.
        count: usize,
    },

    /// Writing to stdout failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
}

impl CliError {
    /// True when stdout was closed by the reader (e.g. `casebridge log | head`), which is not
    /// worth an error message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The advice of the store's messages in the CLI's words, by error (or check problem) code:
/// (code, the store's advice ending its message, what the CLI says instead). The store says
/// what to do in product words, since the desktop shows its messages too; here the CLI names
/// the command or flag that does it. A longer advice comes before any advice it ends with.
const CLI_WORDS: &[(&str, &str, &str)] = &[
    ("no_store", "create a profile there first", "create one with `casebridge init --name NAME`"),
    (
        "corruption",
        "run a full check of the store (reading all evidence) for a report",
        "run `casebridge check --read-data` for a full report",
    ),
    ("index_damaged", "rebuild the index from the journal", "run `casebridge store rebuild` to rebuild it from the journal"),
    ("journal_damaged", "Check the store and restore it from a backup", "Run `casebridge check` and restore the store from a backup"),
    ("index", "if it persists, rebuild the index", "if it persists run `casebridge store rebuild`"),
    ("index_behind", "rebuild the index", "run `casebridge store rebuild`"),
    ("unknown_case", "use an id or reference from the list of cases", "use an id or reference from `casebridge case list`"),
    ("unknown_evidence", "use an id from the case's evidence list", "use an id from `casebridge evidence list CASE`"),
    ("not_found", "use an id from the list of briefs", "use an id from `casebridge brief list`"),
    (
        "not_found",
        "use an id from the submissions to review (investigators) or your own submissions (volunteers)",
        "use an id from `casebridge review list` (investigators) or `casebridge submission list` (volunteers)",
    ),
    ("not_found", "use an id from the submissions to review", "use an id from `casebridge review list`"),
    ("invalid_input", "say what information is needed", "say what information is needed (--reason TEXT)"),
    (
        "invalid_input",
        "nothing to change: give a new title, summary, status or reference",
        "nothing to change: give --title, --summary, --status or --reference",
    ),
    ("not_allowed", "investigators add evidence to the case itself", "investigators add evidence with `casebridge evidence add`"),
];

/// `message` (of an error or check problem with `code`) with the CLI's words for the store's
/// advice that ends it ([`CLI_WORDS`]); other messages as they are.
pub fn cli_words(code: &str, message: String) -> String {
    if let Some(swapped) = swap_advice(CLI_WORDS, code, &message) {
        return swapped;
    }
    // A message of the use cases that gives no advice gets the CLI's hint for its code.
    match hint(code, &message) {
        Some(h) if !message.contains(h.trim_start_matches([':', ';', '.', ' '])) => format!("{message}{h}"),
        _ => message,
    }
}

/// The advice of the trust layer's messages in the CLI's words, by reason code: (reason, the
/// trust layer's advice ending its message, what the CLI says instead).
const TRUST_CLI_WORDS: &[(&str, &str, &str)] = &[
    ("unknown_signer", "give the agency's public file with it", "pass --agency-public FILE"),
    ("store", "create the agency there first", "create one with `casebridge agency init`"),
];

/// A trust error as `message [reason]`, its advice in the CLI's words ([`TRUST_CLI_WORDS`]).
fn trust_words(e: &casebridge_trust::TrustError) -> String {
    let reason = e.reason.code();
    let message = swap_advice(TRUST_CLI_WORDS, reason, &e.message).unwrap_or_else(|| e.message.clone());
    format!("{message} [{reason}]")
}

/// `message` with the advice ending it replaced by the CLI's words, per `table` of (code, the
/// layer's advice, the CLI's words); `None` when no entry for `code` ends the message.
fn swap_advice(table: &[(&str, &str, &str)], code: &str, message: &str) -> Option<String> {
    table
        .iter()
        .filter(|(c, _, _)| *c == code)
        .find_map(|(_, advice, cli)| message.strip_suffix(advice).map(|problem| format!("{problem}{cli}")))
}

/// What to do next, naming the `casebridge` command that helps, for an error `code` of the
/// layers below with `message`.
pub fn hint(code: &str, message: &str) -> Option<&'static str> {
    Some(match code {
        "no_store" => ": create one with `casebridge init --name NAME`",
        "corruption" => "; run `casebridge check --read-data` for a full report",
        "index_damaged" => "; run `casebridge store rebuild` to rebuild it from the journal",
        "journal_damaged" => ". Run `casebridge check` and restore the store from a backup",
        "index" => "; if it persists run `casebridge store rebuild`",
        "unknown_case" => ": use an id or reference from `casebridge case list`",
        "unknown_evidence" => ": use an id from `casebridge evidence list CASE`",
        "not_found" if message.starts_with("no brief ") => ": use an id from `casebridge brief list`",
        "not_found" if message.starts_with("no submission ") => ": use an id from `casebridge review list`",
        _ => return None,
    })
}

/// Result alias of the CLI.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// A short, human reason for an I/O error on a file the user named.
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}

impl From<casebridge_app::AppError> for CliError {
    fn from(e: casebridge_app::AppError) -> CliError {
        CliError::App(e)
    }
}

impl From<casebridge_sync::SyncError> for CliError {
    fn from(e: casebridge_sync::SyncError) -> CliError {
        CliError::Sync(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use casebridge_core::Error;

    use super::*;

    /// The CLI prints the store's errors exactly as it did when the store named the commands
    /// itself (issue 14 moved the commands here); the store's own words name none.
    #[test]
    fn store_errors_read_as_before_on_the_command_line() {
        let path = PathBuf::from("/s");
        let cases: Vec<(Error, &str)> = vec![
            (Error::NoStore { path: path.clone() }, "no store at /s: create one with `casebridge init --name NAME`"),
            (Error::Corruption { what: "x".into() }, "store damaged: x; run `casebridge check --read-data` for a full report"),
            (
                Error::IndexDamaged { what: "x".into() },
                "the index is damaged (x); run `casebridge store rebuild` to rebuild it from the journal",
            ),
            (
                Error::JournalDamaged { record: 3 },
                "the journal is damaged at record 3; new changes are refused. Run `casebridge check` and restore the store from a backup",
            ),
            (Error::UnknownCase { query: "q".into() }, "no case matches 'q': use an id or reference from `casebridge case list`"),
            (Error::UnknownEvidence { query: "q".into() }, "no evidence item matches 'q': use an id from `casebridge evidence list CASE`"),
            (
                Error::Index(sled::Error::Unsupported("x".into())),
                "index error: Unsupported: x; if it persists run `casebridge store rebuild`",
            ),
        ];
        for (e, before) in cases {
            let store = e.to_string();
            assert!(!store.contains("casebridge ") && !store.contains("--"), "the store's words name no command: {store}");
            assert_eq!(CliError::from(e).to_string(), before);
        }
    }

    /// Messages made inside the store (briefs, reviews, cases, check) the same way.
    #[test]
    fn store_advice_made_in_use_cases_reads_as_before() {
        let cases = [
            ("not_found", "no brief matches 'q': use an id from the list of briefs", "no brief matches 'q': use an id from `casebridge brief list`"),
            (
                "not_found",
                "no submission matches 'q': use an id from the submissions to review (investigators) or your own submissions (volunteers)",
                "no submission matches 'q': use an id from `casebridge review list` (investigators) or `casebridge submission list` (volunteers)",
            ),
            (
                "not_found",
                "no submission matches 'q': use an id from the submissions to review",
                "no submission matches 'q': use an id from `casebridge review list`",
            ),
            (
                "invalid_input",
                "invalid reason: say what information is needed",
                "invalid reason: say what information is needed (--reason TEXT)",
            ),
            (
                "invalid_input",
                "invalid edit: nothing to change: give a new title, summary, status or reference",
                "invalid edit: nothing to change: give --title, --summary, --status or --reference",
            ),
            (
                "not_allowed",
                "submitting to a brief: only volunteers submit; investigators add evidence to the case itself",
                "submitting to a brief: only volunteers submit; investigators add evidence with `casebridge evidence add`",
            ),
            (
                "index_behind",
                "the index has not applied the whole journal; rebuild the index",
                "the index has not applied the whole journal; run `casebridge store rebuild`",
            ),
        ];
        for (code, store, before) in cases {
            assert_eq!(cli_words(code, store.to_string()), before);
        }
        // An error that reaches the CLI through the shared use cases reads the same.
        let app = casebridge_app::AppError::from(Error::UnknownCase { query: "q".into() });
        assert_eq!(CliError::from(app).to_string(), "no case matches 'q': use an id or reference from `casebridge case list`");
        // Other messages, and advice under another code, are left as they are.
        assert_eq!(cli_words("invalid_input", "rebuild the index".into()), "rebuild the index");
    }

    /// The trust layer's advice reads on the command line as before it was put in product words.
    #[test]
    fn trust_errors_read_as_before_on_the_command_line() {
        use casebridge_trust::{Reason, TrustError};
        let e = TrustError::new(
            Reason::UnknownSigner,
            "the credential is not signed by a pinned agency: give the agency's public file with it",
        );
        assert_eq!(
            CliError::from(e).to_string(),
            "the credential is not signed by a pinned agency: pass --agency-public FILE [unknown_signer]"
        );
        let e = TrustError::new(Reason::Store, "no agency at /a: create the agency there first");
        assert_eq!(CliError::from(e).to_string(), "no agency at /a: create one with `casebridge agency init` [store]");
        // Other messages as they are.
        let e = TrustError::new(Reason::Store, "create the agency there first, or not");
        assert_eq!(CliError::from(e).to_string(), "create the agency there first, or not [store]");
    }

    #[test]
    fn hints_name_the_command_once() {
        // A message of the layers below, which name no command, gets the CLI's hint.
        let e = CliError::App(casebridge_app::AppError::new(casebridge_app::ErrorCode::UnknownCase, "no case matches 'x'"));
        assert_eq!(e.to_string(), "no case matches 'x': use an id or reference from `casebridge case list`");
        let e = CliError::App(casebridge_app::AppError::new(
            casebridge_app::ErrorCode::Corruption,
            "evidence 1 is damaged: its content fails authentication",
        ));
        assert!(e.to_string().ends_with("damaged: its content fails authentication; run `casebridge check --read-data` for a full report"));
        // A message that carries the hint already keeps one.
        let e = CliError::from(casebridge_core::Error::UnknownCase { query: "x".into() });
        assert_eq!(e.to_string().matches("`casebridge case list`").count(), 1, "{e}");
        // Codes without a hint pass through.
        assert_eq!(CliError::App(casebridge_app::AppError::new(casebridge_app::ErrorCode::Locked, "m")).to_string(), "m");
    }
}
