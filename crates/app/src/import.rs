//! Importing files into a case, one item at a time, with progress and cancel.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use casebridge_core::{AddedEvidence, Error, EvidenceOptions};
use uuid::Uuid;

use crate::briefs::check_file;
use crate::error::{AppError, ErrorCode, Result};
use crate::handle::StoreHandle;

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

/// Files checked for import: each a regular, readable file; with their total size.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The files, in order.
    pub paths: Vec<PathBuf>,
    /// Their sizes, in order.
    pub sizes: Vec<u64>,
}

impl Checked {
    /// Checks every file before anything is imported (error `bad_file` naming the first bad
    /// one; `invalid_input` for an empty list).
    pub fn new(paths: Vec<PathBuf>) -> Result<Checked> {
        if paths.is_empty() {
            return Err(AppError::invalid("files", "choose at least one file to import"));
        }
        let sizes = paths.iter().map(|p| check_file(p)).collect::<Result<Vec<u64>>>()?;
        Ok(Checked { paths, sizes })
    }

    /// Total bytes.
    pub fn total(&self) -> u64 {
        self.sizes.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }
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
                done.push(added);
            }
            Err(e) => return Err(partial(e, done.len(), count)),
        }
    }
    let last = files.paths.last().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    on_progress(ImportProgress { item: count.saturating_sub(1), name: &last, done: total, total });
    Ok(done)
}

/// The error for a failure after `kept` of `count` files were imported (and committed).
fn partial(e: AppError, kept: usize, count: usize) -> AppError {
    if e.code == ErrorCode::Cancelled {
        return AppError::cancelled(format!(
            "import cancelled: {kept} of {count} files were imported and are kept; the file in progress was not imported"
        ));
    }
    if kept == 0 {
        return e;
    }
    AppError::new(e.code, format!("{} ({kept} of {count} files were imported before this error and are kept)", e.message))
}
