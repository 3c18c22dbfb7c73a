//! The outbox: sealed bundles waiting to be uploaded.
//!
//! A directory of files named `<bundle_id>.cbb`, each a sealed (already encrypted) bundle
//! written by the CLI. The CLI writes `<bundle_id>.cbb.tmp` and renames it when complete, so
//! anything else (partial `*.tmp` files, stray names) is ignored. Once the agency has stored a
//! bundle, [`Outbox::mark_sent`] moves it into `sent/`, so it is never sent again. Bundle ids
//! are UUIDv7, so name order is creation order, and bundles go up in the order they were made.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use crate::{Result, SyncError};

/// The extension of a pending bundle file.
pub const BUNDLE_EXTENSION: &str = "cbb";
/// The subdirectory sent bundles move to.
pub const SENT_DIR: &str = "sent";

/// A bundle waiting to be uploaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pending {
    /// The bundle's id (from its file name).
    pub bundle_id: Uuid,
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// A directory of pending bundles.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// Opens the outbox at `dir`, creating it (and `sent/`) if needed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Outbox> {
        let dir = dir.into();
        let sent = dir.join(SENT_DIR);
        fs::create_dir_all(&sent).map_err(|e| SyncError::io("create", &sent, e))?;
        Ok(Outbox { dir })
    }

    /// An outbox at `dir` without touching the disk (for read-only questions such as
    /// [`status`](crate::status); a missing directory reads as empty).
    pub fn at(dir: impl Into<PathBuf>) -> Outbox {
        Outbox { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a pending bundle's file goes (for the CLI, which writes `<path>.tmp` first and
    /// renames).
    pub fn path_of(&self, bundle_id: Uuid) -> PathBuf {
        self.dir.join(file_name(bundle_id))
    }

    /// Pending bundles, in name (= creation) order.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SyncError::io("list", &self.dir, e)),
        };
        let mut pending = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| SyncError::io("list", &self.dir, e))?;
            let name = entry.file_name();
            let Some(bundle_id) = name.to_str().and_then(parse_name) else { continue };
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| SyncError::io("read the size of", &path, e))?;
            if !meta.is_file() {
                continue;
            }
            pending.push(Pending { bundle_id, path, size: meta.len() });
        }
        pending.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        Ok(pending)
    }

    /// Total bytes of the pending bundles.
    pub fn pending_bytes(&self) -> Result<u64> {
        Ok(self.pending()?.iter().map(|p| p.size).sum())
    }

    /// Moves a bundle the agency has stored into `sent/` (durably), so it is never sent again.
    /// Marking a bundle that is already in `sent/` is not an error.
    pub fn mark_sent(&self, bundle_id: Uuid) -> Result<()> {
        let from = self.path_of(bundle_id);
        let sent_dir = self.dir.join(SENT_DIR);
        let to = sent_dir.join(file_name(bundle_id));
        fs::create_dir_all(&sent_dir).map_err(|e| SyncError::io("create", &sent_dir, e))?;
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && to.is_file() => return Ok(()),
            Err(e) => return Err(SyncError::io("move into sent/", &from, e)),
        }
        sync_dir(&sent_dir)?;
        sync_dir(&self.dir)
    }
}

fn file_name(bundle_id: Uuid) -> String {
    format!("{}.{BUNDLE_EXTENSION}", bundle_id.hyphenated())
}

/// `<uuid>.cbb` → the uuid; anything else (`*.tmp`, other files) → None.
fn parse_name(name: &str) -> Option<Uuid> {
    let stem = name.strip_suffix(BUNDLE_EXTENSION)?.strip_suffix('.')?;
    Uuid::parse_str(stem).ok()
}

/// Makes a rename in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| SyncError::io("sync", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_strictly() {
        let id = Uuid::now_v7();
        assert_eq!(parse_name(&file_name(id)), Some(id));
        assert_eq!(parse_name(&format!("{id}.cbb.tmp")), None);
        assert_eq!(parse_name(&format!("{id}cbb")), None);
        assert_eq!(parse_name("notes.cbb"), None);
        assert_eq!(parse_name(&format!("{id}.receipt")), None);
    }
}
