//! `casebridge-verify DIR`: checks a Casebridge court evidence package and prints a
//! deterministic report ending with `VERIFIED` or `FAILED: N problem(s)`.
//!
//! Exit codes: 0 verified, 1 failed, 2 usage errors (no DIR, an unknown option, a DIR that is
//! not a directory: nothing was checked).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: casebridge-verify [--json] DIR

Checks the Casebridge court evidence package in DIR (docs/FORMAT.md, \"Court evidence package\"):
the signed manifest, every file's SHA-256, every event's signature and chain, every item's hash
and custody, and the agency's credentials, revocations and receipts. Prints a report ending with
VERIFIED or FAILED: N problem(s).

options:
  --json     print the report as JSON
  --help     print this help
  --version  print the version

exit codes: 0 verified, 1 failed, 2 usage error (nothing was checked)
";

fn usage_error(msg: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "casebridge-verify: {msg}\n\n{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut json = false;
    let mut dir: Option<PathBuf> = None;
    let mut only_paths = false;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--") if !only_paths => only_paths = true,
            Some("--json") if !only_paths => json = true,
            Some("--help" | "-h") if !only_paths => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some("--version" | "-V") if !only_paths => {
                println!("casebridge-verify {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            Some(s) if s.starts_with('-') && !only_paths => return usage_error(&format!("unknown option {s}")),
            _ if dir.is_some() => return usage_error("give exactly one package directory"),
            _ => dir = Some(PathBuf::from(arg)),
        }
    }
    let Some(dir) = dir else { return usage_error("give the package directory to check") };
    if !dir.is_dir() {
        return usage_error(&format!("{} is not a directory", dir.display()));
    }
    let report = casebridge_verify::verify_package(&dir);
    let text = if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => s + "\n",
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "casebridge-verify: cannot write the report: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        report.to_text()
    };
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        // The reader went away; the exit code still carries the verdict.
    }
    if report.verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
