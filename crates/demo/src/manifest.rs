//! The demo directory and its manifest, `DIR/demo.json`: what a demo holds and where, read
//! and written atomically; a marker file tells an unfinished setup apart from a directory that
//! is not a demo.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DemoError, Result};

/// The manifest inside the demo directory; its presence marks a complete demo.
pub const MANIFEST_FILE: &str = "demo.json";
/// Written first, so an unfinished setup is told apart from a directory that is not a demo.
pub(crate) const MARKER_FILE: &str = ".casebridge-demo";
/// The manifest's format version.
pub(crate) const MANIFEST_VERSION: u32 = 1;

/// What a demo holds, counted when it was made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Cases of the investigator.
    pub cases: usize,
    /// Briefs published.
    pub briefs: usize,
    /// Photos imported by the investigator.
    pub evidence: usize,
    /// Submissions by the volunteer.
    pub submissions: usize,
    /// Of those, accepted.
    pub accepted: usize,
    /// Rejected.
    pub rejected: usize,
    /// Information requested.
    pub info_requested: usize,
    /// Not decided yet.
    pub pending: usize,
    /// Receipts the volunteer holds.
    pub receipts: usize,
}

/// `DIR/demo.json`: where everything is, for people and scripts. `serving` and `pid` say
/// whether (and which process) serves the endpoint now; scripts wait for `serving` with their
/// child's pid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// `https://127.0.0.1:PORT`, the address the profiles are enrolled at.
    pub endpoint: String,
    /// The address the endpoint listens on.
    pub listen: SocketAddr,
    /// The passphrase of the agency and both profiles.
    pub passphrase: String,
    /// The agency directory.
    pub agency: PathBuf,
    /// The investigator's store directory.
    pub investigator: PathBuf,
    /// The volunteer's store directory.
    pub volunteer: PathBuf,
    /// The sample photos.
    pub photos: PathBuf,
    /// When the demo was made.
    pub created_at: DateTime<Utc>,
    /// What it holds.
    pub summary: Summary,
    /// True while a `casebridge demo` process serves the endpoint.
    pub serving: bool,
    /// That process.
    pub pid: Option<u32>,
}

/// Checks `dir` and creates it when new; returns it absolute. A directory holding an
/// unfinished setup, or anything that is not a demo, is refused.
pub(crate) fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(DemoError::NotADirectory { path: dir.to_path_buf() }),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_private_dir(dir)?,
        Err(source) => return Err(DemoError::ReadFile { path: dir.to_path_buf(), source }),
    }
    let dir = std::fs::canonicalize(dir).map_err(|source| DemoError::ReadFile { path: dir.to_path_buf(), source })?;
    if dir.join(MANIFEST_FILE).exists() {
        return Ok(dir);
    }
    if dir.join(MARKER_FILE).exists() {
        return Err(DemoError::Unfinished { dir });
    }
    let mut entries = std::fs::read_dir(&dir).map_err(|source| DemoError::ReadFile { path: dir.clone(), source })?;
    if entries.next().is_some() {
        return Err(DemoError::NotADemo { dir });
    }
    Ok(dir)
}

/// Creates a directory only its owner can enter (it holds the demo's keys).
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(|source| DemoError::WriteFile { path: dir.to_path_buf(), source })
}

/// The manifest of the demo in `dir`, with its paths pointing into `dir`; `None` when there
/// is none yet.
pub(crate) fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(DemoError::ReadFile { path, source }),
    };
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| DemoError::BadManifest { path: path.clone(), reason: format!("it is not a demo manifest ({e})") })?;
    if m.version != MANIFEST_VERSION {
        return Err(DemoError::BadManifest { path, reason: format!("manifest version {} is not supported; make a new demo", m.version) });
    }
    // The paths inside are where the demo was made; the directory may have moved since.
    Ok(Some(Manifest {
        agency: dir.join("agency"),
        investigator: dir.join("investigator"),
        volunteer: dir.join("volunteer"),
        photos: dir.join("photos"),
        ..m
    }))
}

/// Writes the manifest atomically (a temp file renamed into place).
pub(crate) fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let path = dir.join(MANIFEST_FILE);
    let tmp = dir.join(format!(".{MANIFEST_FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(m).map_err(std::io::Error::from)?;
    std::fs::write(&tmp, bytes).map_err(|source| DemoError::WriteFile { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, &path).map_err(|source| DemoError::WriteFile { path, source })
}
