//! A cluster replica's copy of the agency store. The agency journal lives in the database
//! (one hash chain for every replica); each replica keeps a local copy of the store
//! (`AGENCY/replica/`: the same sealed header, the journal's records byte for byte, and the
//! index built from them), whose objects are the cluster's bucket. The copy is derived:
//! deleting it loses nothing, the replica rebuilds it from the database at start.
//!
//! - **Reads** catch the copy up first ([`catch_up`]): the records the database has beyond
//!   the copy's are appended (each checked at its position, `Store::append_raw`).
//! - **Writes** ([`append`]) take the database's journal lock (an advisory lock inside a
//!   transaction: appends are serialised in the database, not in a process), catch up under
//!   it, write locally, and hand the new records to the database in the same transaction. If
//!   the database does not take them (it went away, the replica is killed before commit), the
//!   copy rolls back to what the database holds (`Store::truncate_journal`), and at start a
//!   copy longer than the database's journal, or one whose last record differs from the
//!   database's, is rolled back or rebuilt: nothing acknowledged is ever missing, and nothing
//!   unacknowledged is ever served.
//!
//! The copy's store lock is held while the records go to the database: the database's
//! journal lock is the serialisation point of the whole cluster anyway, and its waits are
//! bounded (the pool's acquire timeout, the journal lock's wait, PostgreSQL's idle timeout).

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{Passphrase, Store};
use serde::{Deserialize, Serialize};

use crate::deployment::{db_error, Cluster};
use crate::error::{AgencyError, Result};

/// Records fetched from the database per query while catching up.
const CATCH_UP_BATCH: u64 = 2000;

/// What a replica needs to make its copy: the store's header file and the journal file's
/// head (magic, version, store id), kept in the database's agency row.
#[derive(Serialize, Deserialize)]
struct Seed {
    header: String,
    journal_head: String,
}

/// The seed of the store in `dir` (made by `agency init` for a cluster).
pub(crate) fn seed_of(dir: &Path) -> Result<Vec<u8>> {
    let header_path = dir.join(casebridge_core::HEADER_FILE);
    let header = std::fs::read(&header_path).map_err(AgencyError::io("reading", &header_path))?;
    let journal_path = dir.join(casebridge_core::JOURNAL_DIR).join(casebridge_core::JOURNAL_FILE);
    let journal = std::fs::read(&journal_path).map_err(AgencyError::io("reading", &journal_path))?;
    let head = journal.get(..JOURNAL_HEAD).ok_or_else(|| AgencyError::Internal("the new store's journal has no head".into()))?;
    let seed = Seed { header: B64.encode(header), journal_head: B64.encode(head) };
    serde_json::to_vec(&seed).map_err(|e| AgencyError::Internal(e.to_string()))
}

/// The journal file's head: magic (8), version (4), store id (16).
const JOURNAL_HEAD: usize = 28;

/// Makes `dir` a fresh copy of the store `seed` describes (nothing of an older copy is kept).
fn materialize(dir: &Path, seed: &[u8]) -> Result<()> {
    let seed: Seed = serde_json::from_slice(seed).map_err(|_| AgencyError::Invalid("the cluster's store seed does not parse".into()))?;
    let bad = || AgencyError::Invalid("the cluster's store seed is not base64".into());
    let header = B64.decode(seed.header).map_err(|_| bad())?;
    let head = B64.decode(seed.journal_head).map_err(|_| bad())?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(AgencyError::io("removing", dir))?;
    }
    crate::fsutil::private_dir(dir)?;
    let journal_dir = dir.join(casebridge_core::JOURNAL_DIR);
    crate::fsutil::private_dir(&journal_dir)?;
    crate::fsutil::write_atomic(&dir.join(casebridge_core::HEADER_FILE), &header)?;
    crate::fsutil::write_atomic(&journal_dir.join(casebridge_core::JOURNAL_FILE), &head)?;
    Ok(())
}

