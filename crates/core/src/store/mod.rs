//! [`Store`]: one profile's encrypted case store.

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
use crate::objects::{ObjectStore, Progress};
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
mod check;
mod court;
mod exchange;
mod gc;
mod history;
#[cfg(test)]
mod index_upgrade;
mod records;
mod views;

pub use briefs::*;
pub use exchange::{ContentImporter, DetachedSigner};
pub use gc::{OrphanObject, OrphanSweep};
pub use history::EventPage;
pub use records::Records;
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
        Self::open(dir, passphrase)
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
        Self::open_with(dir, passphrase, false)
    }

    /// Deletes the index and rebuilds it from the journal.
    pub fn rebuild(dir: &Path, passphrase: &Passphrase) -> Result<(Store, RebuildReport)> {
        let store = Self::open_with(dir, passphrase, true)?;
        let cases = store.index.len(Table::Cases);
        let evidence = store.index.len(Table::Evidence);
        let report = RebuildReport { events: store.state.records, cases, evidence };
        Ok((store, report))
    }

    fn open_with(dir: &Path, passphrase: &Passphrase, rebuild: bool) -> Result<Store> {
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
        let objects = std::sync::Arc::new(ObjectStore::new(dir, master.derive(purpose::OBJECT_WRAP), master.derive(purpose::OBJECT_NAME)));
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
            if ev.body().author == self.me.member_id && heads.entry(ev.body().author).or_default().advance(&ev).is_err() {
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

    /// Who this profile is.
    pub fn whoami(&self) -> &WhoAmI {
        &self.me
    }

    /// The Argon2id parameters in the header.
    pub fn kdf_params(&self) -> KdfParams {
        self.header.kdf_params
    }

    /// Creates a case; returns its id.
    pub fn create_case(&mut self, new: NewCase) -> Result<Uuid> {
        let title = clean_required("title", &new.title)?;
        let id = Uuid::now_v7();
        let tags: Vec<String> = new.tags.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
        self.record(vec![EventKind::CaseCreated {
            case_id: id,
            reference: clean_optional(new.reference),
            title,
            summary: clean_optional(new.summary),
            tags,
            status: CaseStatus::Open,
        }])?;
        Ok(id)
    }

    /// Edits a case.
    pub fn edit_case(&mut self, case: Uuid, edit: CaseEdit) -> Result<()> {
        self.case_record(case)?;
        let title = match edit.title {
            Some(t) => Some(clean_required("title", &t)?),
            None => None,
        };
        if title.is_none() && edit.summary.is_none() && edit.status.is_none() && edit.reference.is_none() {
            return Err(Error::invalid("edit", "nothing to change: give a new title, summary, status or reference"));
        }
        self.record(vec![EventKind::CaseEdited {
            case_id: case,
            title,
            summary: edit.summary,
            status: edit.status,
            reference: edit.reference,
        }])?;
        Ok(())
    }

    /// Adds a note; returns its id.
    pub fn add_note(&mut self, case: Uuid, text: &str) -> Result<Uuid> {
        self.case_record(case)?;
        let text = clean_required("note", text)?;
        let id = Uuid::now_v7();
        self.record(vec![EventKind::NoteAdded { case_id: case, note_id: id, text }])?;
        Ok(id)
    }

    /// Imports a file as evidence: streams it into a sealed object, then records
    /// `evidence_added` and a custody entry `imported` in one durable journal append.
    pub fn add_evidence(&mut self, case: Uuid, path: &Path, opts: &EvidenceOptions, progress: &mut dyn Progress) -> Result<AddedEvidence> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        self.case_record(case)?;
        let meta = fs::metadata(path).map_err(Error::io("reading", path))?;
        if !meta.is_file() {
            return Err(Error::invalid("file", format!("{} is not a regular file", path.display())));
        }
        let head = metadata::read_head(path).map_err(Error::io("reading", path))?;
        let media_type = metadata::sniff_media_type(&head);
        let extracted = metadata::extract(path, &media_type);
        let mut file = File::open(path).map_err(Error::io("reading", path))?;
        let stored = self.objects.import(&mut file, progress)?;
        let sha = to_hex(&stored.sha256);
        let id = Uuid::now_v7();
        let original_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.record(vec![
            EventKind::EvidenceAdded {
                evidence_id: id,
                case_id: case,
                object: ObjectRef { sha256: sha.clone(), size: stored.size },
                media_type: media_type.clone(),
                original_name,
                claimed_captured_at: opts.captured_at,
                claimed_location: opts.location,
                extracted,
                description: clean_optional(opts.description.clone()),
            },
            EventKind::CustodyRecorded {
                evidence_id: id,
                action: CustodyAction::Imported,
                reason: None,
                sha256: sha.clone(),
                observed: None,
            },
        ])?;
        Ok(AddedEvidence { id, sha256: sha, size: stored.size, media_type })
    }

    /// Writes an item's original bytes to `out` (never overwriting), re-checking the hash on
    /// the way, and records custody `exported`.
    pub fn export_evidence(&mut self, id: Uuid, out: &Path, reason: Option<String>, progress: &mut dyn Progress) -> Result<Exported> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        let rec = self.evidence_record(id)?;
        let sha = decode_sha(&rec.sha256)?;
        let mut f = match OpenOptions::new().write(true).create_new(true).open(out) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(Error::WouldOverwrite { path: out.to_path_buf() }),
            Err(e) => return Err(Error::io("creating", out)(e)),
        };
        let result = (|| {
            let mut w = std::io::BufWriter::with_capacity(1024 * 1024, &mut f);
            self.objects.read(&sha, rec.size, &mut w, progress)?;
            w.flush().map_err(Error::io("writing", out))?;
            drop(w);
            f.sync_all().map_err(Error::io("syncing", out))
        })();
        if let Err(e) = result {
            drop(f);
            let _ = fs::remove_file(out);
            return Err(e);
        }
        self.record(vec![EventKind::CustodyRecorded {
            evidence_id: id,
            action: CustodyAction::Exported,
            reason: clean_optional(reason),
            sha256: rec.sha256.clone(),
            observed: None,
        }])?;
        Ok(Exported { id, path: out.to_path_buf(), sha256: rec.sha256, size: rec.size })
    }

    /// Re-hashes an item's content and records custody `verified` when it is intact.
    pub fn verify_evidence(&mut self, id: Uuid, progress: &mut dyn Progress) -> Result<()> {
        let rec = self.evidence_record(id)?;
        let sha = decode_sha(&rec.sha256)?;
        self.objects.read(&sha, rec.size, &mut std::io::sink(), progress)?;
        self.record(vec![EventKind::CustodyRecorded {
            evidence_id: id,
            action: CustodyAction::Verified,
            reason: None,
            sha256: rec.sha256,
            observed: None,
        }])?;
        Ok(())
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

    // ----- queries -------------------------------------------------------------------------

    fn case_record(&self, id: Uuid) -> Result<CaseRecord> {
        let rec: Option<CaseRecord> = get_json(&mut IndexReader(&self.index), Table::Cases, id.as_bytes())?;
        rec.filter(|c| c.created).ok_or_else(|| Error::UnknownCase { query: id.to_string() })
    }

    fn evidence_record(&self, id: Uuid) -> Result<EvidenceRecord> {
        let rec: Option<EvidenceRecord> = get_json(&mut IndexReader(&self.index), Table::Evidence, id.as_bytes())?;
        rec.ok_or_else(|| Error::UnknownEvidence { query: id.to_string() })
    }

    fn member_name(&self, id: Uuid) -> Option<String> {
        let rec: Option<MemberRecord> = get_json(&mut IndexReader(&self.index), Table::Members, id.as_bytes()).ok().flatten();
        rec.map(|m| m.name)
    }

    /// Resolves a case by full id, unique id prefix, or agency reference.
    pub fn resolve_case(&self, query: &str) -> Result<Uuid> {
        let q = query.trim();
        if let Ok(id) = Uuid::parse_str(q) {
            self.case_record(id)?;
            return Ok(id);
        }
        // Index keys are keyed: a prefix or a reference is found by opening the case records.
        let cases: Vec<CaseRecord> = self.index.scan_json::<CaseRecord>(Table::Cases, &[])?.into_iter().filter(|c| c.created).collect();
        let lower = q.to_ascii_lowercase();
        if lower.len() >= 4 && lower.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let matches: Vec<Uuid> = cases.iter().map(|c| c.id).filter(|id| id.to_string().starts_with(&lower)).collect();
            match matches.len() {
                1 => return Ok(matches[0]),
                0 => {}
                n => return Err(Error::AmbiguousCase { query: q.to_string(), count: n }),
            }
        }
        // By reference.
        let found: Vec<Uuid> =
            cases.iter().filter(|c| c.reference.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(q))).map(|c| c.id).collect();
        match found.len() {
            1 => Ok(found[0]),
            0 => Err(Error::UnknownCase { query: q.to_string() }),
            n => Err(Error::AmbiguousCase { query: q.to_string(), count: n }),
        }
    }

    /// Resolves an evidence item by full id or unique id prefix.
    pub fn resolve_evidence(&self, query: &str) -> Result<Uuid> {
        let q = query.trim().to_ascii_lowercase();
        if let Ok(id) = Uuid::parse_str(&q) {
            self.evidence_record(id).map_err(|_| Error::UnknownEvidence { query: query.to_string() })?;
            return Ok(id);
        }
        if q.len() < 4 || !q.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(Error::UnknownEvidence { query: query.to_string() });
        }
        let matches: Vec<Uuid> = self
            .index
            .keys(Table::Evidence)?
            .iter()
            .filter_map(|k| Uuid::from_slice(k).ok())
            .filter(|id| id.to_string().starts_with(&q))
            .collect();
        match matches.len() {
            1 => Ok(matches[0]),
            0 => Err(Error::UnknownEvidence { query: query.to_string() }),
            n => Err(Error::AmbiguousEvidence { query: query.to_string(), count: n }),
        }
    }

    /// Cases, most recently changed first.
    pub fn list_cases(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>> {
        let needle = filter.search.as_ref().map(|s| s.to_lowercase());
        let mut out = Vec::new();
        for c in self.index.scan_json::<CaseRecord>(Table::Cases, &[])? {
            if !c.created || filter.status.is_some_and(|s| s != c.status) {
                continue;
            }
            if let Some(n) = &needle {
                let hay = [Some(c.title.as_str()), c.summary.as_deref(), c.reference.as_deref()]
                    .into_iter()
                    .flatten()
                    .chain(c.tags.iter().map(String::as_str))
                    .any(|s| s.to_lowercase().contains(n.as_str()));
                if !hay {
                    continue;
                }
            }
            let evidence_count = self.index.count_prefix(Table::CaseEvidence, c.id.as_bytes());
            out.push(CaseSummary {
                id: c.id,
                reference: c.reference,
                title: c.title,
                status: c.status,
                updated_at: c.updated_at,
                evidence_count,
            });
        }
        out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// A case with its evidence and notes.
    pub fn case(&self, id: Uuid) -> Result<CaseDetail> {
        let c = self.case_record(id)?;
        let evidence = self.list_evidence(id)?;
        let mut notes: Vec<NoteView> = Vec::new();
        for n in self.index.scan_json::<NoteRecord>(Table::Notes, id.as_bytes())? {
            notes.push(NoteView { id: n.id, text: n.text, author: n.author, author_name: self.member_name(n.author), at: n.at });
        }
        notes.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        Ok(CaseDetail {
            id: c.id,
            reference: c.reference,
            title: c.title,
            summary: c.summary,
            status: c.status,
            tags: c.tags,
            created_by: c.created_by,
            created_at: c.created_at,
            updated_at: c.updated_at,
            evidence_count: evidence.len(),
            evidence,
            notes,
        })
    }

    fn view(&self, e: EvidenceRecord) -> EvidenceView {
        EvidenceView {
            id: e.id,
            case_id: e.case_id,
            sha256: e.sha256,
            size: e.size,
            media_type: e.media_type,
            original_name: e.original_name,
            captured_at: e.claimed_captured_at.or(e.extracted.captured_at),
            location: e.claimed_location.or(e.extracted.location),
            camera: e.extracted.camera.clone(),
            description: e.description,
            claimed: Claimed { captured_at: e.claimed_captured_at, location: e.claimed_location },
            extracted: e.extracted,
            contributor_name: self.member_name(e.contributor),
            derived_from: get_json(&mut IndexReader(&self.index), Table::Provenance, e.id.as_bytes()).ok().flatten(),
            contributor: e.contributor,
            added_at: e.added_at,
        }
    }

    /// One evidence item.
    pub fn evidence(&self, id: Uuid) -> Result<EvidenceView> {
        Ok(self.view(self.evidence_record(id)?))
    }

    /// A case's evidence, oldest first.
    pub fn list_evidence(&self, case: Uuid) -> Result<Vec<EvidenceView>> {
        self.case_record(case)?;
        let mut out = Vec::new();
        for k in self.index.scan_prefix(Table::CaseEvidence, case.as_bytes())? {
            let ev = Uuid::from_slice(&k.0[16..]).map_err(|_| Error::IndexDamaged { what: "a case_evidence key is malformed".into() })?;
            out.push(self.view(self.evidence_record(ev)?));
        }
        out.sort_by(|a, b| a.added_at.cmp(&b.added_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// An item's custody trail, in order.
    pub fn custody(&self, id: Uuid) -> Result<Vec<CustodyView>> {
        self.evidence_record(id)?;
        let mut out = Vec::new();
        for c in self.index.scan_json::<CustodyRecord>(Table::Custody, id.as_bytes())? {
            out.push(CustodyView {
                at: c.at,
                action: c.action,
                actor_name: self.member_name(c.actor),
                actor: c.actor,
                device: c.device,
                reason: c.reason,
                sha256: c.sha256,
                event_hash: c.event_hash,
                observed: c.observed,
            });
        }
        Ok(out)
    }

    /// Every event, oldest first, optionally only those of one case (including custody of its
    /// evidence). Reads and verifies the whole journal.
    pub fn log(&mut self, case: Option<Uuid>) -> Result<Vec<LogEntry>> {
        if let Some(c) = case {
            self.case_record(c)?;
        }
        let scan = self.journal.scan_from(format::JOURNAL_HEADER_LEN, 0)?;
        let mut ev_case: BTreeMap<Uuid, Uuid> = BTreeMap::new();
        let mut out = Vec::new();
        for (rec, _) in scan.records {
            let ev = SignedEvent::from_envelope(rec.plaintext.to_vec())?;
            let b = ev.body();
            if let EventKind::EvidenceAdded { evidence_id, case_id, .. } = &b.kind {
                ev_case.insert(*evidence_id, *case_id);
            }
            let case_id = b.kind.case_id().or_else(|| b.kind.evidence_id().and_then(|e| ev_case.get(&e).copied()));
            if case.is_some() && case != case_id {
                continue;
            }
            out.push(LogEntry {
                index: rec.index,
                author: b.author,
                author_name: self.member_name(b.author),
                seq: b.seq,
                at: b.at,
                kind: b.kind.name().to_string(),
                summary: b.kind.summary(),
                case_id,
                evidence_id: b.kind.evidence_id(),
                hash: to_hex(&ev.hash()),
            });
        }
        Ok(out)
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
