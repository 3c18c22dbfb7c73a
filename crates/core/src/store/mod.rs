//! [`Store`]: one profile's encrypted case store.
//!
//! This file holds the store itself: creating, opening and rebuilding it, catching the index
//! up with the journal, and recording events (the one path by which anything is written). The
//! rest of `Store`'s methods are grouped by concern, one file each:
//!
//! | file          | what it holds                                                              |
//! |---------------|----------------------------------------------------------------------------|
//! | `cases`       | cases and notes: open, edit, find, list, detail                            |
//! | `evidence`    | evidence items: import, export, re-hash, find, list, chain of custody      |
//! | `briefs`      | briefs, submissions and reviews (investigators and volunteers)             |
//! | `court`       | derivatives, the access log, disclosures, members (court material)         |
//! | `exchange`    | signing, case events out, content and foreign events in (bundles, sync)    |
//! | `profile`     | this profile's bookkeeping: trust documents, endpoints, bundles, receipts  |
//! | `history`     | the journal read as history: the log, pages after a position, changes      |
//! | `records`     | [`Records`]: records as held, for rules above the store (the endpoint's)   |
//! | `check`, `gc` | maintenance: the full check, orphan objects                                |
//! | `mirror`      | the journal copied between copies of one store, record for record          |
//! | `views`       | the types the queries return                                               |

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Local, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::{fill_random, to_hex, KdfParams, Passphrase, SecretKey};
use crate::error::{Error, Result};
use crate::event::{ChainHead, EventBody, Hlc, Identity, SignedEvent, BODY_VERSION};
use crate::format::{self, purpose, Header, HEADER_FILE, INDEX_DIR, JOURNAL_DIR, JOURNAL_FILE, LOCK_FILE, OBJECTS_DIR, TMP_DIR};
use crate::index::{Index, MetaState, Overlay};
use crate::journal::Journal;
use crate::metadata;
use crate::model::{CaseStatus, CustodyAction, EventKind, GeoPoint, ObjectRef, ProfileEvent, Role};
use crate::objects::{FileObjects, ObjectBackend, ObjectStore, Progress};
use crate::projection::{self, get_json, CaseRecord, CustodyRecord, EvidenceRecord, MemberRecord, NoteRecord, Table};

/// Events applied to the index per transaction during catch-up and rebuild.
const APPLY_BATCH: usize = 2000;

/// The sealed profile record in the header.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct ProfileSecret {
    member_id: String,
    name: String,
    role: String,
    device_id: String,
    identity_pkcs8: String,
}

mod briefs;
mod cases;
mod check;
mod court;
mod evidence;
mod exchange;
mod gc;
mod history;
#[cfg(test)]
mod index_upgrade;
mod mirror;
mod profile;
mod records;
mod retention;
mod views;

pub use briefs::*;
pub use exchange::{ContentImporter, ContentObserver, DetachedSigner};
pub use gc::{OrphanObject, OrphanSweep};
pub use history::EventPage;
pub use records::Records;
pub use retention::{
    ALREADY_WITHDRAWN, CASE_ON_HOLD, EVIDENCE_DELETED, MAX_WITHDRAWAL_REASON_CHARS, NOT_YOUR_SUBMISSION, SUBMISSION_ACCEPTED,
    TOMBSTONE_MISMATCH, TOMBSTONE_UNKNOWN_ITEM,
};
pub use views::*;

/// One profile's store, open and unlocked. Holds the store's lock until dropped.
pub struct Store {
    dir: PathBuf,
    _lock: File,
    header: Header,
    master: SecretKey,
    identity: std::sync::Arc<Identity>,
    me: WhoAmI,
    journal: Journal,
    journal_damaged: Option<u64>,
    index: Index,
    objects: std::sync::Arc<ObjectStore>,
    state: MetaState,
    /// Start offsets of journal records (and the end), filled lazily by position reads.
    positions: std::sync::Mutex<Vec<u64>>,
    /// Content SHA-256 (hex) -> the smallest evidence id naming it, built in memory on first
    /// use by the endpoint and kept up to date as events are applied. Never on disk: an index
    /// key would reveal the hash (sled keys are not sealed).
    content_index: std::sync::Mutex<Option<BTreeMap<String, Uuid>>>,
}

