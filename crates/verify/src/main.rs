//! `casebridge-verify DIR --agency-root HEX`: checks a Casebridge court evidence package against
//! the agency's root key fingerprint and prints a deterministic report ending with `VERIFIED`,
//! `FAILED: N problem(s)`, or (no `--agency-root`) `NOT ANCHORED: pass --agency-root <fingerprint>`.
//!
//! Exit codes: 0 verified, 1 failed, 2 usage errors (no DIR, an unknown option, a DIR that is
//! not a directory, an `--agency-root` that is not 64 hex digits: nothing was checked), 3 not
//! anchored (every check passed, but without `--agency-root` nothing ties the package to the
//! real agency).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use casebridge_verify::AgencyRoot;

const USAGE: &str = "usage: casebridge-verify [--json] --agency-root FINGERPRINT DIR
       casebridge-verify [--json] --access-log FILE

Checks the Casebridge court evidence package in DIR (docs/FORMAT.md, \"Court evidence package\"):
the signed manifest, every file's SHA-256, every event's signature and chain, every item's hash
and custody, and that every signer holds a credential of the agency whose root key has
FINGERPRINT, valid and not revoked when they signed. Prints a report ending with VERIFIED or
FAILED: N problem(s).

Everything inside a package can be re-signed by whoever made it: only FINGERPRINT, obtained
from the agency out of band (`casebridge agency show` at the agency prints it as its root
fingerprint), ties the package to the real agency. Without --agency-root every check still
runs, but the report ends with NOT ANCHORED: pass --agency-root <fingerprint>, never VERIFIED.

With --access-log, checks an access-log export (`casebridge access-log --out FILE`, docs/FORMAT.md,
\"Access-log export\") instead: every entry's signature and every access chain (no entry left out
below a chain's last one). Exit 0 when it checks, 1 when not.

options:
  --agency-root FINGERPRINT  the SHA-256 of the agency's root public key, 64 hex digits
  --access-log FILE          check an access-log export instead of a package
  --json                     print the report as JSON (verdict, verified, anchored, agency_root, ...)
  --help                     print this help
  --version                  print the version

exit codes: 0 verified, 1 failed, 2 usage error (nothing was checked),
            3 not anchored (no problem found, but no --agency-root given)
";

fn usage_error(msg: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "casebridge-verify: {msg}\n\n{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut json = false;
    let mut dir: Option<PathBuf> = None;
    let mut root: Option<AgencyRoot> = None;
    let mut only_paths = false;
    let mut access_log: Option<PathBuf> = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if !only_paths && arg.to_str() == Some("--access-log") {
            match args.next() {
                Some(v) if access_log.is_none() => access_log = Some(PathBuf::from(v)),
                Some(_) => return usage_error("give --access-log once"),
                None => return usage_error("--access-log needs the export file"),
            }
            continue;
        }
        let root_value = match arg.to_str() {
            Some("--agency-root") if !only_paths => match args.next() {
                Some(v) => Some(v),
                None => return usage_error("--agency-root needs the agency's root key fingerprint"),
            },
            Some(s) if !only_paths => s.strip_prefix("--agency-root=").map(std::ffi::OsString::from),
            _ => None,
        };
        if let Some(v) = root_value {
            if root.is_some() {
                return usage_error("give --agency-root once");
            }
            match v.to_str().map(str::parse::<AgencyRoot>) {
                Some(Ok(r)) => root = Some(r),
                _ => return usage_error(&format!("--agency-root {}: {}", v.to_string_lossy(), casebridge_verify::BadAgencyRoot)),
            }
            continue;
        }
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
    if let Some(file) = access_log {
        if dir.is_some() || root.is_some() {
            return usage_error("--access-log checks one export file: give no package directory or --agency-root with it");
        }
        return check_access_log(&file, json);
    }
    let Some(dir) = dir else { return usage_error("give the package directory to check") };
    if !dir.is_dir() {
        return usage_error(&format!("{} is not a directory", dir.display()));
    }
    let report = casebridge_verify::verify_package(&dir, root.as_ref());
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
    if !report.problems.is_empty() {
        ExitCode::from(1)
    } else if !report.anchored {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// `--access-log FILE`: checks an access-log export.
fn check_access_log(file: &std::path::Path, json: bool) -> ExitCode {
    use casebridge_verify::access_log::{verify_access_log, MAX_EXPORT_LEN};
    match std::fs::metadata(file) {
        Ok(m) if m.is_file() && m.len() <= MAX_EXPORT_LEN => {}
        Ok(m) if m.is_file() => {
            return usage_error(&format!("{} is larger than any access-log export this verifier reads", file.display()))
        }
        Ok(_) => return usage_error(&format!("{} is not a file", file.display())),
        Err(e) => return usage_error(&format!("{} cannot be read: {}", file.display(), e.kind())),
    }
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return usage_error(&format!("{} cannot be read: {}", file.display(), e.kind())),
    };
    let report = verify_access_log(&bytes);
    let text = if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => s + "\n",
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "casebridge-verify: cannot write the report: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        report.text()
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
