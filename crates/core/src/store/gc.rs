//! Unreferenced objects: content stored that no event names (a bundle refused after its
//! content was stored, an upload abandoned while it was verified). They are listed and, once
//! old enough, removed.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::*;

/// An object file no evidence record names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrphanObject {
    /// The object's keyed file name (never the content hash).
    pub name: String,
    /// Bytes on disk.
    pub size: u64,
    /// When it was last written, or last found held by an import.
    pub modified: SystemTime,
}

/// What [`Store::remove_orphan_objects`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OrphanSweep {
    /// Unreferenced objects removed.
    pub removed: usize,
    /// Their bytes on disk.
    pub removed_bytes: u64,
    /// Unreferenced objects kept because they are more recent than the cutoff.
    pub kept: usize,
    /// Their bytes on disk.
    pub kept_bytes: u64,
}

impl Store {
    /// The keyed names of every object an evidence record names. Refused when the journal is
    /// damaged: events past the damage are unknown, so no object can be called unreferenced.
    fn referenced_objects(&self) -> Result<BTreeSet<String>> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        // A deleted item's object is unreferenced: collected like any orphan.
        let names: BTreeSet<String> = self.live_objects()?;
        Ok(names)
    }

    /// Every object no evidence record names (what `check` counts as `orphan_objects`).
    pub fn orphan_objects(&self) -> Result<Vec<OrphanObject>> {
        let referenced = self.referenced_objects()?;
        Ok(self
            .objects
            .files()?
            .into_iter()
            .filter(|f| !referenced.contains(&f.name))
            .map(|f| OrphanObject { name: f.name, size: f.size, modified: f.modified })
            .collect())
    }

    /// Removes every object no evidence record names that was last modified before
    /// `older_than`. Takes `&self`, so a caller holding the store behind a lock needs only to
    /// keep events from being recorded meanwhile (a read lock): an event recorded after the
    /// references were read could name an object removed here.
    ///
    /// Content that a verification running beside the store stores or finds held (through a
    /// [`ContentImporter`]) has its time set then, so a cutoff before the start of every
    /// verification in progress never removes what one of them is about to name.
    pub fn remove_orphan_objects(&self, older_than: SystemTime) -> Result<OrphanSweep> {
        let mut sweep = OrphanSweep::default();
        for o in self.orphan_objects()? {
            if o.modified >= older_than {
                sweep.kept += 1;
                sweep.kept_bytes += o.size;
                continue;
            }
            match self.objects.remove_if_older(&o.name, older_than)? {
                Some(bytes) => {
                    sweep.removed += 1;
                    sweep.removed_bytes += bytes;
                }
                None => {
                    sweep.kept += 1;
                    sweep.kept_bytes += o.size;
                }
            }
        }
        if sweep.removed > 0 {
            self.objects.sync()?;
        }
        Ok(sweep)
    }
}
