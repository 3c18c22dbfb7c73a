//! The small files the trust commands exchange (credential requests, credentials, agency
//! public files, receipts): read with a size bound, written only as new files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use casebridge_core::Error;
use casebridge_trust::{AgencyPublic, AgencyPublicFile, RevocationList, SignedDoc, MAX_DOC_LEN};

use crate::error::{io_reason, CliError, Result};

/// Refuses a path that exists (file, directory or dangling link), before any passphrase is
/// asked for; the write itself checks again, atomically.
pub fn refuse_existing(path: &Path) -> Result<()> {
    if fs::symlink_metadata(path).is_ok() {
        return Err(Error::WouldOverwrite { path: path.to_path_buf() }.into());
    }
    Ok(())
}

/// Reads a whole small file, refusing one larger than a signed document may be.
pub fn read_small(path: &Path) -> Result<Vec<u8>> {
    let bad = |reason: String| CliError::ReadFile { path: path.to_path_buf(), reason };
    let f = File::open(path).map_err(|e| bad(io_reason(&e)))?;
    let mut bytes = Vec::new();
    f.take(MAX_DOC_LEN as u64 + 1).read_to_end(&mut bytes).map_err(|e| bad(io_reason(&e)))?;
    if bytes.len() > MAX_DOC_LEN {
        return Err(bad(format!("it is larger than {} MiB, too large for a Casebridge document", MAX_DOC_LEN >> 20)));
    }
    Ok(bytes)
}

/// Reads a signed document (not yet verified: the caller opens it with the key it trusts).
pub fn read_doc(path: &Path) -> Result<SignedDoc> {
    let bytes = read_small(path)?;
    SignedDoc::parse(&bytes).map_err(|source| CliError::Document { path: path.to_path_buf(), source })
}

/// Reads and verifies an agency public file.
pub fn read_public(path: &Path) -> Result<(AgencyPublicFile, AgencyPublic, RevocationList)> {
    let bytes = read_small(path)?;
    let file: AgencyPublicFile = serde_json::from_slice(&bytes).map_err(|_| CliError::Document {
        path: path.to_path_buf(),
        source: casebridge_trust::TrustError::new(
            casebridge_trust::Reason::ManifestInvalid,
            "not an agency public file (make one with `casebridge agency export-public`)",
        ),
    })?;
    let (public, list) = file.verify().map_err(|source| CliError::Document { path: path.to_path_buf(), source })?;
    Ok((file, public, list))
}

/// Writes `bytes` to a new file: never overwrites, and removes what it wrote if it fails.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => CliError::from(Error::WouldOverwrite { path: path.to_path_buf() }),
        _ => CliError::WriteFile { path: path.to_path_buf(), reason: io_reason(&e) },
    })?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(e) = written {
        drop(f);
        let _ = fs::remove_file(path);
        return Err(CliError::WriteFile { path: path.to_path_buf(), reason: io_reason(&e) });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn new_files_never_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f.json");
        write_new(&p, b"one").unwrap();
        let e = write_new(&p, b"two").unwrap_err();
        assert!(e.to_string().contains("never overwrites"), "{e}");
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert!(refuse_existing(&p).is_err());
        assert!(refuse_existing(&tmp.path().join("g")).is_ok());
    }

    #[test]
    fn documents_are_bounded_and_parsed() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("big");
        fs::write(&p, vec![b' '; MAX_DOC_LEN + 1]).unwrap();
        assert!(read_doc(&p).unwrap_err().to_string().contains("too large"));
        fs::write(&p, b"{}").unwrap();
        let e = read_doc(&p).unwrap_err().to_string();
        assert!(e.contains("not a Casebridge signed document") && e.ends_with("[manifest_invalid]"), "{e}");
        let e = read_doc(&tmp.path().join("missing")).unwrap_err().to_string();
        assert!(e.contains("no such file"), "{e}");
        let e = read_public(&p).unwrap_err().to_string();
        assert!(e.contains("not an agency public file"), "{e}");
    }
}
