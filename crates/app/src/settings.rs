//! The small per-profile file the app keeps next to the store: the failed-unlock counter and
//! lockout (so restarting the app does not reset them), the idle-lock time, whether the
//! code of conduct was accepted, the map tile server, the map's tiles file and whether desktop notifications are
//! shown. No secret is in it.

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
    /// The map tile server's address template (`https://host/{z}/{x}/{y}.png`), when one is
    /// set: the desktop's CSP then allows images from that one origin (read at start-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile_server: Option<String>,
    /// The street map's offline vector tiles: the path of a PMTiles v3 file (checked when set;
    /// see [`crate::map_tiles`]). None: the agency's shipped file, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_tiles: Option<String>,
    /// Desktop notifications after a sync round (new submissions, decisions, briefs; see
    /// [`crate::notify`]). On unless turned off: the point is to reach someone whose window is
    /// not in front, and what a notification says is chosen to be safe on a lock screen.
    #[serde(default = "default_notifications")]
    pub notifications: bool,
}

fn default_idle() -> u64 {
    DEFAULT_IDLE_LOCK_SECS
}

fn default_notifications() -> bool {
    true
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            failed_attempts: 0,
            locked_out_until: None,
            idle_lock_secs: DEFAULT_IDLE_LOCK_SECS,
            conduct_accepted_at: None,
            tile_server: None,
            map_tiles: None,
            notifications: true,
        }
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

/// The origin (`https://host[:port]`) of a map tile address template, checked as the Settings
/// screen checks it: https, a plain host name (letters, digits, dots, hyphens; an optional
/// port), and `{z}`, `{x}`, `{y}` in it. `invalid_input` otherwise.
pub fn tile_origin(template: &str) -> Result<String> {
    let t = template.trim();
    let rest = t
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("https://"))
        .map(|_| &t[8..])
        .ok_or_else(|| AppError::invalid("tile server", "the address must start with https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (name, port) = match host.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let name_ok = !name.is_empty() && name.len() <= 253 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if !name_ok || !port_ok {
        return Err(AppError::invalid(
            "tile server",
            "the address must name a server (a host name, optionally with a port) after https://",
        ));
    }
    for k in ["{z}", "{x}", "{y}"] {
        if !t.contains(k) {
            return Err(AppError::invalid("tile server", format!("the address must contain {k}")));
        }
    }
    Ok(format!("https://{}", host.to_ascii_lowercase()))
}

/// `csp` with the tile server's `origin` allowed too: its `img-src` and `connect-src` directives
/// extended (MapLibre fetches raster tiles, then draws them as images); nothing else changes.
/// Without an origin, `csp` as it is.
pub fn csp_with_tiles(csp: &str, origin: Option<&str>) -> String {
    match origin {
        Some(origin) => csp_with_source(&csp_with_source(csp, "img-src", origin), "connect-src", origin),
        None => csp.to_string(),
    }
}

/// `csp` with `source` added to its `directive` (nothing else changes): the one way the
/// desktop widens its policy at start-up (the tile server's images, the media stream).
pub fn csp_with_source(csp: &str, directive: &str, source: &str) -> String {
    csp.split(';')
        .map(|d| {
            let d = d.trim();
            if d.split_whitespace().next() == Some(directive) {
                format!("{d} {source}")
            } else {
                d.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tile_tests {
    use super::*;

    #[test]
    fn a_tile_server_adds_exactly_its_origin_to_img_src_and_connect_src() {
        assert_eq!(tile_origin("https://Tiles.Example.org:8443/{z}/{x}/{y}.png").unwrap(), "https://tiles.example.org:8443");
        for bad in [
            "http://tiles.example.org/{z}/{x}/{y}.png",
            "https:///{z}/{x}/{y}",
            "https://tiles.example.org/{z}/{x}.png",
            "https://evil.org;script-src *;/{z}/{x}/{y}",
            "https://a b/{z}/{x}/{y}",
            "https://host:99999999/{z}/{x}/{y}",
            "https://user@host/{z}/{x}/{y}",
            "",
        ] {
            assert_eq!(tile_origin(bad).unwrap_err().code, "invalid_input", "{bad}");
        }
        let csp = "default-src 'self'; img-src 'self' data: cbmedia:; media-src 'self'; connect-src 'self' ipc:";
        assert_eq!(csp_with_tiles(csp, None), csp);
        assert_eq!(
            csp_with_tiles(csp, Some("https://tiles.example.org")),
            "default-src 'self'; img-src 'self' data: cbmedia: https://tiles.example.org; media-src 'self'; connect-src 'self' ipc: https://tiles.example.org"
        );
    }
}

#[cfg(test)]
mod notification_tests {
    use super::*;

    #[test]
    fn notifications_are_on_unless_turned_off_and_an_older_file_keeps_them_on() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(Settings::load(tmp.path()).unwrap().notifications, "no file: on");
        // A file written before the setting existed.
        fs::write(Settings::path(tmp.path()), br#"{"failed_attempts": 2, "idle_lock_secs": 600}"#).unwrap();
        let s = Settings::load(tmp.path()).unwrap();
        assert!(s.notifications);
        assert_eq!((s.failed_attempts, s.idle_lock_secs), (2, 600), "nothing else changes");
        Settings { notifications: false, ..s }.save(tmp.path()).unwrap();
        assert!(!Settings::load(tmp.path()).unwrap().notifications);
        // A value that is not a boolean is a damaged file (the session then starts a lockout).
        fs::write(Settings::path(tmp.path()), br#"{"notifications": "yes"}"#).unwrap();
        assert_eq!(Settings::load(tmp.path()).unwrap_err().code, "settings_damaged");
    }
}
