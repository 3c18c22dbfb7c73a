//! Durable file writes for the endpoint's small state files (invites, upload metadata,
//! `serve.json`, the certificate): temp file, fsync, rename, fsync of the directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{AgencyError, Result};

/// Writes `bytes` to `path` atomically and durably, readable only by the owner.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.new"));
    {
        let mut f =
            OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(AgencyError::io("writing", &tmp))?;
        f.write_all(bytes).map_err(AgencyError::io("writing", &tmp))?;
        f.sync_all().map_err(AgencyError::io("syncing", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(AgencyError::io("writing", path))?;
    sync_dir(dir)
}

/// Fsyncs a directory so a rename or removal in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(AgencyError::io("syncing", dir))
}

/// Creates a directory (and parents) readable only by the owner; an existing one is kept.
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(AgencyError::io("creating", dir))
}

/// Removes a file; a missing file is fine.
pub(crate) fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AgencyError::io("removing", path)(e)),
    }
}
