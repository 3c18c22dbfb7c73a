//! Resumable uploads of sealed bundles: `AGENCY/uploads/<upload_id>.part` holds the bytes
//! received so far and `<upload_id>.state` the state, sealed to the agency (member, bundle id,
//! size, bytes durably received, when the last chunk came, and once complete the outcome and
//! receipt). A chunk is fsynced before the state says it was received, so `received` never
//! covers bytes that could be lost.
//!
//! Quotas and cleanup (docs/ENDPOINT.md, "Quotas and cleanup"): a member may have at most
//! `max_open_uploads_per_member` uploads begun and not completed, declaring at most
//! `max_pending_bytes_per_member` bytes together (one upload alone may always declare up to
//! `max_bundle_bytes`); resuming an upload is never refused. An upload that receives no chunk
//! for `upload_expiry_secs` expires: its bytes are removed and its state becomes a tombstone
//! that answers `404 upload_expired` for another `upload_expiry_secs`. A completed upload's
//! state (the outcome and receipt a repeated `complete` answers) is kept for
//! `upload_expiry_secs` after completion. [`Tracker`] holds what the quotas and the cleanup
//! need in memory, rebuilt from the folder at start.
//!
//! A cluster agency keeps each upload's sealed state in its database's `uploads` table (with
//! a keyed digest of the member, the sizes and the phase, see
//! [`casebridge_cluster::db::Upload`]) and its bytes as parts in the bucket. There the
//! quotas are counted by the database across every replica ([`Db::begin_upload`]: check and
//! count in one step), and a chunk is written under a claim on the upload's row
//! ([`Db::claim_upload`]): of two requests for the same upload at once, on any replicas, one
//! writes and moves the progress, and the other is refused with `409 upload_busy` before it
//! writes a byte, so the state's `received` and the parts in the bucket always agree.
//!
//! [`Db::begin_upload`]: casebridge_cluster::db::Db::begin_upload
//! [`Db::claim_upload`]: casebridge_cluster::db::Db::claim_upload

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::StatusCode;
use casebridge_protocol::{BundleOutcome, UploadOutcome, UploadState};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::ApiError;
use crate::at_rest::{Kind, RecordKey};
use crate::deployment::Cluster;
use crate::error::AgencyError;
use crate::fsutil;
use crate::limits::Limits;
use crate::state::{lock, AppState};
use casebridge_trust::Agency;

/// Folder of uploads inside the agency directory.
pub const UPLOADS_DIR: &str = "uploads";

/// A cluster's names for an upload's phase in its `uploads` row (the database counts the
/// member's rows in [`OPEN`] against the quotas).
const OPEN: &str = "open";
const COMPLETED: &str = "completed";
const EXPIRED: &str = "expired";

/// How long a replica may hold an upload's row while it stores one chunk in the bucket
/// before PostgreSQL ends the claim (a replica frozen mid-chunk must not hold the upload
/// for ever; one killed releases it at once).
const CHUNK_HOLD: std::time::Duration = std::time::Duration::from_secs(120);

/// The state of one upload, as kept on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadMeta {
    pub upload_id: Uuid,
    pub member: Uuid,
    pub bundle_id: Uuid,
    pub size: u64,
    pub received: u64,
    pub created_at: DateTime<FixedOffset>,
    pub completed: Option<Completed>,
    /// When the last chunk was acknowledged (none yet: `created_at` counts).
    #[serde(default)]
    pub last_chunk_at: Option<DateTime<FixedOffset>>,
    /// Set when the upload expired: its bytes are gone and this record is a tombstone.
    #[serde(default)]
    pub expired_at: Option<DateTime<FixedOffset>>,
}

/// What completing answered (answered again on a repeat).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Completed {
    pub bundle_id: Uuid,
    pub outcome: BundleOutcome,
    pub events_added: u64,
    /// The signed receipt, base64.
    pub receipt: String,
    pub completed_at: DateTime<FixedOffset>,
}

impl UploadMeta {
    /// Begun and neither completed nor expired: counts against the member's quotas.
    pub(crate) fn is_open(&self) -> bool {
        self.completed.is_none() && self.expired_at.is_none()
    }

    /// When the upload last moved (its last chunk, or its beginning).
    pub(crate) fn last_activity(&self) -> DateTime<FixedOffset> {
        self.last_chunk_at.unwrap_or(self.created_at)
    }

    /// What the cleanup goes by: the phase and since when it holds.
    fn record(&self) -> Record {
        let (phase, since) = match (&self.completed, self.expired_at) {
            (_, Some(at)) => (Phase::Expired, at),
            (Some(c), None) => (Phase::Completed, c.completed_at),
            (None, None) => (Phase::Open, self.last_activity()),
        };
        Record { member: self.member, size: self.size, phase, since }
    }