/// Locks one of the store's in-memory caches; a poisoned lock (a panic elsewhere) still gives
/// the cache, which is only ever extended whole.
fn guard<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now() -> DateTime<FixedOffset> {
    Local::now().fixed_offset()
}

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

fn lock_store(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(Error::io("opening", &path))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::InUse { path: dir.to_path_buf() }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("locking", &path)(e)),
    }
}

fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| Error::corrupt("profile: bad id"))
}

impl Store {
    /// Creates a new store in `dir` (which must not exist or be empty) with a fresh master key
    /// and identity, then opens it. The directory appears complete or not at all.
    pub fn create(dir: &Path, passphrase: &Passphrase, name: &str, role: Role, kdf: KdfParams) -> Result<Store> {
        Self::create_dir(dir, passphrase, name, role, kdf)?;
        Self::open(dir, passphrase)
    }

    /// Like [`Store::create`], but the store's objects live in `objects` (see
    /// [`Store::open_with`]). The directory is laid out as by [`Store::create`].
    pub fn create_with(
        dir: &Path,
        passphrase: &Passphrase,
        name: &str,
        role: Role,
        kdf: KdfParams,
        objects: std::sync::Arc<dyn ObjectBackend>,
    ) -> Result<Store> {
        Self::create_dir(dir, passphrase, name, role, kdf)?;
        Self::open_with(dir, passphrase, objects)
    }

