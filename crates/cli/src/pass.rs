//! Where passphrases come from. Never from a command-line flag (it would show in `ps` and in
//! shell history): from `CASEBRIDGE_PASSPHRASE`, else the first line of `--passphrase-file`,
//! else a no-echo prompt on the terminal when stdin is one, else an error saying how to give
//! one. The new passphrase of `passphrase change` comes from `CASEBRIDGE_NEW_PASSPHRASE` or
//! the prompt (typed twice). An agency directory's passphrase follows the same rules with its
//! own sources: `CASEBRIDGE_AGENCY_PASSPHRASE`, else `--agency-passphrase-file`, else a prompt.

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use casebridge_core::Passphrase;
use zeroize::Zeroizing;

use crate::error::{io_reason, CliError, Result};

/// The environment variable holding the store's passphrase.
pub const ENV_PASSPHRASE: &str = "CASEBRIDGE_PASSPHRASE";
/// The environment variable holding the new passphrase for `passphrase change`.
pub const ENV_NEW_PASSPHRASE: &str = "CASEBRIDGE_NEW_PASSPHRASE";
/// The environment variable holding an agency directory's passphrase.
pub const ENV_AGENCY_PASSPHRASE: &str = "CASEBRIDGE_AGENCY_PASSPHRASE";

/// The passphrase sources of one run, gathered at start-up.
pub struct PassSources {
    /// From `CASEBRIDGE_PASSPHRASE` (taken on first use).
    pub env: Option<Passphrase>,
    /// From `CASEBRIDGE_NEW_PASSPHRASE` (taken on first use).
    pub new_env: Option<Passphrase>,
    /// `--passphrase-file`.
    pub file: Option<PathBuf>,
    /// From `CASEBRIDGE_AGENCY_PASSPHRASE` (taken on first use).
    pub agency_env: Option<Passphrase>,
    /// `--agency-passphrase-file`.
    pub agency_file: Option<PathBuf>,
    /// Whether a prompt is allowed (stdin is a terminal).
    pub interactive: bool,
}

impl PassSources {
    /// Reads the environment of this process.
    pub fn from_process(file: Option<PathBuf>, agency_file: Option<PathBuf>) -> Result<PassSources> {
        Ok(PassSources {
            env: env_passphrase(ENV_PASSPHRASE)?,
            new_env: env_passphrase(ENV_NEW_PASSPHRASE)?,
            file,
            agency_env: env_passphrase(ENV_AGENCY_PASSPHRASE)?,
            agency_file,
            interactive: std::io::stdin().is_terminal(),
        })
    }

    /// The passphrase of an existing store.
    pub fn current(&mut self, store: &Path) -> Result<Passphrase> {
        if let Some(p) = self.given()? {
            return Ok(p);
        }
        if !self.interactive {
            return Err(CliError::NoPassphrase);
        }
        prompt(&format!("Passphrase for {}: ", store.display()))
    }

    /// The passphrase of a store about to be created (typed twice at a prompt).
    pub fn for_new_store(&mut self, store: &Path) -> Result<Passphrase> {
        if let Some(p) = self.given()? {
            return Ok(p);
        }
        if !self.interactive {
            return Err(CliError::NoPassphrase);
        }
        prompt_twice(&format!("New passphrase for {}: ", store.display()))
    }

    /// The new passphrase for `passphrase change`.
    pub fn replacement(&mut self) -> Result<Passphrase> {
        if let Some(p) = self.new_env.take() {
            return Ok(p);
        }
        if !self.interactive {
            return Err(CliError::NoNewPassphrase);
        }
        prompt_twice("New passphrase: ")
    }

    /// The passphrase of an existing agency directory.
    pub fn agency(&mut self, dir: &Path) -> Result<Passphrase> {
        if let Some(p) = self.agency_given()? {
            return Ok(p);
        }
        if !self.interactive {
            return Err(CliError::NoAgencyPassphrase);
        }
        prompt(&format!("Agency passphrase for {}: ", dir.display()))
    }

    /// The passphrase of an agency directory about to be created (typed twice at a prompt);
    /// the policy is checked whatever its source.
    pub fn for_new_agency(&mut self, dir: &Path) -> Result<Passphrase> {
        let pass = match self.agency_given()? {
            Some(p) => p,
            None if self.interactive => prompt_twice(&format!("New agency passphrase for {}: ", dir.display()))?,
            None => return Err(CliError::NoAgencyPassphrase),
        };
        pass.check_policy()?;
        Ok(pass)
    }

