//! The small per-profile file the app keeps next to the store: the failed-unlock counter and
//! lockout (so restarting the app does not reset them), the idle-lock time and whether the
//! code of conduct was accepted. No secret is in it.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, ErrorCode, Result};

/// The file's name in the store directory.
pub const SETTINGS_FILE: &str = "app.json";

/// Default seconds without activity before the profile locks itself.
pub const DEFAULT_IDLE_LOCK_SECS: u64 = 900;

/// Shortest idle-lock time accepted.
pub const MIN_IDLE_LOCK_SECS: u64 = 30;

/// Longest idle-lock time accepted (a working day).
pub const MAX_IDLE_LOCK_SECS: u64 = 8 * 3600;

/// What the file holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Wrong passphrases in a row.
    #[serde(default)]
    pub failed_attempts: u32,
    /// Until when unlocking is refused.
    #[serde(default)]
    pub locked_out_until: Option<DateTime<Utc>>,
    /// Seconds without activity before the profile locks itself.
    #[serde(default = "default_idle")]
    pub idle_lock_secs: u64,
    /// When this profile accepted the code of conduct.
    #[serde(default)]
    pub conduct_accepted_at: Option<DateTime<Utc>>,
}

fn default_idle() -> u64 {
    DEFAULT_IDLE_LOCK_SECS
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { failed_attempts: 0, locked_out_until: None, idle_lock_secs: DEFAULT_IDLE_LOCK_SECS, conduct_accepted_at: None }
    }
}

impl Settings {
    /// The file of the store directory `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(SETTINGS_FILE)
    }

    /// Reads the settings of `dir`; a missing file gives the defaults, a damaged one the error
    /// `settings_damaged` (the session then starts a lockout: damaging the file must not be a
    /// way around one).
    pub fn load(dir: &Path) -> Result<Settings> {
        let path = Settings::path(dir);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                AppError::new(
                    ErrorCode::SettingsDamaged,
                    format!("the app settings file {} is damaged ({e}); delete it to start from the defaults", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(AppError::new(ErrorCode::Io, format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Writes the settings of `dir` atomically (temporary file, fsync, rename). `dir` must
    /// exist: the file is never written before the store is.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = Settings::path(dir);
        let tmp = dir.join(format!("{SETTINGS_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(|e| AppError::internal(format!("cannot encode the app settings: {e}")))?;
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            // The rename is durable once the directory is synced.
            fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| AppError::new(ErrorCode::Io, format!("cannot write {}: {e}", path.display())))
    }
}
