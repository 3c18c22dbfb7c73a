//! The outbox: sealed bundles waiting to be uploaded.
//!
//! A directory of files named `<bundle_id>.cbb`, each a sealed (already encrypted) bundle
//! written by the CLI. The CLI writes `<bundle_id>.cbb.tmp` and renames it when complete, so
//! anything else (partial `*.tmp` files, stray names) is ignored. Once the agency has stored a
//! bundle, [`Outbox::mark_sent`] moves it into `sent/`, so it is never sent again. Bundle ids
//! are UUIDv7, so name order is creation order, and bundles go up in the order they were made.
//!
//! Next to a bundle its writer may leave `<bundle_id>.carried.json` ([`Carried`]: what the
//! bundle carries, since a sealed bundle cannot be read back by its sender); it travels with
//! the bundle.
//!
//! A bundle the endpoint refuses for good ([`SyncError::is_refusal`]) is set aside by
//! [`Outbox::refuse`]: it moves into the refused directory (`refused/` of the sync directory,
//! see [`Outbox::in_sync_dir`]) as `<bundle_id>.cbb`, with `<bundle_id>.json`, the
//! [`Refused`] record saying why. It is never sent again, and later bundles still go up.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Result, SyncError};

/// The extension of a pending bundle file.
pub const BUNDLE_EXTENSION: &str = "cbb";
/// The subdirectory sent bundles move to.
pub const SENT_DIR: &str = "sent";
/// The refused directory's name in a sync directory (next to `outbox/`).
pub const REFUSED_DIR: &str = "refused";
/// The suffix of the note on what a bundle carries (`<bundle_id>.carried.json`).
const CARRIED_SUFFIX: &str = "carried.json";
/// The extension of a refusal record in the refused directory (`<bundle_id>.json`).
const RECORD_EXTENSION: &str = "json";

/// What a bundle carries, as far as the client knows: its writer notes it when it seals the
/// bundle (the sender cannot open a bundle sealed to the agency). Every field may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Carried {
    /// The case the bundle is about.
    #[serde(default)]
    pub case_id: Option<Uuid>,
    /// The sender's bundle sequence number.
    #[serde(default)]
    pub seq: Option<u64>,
    /// Events carried.
    #[serde(default)]
    pub events: u64,
    /// Items of content carried.
    #[serde(default)]
    pub blobs: u64,
    /// Submissions whose creation the bundle carries.
    #[serde(default)]
    pub submissions: Vec<Uuid>,
}

/// A bundle the endpoint refused for good, and why: `refused/<bundle_id>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Refused {
    /// The bundle (kept as `refused/<bundle_id>.cbb`).
    pub bundle_id: Uuid,
    /// The HTTP status of the refusal (0 when the record could not be read).
    #[serde(default)]
    pub status: u16,
    /// The endpoint's machine-readable code (`forbidden`, `signature_invalid`, ...).
    pub code: String,
    /// The endpoint's message for people.
    pub message: String,
    /// When the refusal was received.
    pub refused_at: DateTime<Utc>,
    /// The bundle's size in bytes.
    #[serde(default)]
    pub size: u64,
    /// What the bundle carried, as far as the client knows (flattened: `case_id`, `seq`,
    /// `events`, `blobs`, `submissions`).
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub carried: Carried,
}

/// A bundle waiting to be uploaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pending {
    /// The bundle's id (from its file name).
    pub bundle_id: Uuid,
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// A directory of pending bundles.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: PathBuf,
    refused: PathBuf,
}

impl Outbox {
    /// Opens the outbox at `dir`, creating it (and `sent/`) if needed. Refused bundles go to
    /// `dir/refused/` unless [`Outbox::with_refused_dir`] says otherwise; a sync directory's
    /// outbox is opened with [`Outbox::in_sync_dir`].
    pub fn open(dir: impl Into<PathBuf>) -> Result<Outbox> {
        let dir = dir.into();
        let sent = dir.join(SENT_DIR);
        fs::create_dir_all(&sent).map_err(|e| SyncError::io("create", &sent, e))?;
        Ok(Outbox { refused: dir.join(REFUSED_DIR), dir })
    }

    /// Opens the outbox of the sync directory `sync_dir`: `sync_dir/outbox/`, with refused
    /// bundles in `sync_dir/refused/`.
    pub fn in_sync_dir(sync_dir: &Path) -> Result<Outbox> {
        Ok(Outbox::open(sync_dir.join(crate::OUTBOX_DIR))?.with_refused_dir(sync_dir.join(REFUSED_DIR)))
    }

