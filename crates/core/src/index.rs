//! The sealed sled index: the projection's home on disk, rebuildable from the journal.
//!
//! Every value is `NONCE || CIPHERTEXT || TAG` under the index subkey with associated data
//! `aad::INDEX || tree name || key`, so a value moved to another key or tree fails
//! authentication. Keys are ids only (UUID bytes), never readable content.
//!
//! Writes go through an [`Overlay`] that collects a batch of events' effects and commits them
//! in one multi-tree transaction together with the `meta` record saying how far into the
//! journal the index has applied, so the index is always a consistent prefix of the journal.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::AeadKey;
use crate::error::{Error, Result};
use crate::event::Hlc;
use crate::format::aad;
use crate::projection::{MemTables, Table, Tables};
use sled::Transactional;

/// sled's page cache: explicit and small (the index holds metadata only).
pub const CACHE_CAPACITY: u64 = 16 * 1024 * 1024;
const META_TREE: &str = "meta";
const META_STATE: &[u8] = b"state";

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

impl Index {
    pub fn open(dir: &Path, key: AeadKey) -> Result<Index> {
        // sled takes its own file lock and releases it only when its background threads have
        // let go of the database, which can be a moment after a previous `Store` in this process
        // was dropped. The store's flock already keeps other processes out, so waiting briefly
        // here is safe.
        let mut attempt = 0;
        let db = loop {
            let r = std::panic::catch_unwind(|| sled::Config::new().path(dir).cache_capacity(CACHE_CAPACITY).open())
                .map_err(|_| Error::IndexDamaged { what: "sled could not read its files".into() })?;
            match r {
                Ok(db) => break db,
                Err(sled::Error::Io(e)) if attempt < 200 && e.to_string().contains("could not acquire lock") => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(Error::IndexDamaged { what: format!("sled: {e}") }),
            }
        };
        let mut trees = HashMap::new();
        for t in Table::ALL {
            trees.insert(t, db.open_tree(t.name())?);
        }
        let meta = db.open_tree(META_TREE)?;
        Ok(Index { db, trees, meta, key })
    }

    fn tree(&self, t: Table) -> &sled::Tree {
        &self.trees[&t]
    }

    pub fn seal(&self, table: &str, key: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        self.key.seal(&value_aad(table, key), value)
    }

    pub fn open_value(&self, table: &str, key: &[u8], sealed: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        self.key.open(&value_aad(table, key), sealed)
    }

    /// Reads and opens one value.
    pub fn get(&self, t: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.tree(t).get(key)? {
            None => Ok(None),
            Some(v) => {
                let pt = self
                    .open_value(t.name(), key, &v)
                    .map_err(|_| Error::IndexDamaged { what: format!("a {} record fails authentication", t.name()) })?;
                Ok(Some(pt.to_vec()))
            }
        }
    }

    /// Every (key, plaintext) with `prefix`, in key order.
    pub fn scan_prefix(&self, t: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for kv in self.tree(t).scan_prefix(prefix) {
            let (k, v) = kv?;
            let pt = self
                .open_value(t.name(), &k, &v)
                .map_err(|_| Error::IndexDamaged { what: format!("a {} record fails authentication", t.name()) })?;
            out.push((k.to_vec(), pt.to_vec()));
        }
        Ok(out)
    }

    /// The value of the last key with `prefix` (in key order), opened.
    pub fn last_with_prefix(&self, t: Table, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.tree(t).scan_prefix(prefix).next_back() {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv?;
                let pt = self
                    .open_value(t.name(), &k, &v)
                    .map_err(|_| Error::IndexDamaged { what: format!("a {} record fails authentication", t.name()) })?;
                Ok(Some(pt.to_vec()))
            }
        }
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

    /// Every record with `prefix`, opened and parsed, in key order.
    pub fn scan_json<T: serde::de::DeserializeOwned>(&self, t: Table, prefix: &[u8]) -> Result<Vec<T>> {
        self.scan_prefix(t, prefix)?
            .into_iter()
            .map(|(_, v)| {
                serde_json::from_slice(&v).map_err(|_| Error::IndexDamaged { what: format!("a {} record does not parse", t.name()) })
            })
            .collect()
    }

    /// Number of keys with `prefix` (no decryption).
    pub fn count_prefix(&self, t: Table, prefix: &[u8]) -> usize {
        self.tree(t).scan_prefix(prefix).keys().count()
    }

    /// Every key of a table (no decryption).
    pub fn keys(&self, t: Table) -> Result<Vec<Vec<u8>>> {
        self.tree(t).iter().keys().map(|k| k.map(|k| k.to_vec()).map_err(Error::from)).collect()
    }

    /// Raw sealed entries of a table, for `check`.
    pub fn raw(&self, t: Table) -> Vec<RawEntry> {
        self.tree(t).iter().map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect()
    }

    pub fn meta(&self) -> Result<Option<MetaState>> {
        match self.meta.get(META_STATE)? {
            None => Ok(None),
            Some(v) => {
                let pt = self
                    .open_value(META_TREE, META_STATE, &v)
                    .map_err(|_| Error::IndexDamaged { what: "the index state fails authentication".into() })?;
                serde_json::from_slice(&pt).map(Some).map_err(|_| Error::IndexDamaged { what: "the index state does not parse".into() })
            }
        }
    }

    /// Commits an overlay's writes and the new meta state atomically, in one transaction over
    /// the trees written and `meta` (a transaction over every tree costs more than the writes
    /// of a small batch).
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
            sealed.push((idx, k.clone(), self.seal(t.name(), k, v)?));
        }
        let meta_json = serde_json::to_vec(meta).expect("meta serializes");
        let meta_sealed = self.seal(META_TREE, META_STATE, &meta_json)?;
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

    /// Decrypts the whole projection into memory (for `check`); damaged values are reported
    /// through `bad` and skipped.
    pub fn dump(&self, bad: &mut dyn FnMut(Table, Vec<u8>, &'static str)) -> MemTables {
        let mut m = MemTables::default();
        for t in Table::ALL {
            for kv in self.raw(t) {
                match kv {
                    Ok((k, v)) => match self.open_value(t.name(), &k, &v) {
                        Ok(pt) => {
                            m.map.insert((t, k), pt.to_vec());
                        }
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
