//! What every command needs: the store directory and the passphrase sources.

use std::io;
use std::path::{Path, PathBuf};

use casebridge_core::{Error, Passphrase, Store, HEADER_FILE};

use crate::error::Result;
use crate::pass::PassSources;

/// The global options of one run, resolved.
pub struct Ctx {
    /// The store directory.
    pub store_dir: PathBuf,
    /// Where the passphrase comes from.
    pub pass: PassSources,
}

impl Ctx {
    /// Fails with the core's "no store" error before any prompt when there is no store.
    pub fn require_store(&self) -> Result<()> {
        match std::fs::metadata(self.store_dir.join(HEADER_FILE)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NoStore { path: self.store_dir.clone() }.into()),
            // Anything else (a permission problem, say) the core reports precisely on open.
            _ => Ok(()),
        }
    }

    /// The passphrase of the existing store.
    pub fn passphrase(&mut self) -> Result<Passphrase> {
        self.require_store()?;
        self.pass.current(&self.store_dir)
    }

    /// Opens and unlocks the store.
    pub fn open(&mut self) -> Result<Store> {
        let pass = self.passphrase()?;
        Ok(Store::open(&self.store_dir, &pass)?)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.store_dir
    }
}