    /// Sets where refused bundles go (created when the first one does).
    pub fn with_refused_dir(mut self, dir: impl Into<PathBuf>) -> Outbox {
        self.refused = dir.into();
        self
    }

    /// An outbox at `dir` without touching the disk (for read-only questions such as
    /// [`status`](crate::status); a missing directory reads as empty).
    pub fn at(dir: impl Into<PathBuf>) -> Outbox {
        let dir = dir.into();
        Outbox { refused: dir.join(REFUSED_DIR), dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where refused bundles go.
    pub fn refused_dir(&self) -> &Path {
        &self.refused
    }

    /// Where the note on what a pending bundle carries goes.
    pub fn carried_path(&self, bundle_id: Uuid) -> PathBuf {
        self.dir.join(carried_name(bundle_id))
    }

    /// Notes what a bundle carries (`<bundle_id>.carried.json`, replaced atomically). The
    /// writer calls it before the bundle file appears, so a refusal can say what was refused.
    pub fn write_carried(&self, bundle_id: Uuid, carried: &Carried) -> Result<()> {
        write_json(&self.dir, &carried_name(bundle_id), carried)
    }

    /// What a pending bundle carries, if its writer noted it (an unreadable note reads as
    /// none: it only informs).
    pub fn carried(&self, bundle_id: Uuid) -> Option<Carried> {
        let bytes = fs::read(self.carried_path(bundle_id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Sets a bundle the endpoint refused for good aside: writes the [`Refused`] record
    /// (`status`, `code` and `message` from `error`, the time `at`, what the bundle carried)
    /// into the refused directory, then moves the bundle there, so it is never sent again.
    /// Returns the record. A crash between the two steps leaves the bundle pending, to be
    /// sent (or refused) again; a record left behind by a bundle that then went through is
    /// removed by [`Outbox::mark_sent`].
    pub fn refuse(&self, pending: &Pending, error: &SyncError, at: DateTime<Utc>) -> Result<Refused> {
        let bundle_id = pending.bundle_id;
        let (status, code, message) = match error {
            SyncError::Server { status, code, message } => (*status, code.clone(), message.clone()),
            SyncError::Bundle { error, .. } => return self.refuse(pending, error, at),
            other => (other.status().unwrap_or(0), other.code().to_string(), other.to_string()),
        };
        let record = Refused {
            bundle_id,
            status,
            code,
            message,
            refused_at: at,
            size: pending.size,
            carried: self.carried(bundle_id).unwrap_or_default(),
        };
        fs::create_dir_all(&self.refused).map_err(|e| SyncError::io("create", &self.refused, e))?;
        write_json(&self.refused, &record_name(bundle_id), &record)?;
        let to = self.refused.join(file_name(bundle_id));
        match fs::rename(&pending.path, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && to.is_file() => {}
            Err(e) => return Err(SyncError::io("move into the refused directory", &pending.path, e)),
        }
        remove_if_exists(&self.carried_path(bundle_id))?;
        sync_dir(&self.refused)?;
        sync_dir(&self.dir)?;
        Ok(record)
    }

    /// The bundles set aside as refused, oldest refusal first. A record that cannot be read
    /// is listed with code `record_unreadable` and says why, rather than hidden.
    pub fn refused(&self) -> Result<Vec<Refused>> {
        refused_in(&self.refused)
    }

    /// Where a pending bundle's file goes (for the CLI, which writes `<path>.tmp` first and
    /// renames).
    pub fn path_of(&self, bundle_id: Uuid) -> PathBuf {
        self.dir.join(file_name(bundle_id))
    }

    /// Pending bundles, in name (= creation) order.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SyncError::io("list", &self.dir, e)),
        };
        let mut pending = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| SyncError::io("list", &self.dir, e))?;
            let name = entry.file_name();
            let Some(bundle_id) = name.to_str().and_then(parse_name) else { continue };
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| SyncError::io("read the size of", &path, e))?;
            if !meta.is_file() {
                continue;
            }
            pending.push(Pending { bundle_id, path, size: meta.len() });
        }
        pending.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        Ok(pending)
    }

    /// Total bytes of the pending bundles.
    pub fn pending_bytes(&self) -> Result<u64> {
        Ok(self.pending()?.iter().map(|p| p.size).sum())
    }

