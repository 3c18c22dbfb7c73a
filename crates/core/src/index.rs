//! The sealed sled index: the projection's home on disk, rebuildable from the journal.
//!
//! The projection names records by logical keys (ids, times, sequence numbers); sled stores
//! them under keyed physical keys ([`keys`]: truncated HMACs of each scannable prefix), so the
//! disk shows neither ids nor the links between them nor when anything happened. Every value
//! is `NONCE || CIPHERTEXT || TAG` under the index subkey, sealing `KEY_LEN || LOGICAL KEY ||
//! RECORD`, with associated data `aad::INDEX || tree name || physical key`, so a value moved to
//! another key or tree fails authentication. Readers get logical keys back and scans return
//! them in logical-key order (sled's own order is that of the MACs).
//!
//! Writes go through an [`Overlay`] that collects a batch of events' effects and commits them
//! in one multi-tree transaction together with the `meta` record saying how far into the
//! journal the index has applied, so the index is always a consistent prefix of the journal.
//! An index written in another [`INDEX_FORMAT_VERSION`] (or before versions were recorded) is
//! emptied on open and rebuilt from the journal.

mod keys;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::{AeadKey, MacKey, SecretKey};
use crate::error::{Error, Result};
use crate::event::Hlc;
use crate::format::{aad, purpose};
use crate::projection::{MemTables, Table, Tables};
use sled::Transactional;

/// sled's page cache: explicit and small (the index holds metadata only).
pub const CACHE_CAPACITY: u64 = 16 * 1024 * 1024;
const META_TREE: &str = "meta";
const META_STATE: &[u8] = b"state";
/// Key in `meta` of the index format version (u32 BE, not sealed: it says nothing and a forged
/// one only causes a rebuild).
const META_VERSION: &[u8] = b"version";
/// Version of the index layout. 1 (never recorded): plaintext keys. 2: keyed keys, logical key
/// inside the sealed value. 3: event chains are per signing key (the chain table's logical key
/// is author || key || seq), so a member's second device has its own chain. 4: a case record
/// holds its `team` and `hold` (issue 16). An older index is rebuilt from the journal once.
pub const INDEX_FORMAT_VERSION: u32 = 4;

/// How far the index has applied the journal, and the chain heads at that point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaState {
    /// Journal records applied.
    pub records: u64,
    /// Journal byte offset after the last applied record.
    pub end: u64,
    /// Chain head per author: (seq, hash hex).
    pub heads: BTreeMap<Uuid, (u64, String)>,
    /// Largest HLC seen.
    pub hlc: Hlc,
}

/// A raw (sealed) index entry as read from sled.
pub(crate) type RawEntry = std::result::Result<(Vec<u8>, Vec<u8>), sled::Error>;

pub(crate) struct Index {
    db: sled::Db,
    trees: HashMap<Table, sled::Tree>,
    meta: sled::Tree,
    key: AeadKey,
    mac: MacKey,
}

fn value_aad(table: &str, key: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(aad::INDEX.len() + table.len() + key.len() + 2);
    ad.extend_from_slice(aad::INDEX);
    ad.push(b'/');
    ad.extend_from_slice(table.as_bytes());
    ad.push(b'/');
    ad.extend_from_slice(key);
    ad
}

fn damaged(t: Table) -> Error {
    Error::IndexDamaged { what: format!("a {} record fails authentication", t.name()) }
}

/// The version recorded in `meta`, if any.
fn recorded_version(meta: &sled::Tree) -> Result<Option<u32>> {
    Ok(meta.get(META_VERSION)?.map(|v| <[u8; 4]>::try_from(v.as_ref()).map(u32::from_be_bytes).unwrap_or(0)))
}

/// Empties an index of another format version (every tree, including `meta`, so the journal is
/// replayed from its start) and records [`INDEX_FORMAT_VERSION`]. The wipe is flushed before
/// the version is written: a crash in between leaves no version, and the next open wipes again.
fn upgrade(db: &sled::Db) -> Result<()> {
    let meta = db.open_tree(META_TREE)?;
    if recorded_version(&meta)? == Some(INDEX_FORMAT_VERSION) {
        return Ok(());
    }
    for name in db.tree_names() {
        if db.drop_tree(&name).is_err() {
            // sled's default tree cannot be dropped; empty it instead.
            db.open_tree(&name)?.clear()?;
        }
    }
    db.flush()?;
    db.open_tree(META_TREE)?.insert(META_VERSION, &INDEX_FORMAT_VERSION.to_be_bytes())?;
    db.flush()?;
    Ok(())
}

/// Opens sled with `config`, waiting for a lock a dropped `Db` of this process still holds.
///
/// sled takes its own file lock and releases it only when its background threads have let go
/// of the database, which can be a moment after a previous `Store` in this process was dropped.
/// The store's flock already keeps other processes out, so waiting briefly here is safe.
pub(crate) fn open_waiting(config: sled::Config) -> Result<sled::Db> {
    let mut attempt = 0;
    loop {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()))
            .map_err(|_| Error::IndexDamaged { what: "sled could not read its files".into() })?;
        match r {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if attempt < 200 && e.to_string().contains("could not acquire lock") => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(Error::IndexDamaged { what: format!("sled: {e}") }),
        }
    }
}