    /// The phase's name in a cluster's `uploads` row.
    fn phase_name(&self) -> &'static str {
        match self.record().phase {
            Phase::Open => OPEN,
            Phase::Completed => COMPLETED,
            Phase::Expired => EXPIRED,
        }
    }

    pub(crate) fn state(&self) -> UploadState {
        UploadState {
            upload_id: self.upload_id,
            received: self.received,
            size: self.size,
            complete: self.completed.is_some(),
            receipt: self.completed.as_ref().map(|c| c.receipt.clone()),
        }
    }

    pub(crate) fn outcome(&self) -> Option<UploadOutcome> {
        self.completed.as_ref().map(|c| UploadOutcome {
            bundle_id: c.bundle_id,
            outcome: c.outcome,
            events_added: c.events_added,
            receipt: c.receipt.clone(),
        })
    }
}

/// The upload id of `member`'s upload of `bundle`: derived, so beginning again finds it.
pub(crate) fn upload_id(member: Uuid, bundle: Uuid) -> Uuid {
    let mut m = b"casebridge/v1/upload\x00".to_vec();
    m.extend_from_slice(member.as_bytes());
    m.extend_from_slice(bundle.as_bytes());
    let d = casebridge_core::sha256(&m);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// The upload's state record (a file in the embedded agency), sealed to the agency's sealing
/// key (member, bundle, sizes and the receipt are never readable at rest).
pub(crate) fn meta_name(id: Uuid) -> String {
    format!("{UPLOADS_DIR}/{id}.state")
}

/// The upload's state file in the embedded agency (tests reach for it).
pub(crate) fn meta_path(dir: &Path, id: Uuid) -> PathBuf {
    dir.join(meta_name(id))
}

pub(crate) fn part_path(dir: &Path, id: Uuid) -> PathBuf {
    dir.join(UPLOADS_DIR).join(format!("{id}.part"))
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found(format!("no upload {id}; begin one with POST /v1/uploads"))
}

/// `404 upload_expired`: a 404 (the upload is not there any more) with its own code, so that a
/// client that begins again on a 404 for an upload it knows (ours does) starts over.
fn expired(id: Uuid, limits: &Limits) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "upload_expired",
        format!(
            "upload {id} expired: no chunk arrived for {} and the endpoint removed the bytes it had received; \
             begin it again with POST /v1/uploads and send the bundle from the start",
            duration_text(limits.upload_expiry_secs)
        ),
    )
}

/// `3600` → "1 hour", `86400` → "24 hours", `90` → "90 seconds".
pub(crate) fn duration_text(secs: u64) -> String {
    match secs {
        s if s % 3600 == 0 => format!("{} hour{}", s / 3600, if s == 3600 { "" } else { "s" }),
        s if s % 60 == 0 => format!("{} minute{}", s / 60, if s == 60 { "" } else { "s" }),
        s => format!("{s} second{}", if s == 1 { "" } else { "s" }),
    }
}

/// `upload_expiry_secs` as a chrono duration.
pub(crate) fn expiry(limits: &Limits) -> chrono::Duration {
    i64::try_from(limits.upload_expiry_secs).ok().and_then(chrono::Duration::try_seconds).unwrap_or(chrono::Duration::MAX)
}

/// Reads an upload's state; another member's upload is "not found".
pub(crate) fn load(st: &AppState, id: Uuid, member: Uuid) -> Result<UploadMeta, ApiError> {
    let meta = read_meta(&st.agency, &st.records_key, st.cluster.as_deref(), id)?.ok_or_else(|| not_found(id))?;
    if meta.member != member {
        return Err(not_found(id));
    }
    Ok(meta)
}

/// A cluster database's failure as an answer: its storage is unavailable (503).
fn db_failed(e: casebridge_cluster::db::DbError) -> ApiError {
    ApiError::unavailable(e)
}

/// Opens the sealed state of upload `id` (bound to it: a state moved onto another upload does
/// not open; see [`crate::at_rest`]).
fn open_meta(key: &RecordKey, id: Uuid, bytes: &[u8]) -> Result<UploadMeta, ApiError> {
    let name = meta_name(id);
    let plain = key.open(Kind::UploadState, id.as_bytes(), bytes).map_err(|e| ApiError::internal(format!("{name}: {e}")))?;
    serde_json::from_slice(&plain).map_err(|e| ApiError::internal(format!("{name}: {e}")))
}

/// Seals a state with the endpoint's records key, bound to its upload.
fn seal_meta(key: &RecordKey, meta: &UploadMeta) -> Result<Vec<u8>, ApiError> {
    let bytes = zeroize::Zeroizing::new(serde_json::to_vec(meta).map_err(|e| ApiError::internal(format!("upload state: {e}")))?);
    key.seal(Kind::UploadState, meta.upload_id.as_bytes(), &bytes).map_err(ApiError::internal)
}

