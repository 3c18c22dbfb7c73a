//! Where an agency keeps its small records: issued credentials (`issued/SERIAL.cred`, sealed),
//! the revocation list (`revocation.json`), receipts (`receipts/BUNDLE.json`), and the
//! endpoint's invites and upload states. [`LocalRecords`] keeps them as files in the agency
//! directory (the embedded agency); a cluster agency keeps them in its database (the
//! `casebridge-cluster` crate implements [`RecordStore`] over PostgreSQL), so every replica
//! sees the same records.
//!
//! Names are relative paths with `/` (`FOLDER/NAME` or `NAME`); values are opaque bytes (the
//! callers seal what must not be read at rest). Writes are durable when they return.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{io_err, Reason, Result, TrustError};

/// An agency's record store.
pub trait RecordStore: Send + Sync {
    /// The record `name`, if there is one.
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Writes `name` whole, replacing what was there (atomic: a reader sees the old or the new).
    fn write(&self, name: &str, bytes: &[u8]) -> Result<()>;
    /// Writes `name` only when there is none: false (and nothing written) when there is.
    fn create(&self, name: &str, bytes: &[u8]) -> Result<bool>;
    /// Replaces `name` only when it still holds `expected`: false (and nothing written) when
    /// another writer changed it meanwhile.
    fn replace(&self, name: &str, expected: &[u8], bytes: &[u8]) -> Result<bool>;
    /// Removes `name` (nothing when there is none).
    fn remove(&self, name: &str) -> Result<()>;
    /// The names of the records in `folder` (without the folder), in no particular order.
    fn list(&self, folder: &str) -> Result<Vec<String>>;
}

/// Checks a record name: relative, `/`-separated, no `.`/`..` parts, no empty parts.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.split('/').all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\') && !p.contains('\0'));
    if ok {
        Ok(())
    } else {
        Err(TrustError::new(Reason::Store, format!("{name:?} is not a record name")))
    }
}

/// The records as files in an agency directory (the embedded agency).
pub struct LocalRecords {
    dir: PathBuf,
}

impl LocalRecords {
    /// The records of the agency directory `dir`.
    pub fn new(dir: &Path) -> LocalRecords {
        LocalRecords { dir: dir.to_path_buf() }
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        Ok(self.dir.join(name))
    }
}

/// Writes `path` through a temp file (`.NAME.new`), owner-only (0600), fsyncing it and its
/// folder (created owner-only when missing).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(d) = path.parent().filter(|d| !d.exists()) {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(d).map_err(io_err("creating", d))?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.new"));
    {
        let mut f =
            fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io_err("writing", &tmp))?;
        f.write_all(bytes).map_err(io_err("writing", &tmp))?;
        f.sync_all().map_err(io_err("syncing", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err("writing", path))?;
    if let Some(d) = path.parent() {
        File::open(d).and_then(|d| d.sync_all()).map_err(io_err("syncing", d))?;
    }
    Ok(())
}

/// One process writes an agency directory at a time (its lock file), so a check then a write
/// is atomic here; the cluster's store does both in one statement.
impl RecordStore for LocalRecords {
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(name)?;
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("reading", &path)(e)),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.path(name)?, bytes)
    }

    fn create(&self, name: &str, bytes: &[u8]) -> Result<bool> {
        if self.read(name)?.is_some() {
            return Ok(false);
        }
        self.write(name, bytes)?;
        Ok(true)
    }

    fn replace(&self, name: &str, expected: &[u8], bytes: &[u8]) -> Result<bool> {
        if self.read(name)?.as_deref() != Some(expected) {
            return Ok(false);
        }
        self.write(name, bytes)?;
        Ok(true)
    }

    fn remove(&self, name: &str) -> Result<()> {
        let path = self.path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("removing", &path)(e)),
        }
    }

    fn list(&self, folder: &str) -> Result<Vec<String>> {
        let path = self.path(folder)?;
        let entries = match fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("reading", &path)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("reading", &path))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Unfinished writes (`.NAME.new`) are not records.
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) && !name.starts_with('.') {
                out.push(name);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_records_create_replace_list_and_refuse_escaping_names() {
        let tmp = tempfile::tempdir().unwrap();
        let r = LocalRecords::new(tmp.path());
        assert!(r.create("receipts/a.json", b"one").unwrap());
        assert!(!r.create("receipts/a.json", b"two").unwrap(), "the first record wins");
        assert_eq!(r.read("receipts/a.json").unwrap().unwrap(), b"one");
        assert!(!r.replace("receipts/a.json", b"other", b"three").unwrap());
        assert!(r.replace("receipts/a.json", b"one", b"three").unwrap());
        assert_eq!(r.list("receipts").unwrap(), vec!["a.json".to_string()]);
        r.remove("receipts/a.json").unwrap();
        assert!(r.read("receipts/a.json").unwrap().is_none());
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", ""] {
            assert!(r.read(bad).is_err(), "{bad:?} is refused");
        }
    }
}