impl Index {
    /// Opens (or creates) the index in `dir` with the subkeys of the store's `master` key.
    pub fn open(dir: &Path, master: &SecretKey) -> Result<Index> {
        let db = open_waiting(sled::Config::new().path(dir).cache_capacity(CACHE_CAPACITY))?;
        upgrade(&db)?;
        let mut trees = HashMap::new();
        for t in Table::ALL {
            trees.insert(t, db.open_tree(t.name())?);
        }
        let meta = db.open_tree(META_TREE)?;
        Ok(Index { db, trees, meta, key: master.derive(purpose::INDEX).aead(), mac: master.derive(purpose::INDEX_KEY).mac() })
    }

    fn tree(&self, t: Table) -> &sled::Tree {
        &self.trees[&t]
    }

    /// The physical (keyed) key of a logical key.
    fn physical(&self, t: Table, logical: &[u8]) -> Vec<u8> {
        keys::physical(&self.mac, t, logical)
    }

    /// Opens one stored value: (logical key, record).
    fn open_entry(&self, t: Table, physical: &[u8], sealed: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
        let pt = self.key.open(&value_aad(t.name(), physical), sealed).map_err(|_| damaged(t))?;
        let (logical, record) = keys::unpack(&pt).ok_or_else(|| damaged(t))?;
        Ok((logical.to_vec(), record.to_vec()))
    }

    /// Reads and opens one value.
    pub fn get(&self, t: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let physical = self.physical(t, key);
        match self.tree(t).get(&physical)? {
            None => Ok(None),
            Some(v) => {
                let (logical, record) = self.open_entry(t, &physical, &v)?;
                // The AAD binds the value to the physical key; the logical key inside must be the
                // one asked for (it always is unless the MAC collided).
                if logical != key {
                    return Err(damaged(t));
                }
                Ok(Some(record))
            }
        }
    }