/// A state as a cluster's `uploads` row (the member as its keyed digest).
fn row_of(agency: &Agency, key: &RecordKey, meta: &UploadMeta) -> Result<casebridge_cluster::db::Upload, ApiError> {
    Ok(casebridge_cluster::db::Upload {
        id: meta.upload_id,
        member: crate::sessions::member_digest(agency.sealing_identity(), meta.member),
        sealed: seal_meta(key, meta)?,
        size: meta.size,
        received: meta.received,
        updated_at: meta.record().since.to_utc(),
        state: meta.phase_name().to_string(),
    })
}

/// Reads and opens a state (`None` when there is none): a file of the embedded agency, a row
/// of a cluster's `uploads` table.
fn read_meta(agency: &Agency, key: &RecordKey, cluster: Option<&Cluster>, id: Uuid) -> Result<Option<UploadMeta>, ApiError> {
    let name = meta_name(id);
    let mut meta = match cluster {
        Some(c) => {
            let Some(row) = casebridge_cluster::block_on(&c.rt, c.db.upload(id)).map_err(db_failed)? else { return Ok(None) };
            open_meta(key, id, &row.sealed)?
        }
        None => {
            let Some(bytes) = agency.records().read(&name).map_err(crate::api::records_error)? else { return Ok(None) };
            open_meta(key, id, &bytes)?
        }
    };
    let path = agency.dir().join(&name);
    if meta.last_chunk_at.is_none() && meta.received > 0 {
        // A state written before the last chunk's time was kept: the state is rewritten with
        // every chunk, so its file's time is when the last one came.
        if let Ok(modified) = fs::metadata(&path).and_then(|m| m.modified()) {
            meta.last_chunk_at = Some(DateTime::<chrono::Utc>::from(modified).fixed_offset());
        }
    }
    if meta.upload_id != id {
        return Err(ApiError::internal(format!("{name}: the state names another upload")));
    }
    Ok(Some(meta))
}

/// Reads an upload that may still be used: an expired one is `404 upload_expired`, and one
/// whose last chunk is older than `upload_expiry_secs` expires now (the cleanup may not have
/// come by yet), with the same answer.
pub(crate) fn live(st: &AppState, id: Uuid, member: Uuid) -> Result<UploadMeta, ApiError> {
    let meta = load(st, id, member)?;
    if meta.expired_at.is_some() {
        return Err(expired(id, &st.limits));
    }
    if meta.is_open() && is_stale(&meta, st.now(), &st.limits) {
        if expire(st, &meta)?.is_some() {
            return Err(expired(id, &st.limits));
        }
        return in_use(st, id, member);
    }
    Ok(meta)
}

/// After a cluster's [`expire`] found the upload in use: read again, it was moved meanwhile
/// (go on with it), or another replica is storing a chunk right now (`409 upload_busy`).
fn in_use(st: &AppState, id: Uuid, member: Uuid) -> Result<UploadMeta, ApiError> {
    let meta = load(st, id, member)?;
    if meta.expired_at.is_some() {
        return Err(expired(id, &st.limits));
    }
    if is_stale(&meta, st.now(), &st.limits) {
        return Err(busy(id));
    }
    Ok(meta)
}

/// [`live`] without changing anything (no lock needed): an upload past its expiry is
/// answered `upload_expired` and left for the cleanup or the next chunk to remove.
pub(crate) fn peek(st: &AppState, id: Uuid, member: Uuid) -> Result<UploadMeta, ApiError> {
    let meta = load(st, id, member)?;
    if meta.expired_at.is_some() || is_stale(&meta, st.now(), &st.limits) {
        return Err(expired(id, &st.limits));
    }
    Ok(meta)
}

/// An open upload with no chunk for `upload_expiry_secs`.
pub(crate) fn is_stale(meta: &UploadMeta, now: DateTime<FixedOffset>, limits: &Limits) -> bool {
    meta.is_open() && now - meta.last_activity() > expiry(limits)
}

/// Writes a state (a file, or a cluster's row: every field replaced).
pub(crate) fn save(st: &AppState, meta: &UploadMeta) -> Result<(), ApiError> {
    match &st.cluster {
        Some(c) => {
            let row = row_of(&st.agency, &st.records_key, meta)?;
            casebridge_cluster::block_on(&c.rt, c.db.put_upload(&row)).map_err(db_failed)
        }
        None => {
            let sealed = seal_meta(&st.records_key, meta)?;
            st.agency.records().write(&meta_name(meta.upload_id), &sealed).map_err(crate::api::records_error)
        }
    }
}

/// Removes a state (a file, or a cluster's row).
fn remove_meta(st: &AppState, id: Uuid) -> Result<(), ApiError> {
    match &st.cluster {
        Some(c) => casebridge_cluster::block_on(&c.rt, c.db.delete_upload(id)).map(|_| ()).map_err(db_failed),
        None => st.agency.records().remove(&meta_name(id)).map_err(crate::api::records_error),
    }
}