    /// The agency passphrase from the environment, else its file.
    fn agency_given(&mut self) -> Result<Option<Passphrase>> {
        if let Some(p) = self.agency_env.take() {
            return Ok(Some(p));
        }
        match &self.agency_file {
            Some(path) => read_file(path).map(Some),
            None => Ok(None),
        }
    }

    /// From the environment, else the file.
    fn given(&mut self) -> Result<Option<Passphrase>> {
        if let Some(p) = self.env.take() {
            return Ok(Some(p));
        }
        match &self.file {
            Some(path) => read_file(path).map(Some),
            None => Ok(None),
        }
    }
}

/// A passphrase from an environment variable; an empty variable counts as unset.
fn env_passphrase(var: &'static str) -> Result<Option<Passphrase>> {
    match std::env::var(var) {
        Ok(s) if s.is_empty() => Ok(None),
        Ok(s) => Ok(Some(Passphrase::new(s))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(CliError::NotUnicode { var }),
    }
}

/// The first line of `path`, without its line ending.
pub fn read_file(path: &Path) -> Result<Passphrase> {
    let bytes = fs::read(path).map_err(|e| CliError::PassphraseFile { path: path.to_path_buf(), reason: io_reason(&e) })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::PassphraseFile { path: path.to_path_buf(), reason: "it is not UTF-8 text".into() })?;
    let line = first_line(&text);
    if line.is_empty() {
        return Err(CliError::EmptyPassphraseFile { path: path.to_path_buf() });
    }
    Ok(Passphrase::new(line))
}

/// The first line of `text`, without `\n` or `\r\n`.
fn first_line(text: &str) -> &str {
    let line = text.split('\n').next().unwrap_or("");
    line.strip_suffix('\r').unwrap_or(line)
}

fn prompt(text: &str) -> Result<Passphrase> {
    rpassword::prompt_password(text).map(Passphrase::new).map_err(CliError::Prompt)
}

/// Asks twice; checks the policy before asking again so a too-short passphrase is refused at
/// once. The typed strings are wiped when dropped.
fn prompt_twice(text: &str) -> Result<Passphrase> {
    let first = Zeroizing::new(rpassword::prompt_password(text).map_err(CliError::Prompt)?);
    Passphrase::new(first.as_str()).check_policy()?;
    let again = Zeroizing::new(rpassword::prompt_password("Repeat the passphrase: ").map_err(CliError::Prompt)?);
    if first.as_bytes() != again.as_bytes() {
        return Err(CliError::PassphraseMismatch);
    }
    Ok(Passphrase::new(first.as_str()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn first_line_strips_line_endings() {
        assert_eq!(first_line("correct horse battery\n"), "correct horse battery");
        assert_eq!(first_line("correct horse battery\r\nsecond"), "correct horse battery");
        assert_eq!(first_line("no newline"), "no newline");
        assert_eq!(first_line(""), "");
        assert_eq!(first_line("  spaces kept  \n"), "  spaces kept  ");
    }

    #[test]
    fn empty_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pass");
        fs::write(&f, "\n").unwrap();
        let e = read_file(&f).err().unwrap();
        assert!(e.to_string().contains("is empty"), "{e}");
        let missing = dir.path().join("missing");
        let e = read_file(&missing).err().unwrap();
        assert!(e.to_string().contains("no such file") && e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn no_source_and_no_terminal_says_how_to_give_one() {
        let mut s = PassSources { env: None, new_env: None, file: None, agency_env: None, agency_file: None, interactive: false };
        let e = s.current(Path::new("/x")).err().unwrap();
        assert!(matches!(e, CliError::NoPassphrase));
        assert!(e.to_string().contains("CASEBRIDGE_PASSPHRASE"));
        let e = s.replacement().err().unwrap();
        assert!(e.to_string().contains("CASEBRIDGE_NEW_PASSPHRASE"));
        let e = s.agency(Path::new("/a")).err().unwrap();
        assert!(e.to_string().contains("CASEBRIDGE_AGENCY_PASSPHRASE") && e.to_string().contains("--agency-passphrase-file"), "{e}");
    }

    #[test]
    fn a_new_agency_passphrase_must_meet_the_policy() {
        let mut s = PassSources {
            env: Some(Passphrase::new("store passphrase is separate")),
            new_env: None,
            file: None,
            agency_env: Some(Passphrase::new("short")),
            agency_file: None,
            interactive: false,
        };
        let e = s.for_new_agency(Path::new("/a")).err().unwrap();
        assert!(e.to_string().contains("at least 10"), "{e}");
    }
}