    /// Makes the store directory of [`Store::create`], complete or not at all.
    fn create_dir(dir: &Path, passphrase: &Passphrase, name: &str, role: Role, kdf: KdfParams) -> Result<()> {
        passphrase.check_policy()?;
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("name", "it is empty; give the name people will see"));
        }
        if dir.join(HEADER_FILE).exists() {
            return Err(Error::AlreadyExists { path: dir.to_path_buf() });
        }
        if dir.exists() {
            let mut rd = fs::read_dir(dir).map_err(Error::io("reading", dir))?;
            if rd.next().is_some() {
                return Err(Error::NotEmpty { path: dir.to_path_buf() });
            }
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(Error::io("creating", &parent))?;
        let file_name = dir.file_name().ok_or_else(|| Error::invalid("store", "the path has no directory name"))?;
        let staging = parent.join(format!(".{}.creating-{}", file_name.to_string_lossy(), Uuid::new_v4().simple()));
        let result = Self::create_in(&staging, passphrase, name, role, kdf);
        match result {
            Ok(()) => {}
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
        }
        // rename(2) replaces an empty directory atomically.
        if let Err(e) = fs::rename(&staging, dir) {
            let _ = fs::remove_dir_all(&staging);
            return Err(Error::io("creating", dir)(e));
        }
        format::sync_dir(&parent)?;
        Ok(())
    }

    fn create_in(dir: &Path, passphrase: &Passphrase, name: &str, role: Role, kdf: KdfParams) -> Result<()> {
        for sub in [JOURNAL_DIR, OBJECTS_DIR, TMP_DIR] {
            fs::create_dir_all(dir.join(sub)).map_err(Error::io("creating", dir))?;
        }
        File::create(dir.join(LOCK_FILE)).map_err(Error::io("creating", dir))?;
        let mut store_id = [0u8; 16];
        fill_random(&mut store_id)?;
        let mut salt = [0u8; 16];
        fill_random(&mut salt)?;
        let master = SecretKey::random()?;
        let (identity, pkcs8) = Identity::generate()?;
        let member_id = Uuid::now_v7();
        let device_id = Uuid::now_v7();
        let profile = ProfileSecret {
            member_id: member_id.to_string(),
            name: name.to_string(),
            role: role.as_str().to_string(),
            device_id: device_id.to_string(),
            identity_pkcs8: Header::to_b64(&pkcs8),
        };
        let profile_json = Zeroizing::new(serde_json::to_vec(&profile).expect("profile serializes"));
        let mut header = Header {
            store_id: to_hex(&store_id),
            kdf: "argon2id".into(),
            kdf_params: kdf,
            salt: Header::to_b64(&salt),
            wrapped_master_key: String::new(),
            sealed_profile: String::new(),
        };
        let kek = kdf.derive(passphrase, &salt)?;
        header.wrapped_master_key = Header::to_b64(&kek.aead().seal(&header.master_key_aad(), master.expose_secret())?);
        header.sealed_profile = Header::to_b64(&master.derive(purpose::PROFILE).aead().seal(&profile_aad(&header), &profile_json)?);

        let mut journal = Journal::create(&dir.join(JOURNAL_DIR).join(JOURNAL_FILE), master.derive(purpose::JOURNAL).aead(), store_id)?;
        let body = EventBody {
            v: BODY_VERSION,
            author: member_id,
            key: to_hex(identity.public_key()),
            seq: 1,
            prev: to_hex(&crate::event::GENESIS_PREV),
            hlc: Hlc::default().tick(now_ms()),
            at: now(),
            device: device_id,
            kind: EventKind::ProfileCreated { name: name.to_string(), role },
        };
        let ev = SignedEvent::sign(&identity, body)?;
        journal.append(&[ev.envelope()])?;
        drop(journal);
        header.write_atomic(dir)?;
        format::sync_dir(dir)?;
        Ok(())
    }

    /// Opens and unlocks the store in `dir`. A wrong passphrase changes nothing on disk.
    pub fn open(dir: &Path, passphrase: &Passphrase) -> Result<Store> {
        Self::open_inner(dir, passphrase, None, false)
    }

    /// Opens and unlocks the store in `dir` with its sealed objects in `objects` instead of
    /// its `objects/` directory (the cluster agency keeps them in a bucket). Everything else,
    /// the journal, the index and the lock, is in `dir` as always. The backend sees sealed
    /// bytes under keyed names only.
    pub fn open_with(dir: &Path, passphrase: &Passphrase, objects: std::sync::Arc<dyn ObjectBackend>) -> Result<Store> {
        Self::open_inner(dir, passphrase, Some(objects), false)
    }

    /// Deletes the index and rebuilds it from the journal.
    pub fn rebuild(dir: &Path, passphrase: &Passphrase) -> Result<(Store, RebuildReport)> {
        let store = Self::open_inner(dir, passphrase, None, true)?;
        let cases = store.index.len(Table::Cases);
        let evidence = store.index.len(Table::Evidence);
        let report = RebuildReport { events: store.state.records, cases, evidence };
        Ok((store, report))
    }

    /// Like [`Store::rebuild`], with the store's objects in `objects` (see [`Store::open_with`]).
    pub fn rebuild_with(dir: &Path, passphrase: &Passphrase, objects: std::sync::Arc<dyn ObjectBackend>) -> Result<(Store, RebuildReport)> {
        let store = Self::open_inner(dir, passphrase, Some(objects), true)?;
        let cases = store.index.len(Table::Cases);
        let evidence = store.index.len(Table::Evidence);
        let report = RebuildReport { events: store.state.records, cases, evidence };
        Ok((store, report))
    }

    fn open_inner(dir: &Path, passphrase: &Passphrase, objects: Option<std::sync::Arc<dyn ObjectBackend>>, rebuild: bool) -> Result<Store> {
        let header = Header::read(dir)?;
        let lock = lock_store(dir)?;
        let salt = Header::b64(&header.salt)?;
        let kek = header.kdf_params.derive(passphrase, &salt)?;
        let wrapped = Header::b64(&header.wrapped_master_key)?;
        let master_bytes = kek.aead().open(&header.master_key_aad(), &wrapped).map_err(|_| Error::WrongPassphrase)?;
        let master = SecretKey::from_slice(&master_bytes)?;
        drop(master_bytes);

        let sealed_profile = Header::b64(&header.sealed_profile)?;
        let profile_json = master
            .derive(purpose::PROFILE)
            .aead()
            .open(&profile_aad(&header), &sealed_profile)
            .map_err(|_| Error::corrupt("store header: the profile record fails authentication"))?;
        let profile: ProfileSecret =
            serde_json::from_slice(&profile_json).map_err(|_| Error::corrupt("store header: profile does not parse"))?;
        let pkcs8 = Zeroizing::new(Header::b64(&profile.identity_pkcs8)?);
        let identity = Identity::from_pkcs8(&pkcs8)?;
        let me = WhoAmI {
            member_id: parse_uuid(&profile.member_id)?,
            name: profile.name.clone(),
            role: profile.role.parse().map_err(|_| Error::corrupt("profile: bad role"))?,
            fingerprint: identity.fingerprint(),
            device_id: parse_uuid(&profile.device_id)?,
            public_key: to_hex(identity.public_key()),
        };
        let store_id: [u8; 16] = hex::decode(&header.store_id)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| Error::corrupt("store header: bad store id"))?;

        let journal = Journal::open(&dir.join(JOURNAL_DIR).join(JOURNAL_FILE), master.derive(purpose::JOURNAL).aead(), store_id, true)?;
        let index_dir = dir.join(INDEX_DIR);
        if rebuild && index_dir.exists() {
            fs::remove_dir_all(&index_dir).map_err(Error::io("removing", &index_dir))?;
        }
        let index = match Index::open(&index_dir, &master) {
            Ok(index) => index,
            // sled's own files are unreadable (sled 0.34 can be left so by a SIGKILL mid-write,
            // spacejam/sled#1509). The index is only a projection of the authenticated journal:
            // set the damaged one aside (sealed values only) and rebuild from the journal.
            Err(Error::IndexDamaged { .. }) if index_dir.exists() => {
                let aside = dir.join(format!("{INDEX_DIR}.damaged"));
                if aside.exists() {
                    fs::remove_dir_all(&aside).map_err(Error::io("removing", &aside))?;
                }
                fs::rename(&index_dir, &aside).map_err(Error::io("moving aside", &index_dir))?;
                format::sync_dir(dir)?;
                Index::open(&index_dir, &master)?
            }
            Err(e) => return Err(e),
        };
        let backend = objects.unwrap_or_else(|| std::sync::Arc::new(FileObjects::new(dir)));
        let objects =
            std::sync::Arc::new(ObjectStore::new(dir, backend, master.derive(purpose::OBJECT_WRAP), master.derive(purpose::OBJECT_NAME)));
        objects.clean_tmp()?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            _lock: lock,
            header,
            master,
            identity: std::sync::Arc::new(identity),
            me,
            journal,
            journal_damaged: None,
            index,
            objects,
            state: MetaState::default(),
            positions: std::sync::Mutex::new(Vec::new()),
            content_index: std::sync::Mutex::new(None),
        };
        store.catch_up()?;
        store.backfill_bundles_by_sender()?;
        Ok(store)
    }

    /// Stores made before [`Table::BundlesInBySender`] existed hold their imported bundles only
    /// by id: fill the by-sender table from them once, so the sequence check of the next bundle
    /// sees every earlier one. (A rebuild fills it from the journal.)
    fn backfill_bundles_by_sender(&mut self) -> Result<()> {
        if !self.index.is_empty(Table::BundlesInBySender) || self.index.is_empty(Table::BundlesIn) {
            return Ok(());
        }
        let mut overlay = Overlay { index: &self.index, writes: BTreeMap::new() };
        for rec in self.index.scan_json::<projection::BundleRecord>(Table::BundlesIn, &[])? {
            projection::put_last_bundle_in(&mut overlay, &rec)?;
        }
        self.index.commit(&overlay.writes, &self.state)
    }

    /// Brings the index up to the end of the journal: reads (and verifies) only the records
    /// after the point the index has applied, and cuts an unacknowledged torn tail.
    fn catch_up(&mut self) -> Result<()> {
        let state = self.index.meta()?.unwrap_or_else(|| MetaState { end: format::JOURNAL_HEADER_LEN, ..MetaState::default() });
        let scan = self.journal.scan_from(state.end, state.records)?;
        if let Some(at) = scan.damaged_at {
            self.journal_damaged = Some(at);
        }
        self.state = state;
        let mut heads: BTreeMap<Uuid, ChainHead> = self.state.heads.iter().map(|(a, (seq, h))| (*a, head_from(*seq, h))).collect();
        let mut batch: Vec<SignedEvent> = Vec::new();
        let mut end = self.state.end;
        let mut records = self.state.records;
        for (rec, rec_end) in scan.records {
            let ev = match SignedEvent::from_envelope(rec.plaintext.to_vec()) {
                Ok(ev) => ev,
                Err(_) => {
                    self.journal_damaged = Some(rec.index);
                    break;
                }
            };
            // This profile's own chain is strict; other members' events were checked against
            // their neighbours when imported (they may arrive with gaps).
            if self.is_own(ev.body()) && heads.entry(ev.body().author).or_default().advance(&ev).is_err() {
                self.journal_damaged = Some(rec.index);
                break;
            }
            batch.push(ev);
            end = rec_end;
            records = rec.index + 1;
            if batch.len() >= APPLY_BATCH {
                self.apply_batch(&batch, &heads, records, end)?;
                batch.clear();
            }
        }
        self.apply_batch(&batch, &heads, records, end)?;
        // Appends continue after the last good record.
        self.journal.set_position(records, end);
        if scan.torn_tail && self.journal_damaged.is_none() {
            self.journal.cut_torn_tail()?;
        }
        Ok(())
    }

    fn apply_batch(&mut self, batch: &[SignedEvent], heads: &BTreeMap<Uuid, ChainHead>, records: u64, end: u64) -> Result<()> {
        if batch.is_empty() && records == self.state.records {
            return Ok(());
        }
        let mut overlay = Overlay { index: &self.index, writes: BTreeMap::new() };
        let mut hlc = self.state.hlc;
        for ev in batch {
            projection::apply(&mut overlay, ev)?;
            hlc = hlc.max(ev.body().hlc);
            if let (Some(ci), EventKind::EvidenceAdded { evidence_id, object, .. }) = (guard(&self.content_index).as_mut(), &ev.body().kind)
            {
                let slot = ci.entry(object.sha256.clone()).or_insert(*evidence_id);
                *slot = (*slot).min(*evidence_id);
            }
        }
        let state = MetaState { records, end, heads: heads.iter().map(|(a, h)| (*a, (h.seq, to_hex(&h.hash)))).collect(), hlc };
        self.index.commit(&overlay.writes, &state)?;
        self.state = state;
        Ok(())
    }

    /// Signs, journals (durably) and applies new events by this profile.
    fn record(&mut self, kinds: Vec<EventKind>) -> Result<Vec<SignedEvent>> {
        self.commit(Vec::new(), kinds)
    }

    /// Journals (durably, in one append) and applies `foreign` events followed by new events
    /// of this profile made from `kinds`; returns the new own events.
    fn commit(&mut self, foreign: Vec<SignedEvent>, kinds: Vec<EventKind>) -> Result<Vec<SignedEvent>> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        let mut head = self.state.heads.get(&self.me.member_id).map(|(s, h)| head_from(*s, h)).unwrap_or_default();
        let mut hlc = self.state.hlc;
        let mut events = Vec::with_capacity(kinds.len());
        for kind in kinds {
            hlc = hlc.tick(now_ms());
            let body = EventBody {
                v: BODY_VERSION,
                author: self.me.member_id,
                key: self.me.public_key.clone(),
                seq: head.seq + 1,
                prev: to_hex(&head.hash),
                hlc,
                at: now(),
                device: self.me.device_id,
                kind,
            };
            let ev = SignedEvent::sign(&self.identity, body)?;
            head.advance(&ev).map_err(|_| Error::corrupt("internal chain error"))?;
            events.push(ev);
        }
        let all: Vec<SignedEvent> = foreign.into_iter().chain(events.iter().cloned()).collect();
        let envelopes: Vec<&[u8]> = all.iter().map(|e| e.envelope()).collect();
        let first = self.journal.len;
        let ends = self.journal.append(&envelopes)?;
        let old_heads: BTreeMap<Uuid, ChainHead> = self.state.heads.iter().map(|(a, (seq, h))| (*a, head_from(*seq, h))).collect();
        let mut new_heads = old_heads.clone();
        new_heads.insert(self.me.member_id, head);
        // The journal is durable now; if an index write fails, the next open replays it. The
        // index is brought up in bounded transactions (a bundle can carry tens of thousands of
        // events; one transaction for all of them held hundreds of MiB), each recording the
        // exact journal position it reaches. This profile's own events come last, so every
        // transaction but the last keeps the old chain head; a replay advances it.
        let chunks = all.len().div_ceil(APPLY_BATCH).max(1);
        for (ci, chunk) in all.chunks(APPLY_BATCH).enumerate() {
            let last = ci * APPLY_BATCH + chunk.len() - 1;
            let heads = if ci + 1 == chunks { &new_heads } else { &old_heads };
            self.apply_batch(chunk, heads, first + last as u64 + 1, ends[last])?;
        }
        Ok(events)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when `b` is in this profile's own chain: its member id *and* its key. Events of this
    /// member signed on another device (another key) are that device's chain, received like
    /// any other member's.
    pub fn is_own(&self, b: &EventBody) -> bool {
        b.author == self.me.member_id && b.key == self.me.public_key
    }

    /// Who this profile is.
    pub fn whoami(&self) -> &WhoAmI {
        &self.me
    }

    /// The Argon2id parameters in the header.
    pub fn kdf_params(&self) -> KdfParams {
        self.header.kdf_params
    }

    /// Changes the passphrase: only the wrapped master key changes, written atomically
    /// (old or new passphrase opens the store whatever happens).
    pub fn change_passphrase(&mut self, new: &Passphrase, kdf: KdfParams) -> Result<()> {
        new.check_policy()?;
        let mut salt = [0u8; 16];
        fill_random(&mut salt)?;
        let mut header = self.header.clone();
        header.kdf_params = kdf;
        header.salt = Header::to_b64(&salt);
        let kek = kdf.derive(new, &salt)?;
        header.wrapped_master_key = Header::to_b64(&kek.aead().seal(&header.master_key_aad(), self.master.expose_secret())?);
        header.write_atomic(&self.dir)?;
        self.header = header;
        Ok(())
    }

    // ----- shared by the queries of every concern ---------------------------------------------

    fn member_name(&self, id: Uuid) -> Option<String> {
        let rec: Option<MemberRecord> = get_json(&mut IndexReader(&self.index), Table::Members, id.as_bytes()).ok().flatten();
        rec.map(|m| m.name)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.index.flush();
    }
}

