//! Resumable uploads of sealed bundles: `AGENCY/uploads/<upload_id>.part` holds the bytes
//! received so far and `<upload_id>.json` the state (member, bundle id, size, bytes durably
//! received, and once complete the outcome and receipt). A chunk is fsynced before the state
//! says it was received, so `received` never covers bytes that could be lost.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use axum::body::Bytes;
use casebridge_protocol::{UploadOutcome, UploadState, MAX_BUNDLE};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::ApiError;
use crate::error::AgencyError;
use crate::fsutil;
use casebridge_trust::Agency;

/// Folder of uploads inside the agency directory.
pub const UPLOADS_DIR: &str = "uploads";

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
}

/// What completing answered (answered again on a repeat).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Completed {
    pub bundle_id: Uuid,
    pub outcome: String,
    pub events_added: u64,
    /// The signed receipt, base64.
    pub receipt: String,
    pub completed_at: DateTime<FixedOffset>,
}

impl UploadMeta {
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
            outcome: c.outcome.clone(),
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

/// The upload's state file, sealed to the agency's sealing key (member, bundle, sizes and the
/// receipt are never readable at rest).
pub(crate) fn meta_path(dir: &Path, id: Uuid) -> PathBuf {
    dir.join(UPLOADS_DIR).join(format!("{id}.state"))
}

pub(crate) fn part_path(dir: &Path, id: Uuid) -> PathBuf {
    dir.join(UPLOADS_DIR).join(format!("{id}.part"))
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found(format!("no upload {id}; begin one with POST /v1/uploads"))
}

/// Reads an upload's state; another member's upload is "not found".
pub(crate) fn load(agency: &Agency, id: Uuid, member: Uuid) -> Result<UploadMeta, ApiError> {
    let path = meta_path(agency.dir(), id);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found(id)),
        Err(e) => return Err(AgencyError::io("reading", &path)(e).into()),
    };
    let plain = casebridge_trust::open_at_rest(agency.sealing_identity(), &bytes)
        .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
    let meta: UploadMeta = serde_json::from_slice(&plain).map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
    if meta.member != member {
        return Err(not_found(id));
    }
    Ok(meta)
}

pub(crate) fn save(agency: &Agency, meta: &UploadMeta) -> Result<(), ApiError> {
    let bytes = serde_json::to_vec(meta).map_err(|e| ApiError::internal(format!("upload state: {e}")))?;
    let sealed =
        casebridge_trust::seal_at_rest(&agency.public().recipient().map_err(ApiError::internal)?, &bytes).map_err(ApiError::internal)?;
    Ok(fsutil::write_atomic(&meta_path(agency.dir(), meta.upload_id), &sealed)?)
}

/// Removes an upload's files (after a bundle failed verification).
pub(crate) fn discard(dir: &Path, id: Uuid) -> Result<(), ApiError> {
    fsutil::remove_if_exists(&part_path(dir, id))?;
    fsutil::remove_if_exists(&meta_path(dir, id))?;
    Ok(fsutil::sync_dir(&dir.join(UPLOADS_DIR))?)
}

/// Begins an upload or returns the state of the one already begun for this bundle.
pub(crate) fn begin(
    agency: &Agency,
    member: Uuid,
    bundle_id: Uuid,
    size: u64,
    now: DateTime<FixedOffset>,
) -> Result<UploadState, ApiError> {
    if size == 0 {
        return Err(ApiError::bad_request("a bundle is never empty; send its size in bytes"));
    }
    if size > MAX_BUNDLE {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the bundle is {size} bytes; the endpoint accepts bundles up to {MAX_BUNDLE} bytes"),
        ));
    }
    let id = upload_id(member, bundle_id);
    match load(agency, id, member) {
        Ok(meta) if meta.size != size && meta.completed.is_none() => Err(ApiError::conflict(
            "size_mismatch",
            format!("upload {id} of this bundle began with size {}, not {size}; a bundle's size does not change", meta.size),
        )),
        Ok(meta) => Ok(meta.state()),
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => {
            let meta = UploadMeta { upload_id: id, member, bundle_id, size, received: 0, created_at: now, completed: None };
            save(agency, &meta)?;
            Ok(meta.state())
        }
        Err(e) => Err(e),
    }
}

/// What the request side hands the chunk writer: body data in order, then either the end
/// (the channel closes) or [`Piece::Abort`] when the body could not be read whole.
pub(crate) enum Piece {
    /// The next bytes of the chunk.
    Data(Bytes),
    /// The body broke off or was refused: keep nothing of this chunk.
    Abort,
}

/// Appends the chunk arriving on `pieces` at `offset`, which must equal the bytes already
/// received. Runs on a blocking thread while the request side streams the body into the
/// channel, so receiving and writing overlap and memory stays at the channel's few pieces,
/// whatever the chunk size. The bytes are fsynced before the state says they were received;
/// an aborted or refused chunk leaves `received` as it was (its bytes are cut off by the next
/// chunk). Refusals (wrong offset, past the size, already complete) come before any byte is
/// written.
pub(crate) fn put_chunk(
    agency: &Agency,
    member: Uuid,
    id: Uuid,
    offset: u64,
    pieces: &mut tokio::sync::mpsc::Receiver<Piece>,
) -> Result<UploadState, ApiError> {
    let mut meta = load(agency, id, member)?;
    if meta.completed.is_some() {
        return Err(ApiError::conflict("upload_complete", format!("upload {id} is already complete")));
    }
    if offset != meta.received {
        return Err(ApiError::conflict(
            "offset_mismatch",
            format!(
                "the chunk starts at byte {offset} but the endpoint holds {} of {} bytes; resume at {}",
                meta.received, meta.size, meta.received
            ),
        ));
    }
    let beyond =
        |end: u64, size: u64| ApiError::conflict("beyond_size", format!("the chunk ends at byte {end} but the bundle has {size} bytes"));
    let path = part_path(agency.dir(), id);
    let io = |e: std::io::Error| ApiError::from(AgencyError::io("writing", &path)(e));
    let mut file: Option<fs::File> = None;
    let mut len = 0u64;
    loop {
        match pieces.blocking_recv() {
            Some(Piece::Data(bytes)) => {
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
            Some(Piece::Abort) => return Err(ApiError::bad_request("the chunk's body broke off; nothing of it was kept")),
            None => break,
        }
    }
    let Some(f) = file else {
        return Ok(meta.state());
    };
    f.sync_all().map_err(io)?;
    meta.received += len;
    save(agency, &meta)?;
    Ok(meta.state())
}
