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
use crate::model::{CaseStatus, CustodyAction, EventKind, GeoPoint, ObjectRef, Role};
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

/// Who this profile is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// Member id.
    pub member_id: Uuid,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// SHA-256 of the identity public key, hex.
    pub fingerprint: String,
    /// This device's id.
    pub device_id: Uuid,
    /// Identity public key, hex.
    pub public_key: String,
}

/// A new case.
#[derive(Clone, Debug, Default)]
pub struct NewCase {
    /// Title (required, non-empty).
    pub title: String,
    /// Summary.
    pub summary: Option<String>,
    /// Agency reference.
    pub reference: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
}

/// Changes to a case; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct CaseEdit {
    /// New title.
    pub title: Option<String>,
    /// New summary.
    pub summary: Option<String>,
    /// New status.
    pub status: Option<CaseStatus>,
    /// New reference.
    pub reference: Option<String>,
}

/// Filters for [`Store::list_cases`].
#[derive(Clone, Debug, Default)]
pub struct CaseFilter {
    /// Only this status.
    pub status: Option<CaseStatus>,
    /// Case-insensitive text in title, summary, reference or tags.
    pub search: Option<String>,
}

/// One line of the case list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// Case id.
    pub id: Uuid,
    /// Agency reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// Status.
    pub status: CaseStatus,
    /// Latest change.
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// Evidence items.
    pub evidence_count: usize,
}

/// An evidence item as shown to the user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceView {
    /// Evidence id.
    pub id: Uuid,
    /// Case id.
    pub case_id: Uuid,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Media type (sniffed).
    pub media_type: String,
    /// Original file name.
    pub original_name: String,
    /// Capture time: the contributor's claim, else EXIF.
    pub captured_at: Option<DateTime<FixedOffset>>,
    /// Place: the contributor's claim, else EXIF GPS.
    pub location: Option<GeoPoint>,
    /// Camera from EXIF.
    pub camera: Option<crate::model::Camera>,
    /// Description.
    pub description: Option<String>,
    /// What the contributor claimed.
    pub claimed: Claimed,
    /// What the content says (EXIF).
    pub extracted: crate::model::Extracted,
    /// Contributor member id.
    pub contributor: Uuid,
    /// Contributor name, when known.
    pub contributor_name: Option<String>,
    /// When it was added.
    pub added_at: DateTime<FixedOffset>,
    /// For a derivative (e.g. a redacted copy): its provenance.
    pub derived_from: Option<projection::ProvenanceRecord>,
}

/// A contributor's claims about an item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claimed {
    /// Claimed capture time.
    pub captured_at: Option<DateTime<FixedOffset>>,
    /// Claimed place.
    pub location: Option<GeoPoint>,
}

/// A note as shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoteView {
    /// Note id.
    pub id: Uuid,
    /// Text.
    pub text: String,
    /// Author member id.
    pub author: Uuid,
    /// Author name.
    pub author_name: Option<String>,
    /// Time.
    pub at: DateTime<FixedOffset>,
}

/// A case with everything in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseDetail {
    /// Case id.
    pub id: Uuid,
    /// Agency reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: Option<String>,
    /// Status.
    pub status: CaseStatus,
    /// Tags.
    pub tags: Vec<String>,
    /// Creator.
    pub created_by: Option<Uuid>,
    /// Created.
    pub created_at: Option<DateTime<FixedOffset>>,
    /// Latest change.
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// Evidence count.
    pub evidence_count: usize,
    /// Evidence, oldest first.
    pub evidence: Vec<EvidenceView>,
    /// Notes, oldest first.
    pub notes: Vec<NoteView>,
}

/// A custody entry as shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustodyView {
    /// Time with timezone.
    pub at: DateTime<FixedOffset>,
    /// Action.
    pub action: CustodyAction,
    /// Actor member id.
    pub actor: Uuid,
    /// Actor name, when known.
    pub actor_name: Option<String>,
    /// Device id.
    pub device: Uuid,
    /// Reason.
    pub reason: Option<String>,
    /// Hash of the item at that moment.
    pub sha256: String,
    /// Hash of the signed event that records it.
    pub event_hash: String,
}