struct IndexReader<'a>(&'a Index);

impl projection::Tables for IndexReader<'_> {
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.0.get(table, key)
    }
    fn put(&mut self, _: Table, _: Vec<u8>, _: Vec<u8>) -> Result<()> {
        Err(Error::corrupt("read-only view"))
    }
}

fn profile_aad(header: &Header) -> Vec<u8> {
    let mut ad = format::aad::PROFILE.to_vec();
    ad.extend_from_slice(header.store_id.as_bytes());
    ad
}

fn head_from(seq: u64, hash_hex: &str) -> ChainHead {
    let mut hash = [0u8; 32];
    if let Ok(v) = hex::decode(hash_hex) {
        if v.len() == 32 {
            hash.copy_from_slice(&v);
        }
    }
    ChainHead { seq, hash }
}

fn decode_sha(hex_str: &str) -> Result<[u8; 32]> {
    hex::decode(hex_str)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| Error::IndexDamaged { what: "an evidence hash is malformed".into() })
}

fn describe_key(t: Table, k: &[u8]) -> String {
    let id = |b: &[u8]| Uuid::from_slice(b).map(|u| u.to_string()).unwrap_or_else(|_| hex::encode(b));
    match t {
        Table::Members => format!("member {}", id(k)),
        Table::Cases => format!("case {}", id(k)),
        Table::Evidence => format!("evidence {}", id(k)),
        Table::Notes if k.len() == 32 => format!("note {} of case {}", id(&k[16..]), id(&k[..16])),
        Table::Custody if k.len() >= 16 => format!("custody entry of evidence {}", id(&k[..16])),
        Table::CaseEvidence if k.len() == 32 => format!("link of evidence {} to case {}", id(&k[16..]), id(&k[..16])),
        _ => format!("{} record {}", t.name(), hex::encode(k)),
    }
}

fn clean_required(field: &'static str, s: &str) -> Result<String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::invalid(field, "it is empty"));
    }
    if t.len() > 64 * 1024 {
        return Err(Error::invalid(field, "it is longer than 64 KiB"));
    }
    Ok(t.to_string())
}

fn clean_optional(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}