/// Saves a state and tells the tracker.
pub(crate) fn record(st: &AppState, meta: &UploadMeta) -> Result<(), ApiError> {
    save(st, meta)?;
    st.uploads.set(meta);
    Ok(())
}

/// Removes an upload's files (after a bundle failed verification) and forgets it.
pub(crate) fn discard(st: &AppState, id: Uuid) -> Result<(), ApiError> {
    st.early.discard(id);
    remove_record(st, id)
}

/// Expires an open upload: its early verifier (if any) stops, its state becomes a tombstone
/// and its bytes are removed. Returns the bytes freed. On a disk too full for the tombstone,
/// the state goes too (the upload is then simply unknown). The caller holds the upload's lock.
///
/// In a cluster the tombstone is written under the upload's claim, after checking again that
/// the upload is still open and stale: `None` when it is not (another replica is storing a
/// chunk of it right now, or stored one since `meta` was read), and nothing changes.
pub(crate) fn expire(st: &AppState, meta: &UploadMeta) -> Result<Option<u64>, ApiError> {
    if let Some(c) = &st.cluster {
        return expire_claimed(st, c, meta.upload_id);
    }
    let id = meta.upload_id;
    st.early.discard(id);
    let part = part_path(&st.dir, id);
    let freed = match &st.cluster {
        None => fs::metadata(&part).map(|m| m.len()).unwrap_or(0),
        Some(_) => meta.received,
    };
    let mut tomb = meta.clone();
    tomb.expired_at = Some(st.now());
    tomb.received = 0;
    // The tombstone first: a state that says "received N" never outlives its bytes.
    if record(st, &tomb).is_err() {
        remove_meta(st, id)?;
        st.uploads.forget(id);
    }
    remove_parts(st, id)?;
    tracing::info!(member = %meta.member, upload = %id, bytes = freed, "upload expired");
    Ok(Some(freed))
}

/// [`expire`] in a cluster.
fn expire_claimed(st: &AppState, c: &Cluster, id: Uuid) -> Result<Option<u64>, ApiError> {
    use casebridge_cluster::db::DbError;
    let claim = match casebridge_cluster::block_on(&c.rt, c.db.claim_upload(id, CHUNK_HOLD)) {
        Ok(claim) => claim,
        // A chunk is being stored: the upload is in use.
        Err(DbError::Conflict { .. }) => return Ok(None),
        Err(DbError::NotFound { .. }) => {
            st.uploads.forget(id);
            return Ok(None);
        }
        Err(e) => return Err(db_failed(e)),
    };
    let opened = open_meta(&st.records_key, id, &claim.upload().sealed).and_then(|m| {
        if m.upload_id == id {
            Ok(m)
        } else {
            Err(ApiError::internal(format!("{}: the state names another upload", meta_name(id))))
        }
    });
    let current = match opened {
        Ok(m) => m,
        Err(e) => {
            casebridge_cluster::block_on(&c.rt, claim.release());
            return Err(e);
        }
    };
    if !is_stale(&current, st.now(), &st.limits) {
        casebridge_cluster::block_on(&c.rt, claim.release());
        st.uploads.set(&current);
        return Ok(None);
    }
    let freed = current.received;
    let mut tomb = current.clone();
    tomb.expired_at = Some(st.now());
    tomb.received = 0;
    let row = match row_of(&st.agency, &st.records_key, &tomb) {
        Ok(row) => row,
        Err(e) => {
            casebridge_cluster::block_on(&c.rt, claim.release());
            return Err(e);
        }
    };
    // The tombstone first: a state that says "received N" never outlives its bytes.
    casebridge_cluster::block_on(&c.rt, claim.replace(&row)).map_err(db_failed)?;
    st.uploads.set(&tomb);
    remove_parts(st, id)?;
    tracing::info!(member = %current.member, upload = %id, bytes = freed, "upload expired");
    Ok(Some(freed))
}

/// Removes a record that has served its time (a completed upload's, a tombstone). The caller
/// holds the upload's lock.
pub(crate) fn remove_record(st: &AppState, id: Uuid) -> Result<(), ApiError> {
    remove_parts(st, id)?;
    remove_meta(st, id)?;
    st.uploads.forget(id);
    Ok(())
}

/// Removes the bytes received of an upload: its part file, or a cluster's parts in the bucket.
fn remove_parts(st: &AppState, id: Uuid) -> Result<(), ApiError> {
    match &st.cluster {
        None => {
            fsutil::remove_if_exists(&part_path(&st.dir, id))?;
            Ok(fsutil::sync_dir(&st.dir.join(UPLOADS_DIR))?)
        }
        Some(c) => c.objects.delete_parts(id).map_err(ApiError::unavailable),
    }
}