/// Opens this replica's copy of the agency store, making or rebuilding it from the database
/// when it is missing, of another store, or not a prefix of the database's journal; then
/// catches it up.
pub(crate) fn open(cluster: &Cluster, passphrase: &Passphrase) -> Result<Store> {
    let row = cluster.block_on(cluster.db.agency()).map_err(db_error)?.ok_or_else(|| {
        AgencyError::Invalid("the cluster database holds no agency: create it with `casebridge agency init --database ...`".into())
    })?;
    let dir = &cluster.replica_dir;
    let seed: Seed =
        serde_json::from_slice(&row.header).map_err(|_| AgencyError::Invalid("the cluster's store seed does not parse".into()))?;
    let same_store = std::fs::read(dir.join(casebridge_core::HEADER_FILE)).ok().map(|h| B64.encode(h)) == Some(seed.header.clone());
    if !same_store {
        materialize(dir, &row.header)?;
    }
    let mut store = Store::open_with(dir, passphrase, cluster.object_backend())?;
    if !agrees_with_database(cluster, &mut store)? {
        drop(store);
        tracing::warn!("the replica's copy of the agency store disagrees with the database; rebuilding it");
        materialize(dir, &row.header)?;
        store = Store::open_with(dir, passphrase, cluster.object_backend())?;
    }
    catch_up(cluster, &mut store)?;
    Ok(store)
}

/// True when the copy is a prefix of the database's journal (after rolling back records the
/// database never took: a replica killed between its local append and the commit).
fn agrees_with_database(cluster: &Cluster, store: &mut Store) -> Result<bool> {
    let db_len = cluster.block_on(cluster.db.journal_len()).map_err(db_error)?;
    if store.journal_len() > db_len {
        store.truncate_journal(db_len)?;
    }
    let n = store.journal_len();
    if n == 0 {
        return Ok(true);
    }
    let mine = store.raw_records(n - 1, 1)?;
    let theirs = cluster.block_on(cluster.db.journal_after(n - 1, 1)).map_err(db_error)?;
    Ok(mine == theirs)
}

/// Appends what the database's journal holds beyond the copy's.
pub(crate) fn catch_up(cluster: &Cluster, store: &mut Store) -> Result<()> {
    loop {
        let n = store.journal_len();
        let records = cluster.block_on(cluster.db.journal_after(n, CATCH_UP_BATCH)).map_err(db_error)?;
        if records.is_empty() {
            return Ok(());
        }
        store.append_raw(&records)?;
    }
}

/// Catches up the copy behind `store` for a read: the records are fetched without holding
/// the store, then appended under its write lock (when another request caught up meanwhile,
/// what it appended is skipped).
pub(crate) fn catch_up_shared(cluster: &Cluster, store: &std::sync::RwLock<Store>) -> Result<()> {
    loop {
        let n = crate::state::read(store).journal_len();
        let records = cluster.block_on(cluster.db.journal_after(n, CATCH_UP_BATCH)).map_err(db_error)?;
        if records.is_empty() {
            return Ok(());
        }
        let mut s = crate::state::write(store);
        let have = s.journal_len();
        let skip = usize::try_from(have.saturating_sub(n)).unwrap_or(usize::MAX);
        if have >= n && skip < records.len() {
            s.append_raw(&records[skip..])?;
        }
    }
}

/// Runs `write` on the copy as the next writer of the cluster's journal: under the database's
/// journal lock, after catching up; the records it appends go to the database in the lock's
/// transaction. When `write` fails, or the database does not take its records, the copy rolls
/// back to the database's journal and nothing is recorded anywhere.
///
/// `also` names agency records (a receipt) to write in the same transaction: they are kept
/// exactly when the journal records are.
pub(crate) fn append<T, E: From<AgencyError>>(
    cluster: &Cluster,
    store: &mut Store,
    write: impl FnOnce(&mut Store) -> std::result::Result<T, E>,
    also: impl FnOnce(&T) -> Vec<(String, Vec<u8>)>,
) -> std::result::Result<T, E> {
    let mut lock = cluster.block_on(cluster.db.lock_journal()).map_err(db_error)?;
    let tail = cluster.block_on(lock.after(store.journal_len())).map_err(db_error)?;
    store.append_raw(&tail).map_err(AgencyError::from)?;
    let before = store.journal_len();
    let out = match write(store) {
        Ok(out) => out,
        Err(e) => {
            store.truncate_journal(before).map_err(AgencyError::from)?;
            return Err(e);
        }
    };
    let records = store.raw_records(before, usize::MAX).map_err(AgencyError::from)?;
    let extra = also(&out);
    let taken = cluster.block_on(async {
        lock.append(before, &records).await?;
        for (name, value) in &extra {
            lock.put_record(name, value).await?;
        }
        lock.commit().await
    });
    if let Err(e) = taken {
        store.truncate_journal(before).map_err(AgencyError::from)?;
        return Err(db_error(e).into());
    }
    Ok(out)
}