    /// Moves a bundle the agency has stored into `sent/` (durably), so it is never sent again.
    /// Marking a bundle that is already in `sent/` is not an error. The note on what it
    /// carries goes along; a refusal record left for it by an interrupted earlier refusal is
    /// removed (the agency has it now).
    pub fn mark_sent(&self, bundle_id: Uuid) -> Result<()> {
        let from = self.path_of(bundle_id);
        let sent_dir = self.dir.join(SENT_DIR);
        let to = sent_dir.join(file_name(bundle_id));
        fs::create_dir_all(&sent_dir).map_err(|e| SyncError::io("create", &sent_dir, e))?;
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && to.is_file() => return Ok(()),
            Err(e) => return Err(SyncError::io("move into sent/", &from, e)),
        }
        let note = self.carried_path(bundle_id);
        match fs::rename(&note, sent_dir.join(carried_name(bundle_id))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SyncError::io("move into sent/", &note, e)),
        }
        remove_if_exists(&self.refused.join(record_name(bundle_id)))?;
        sync_dir(&sent_dir)?;
        sync_dir(&self.dir)
    }
}

/// The refusal records in `dir`, oldest refusal first (a missing directory holds none).
pub(crate) fn refused_in(dir: &Path) -> Result<Vec<Refused>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SyncError::io("list", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| SyncError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(bundle_id) = name.to_str().and_then(parse_record_name) else { continue };
        let path = entry.path();
        let read = fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice::<Refused>(&bytes).map_err(|e| e.to_string()));
        out.push(match read {
            Ok(r) => r,
            Err(why) => Refused {
                bundle_id,
                status: 0,
                code: "record_unreadable".into(),
                message: format!("the refusal record {} cannot be read ({why}); the bundle is kept next to it", path.display()),
                refused_at: entry.metadata().and_then(|m| m.modified()).map(DateTime::<Utc>::from).unwrap_or_default(),
                size: fs::metadata(dir.join(file_name(bundle_id))).map(|m| m.len()).unwrap_or(0),
                carried: Carried::default(),
            },
        });
    }
    out.sort_by(|a, b| a.refused_at.cmp(&b.refused_at).then(a.bundle_id.cmp(&b.bundle_id)));
    Ok(out)
}

fn file_name(bundle_id: Uuid) -> String {
    format!("{}.{BUNDLE_EXTENSION}", bundle_id.hyphenated())
}

fn carried_name(bundle_id: Uuid) -> String {
    format!("{}.{CARRIED_SUFFIX}", bundle_id.hyphenated())
}

fn record_name(bundle_id: Uuid) -> String {
    format!("{}.{RECORD_EXTENSION}", bundle_id.hyphenated())
}

/// `<uuid>.json` → the uuid; anything else → None.
fn parse_record_name(name: &str) -> Option<Uuid> {
    let stem = name.strip_suffix(RECORD_EXTENSION)?.strip_suffix('.')?;
    Uuid::parse_str(stem).ok()
}

/// Writes `value` as JSON to `dir/name` atomically (temporary file, fsync, rename).
pub(crate) fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let json = serde_json::to_vec_pretty(value).map_err(|e| SyncError::protocol(format!("cannot encode {name}: {e}")))?;
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&json)?;
        file.write_all(b"\n")?;
        file.sync_all()
    };
    write().map_err(|e| SyncError::io("write", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| SyncError::io("replace", &path, e))
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SyncError::io("remove", path, e)),
    }
}

/// `<uuid>.cbb` → the uuid; anything else (`*.tmp`, other files) → None.
fn parse_name(name: &str) -> Option<Uuid> {
    let stem = name.strip_suffix(BUNDLE_EXTENSION)?.strip_suffix('.')?;
    Uuid::parse_str(stem).ok()
}

/// Makes a rename in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| SyncError::io("sync", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_strictly() {
        let id = Uuid::now_v7();
        assert_eq!(parse_name(&file_name(id)), Some(id));
        assert_eq!(parse_name(&format!("{id}.cbb.tmp")), None);
        assert_eq!(parse_name(&format!("{id}cbb")), None);
        assert_eq!(parse_name("notes.cbb"), None);
        assert_eq!(parse_name(&format!("{id}.receipt")), None);
        assert_eq!(parse_name(&carried_name(id)), None, "the note on a bundle is not a bundle");
        assert_eq!(parse_record_name(&record_name(id)), Some(id));
        assert_eq!(parse_record_name(&carried_name(id)), None);
        assert_eq!(parse_record_name(&format!("{id}.json.tmp")), None);
    }
}