/// Begins an upload or returns the state of the one already begun for this bundle (never
/// refused by the quotas: resuming is always allowed). A new upload must fit the member's
/// quotas and `max_bundle_bytes`.
pub(crate) fn begin(st: &AppState, member: Uuid, bundle_id: Uuid, size: u64) -> Result<UploadState, ApiError> {
    if size == 0 {
        return Err(ApiError::bad_request("a bundle is never empty; send its size in bytes"));
    }
    let id = upload_id(member, bundle_id);
    let now = st.now();
    let mut tombstone = match load(st, id, member) {
        Ok(meta) if meta.is_open() && is_stale(&meta, now, &st.limits) => {
            // Resuming an upload that has expired: it starts over.
            match expire(st, &meta)? {
                Some(_) => read_meta(&st.agency, &st.records_key, st.cluster.as_deref(), id)?,
                // Another replica moved it meanwhile: resume it (as below), or it is busy.
                None => match in_use(st, id, member)? {
                    open if open.size != size => return Err(size_mismatch(id, open.size, size)),
                    open => return Ok(open.state()),
                },
            }
        }
        Ok(meta) if meta.expired_at.is_some() => Some(meta),
        Ok(meta) if meta.size != size && meta.completed.is_none() => return Err(size_mismatch(id, meta.size, size)),
        Ok(meta) => return Ok(meta.state()),
        Err(e) if e.status() == StatusCode::NOT_FOUND => None,
        Err(e) => return Err(e),
    };
    let max = st.limits.max_bundle_bytes;
    if size > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the bundle is {size} bytes; the endpoint accepts bundles up to {max} bytes"),
        ));
    }
    let meta = UploadMeta {
        upload_id: id,
        member,
        bundle_id,
        size,
        received: 0,
        created_at: now,
        completed: None,
        last_chunk_at: None,
        expired_at: None,
    };
    if let Some(c) = &st.cluster {
        // The quotas count every replica's uploads: the database checks and records at once.
        use casebridge_cluster::db::{Begun, Quota};
        let quota = Quota {
            max_count: u64::try_from(st.limits.max_open_uploads_per_member).unwrap_or(u64::MAX),
            max_size: st.limits.max_pending_bytes_per_member,
        };
        let row = row_of(&st.agency, &st.records_key, &meta)?;
        let active_since = (now - expiry(&st.limits)).to_utc();
        return match casebridge_cluster::block_on(&c.rt, c.db.begin_upload(&row, OPEN, active_since, quota)).map_err(db_failed)? {
            Begun::Recorded => {
                st.uploads.set(&meta);
                Ok(meta.state())
            }
            Begun::TooMany(usage) => Err(too_many_uploads(usize::try_from(usage.count).unwrap_or(usize::MAX), &st.limits)),
            Begun::OverQuota(usage) => Err(quota_exceeded(usage.size, meta.size, &st.limits)),
            // Begun meanwhile by another request (on any replica): resume that one.
            Begun::InProgress => match load(st, id, member)? {
                open if open.size != size => Err(size_mismatch(id, open.size, size)),
                open => {
                    st.uploads.set(&open);
                    Ok(open.state())
                }
            },
            _ => Err(ApiError::internal("the database answered a new kind of quota decision")),
        };
    }
    st.uploads.reserve(&meta, &st.limits)?;
    if let Err(e) = save(st, &meta) {
        match tombstone.take() {
            Some(t) => st.uploads.set(&t),
            None => st.uploads.forget(id),
        }
        return Err(e);
    }
    Ok(meta.state())
}

/// What the cleanup goes by, per upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub member: Uuid,
    pub size: u64,
    pub phase: Phase,
    /// Open: the last activity; completed: when; expired: when.
    pub since: DateTime<FixedOffset>,
}

/// Where an upload is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    Completed,
    Expired,
}

/// The uploads known, in memory: each upload's [`Record`] and each member's open uploads
/// (id → declared size), so a quota check is one lookup, never a scan of the folder. Kept in
/// step with the state files by every change to them; rebuilt from the folder at start.
#[derive(Default)]
pub(crate) struct Tracker {
    inner: Mutex<Tracked>,
    /// Verifications in progress, which the orphan collection spares.
    pub verifying: crate::gc::Verifying,
}

#[derive(Default)]
struct Tracked {
    records: HashMap<Uuid, Record>,
    open: HashMap<Uuid, BTreeMap<Uuid, u64>>,
}

impl Tracked {
    /// The member's open uploads at `now`: how many, and the bytes they declare. Uploads with
    /// no chunk for `expiry` have expired (the cleanup removes them when it comes by) and
    /// count no more.
    fn usage(&self, member: Uuid, now: DateTime<FixedOffset>, expiry: chrono::Duration) -> (usize, u64) {
        let Some(open) = self.open.get(&member) else { return (0, 0) };
        let live = open.iter().filter(|(id, _)| self.records.get(id).is_none_or(|r| now - r.since <= expiry));
        live.fold((0, 0u64), |(n, bytes), (_, size)| (n + 1, bytes.saturating_add(*size)))
    }

