//! The sync state file and `sync status`.
//!
//! A sync directory holds the outbox and a small JSON state file:
//!
//! ```text
//! DIR/state.json        SyncState: feed cursor, last success / error / attempt (no secrets)
//! DIR/outbox/           pending <bundle_id>.cbb files
//! DIR/outbox/sent/      bundles the agency has stored
//! DIR/refused/          bundles the agency refused for good: <bundle_id>.cbb, and
//!                       <bundle_id>.json saying why (Refused)
//! ```
//!
//! The state file is replaced atomically (write a temporary file, fsync, rename, fsync the
//! directory), so a crash leaves either the old or the new state, never a torn one.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::outbox::{refused_in, sync_dir, write_json, Outbox, Refused, REFUSED_DIR};
use crate::{Result, SyncError};

/// The state file's name in a sync directory.
pub const STATE_FILE: &str = "state.json";
/// The outbox's name in a sync directory.
pub const OUTBOX_DIR: &str = "outbox";

/// What the client remembers between runs. Holds no secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The feed cursor: every event up to here has been imported.
    #[serde(default)]
    pub cursor: u64,
    /// When a sync last finished without error.
    #[serde(default)]
    pub last_success: Option<DateTime<Utc>>,
    /// The last sync's error, if it failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When a sync was last started.
    #[serde(default)]
    pub last_attempt: Option<DateTime<Utc>>,
}

impl SyncState {
    /// The state file of the sync directory `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    /// Reads the state of `dir`; a missing file is the initial state.
    pub fn load(dir: &Path) -> Result<SyncState> {
        let path = SyncState::path(dir);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SyncState::default()),
            Err(e) => return Err(SyncError::io("read", &path, e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| SyncError::StateDamaged { path, message: e.to_string() })
    }

    /// Writes the state of `dir` atomically (creating `dir` if needed).
    pub fn save(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| SyncError::io("create", dir, e))?;
        write_json(dir, STATE_FILE, self)?;
        sync_dir(dir)
    }

    /// Notes that a sync started at `now`.
    pub fn record_attempt(&mut self, now: DateTime<Utc>) {
        self.last_attempt = Some(now);
    }

    /// Notes that a sync finished without error at `now` (clears `last_error`).
    pub fn record_success(&mut self, now: DateTime<Utc>) {
        self.last_success = Some(now);
        self.last_error = None;
    }

    /// Notes that a sync failed with `error`.
    pub fn record_error(&mut self, error: &SyncError) {
        self.last_error = Some(error.to_string());
    }
}

/// What `sync status` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "SyncState"))]
pub struct Status {
    /// Bundles waiting in the outbox.
    pub pending: usize,
    /// Their total size.
    pub pending_bytes: u64,
    /// When a sync last finished without error.
    pub last_success: Option<DateTime<Utc>>,
    /// The last sync's error, if it failed.
    pub last_error: Option<String>,
    /// When a sync was last started.
    pub last_attempt: Option<DateTime<Utc>>,
    /// The feed cursor.
    pub cursor: u64,
    /// Bundles the agency refused for good and that were set aside, with the reason, oldest
    /// refusal first.
    #[serde(default)]
    pub refused: Vec<Refused>,
}

/// The status of the sync directory `dir` (its `state.json`, `outbox/` and `refused/`). Reads
/// only.
pub fn status(dir: &Path) -> Result<Status> {
    let state = SyncState::load(dir)?;
    let pending = Outbox::at(dir.join(OUTBOX_DIR)).pending()?;
    Ok(Status {
        pending: pending.len(),
        pending_bytes: pending.iter().map(|p| p.size).sum(),
        last_success: state.last_success,
        last_error: state.last_error,
        last_attempt: state.last_attempt,
        cursor: state.cursor,
        refused: refused_in(&dir.join(REFUSED_DIR))?,
    })
}
