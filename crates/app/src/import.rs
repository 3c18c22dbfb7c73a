//! Importing files into a case, one item at a time, with progress and cancel.

use std::sync::atomic::{AtomicBool, Ordering};

use casebridge_core::{AddedEvidence, Error, EvidenceOptions};
use uuid::Uuid;

use crate::error::{AppError, ErrorCode, Result};
use crate::handle::StoreHandle;

pub use crate::files::Checked;

/// Where an import stands, for progress reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportProgress<'a> {
    /// The file being imported, 0-based.
    pub item: usize,
    /// Its file name.
    pub name: &'a str,
    /// Bytes of the whole import done.
    pub done: u64,
    /// Bytes of the whole import.
    pub total: u64,
}

/// Imports `files` into `case`, one item per file, each atomically (content sealed, then the
/// `evidence_added` and custody `imported` events in one durable append). The store is held
/// for one file at a time.
///
/// Setting `cancel` stops the import: the file in progress is abandoned (nothing of it is
/// recorded; a sealed orphan object may remain, which `check` reports as harmless) and the
/// files imported before it are kept. The error is then `cancelled`, saying how many were
/// kept; any other error says the same. Returns the items imported.
pub fn import_files(
    store: &StoreHandle,
    case: Uuid,
    files: &Checked,
    opts: &EvidenceOptions,
    cancel: &AtomicBool,
    on_progress: &mut dyn FnMut(ImportProgress<'_>),
) -> Result<Vec<AddedEvidence>> {
    import_each(store, Import { case, files, opts, cancel }, on_progress, &mut |_, _| {}).map_err(ImportFailure::into_error)
}

/// One import: the files, where they go, and the flag that cancels it.
#[derive(Clone, Copy, Debug)]
pub struct Import<'a> {
    /// The case the items join.
    pub case: Uuid,
    /// The files, checked.
    pub files: &'a Checked,
    /// Description and claims, applied to every item.
    pub opts: &'a EvidenceOptions,
    /// Set to stop after the file in progress is abandoned.
    pub cancel: &'a AtomicBool,
}

/// An import that stopped: the error of the file that failed, and the items imported (and
/// committed) before it.
#[derive(Debug)]
pub struct ImportFailure {
    /// What went wrong with the file in progress (`cancelled` when it was cancelled).
    pub error: AppError,
    /// The items imported before it, in order: they are kept.
    pub done: Vec<AddedEvidence>,
    /// How many files were asked for.
    pub count: usize,
}

impl ImportFailure {
    /// The error as one message, saying how many files were imported and kept.
    pub fn into_error(self) -> AppError {
        let kept = self.done.len();
        let count = self.count;
        if self.error.code == ErrorCode::Cancelled {
            return AppError::cancelled(format!(
                "import cancelled: {kept} of {count} files were imported and are kept; the file in progress was not imported"
            ));
        }
        if kept == 0 {
            return self.error;
        }
        AppError::new(
            self.error.code,
            format!("{} ({kept} of {count} files were imported before this error and are kept)", self.error.message),
        )
    }
}

/// [`import_files`], calling `on_added` with each file's index and item as soon as it is
/// committed; a failure keeps the items imported before it ([`ImportFailure::done`]).
pub fn import_each(
    store: &StoreHandle,
    job: Import<'_>,
    on_progress: &mut dyn FnMut(ImportProgress<'_>),
    on_added: &mut dyn FnMut(usize, &AddedEvidence),
) -> std::result::Result<Vec<AddedEvidence>, ImportFailure> {
    let Import { case, files, opts, cancel } = job;
    let total = files.total();
    let count = files.paths.len();
    let mut done: Vec<AddedEvidence> = Vec::with_capacity(count);
    let mut base = 0u64;
    for (item, path) in files.paths.iter().enumerate() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let result = if cancel.load(Ordering::SeqCst) {
            Err(AppError::from(Error::Cancelled))
        } else {
            on_progress(ImportProgress { item, name: &name, done: base, total });
            store.with(|s| {
                Ok(s.add_evidence(case, path, opts, &mut |n: u64| {
                    on_progress(ImportProgress { item, name: &name, done: base.saturating_add(n), total });
                    !cancel.load(Ordering::SeqCst)
                })?)
            })
        };
        match result {
            Ok(added) => {
                base = base.saturating_add(added.size);
                on_added(item, &added);
                done.push(added);
            }
            Err(error) => return Err(ImportFailure { error, done, count }),
        }
    }
    let last = files.paths.last().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    on_progress(ImportProgress { item: count.saturating_sub(1), name: &last, done: total, total });
    Ok(done)
}