    fn forget(&mut self, id: Uuid) {
        if let Some(old) = self.records.remove(&id) {
            if let Some(open) = self.open.get_mut(&old.member) {
                open.remove(&id);
                if open.is_empty() {
                    self.open.remove(&old.member);
                }
            }
        }
    }

    fn set(&mut self, id: Uuid, rec: Record) {
        self.forget(id);
        if rec.phase == Phase::Open {
            self.open.entry(rec.member).or_default().insert(id, rec.size);
        }
        self.records.insert(id, rec);
    }
}

impl Tracker {
    /// Reads every state file in the agency's uploads folder. Leftovers are removed: bytes
    /// without an open upload (of an upload completed, expired or discarded by a run that
    /// stopped half-way) and unfinished state writes. A state file that cannot be read is left
    /// alone and logged.
    pub(crate) fn load(agency: &Agency, key: &RecordKey, cluster: Option<&Cluster>) -> crate::error::Result<Tracker> {
        let tracker = Tracker::default();
        if let Some(c) = cluster {
            // A cluster's states are rows, its bytes parts in the bucket: nothing lies about.
            tracker.reload(key, c).map_err(|e| AgencyError::Internal(e.to_string()))?;
            return Ok(tracker);
        }
        for name in agency.records().list(UPLOADS_DIR)? {
            let Some(id) = name.strip_suffix(".state").and_then(|s| Uuid::parse_str(s).ok()) else { continue };
            match read_meta(agency, key, None, id) {
                Ok(Some(meta)) => tracker.set(&meta),
                Ok(None) => {}
                Err(_) => tracing::warn!(upload = %id, "an upload state cannot be read; it is left as it is"),
            }
        }
        let dir = agency.dir().join(UPLOADS_DIR);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(tracker),
            Err(e) => return Err(AgencyError::io("reading", &dir)(e)),
        };
        for entry in rd {
            let entry = entry.map_err(AgencyError::io("reading", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".new") {
                fsutil::remove_if_exists(&entry.path())?;
                continue;
            }
            let Some(id) = name.strip_suffix(".part").and_then(|s| Uuid::parse_str(s).ok()) else { continue };
            // Kept: the bytes of an open upload, or of one whose state could not be read.
            let keep = match tracker.record(id) {
                Some(r) => r.phase == Phase::Open,
                None => meta_path(agency.dir(), id).exists(),
            };
            if !keep {
                fsutil::remove_if_exists(&entry.path())?;
            }
        }
        fsutil::sync_dir(&dir)?;
        Ok(tracker)
    }

    /// A cluster: replaces what is tracked with the database's uploads, so that the cleanup
    /// of any replica sees the uploads every replica began (one that stopped for good leaves
    /// none behind for ever).
    pub(crate) fn reload(&self, key: &RecordKey, c: &Cluster) -> Result<(), ApiError> {
        let rows = casebridge_cluster::block_on(&c.rt, c.db.list_uploads()).map_err(db_failed)?;
        let mut fresh = Tracked::default();
        for row in rows {
            match open_meta(key, row.id, &row.sealed) {
                Ok(meta) if meta.upload_id == row.id => fresh.set(row.id, meta.record()),
                _ => tracing::warn!(upload = %row.id, "an upload state cannot be read; it is left as it is"),
            }
        }
        *self.inner() = fresh;
        Ok(())
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Tracked> {
        lock(&self.inner)
    }

    /// Records (or updates) an upload from its state.
    pub(crate) fn set(&self, meta: &UploadMeta) {
        self.inner().set(meta.upload_id, meta.record());
    }

    /// Forgets an upload whose files are gone.
    pub(crate) fn forget(&self, id: Uuid) {
        self.inner().forget(id);
    }

    fn record(&self, id: Uuid) -> Option<Record> {
        self.inner().records.get(&id).copied()
    }

    /// Counts a new upload against its member's quotas, or refuses it: `429 too_many_uploads`
    /// when the member has `max_open_uploads_per_member` open; `429 quota_exceeded` (temporary: the sync client retries it, never sets the bundle aside) when the
    /// open ones and this one together declare more than `max_pending_bytes_per_member` (an
    /// upload alone always fits). Check and count are one step, so uploads begun at once
    /// cannot pass the quota together.
    pub(crate) fn reserve(&self, meta: &UploadMeta, limits: &Limits) -> Result<(), ApiError> {
        let mut t = self.inner();
        let (count, pending) = t.usage(meta.member, meta.created_at, expiry(limits));
        if count >= limits.max_open_uploads_per_member {
            return Err(too_many_uploads(count, limits));
        }
        if count > 0 && pending.saturating_add(meta.size) > limits.max_pending_bytes_per_member {
            return Err(quota_exceeded(pending, meta.size, limits));
        }
        t.set(meta.upload_id, meta.record());
        Ok(())
    }

    /// Uploads whose record has served its time at `now`: open ones with no chunk for
    /// `expiry`, completed ones and tombstones older than `expiry`.
    pub(crate) fn due(&self, now: DateTime<FixedOffset>, expiry: chrono::Duration) -> Vec<(Uuid, Record)> {
        self.inner().records.iter().filter(|(_, r)| now - r.since > expiry).map(|(id, r)| (*id, *r)).collect()
    }
}

/// `429 too_many_uploads`: the member has `count` uploads open, the most allowed.
fn too_many_uploads(count: usize, limits: &Limits) -> ApiError {
    let expiry = duration_text(limits.upload_expiry_secs);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_uploads",
        format!(
            "you have {count} uploads begun and not completed, the most this endpoint allows; complete them (or \
             wait: an upload that receives nothing for {expiry} expires) before beginning another"
        ),
    )
}