    /// Every (logical key, plaintext) whose logical key starts with `prefix`, in logical-key
    /// order. `prefix` is empty or one of the table's scan prefixes ([`keys::prefixes`]).
    pub fn scan_prefix(&self, t: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for kv in self.tree(t).scan_prefix(keys::physical_prefix(&self.mac, t, prefix)) {
            let (k, v) = kv?;
            let entry = self.open_entry(t, &k, &v)?;
            if !entry.0.starts_with(prefix) {
                return Err(damaged(t));
            }
            out.push(entry);
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Empties a table (tests make an index as an older version left it).
    #[cfg(test)]
    pub fn clear(&self, t: Table) -> Result<()> {
        Ok(self.tree(t).clear()?)
    }

    /// True when a table holds nothing.
    pub fn is_empty(&self, t: Table) -> bool {
        self.tree(t).is_empty()
    }

    /// Every record with `prefix`, opened and parsed, in logical-key order.
    pub fn scan_json<T: serde::de::DeserializeOwned>(&self, t: Table, prefix: &[u8]) -> Result<Vec<T>> {
        self.scan_prefix(t, prefix)?
            .into_iter()
            .map(|(_, v)| {
                serde_json::from_slice(&v).map_err(|_| Error::IndexDamaged { what: format!("a {} record does not parse", t.name()) })
            })
            .collect()
    }

    /// Number of keys with `prefix` (no decryption: the keyed prefix groups them).
    pub fn count_prefix(&self, t: Table, prefix: &[u8]) -> usize {
        self.tree(t).scan_prefix(keys::physical_prefix(&self.mac, t, prefix)).keys().count()
    }

    /// Number of records in a table (no decryption).
    pub fn len(&self, t: Table) -> usize {
        self.tree(t).len()
    }

    /// Every logical key of a table, in order. The keys on disk are keyed, so this opens every
    /// value of the table.
    pub fn keys(&self, t: Table) -> Result<Vec<Vec<u8>>> {
        Ok(self.scan_prefix(t, &[])?.into_iter().map(|(k, _)| k).collect())
    }

    /// Raw sealed entries of a table, for `check`.
    fn raw(&self, t: Table) -> Vec<RawEntry> {
        self.tree(t).iter().map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect()
    }

    /// Empties the index, so that the journal is replayed from its start. The format version
    /// goes first and comes back last, so a crash midway leaves an index the next open wipes
    /// again (see [`upgrade`]) rather than a partly emptied one.
    pub fn reset(&self) -> Result<()> {
        self.meta.remove(META_VERSION)?;
        self.db.flush()?;
        for t in self.trees.values() {
            t.clear()?;
        }
        self.meta.clear()?;
        self.db.flush()?;
        self.meta.insert(META_VERSION, &INDEX_FORMAT_VERSION.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    pub fn meta(&self) -> Result<Option<MetaState>> {
        match self.meta.get(META_STATE)? {
            None => Ok(None),
            Some(v) => {
                let pt = self
                    .key
                    .open(&value_aad(META_TREE, META_STATE), &v)
                    .map_err(|_| Error::IndexDamaged { what: "the index state fails authentication".into() })?;
                serde_json::from_slice(&pt).map(Some).map_err(|_| Error::IndexDamaged { what: "the index state does not parse".into() })
            }
        }
    }

    /// Commits an overlay's writes (logical keys) and the new meta state atomically, in one
    /// transaction over the trees written and `meta` (a transaction over every tree costs more
    /// than the writes of a small batch).
    pub fn commit(&self, writes: &BTreeMap<(Table, Vec<u8>), Vec<u8>>, meta: &MetaState) -> Result<()> {
        let mut touched: Vec<Table> = Vec::new();
        let mut sealed: Vec<(usize, Vec<u8>, Vec<u8>)> = Vec::with_capacity(writes.len() + 1);
        for ((t, k), v) in writes {
            let idx = match touched.iter().position(|x| x == t) {
                Some(i) => i,
                None => {
                    touched.push(*t);
                    touched.len() - 1
                }
            };
            let physical = self.physical(*t, k);
            let packed = zeroize::Zeroizing::new(keys::pack(k, v));
            let value = self.key.seal(&value_aad(t.name(), &physical), &packed)?;
            sealed.push((idx, physical, value));
        }
        let meta_json = serde_json::to_vec(meta).expect("meta serializes");
        let meta_sealed = self.key.seal(&value_aad(META_TREE, META_STATE), &meta_json)?;
        let mut trees: Vec<&sled::Tree> = touched.iter().map(|t| self.tree(*t)).collect();
        trees.push(&self.meta);
        let meta_idx = trees.len() - 1;
        trees
            .as_slice()
            .transaction(|tx| {
                for (i, k, v) in &sealed {
                    tx[*i].insert(k.as_slice(), v.as_slice())?;
                }
                tx[meta_idx].insert(META_STATE, meta_sealed.as_slice())?;
                Ok(())
            })
            .map_err(|e: sled::transaction::TransactionError<()>| match e {
                sled::transaction::TransactionError::Storage(e) => Error::Index(e),
                sled::transaction::TransactionError::Abort(()) => Error::IndexDamaged { what: "transaction aborted".into() },
            })?;
        Ok(())
    }

    /// Decrypts the whole projection into memory (for `check`), under logical keys. A damaged
    /// value cannot say which record it was: it is reported through `bad` with its physical
    /// key and skipped (the comparison with the journal then names the record it lacks).
    pub fn dump(&self, bad: &mut dyn FnMut(Table, Vec<u8>, &'static str)) -> MemTables {
        let mut m = MemTables::default();
        for t in Table::ALL {
            for kv in self.raw(t) {
                match kv {
                    Ok((k, v)) => match self.open_entry(t, &k, &v) {
                        Ok((logical, record)) if self.physical(t, &logical) == k => {
                            m.map.insert((t, logical), record);
                        }
                        Ok(_) => bad(t, k, "is stored under another record's key"),
                        Err(_) => bad(t, k, "fails authentication (altered, damaged or moved)"),
                    },
                    Err(_) => bad(t, Vec::new(), "could not be read from sled"),
                }
            }
        }
        m
    }

    pub fn flush(&self) {
        let _ = self.db.flush();
    }
}

/// Writes `tables` and `meta` as index format 1 left them (plaintext logical keys, the record
/// alone sealed under them, no recorded version), so tests can open a store as an older
/// version of this software left it.
#[cfg(test)]
pub(crate) fn write_v1_for_tests(dir: &Path, master: &SecretKey, tables: &MemTables, meta: &MetaState) -> Result<()> {
    let key = master.derive(purpose::INDEX).aead();
    let db = open_waiting(sled::Config::new().path(dir))?;
    for ((t, k), v) in &tables.map {
        db.open_tree(t.name())?.insert(k.as_slice(), key.seal(&value_aad(t.name(), k), v)?)?;
    }
    let meta_json = serde_json::to_vec(meta).expect("meta serializes");
    db.open_tree(META_TREE)?.insert(META_STATE, key.seal(&value_aad(META_TREE, META_STATE), &meta_json)?)?;
    db.flush()?;
    Ok(())
}

/// Collects writes on top of the index; reads see earlier writes of the same batch.
pub(crate) struct Overlay<'a> {
    pub index: &'a Index,
    pub writes: BTreeMap<(Table, Vec<u8>), Vec<u8>>,
}

impl Tables for Overlay<'_> {
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.writes.get(&(table, key.to_vec())) {
            return Ok(Some(v.clone()));
        }
        self.index.get(table, key)
    }
    fn put(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        self.writes.insert((table, key), value);
        Ok(())
    }
}
