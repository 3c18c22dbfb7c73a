//! The profile's store itself: creating one, changing its passphrase, checking and rebuilding
//! it, and reading its signed log.

use std::path::Path;

use casebridge_core::{CheckReport, Error, KdfParams, LogEntry, Passphrase, RebuildReport, Role, Store, HEADER_FILE};

use crate::error::Result;

/// Checks, before any passphrase is asked for, that a profile named `name` can be created in
/// `dir`: the name is not empty and no store is there yet.
pub fn check_new(dir: &Path, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::Invalid { field: "name", reason: "it is empty; give the name people will see".into() }.into());
    }
    if dir.join(HEADER_FILE).exists() {
        return Err(Error::AlreadyExists { path: dir.to_path_buf() }.into());
    }
    Ok(())
}

/// Creates a store and profile (identity key, member id) in `dir`; returns it unlocked.
pub fn create(dir: &Path, passphrase: &Passphrase, name: &str, role: Role, kdf: KdfParams) -> Result<Store> {
    Ok(Store::create(dir, passphrase, name, role, kdf)?)
}

/// Changes the passphrase of the store in `dir` from `old` to `new`. The new one's policy is
/// checked before the store is unlocked: a refused change touches nothing, not even the index.
pub fn change_passphrase(dir: &Path, old: &Passphrase, new: &Passphrase, kdf: KdfParams) -> Result<()> {
    new.check_policy()?;
    let mut store = Store::open(dir, old)?;
    Ok(store.change_passphrase(new, kdf)?)
}

/// Deletes the index of the store in `dir` and rebuilds it from the signed journal.
pub fn rebuild(dir: &Path, passphrase: &Passphrase) -> Result<RebuildReport> {
    let (_store, report) = Store::rebuild(dir, passphrase)?;
    Ok(report)
}

/// Verifies the whole store (journal, signatures, index; with `read_data` every item's
/// content, `progress` seeing the bytes re-hashed).
pub fn check(store: &mut Store, read_data: bool, progress: &mut dyn FnMut(u64)) -> Result<CheckReport> {
    Ok(store.check(read_data, progress)?)
}

/// The signed events, oldest first: all, or those of one case (id, unique id prefix or agency
/// reference), including the custody of its evidence.
pub fn log(store: &mut Store, case: Option<&str>) -> Result<Vec<LogEntry>> {
    let case = case.map(|q| store.resolve_case(q)).transpose()?;
    let entries = store.log(case)?;
    // Police staff's view: one access entry per case shown, naming the items its events name
    // (the case asked for is logged even when it shows nothing).
    let rows = case.map(|c| (c, None)).into_iter().chain(entries.iter().filter_map(|e| Some((e.case_id?, e.evidence_id))));
    crate::access::log_view_by_case(store, "viewed_log", rows)?;
    Ok(entries)
}