/// `429 quota_exceeded`: the member's open uploads declare `pending` bytes, and one of `size`
/// more would pass the quota.
fn quota_exceeded(pending: u64, size: u64, limits: &Limits) -> ApiError {
    let expiry = duration_text(limits.upload_expiry_secs);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
        format!(
            "your uploads begun and not completed declare {pending} bytes; with this one's {size} that is more than the \
             {} bytes this endpoint holds for one member; complete them (or wait: an upload that receives nothing \
             for {expiry} expires) before beginning this one",
            limits.max_pending_bytes_per_member
        ),
    )
}

/// `409 size_mismatch`: the bundle's upload began with another size.
fn size_mismatch(id: Uuid, began: u64, size: u64) -> ApiError {
    ApiError::conflict(
        "size_mismatch",
        format!("upload {id} of this bundle began with size {began}, not {size}; a bundle's size does not change"),
    )
}

/// `409 upload_busy`: another request is writing a chunk of the upload.
fn busy(id: Uuid) -> ApiError {
    ApiError::conflict(
        "upload_busy",
        format!(
            "another request is storing a chunk of upload {id} right now; nothing of this chunk was kept: ask for the \
             upload's state (GET /v1/uploads/{id}) and resume from the byte it names"
        ),
    )
}

/// `409 offset_mismatch`: the chunk does not start where the bytes received end.
fn offset_mismatch(offset: u64, meta: &UploadMeta) -> ApiError {
    ApiError::conflict(
        "offset_mismatch",
        format!(
            "the chunk starts at byte {offset} but the endpoint holds {} of {} bytes; resume at {}",
            meta.received, meta.size, meta.received
        ),
    )
}

/// What the request side hands the chunk writer: body data in order, then either the end
/// (the channel closes) or [`Piece::Abort`] when the body could not be read whole.
pub(crate) enum Piece {
    /// The next bytes of the chunk: the body's pieces as read, gathered up to
    /// [`PIECES_BATCH`] bytes so that the writer is woken once per batch, not once per TLS
    /// record (the pieces are not copied).
    Data(Vec<Bytes>),
    /// The body broke off or was refused: keep nothing of this chunk.
    Abort,
}

/// How many bytes of body pieces the request side gathers before handing them to the chunk
/// writer (each hand-over may wake the writer's thread).
pub(crate) const PIECES_BATCH: usize = 256 * 1024;