/// One event in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Journal position.
    pub index: u64,
    /// Author member id.
    pub author: Uuid,
    /// Author name.
    pub author_name: Option<String>,
    /// Author sequence.
    pub seq: u64,
    /// Time.
    pub at: DateTime<FixedOffset>,
    /// Event kind.
    pub kind: String,
    /// One-line summary.
    pub summary: String,
    /// Case it belongs to.
    pub case_id: Option<Uuid>,
    /// Evidence it is about.
    pub evidence_id: Option<Uuid>,
    /// SHA-256 of the signed body.
    pub hash: String,
}

/// Options for adding evidence.
#[derive(Clone, Debug, Default)]
pub struct EvidenceOptions {
    /// Description.
    pub description: Option<String>,
    /// Claimed capture time.
    pub captured_at: Option<DateTime<FixedOffset>>,
    /// Claimed place.
    pub location: Option<GeoPoint>,
}

/// What `add_evidence` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedEvidence {
    /// New evidence id.
    pub id: Uuid,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
}

/// What an export reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exported {
    /// Evidence id.
    pub id: Uuid,
    /// Where it went.
    pub path: PathBuf,
    /// SHA-256 re-checked while writing.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// One problem found by `check`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Machine code.
    pub code: String,
    /// The affected item (id, journal record, tree and key), never content.
    pub item: String,
    /// What is wrong.
    pub message: String,
}

/// The result of `check`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Journal records read.
    pub events: u64,
    /// Authors seen.
    pub authors: usize,
    /// Index records checked.
    pub index_records: usize,
    /// Cases.
    pub cases: usize,
    /// Evidence items.
    pub evidence: usize,
    /// Notes.
    pub notes: usize,
    /// Objects whose content was re-hashed.
    pub objects_checked: usize,
    /// Bytes re-hashed.
    pub bytes_checked: u64,
    /// Object files that no event references (left by an interrupted import; harmless).
    pub orphan_objects: usize,
    /// Everything wrong.
    pub problems: Vec<Problem>,
    /// True when nothing is wrong.
    pub ok: bool,
}

/// What `rebuild` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildReport {
    /// Events replayed.
    pub events: u64,
    /// Cases.
    pub cases: usize,
    /// Evidence items.
    pub evidence: usize,
}