/// Appends the chunk arriving on `pieces` at `offset`, which must equal the bytes already
/// received. Runs on a blocking thread while the request side streams the body into the
/// channel, so receiving and writing overlap and memory stays at the channel's few pieces,
/// whatever the chunk size. The bytes are fsynced before the state says they were received;
/// an aborted or refused chunk leaves `received` as it was (its bytes are cut off by the next
/// chunk). Refusals (wrong offset, past the size, already complete) come before any byte is
/// written.
pub(crate) fn put_chunk(
    st: &AppState,
    member: Uuid,
    id: Uuid,
    offset: u64,
    pieces: &mut tokio::sync::mpsc::Receiver<Piece>,
) -> Result<UploadState, ApiError> {
    let mut meta = live(st, id, member)?;
    if meta.completed.is_some() {
        return Err(ApiError::conflict("upload_complete", format!("upload {id} is already complete")));
    }
    if offset != meta.received {
        return Err(offset_mismatch(offset, &meta));
    }
    let beyond =
        |end: u64, size: u64| ApiError::conflict("beyond_size", format!("the chunk ends at byte {end} but the bundle has {size} bytes"));
    let path = part_path(&st.dir, id);
    let io = |e: std::io::Error| ApiError::from(AgencyError::io("writing", &path)(e));
    let mut file: Option<fs::File> = None;
    // A cluster's chunk goes to the bucket whole, as one part (a chunk is at most a request
    // body's limit).
    let mut part: Option<Vec<u8>> = st.cluster.as_ref().map(|_| Vec::new());
    let mut len = 0u64;
    loop {
        let batch = match pieces.blocking_recv() {
            Some(Piece::Data(batch)) => batch,
            Some(Piece::Abort) => return Err(ApiError::bad_request("the chunk's body broke off; nothing of it was kept")),
            None => break,
        };
        for bytes in batch {
            if bytes.is_empty() {
                continue;
            }
            let start = meta.received.saturating_add(len);
            let end = start.saturating_add(bytes.len() as u64);
            if end > meta.size {
                return Err(beyond(end, meta.size));
            }
            // A bundle sealed to the agency starts with the age header: anything else would
            // sit on this disk as plaintext evidence, so it is refused before a byte is kept.
            let magic = casebridge_trust::bundle::AGE_MAGIC;
            if start < magic.len() as u64 {
                let from = start as usize;
                let n = (magic.len() - from).min(bytes.len());
                if bytes[..n] != magic[from..from + n] {
                    return Err(ApiError::new(
                        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                        "not_sealed",
                        "the bundle is not sealed to this agency; the endpoint accepts only sealed bundles (nothing was kept)",
                    ));
                }
            }
            if let Some(buf) = part.as_mut() {
                buf.extend_from_slice(&bytes);
                len += bytes.len() as u64;
                continue;
            }
            let f = match file.as_mut() {
                Some(f) => f,
                None => {
                    let mut f = OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(&path).map_err(io)?;
                    // Bytes past `received` were never acknowledged (an interrupted chunk):
                    // drop them.
                    f.set_len(meta.received).map_err(io)?;
                    f.seek(SeekFrom::Start(meta.received)).map_err(io)?;
                    file.insert(f)
                }
            };
            f.write_all(&bytes).map_err(io)?;
            len += bytes.len() as u64;
        }
    }
    match (file, part, &st.cluster) {
        (_, Some(buf), Some(c)) if !buf.is_empty() => return put_part(st, c, member, id, offset, Bytes::from(buf)),
        (Some(f), _, _) => f.sync_all().map_err(io)?,
        _ => return Ok(meta.state()),
    }
    meta.received += len;
    meta.last_chunk_at = Some(st.now());
    record(st, &meta)?;
    Ok(meta.state())
}

/// A cluster's chunk, received whole: claims the upload's row (another request holding it,
/// on any replica, is `409 upload_busy`), checks the offset again against the state read
/// under the claim, stores the part in the bucket and moves the progress, releasing the
/// claim. A failure before the progress moves rolls the claim back: the part then lies
/// beyond `received` and the chunk sent again at this offset replaces it.
fn put_part(st: &AppState, c: &Cluster, member: Uuid, id: Uuid, offset: u64, bytes: Bytes) -> Result<UploadState, ApiError> {
    let claim = match casebridge_cluster::block_on(&c.rt, c.db.claim_upload(id, CHUNK_HOLD)) {
        Ok(claim) => claim,
        Err(casebridge_cluster::db::DbError::Conflict { .. }) => return Err(busy(id)),
        Err(casebridge_cluster::db::DbError::NotFound { .. }) => return Err(not_found(id)),
        Err(e) => return Err(db_failed(e)),
    };
    let stored = (|| {
        let mut meta = open_meta(&st.records_key, id, &claim.upload().sealed)?;
        if meta.member != member || meta.upload_id != id {
            return Err(not_found(id));
        }
        if meta.expired_at.is_some() {
            return Err(expired(id, &st.limits));
        }
        if meta.completed.is_some() {
            return Err(ApiError::conflict("upload_complete", format!("upload {id} is already complete")));
        }
        // Another request moved the upload between this one's first look and its claim.
        if offset != meta.received || claim.upload().received != meta.received {
            return Err(offset_mismatch(offset, &meta));
        }
        let len = bytes.len() as u64;
        c.objects.put_part(id, offset, bytes).map_err(ApiError::unavailable)?;
        meta.received += len;
        meta.last_chunk_at = Some(st.now());
        let sealed = seal_meta(&st.records_key, &meta)?;
        Ok((meta, sealed))
    })();
    let (meta, sealed) = match stored {
        Ok(done) => done,
        Err(e) => {
            // Free the upload at once for the request that will carry on.
            casebridge_cluster::block_on(&c.rt, claim.release());
            return Err(e);
        }
    };
    casebridge_cluster::block_on(&c.rt, claim.advance(meta.received, &sealed, OPEN, st.now().to_utc())).map_err(db_failed)?;
    st.uploads.set(&meta);
    Ok(meta.state())
}