/// One profile's store, open and unlocked. Holds the store's lock until dropped.
pub struct Store {
    dir: PathBuf,
    _lock: File,
    header: Header,
    master: SecretKey,
    identity: Identity,
    me: WhoAmI,
    journal: Journal,
    journal_damaged: Option<u64>,
    index: Index,
    objects: ObjectStore,
    state: MetaState,
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
        let cases = store.index.keys(Table::Cases)?.len();
        let evidence = store.index.keys(Table::Evidence)?.len();
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
        let index = Index::open(&index_dir, master.derive(purpose::INDEX).aead())?;
        let objects = ObjectStore::new(dir, master.derive(purpose::OBJECT_WRAP), master.derive(purpose::OBJECT_NAME));
        objects.clean_tmp()?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            _lock: lock,
            header,
            master,
            identity,
            me,
            journal,
            journal_damaged: None,
            index,
            objects,
            state: MetaState::default(),
        };
        store.catch_up()?;
        Ok(store)
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
        self.journal.append(&envelopes)?;
        let mut heads: BTreeMap<Uuid, ChainHead> = self.state.heads.iter().map(|(a, (seq, h))| (*a, head_from(*seq, h))).collect();
        heads.insert(self.me.member_id, head);
        let (records, end) = (self.journal.len, self.journal.end);
        // The journal is durable now; if the index write fails, the next open replays it.
        self.apply_batch(&all, &heads, records, end)?;
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
            return Err(Error::invalid("edit", "nothing to change: give --title, --summary, --status or --reference"));
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
            EventKind::CustodyRecorded { evidence_id: id, action: CustodyAction::Imported, reason: None, sha256: sha.clone() },
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

    // ----- court: derivatives, access log, disclosure -------------------------------------

    /// Adds a derivative of `original` (e.g. a redacted copy) from `content`, which never
    /// touches the disk unsealed. One append records: the new item (`evidence_added`), its
    /// custody `imported`, the signed provenance (`evidence_derived`: original id and hash,
    /// operations), and custody `redacted` on the original. The original is not modified.
    pub fn add_derivative(
        &mut self,
        original: Uuid,
        content: &mut dyn std::io::Read,
        media_type: &str,
        name: &str,
        operations: Vec<String>,
        progress: &mut dyn Progress,
    ) -> Result<AddedEvidence> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        let orig = self.evidence_record(original)?;
        if operations.is_empty() {
            return Err(Error::invalid("operations", "a derivative needs at least one operation"));
        }
        let stored = self.objects.import(content, progress)?;
        let sha = to_hex(&stored.sha256);
        let id = Uuid::now_v7();
        let ops = operations.join("; ");
        self.record(vec![
            EventKind::EvidenceAdded {
                evidence_id: id,
                case_id: orig.case_id,
                object: ObjectRef { sha256: sha.clone(), size: stored.size },
                media_type: media_type.to_string(),
                original_name: name.to_string(),
                claimed_captured_at: orig.claimed_captured_at,
                claimed_location: None,
                extracted: crate::model::Extracted::default(),
                description: Some(format!("derivative of {original}: {ops}")),
            },
            EventKind::CustodyRecorded {
                evidence_id: id,
                action: CustodyAction::Imported,
                reason: Some(format!("derived from {original}")),
                sha256: sha.clone(),
            },
            EventKind::EvidenceDerived {
                evidence_id: id,
                original_id: original,
                original_sha256: orig.sha256.clone(),
                sha256: sha.clone(),
                operations,
            },
            EventKind::CustodyRecorded {
                evidence_id: original,
                action: CustodyAction::Redacted,
                reason: Some(format!("derivative {id}: {ops}")),
                sha256: orig.sha256.clone(),
            },
        ])?;
        Ok(AddedEvidence { id, sha256: sha, size: stored.size, media_type: media_type.to_string() })
    }

    /// Records an access by this profile to a case or an item (the access log).
    pub fn record_access(&mut self, case: Uuid, evidence: Option<Uuid>, action: &str, reason: Option<String>) -> Result<()> {
        self.case_record(case)?;
        if let Some(e) = evidence {
            self.evidence_record(e)?;
        }
        self.record(vec![EventKind::AccessRecorded {
            case_id: case,
            evidence_id: evidence,
            action: action.to_string(),
            reason: clean_optional(reason),
        }])?;
        Ok(())
    }

    /// The access log of a case, oldest first.
    pub fn access_log(&self, case: Uuid) -> Result<Vec<projection::AccessRecord>> {
        self.case_record(case)?;
        self.index
            .scan_prefix(Table::Access, case.as_bytes())?
            .into_iter()
            .map(|(_, v)| serde_json::from_slice(&v).map_err(|_| Error::IndexDamaged { what: "an access record does not parse".into() }))
            .collect()
    }

    /// Records that a contributor's identity may be disclosed in court material for a case.
    pub fn record_disclosure(&mut self, case: Uuid, member: Uuid, reason: &str) -> Result<()> {
        self.case_record(case)?;
        let reason = clean_required("reason", reason)?;
        self.record(vec![EventKind::DisclosureRecorded { case_id: case, member_id: member, reason }])?;
        Ok(())
    }

    /// Disclosures recorded for a case.
    pub fn disclosures(&self, case: Uuid) -> Result<Vec<projection::DisclosureRecord>> {
        self.index
            .scan_prefix(Table::Disclosures, case.as_bytes())?
            .into_iter()
            .map(|(_, v)| serde_json::from_slice(&v).map_err(|_| Error::IndexDamaged { what: "a disclosure record does not parse".into() }))
            .collect()
    }

    /// A member known to this store (from their `profile_created` event), if any.
    pub fn member(&self, id: Uuid) -> Result<Option<MemberRecord>> {
        get_json(&mut IndexReader(&self.index), Table::Members, id.as_bytes())
    }

    // ----- exchange: used by bundles (casebridge-trust) ----------------------------------------

    /// This profile's Ed25519 public key.
    pub fn public_key(&self) -> &[u8] {
        self.identity.public_key()
    }

    /// Signs `context || message` with this profile's identity key (Ed25519). The context is a
    /// domain-separation label so a signature made for one purpose never verifies for another.
    pub fn sign_detached(&self, context: &[u8], message: &[u8]) -> [u8; 64] {
        self.identity.sign(&[context, message].concat())
    }

    /// Records events about this profile's trust and exchange state (pinned agencies,
    /// credentials, revocation lists, bundles, receipts). Case events are refused here.
    pub fn record_local(&mut self, kind: EventKind) -> Result<SignedEvent> {
        if !kind.is_local() {
            return Err(Error::invalid("event", "only trust and exchange events can be recorded this way"));
        }
        let mut evs = self.record(vec![kind])?;
        evs.pop().ok_or_else(|| Error::corrupt("internal: no event recorded"))
    }

    /// The events that make up a case, oldest first: the case, its notes, evidence and the
    /// custody of its evidence, from every author held; never local trust events. With
    /// `since`, only events recorded at or after that journal position (see `log`).
    pub fn case_events(&mut self, case: Uuid, since: Option<u64>) -> Result<Vec<SignedEvent>> {
        self.case_record(case)?;
        let scan = self.journal.scan_from(format::JOURNAL_HEADER_LEN, 0)?;
        if let Some(at) = scan.damaged_at {
            return Err(Error::JournalDamaged { record: at });
        }
        let mut evidence = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for (rec, _) in scan.records {
            let ev = SignedEvent::from_envelope(rec.plaintext.to_vec())?;
            let kind = &ev.body().kind;
            if kind.is_local() {
                continue;
            }
            if let EventKind::EvidenceAdded { evidence_id, case_id, .. } = kind {
                if *case_id == case {
                    evidence.insert(*evidence_id);
                }
            }
            let belongs = kind.case_id() == Some(case) || kind.evidence_id().is_some_and(|e| evidence.contains(&e));
            // The case's creation always travels, so a partial export (`since`) never delivers
            // evidence for a case the receiver does not know.
            let creation = matches!(kind, EventKind::CaseCreated { case_id, .. } if *case_id == case);
            if belongs && (creation || since.is_none_or(|s| rec.index >= s)) {
                out.push(ev);
            }
        }
        Ok(out)
    }

    /// Streams the content with SHA-256 `sha256` (hex) and `size` into `sink`, authenticated
    /// and re-hashed on the way.
    pub fn read_content(&self, sha256: &str, size: u64, sink: &mut dyn Write, progress: &mut dyn Progress) -> Result<()> {
        self.objects.read(&decode_sha(sha256)?, size, sink, progress)
    }

    /// True when content with this SHA-256 (hex) is held.
    pub fn has_content(&self, sha256: &str) -> bool {
        decode_sha(sha256).map(|s| self.objects.path_of(&s).exists()).unwrap_or(false)
    }

    /// Stores incoming content that must have SHA-256 `sha256` (hex) and `size`; nothing is
    /// kept when it does not match.
    pub fn import_content(&mut self, src: &mut dyn std::io::Read, sha256: &str, size: u64, progress: &mut dyn Progress) -> Result<()> {
        let sha = decode_sha(sha256).map_err(|_| Error::invalid("content hash", "not 64 hex digits"))?;
        self.objects.import_expecting(src, Some((sha, size)), progress)?;
        Ok(())
    }

    /// Imports events signed by other members (already signature-checked, e.g. from a verified
    /// bundle) and then records this profile's `local` events, all in one durable append.
    /// Events already held are skipped. An event that contradicts one held (same author and
    /// sequence, different content), or does not link to a held neighbour, or names content
    /// that is not held, refuses the whole import and nothing is written. Returns how many
    /// events were added.
    pub fn import_events(&mut self, events: &[SignedEvent], local: Vec<EventKind>) -> Result<u64> {
        if local.iter().any(|k| !k.is_local()) {
            return Err(Error::invalid("event", "only trust and exchange events can be recorded this way"));
        }
        let mut batch: BTreeMap<(Uuid, u64), &SignedEvent> = BTreeMap::new();
        let mut new = Vec::new();
        for ev in events {
            let b = ev.body();
            if b.kind.is_local() {
                return Err(Error::invalid("bundle", "it carries another profile's local trust events"));
            }
            let held: Option<projection::ChainRecord> =
                get_json(&mut IndexReader(&self.index), Table::Chain, &projection::chain_key(b.author, b.seq))?;
            let hash = to_hex(&ev.hash());
            match held {
                Some(h) if h.hash == hash => continue,
                Some(_) => {
                    return Err(Error::ChainConflict {
                        what: format!("member {} event {} differs from the one held (a fork)", b.author, b.seq),
                    })
                }
                None => {}
            }
            if b.author == self.me.member_id {
                return Err(Error::ChainConflict { what: format!("event {} of this profile is not held here", b.seq) });
            }
            if let Some(prev) = batch.insert((b.author, b.seq), ev) {
                if prev.hash() != ev.hash() {
                    return Err(Error::ChainConflict {
                        what: format!("member {} event {} appears twice with different content", b.author, b.seq),
                    });
                }
                continue;
            }
            if let EventKind::EvidenceAdded { object, .. } = &b.kind {
                if !self.has_content(&object.sha256) {
                    return Err(Error::invalid(
                        "bundle",
                        format!("evidence {} arrives without its content", b.kind.evidence_id().unwrap_or_default()),
                    ));
                }
            }
            new.push(ev.clone());
        }
        // Links to neighbours, held or in this batch.
        for ev in &new {
            let b = ev.body();
            let lookup = |seq: u64| -> Result<Option<(String, String)>> {
                if let Some(e) = batch.get(&(b.author, seq)) {
                    return Ok(Some((to_hex(&e.hash()), e.body().prev.clone())));
                }
                let r: Option<projection::ChainRecord> =
                    get_json(&mut IndexReader(&self.index), Table::Chain, &projection::chain_key(b.author, seq))?;
                Ok(r.map(|r| (r.hash, r.prev)))
            };
            if let Some((prev_hash, _)) = b.seq.checked_sub(1).map(lookup).transpose()?.flatten() {
                if prev_hash != b.prev {
                    return Err(Error::ChainConflict {
                        what: format!("member {} event {} does not link to event {}", b.author, b.seq, b.seq - 1),
                    });
                }
            }
            if let Some((_, next_prev)) = lookup(b.seq + 1)? {
                if next_prev != to_hex(&ev.hash()) {
                    return Err(Error::ChainConflict {
                        what: format!("member {} event {} does not link to event {}", b.author, b.seq + 1, b.seq),
                    });
                }
            }
        }
        // Journal order: by author and sequence, so each member's events stay in chain order.
        new.sort_by_key(|e| (e.body().author, e.body().seq));
        let added = new.len() as u64;
        self.commit(new, local)?;
        Ok(added)
    }

    /// A stored trust document by agency (pins, credentials, revocations) or bundle id (receipts).
    pub fn trust_document(&self, table: Table, id: Uuid) -> Result<Option<projection::TrustRecord>> {
        get_json(&mut IndexReader(&self.index), table, id.as_bytes())
    }

    /// Every stored trust document of one table, by key order.
    pub fn trust_documents(&self, table: Table) -> Result<Vec<projection::TrustRecord>> {
        self.index
            .scan_prefix(table, &[])?
            .into_iter()
            .map(|(_, v)| {
                serde_json::from_slice(&v).map_err(|_| Error::IndexDamaged { what: format!("a {} record does not parse", table.name()) })
            })
            .collect()
    }

    /// The last bundle this profile exported to `agency` (highest sequence).
    pub fn last_bundle_out(&self, agency: Uuid) -> Result<Option<projection::BundleRecord>> {
        let recs = self.index.scan_prefix(Table::BundlesOut, agency.as_bytes())?;
        match recs.last() {
            None => Ok(None),
            Some((_, v)) => {
                serde_json::from_slice(v).map(Some).map_err(|_| Error::IndexDamaged { what: "a bundles_out record does not parse".into() })
            }
        }
    }

    /// Every bundle this profile exported to `agency`, by sequence.
    pub fn bundles_out(&self, agency: Uuid) -> Result<Vec<projection::BundleRecord>> {
        self.index
            .scan_prefix(Table::BundlesOut, agency.as_bytes())?
            .into_iter()
            .map(|(_, v)| {
                serde_json::from_slice(&v).map_err(|_| Error::IndexDamaged { what: "a bundles_out record does not parse".into() })
            })
            .collect()
    }

    /// Every bundle this store imported.
    pub fn bundles_in(&self) -> Result<Vec<projection::BundleRecord>> {
        self.index
            .scan_prefix(Table::BundlesIn, &[])?
            .into_iter()
            .map(|(_, v)| serde_json::from_slice(&v).map_err(|_| Error::IndexDamaged { what: "a bundles_in record does not parse".into() }))
            .collect()
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
        let keys = self.index.keys(Table::Cases)?;
        let lower = q.to_ascii_lowercase();
        if lower.len() >= 4 && lower.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let matches: Vec<Uuid> = keys
                .iter()
                .filter_map(|k| Uuid::from_slice(k).ok())
                .filter(|id| id.to_string().starts_with(&lower))
                .filter(|id| self.case_record(*id).is_ok())
                .collect();
            match matches.len() {
                1 => return Ok(matches[0]),
                0 => {}
                n => return Err(Error::AmbiguousCase { query: q.to_string(), count: n }),
            }
        }
        // By reference (decrypts case records).
        let mut found = Vec::new();
        for k in keys {
            let Ok(id) = Uuid::from_slice(&k) else { continue };
            if let Ok(c) = self.case_record(id) {
                if c.reference.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(q)) {
                    found.push(id);
                }
            }
        }
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
        for kv in self.index.scan_prefix(Table::Cases, &[])? {
            let c: CaseRecord =
                serde_json::from_slice(&kv.1).map_err(|_| Error::IndexDamaged { what: "a case record does not parse".into() })?;
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
        for (_, v) in self.index.scan_prefix(Table::Notes, id.as_bytes())? {
            let n: NoteRecord =
                serde_json::from_slice(&v).map_err(|_| Error::IndexDamaged { what: "a note record does not parse".into() })?;
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
        for (_, v) in self.index.scan_prefix(Table::Custody, id.as_bytes())? {
            let c: CustodyRecord =
                serde_json::from_slice(&v).map_err(|_| Error::IndexDamaged { what: "a custody record does not parse".into() })?;
            out.push(CustodyView {
                at: c.at,
                action: c.action,
                actor_name: self.member_name(c.actor),
                actor: c.actor,
                device: c.device,
                reason: c.reason,
                sha256: c.sha256,
                event_hash: c.event_hash,
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

    /// Verifies the whole store: every journal record, signature and chain link; every index
    /// value (authenticity and agreement with a fresh replay of the journal); and with
    /// `read_data`, every object's content hash. Never modifies anything.
    pub fn check(&mut self, read_data: bool, progress: &mut dyn FnMut(u64)) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let mut problems = Vec::new();
        let scan = self.journal.scan_from(format::JOURNAL_HEADER_LEN, 0)?;
        if let Some(at) = scan.damaged_at {
            problems.push(Problem {
                code: "journal_record_damaged".into(),
                item: format!("journal record {at}"),
                message: "fails authentication; it and every record after it cannot be read".into(),
            });
        }
        if scan.torn_tail {
            problems.push(Problem {
                code: "journal_torn_tail".into(),
                item: "journal tail".into(),
                message:
                    "an unfinished write at the end (never acknowledged); it is removed the next time the store is opened for a change"
                        .into(),
            });
        }
        let mut heads: BTreeMap<Uuid, ChainHead> = BTreeMap::new();
        let mut foreign: BTreeMap<(Uuid, u64), (String, String)> = BTreeMap::new();
        let mut model = projection::MemTables::default();
        let mut replayed_end = format::JOURNAL_HEADER_LEN;
        let mut replayed = 0u64;
        for (rec, rec_end) in scan.records {
            let ev = match SignedEvent::from_envelope(rec.plaintext.to_vec()) {
                Ok(ev) => ev,
                Err(e) => {
                    problems.push(Problem {
                        code: "event_invalid".into(),
                        item: format!("journal record {}", rec.index),
                        message: e.to_string(),
                    });
                    break;
                }
            };
            let b = ev.body();
            if b.author == self.me.member_id {
                if let Err(msg) = heads.entry(b.author).or_default().advance(&ev) {
                    problems.push(Problem { code: "chain_broken".into(), item: format!("journal record {}", rec.index), message: msg });
                    break;
                }
            } else {
                let hash = to_hex(&ev.hash());
                if let Some((h, _)) = foreign.get(&(b.author, b.seq)) {
                    let code = if *h == hash { "event_duplicated" } else { "chain_fork" };
                    problems.push(Problem {
                        code: code.into(),
                        item: format!("journal record {}", rec.index),
                        message: format!("member {} event {} is held twice", b.author, b.seq),
                    });
                    break;
                }
                foreign.insert((b.author, b.seq), (hash, b.prev.clone()));
            }
            projection::apply(&mut model, &ev)?;
            replayed += 1;
            replayed_end = rec_end;
        }
        for ((author, seq), (_, prev)) in &foreign {
            if let Some((prev_hash, _)) = seq.checked_sub(1).and_then(|p| foreign.get(&(*author, p))) {
                if prev_hash != prev {
                    problems.push(Problem {
                        code: "chain_broken".into(),
                        item: format!("member {author} event {seq}"),
                        message: "does not link to the member's previous event".into(),
                    });
                }
            }
        }
        report.events = replayed;
        report.authors = heads.len() + foreign.keys().map(|(a, _)| *a).collect::<std::collections::BTreeSet<_>>().len();

        // The index must hold exactly what the replay produced.
        let mut bad = Vec::new();
        let index_model = self.index.dump(&mut |t, k, msg| bad.push((t, k, msg)));
        for (t, k, msg) in bad {
            problems.push(Problem { code: "index_value_damaged".into(), item: describe_key(t, &k), message: msg.to_string() });
        }
        report.index_records = index_model.map.len();
        match self.index.meta() {
            Ok(Some(m)) if m.records == replayed && m.end == replayed_end => {}
            Ok(_) => problems.push(Problem {
                code: "index_behind".into(),
                item: "index state".into(),
                message: "the index has not applied the whole journal; run `casebridge store rebuild`".into(),
            }),
            Err(e) => problems.push(Problem { code: "index_value_damaged".into(), item: "index state".into(), message: e.detail() }),
        }
        for ((t, k), v) in &model.map {
            match index_model.map.get(&(*t, k.clone())) {
                None => problems.push(Problem {
                    code: "index_record_missing".into(),
                    item: describe_key(*t, k),
                    message: "is in the journal but missing from the index".into(),
                }),
                Some(iv) if iv != v => problems.push(Problem {
                    code: "index_record_differs".into(),
                    item: describe_key(*t, k),
                    message: "differs from the journal".into(),
                }),
                Some(_) => {}
            }
        }
        for (t, k) in index_model.map.keys() {
            if !model.map.contains_key(&(*t, k.clone())) {
                problems.push(Problem {
                    code: "index_record_unknown".into(),
                    item: describe_key(*t, k),
                    message: "is in the index but not in the journal".into(),
                });
            }
        }

        let mut evidence: Vec<EvidenceRecord> = Vec::new();
        for ((t, _), v) in &model.map {
            match t {
                Table::Cases if serde_json::from_slice::<CaseRecord>(v).map(|c| c.created).unwrap_or(false) => report.cases += 1,
                Table::Notes => report.notes += 1,
                Table::Evidence => {
                    if let Ok(e) = serde_json::from_slice::<EvidenceRecord>(v) {
                        evidence.push(e);
                    }
                }
                _ => {}
            }
        }
        report.evidence = evidence.len();

        let mut referenced = std::collections::BTreeSet::new();
        for e in &evidence {
            let Ok(sha) = decode_sha(&e.sha256) else { continue };
            referenced.insert(self.objects.name_of(&sha));
            if !self.objects.path_of(&sha).exists() {
                problems.push(Problem {
                    code: "object_missing".into(),
                    item: format!("evidence {}", e.id),
                    message: "its content file is missing".into(),
                });
                continue;
            }
            if read_data {
                let base = report.bytes_checked;
                match self.objects.read(&sha, e.size, &mut std::io::sink(), &mut |done: u64| {
                    progress(base + done);
                    true
                }) {
                    Ok(()) => {
                        report.objects_checked += 1;
                        report.bytes_checked += e.size;
                    }
                    Err(err) => problems.push(Problem {
                        code: "object_damaged".into(),
                        item: format!("evidence {}", e.id),
                        message: err.to_string(),
                    }),
                }
            }
        }
        report.orphan_objects = self.objects.list().iter().filter(|n| !referenced.contains(*n)).count();
        report.ok = problems.is_empty();
        report.problems = problems;
        Ok(report)
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
