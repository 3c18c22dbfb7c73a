//! Every limit the endpoint enforces against slow, flooding or greedy clients, in one place
//! (docs/ENDPOINT.md, "Limits"). `agency serve` reads them from `AGENCY/limits.json` when it
//! exists: any subset of the fields below, the rest keep their defaults; an unknown field or a
//! zero where a positive number is needed is refused with its name.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{AgencyError, Result};

/// The optional limits file inside the agency directory.
pub const LIMITS_FILE: &str = "limits.json";

/// The endpoint's limits. Durations are whole seconds, sizes bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    // ----- connections
    /// Most TLS connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one source address.
    pub max_connections_per_source: usize,
    /// Connections kept for members who have authenticated: connections that have not (yet)
    /// carried an authenticated request hold at most `max_connections - reserved_for_members`;
    /// when they are all taken, the oldest of them is closed to admit a new one.
    pub reserved_for_members: usize,
    /// A TLS handshake must finish within this.
    pub handshake_timeout_secs: u64,
    /// A request's headers must arrive within this.
    pub header_timeout_secs: u64,
    /// A JSON request body must arrive whole within this.
    pub body_timeout_secs: u64,
    /// A connection that moves no byte (between requests, or with a request or response
    /// stalled) for this long is closed.
    pub idle_timeout_secs: u64,
    /// Upload chunks and downloads must move at least this many bytes per second on average
    /// (measured after the first `idle_timeout_secs`); a slower one is cut off.
    pub min_rate_bytes_per_sec: u64,

    // ----- requests without a session
    /// Requests without a session (enrol, challenge, session, health, revocation) one source
    /// address may make per minute.
    pub unauthenticated_per_source_per_min: u32,
    /// Wrong invite codes from one source address within `enrol_window_secs` after which that
    /// address may not enrol for `enrol_window_secs`.
    pub enrol_failures_per_source: u32,
    /// Wrong codes for one invite within `enrol_window_secs` after which that invite is locked
    /// for `enrol_window_secs` (any other invite still works).
    pub enrol_failures_per_invite: u32,
    /// The window for the two enrolment limits, and how long a lock lasts.
    pub enrol_window_secs: u64,

    // ----- per member
    /// Downloads (`GET /v1/content`) one member may have in progress; more are refused with
    /// 429 `too_many_downloads`.
    pub downloads_per_member: usize,
    /// Downloads sent at once by the whole endpoint (each holds a thread while it reads the
    /// content); more wait for a slot without holding one.
    pub max_downloads: usize,
    /// Authentication challenges one member may have open; a new one replaces the oldest.
    pub challenges_per_member: usize,
    /// Sessions one member may hold; a new one ends the oldest.
    pub sessions_per_member: usize,
    /// Uploads one member may have begun and not completed; beginning another is refused
    /// with 429 `too_many_uploads` (resuming one never is).
    pub max_open_uploads_per_member: usize,
    /// Bytes one member's open uploads may declare in total; beginning one that would go over
    /// is refused with 429 `quota_exceeded` (one upload alone may always declare up to
    /// `max_bundle_bytes`).
    pub max_pending_bytes_per_member: u64,
    /// The largest bundle one upload may declare (413 `too_large`).
    pub max_bundle_bytes: u64,
    /// An upload that receives no chunk for this long expires: its bytes are removed and it
    /// answers 404 `upload_expired` for as long again. Also how long a completed upload's
    /// outcome is kept, and the age below which content no event names is never removed.
    pub upload_expiry_secs: u64,
    /// How often the running endpoint expires stale uploads and collects orphan objects
    /// (`casebridge agency gc` does it on demand).
    pub gc_interval_secs: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 512,
            max_connections_per_source: 32,
            reserved_for_members: 128,
            handshake_timeout_secs: 10,
            header_timeout_secs: 30,
            body_timeout_secs: 30,
            idle_timeout_secs: 60,
            min_rate_bytes_per_sec: 4096,
            unauthenticated_per_source_per_min: 120,
            enrol_failures_per_source: 5,
            enrol_failures_per_invite: 5,
            enrol_window_secs: 60,
            downloads_per_member: 4,
            max_downloads: 64,
            challenges_per_member: 8,
            sessions_per_member: 8,
            max_open_uploads_per_member: 8,
            max_pending_bytes_per_member: 16 << 30,
            max_bundle_bytes: 64 << 30,
            upload_expiry_secs: 24 * 3600,
            gc_interval_secs: 3600,
        }
    }
}

impl Limits {
    /// The limits for the agency in `dir`: `dir/limits.json` over the defaults, or the defaults
    /// when there is no such file.
    pub fn load(dir: &Path) -> Result<Limits> {
        let path = dir.join(LIMITS_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Limits::default()),
            Err(e) => return Err(AgencyError::io("reading", &path)(e)),
        };
        let limits: Limits = serde_json::from_slice(&bytes).map_err(|e| AgencyError::Invalid(format!("{}: {e}", path.display())))?;
        limits.validate().map_err(|m| AgencyError::Invalid(format!("{}: {m}", path.display())))?;
        Ok(limits)
    }

    /// Refuses limits that would make the endpoint unusable, naming the field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let positive: [(&str, u64); 19] = [
            ("downloads_per_member", self.downloads_per_member as u64),
            ("max_downloads", self.max_downloads as u64),
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_source", self.max_connections_per_source as u64),
            ("handshake_timeout_secs", self.handshake_timeout_secs),
            ("header_timeout_secs", self.header_timeout_secs),
            ("body_timeout_secs", self.body_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("unauthenticated_per_source_per_min", u64::from(self.unauthenticated_per_source_per_min)),
            ("enrol_failures_per_source", u64::from(self.enrol_failures_per_source)),
            ("enrol_failures_per_invite", u64::from(self.enrol_failures_per_invite)),
            ("enrol_window_secs", self.enrol_window_secs),
            ("challenges_per_member", self.challenges_per_member as u64),
            ("sessions_per_member", self.sessions_per_member as u64),
            ("max_open_uploads_per_member", self.max_open_uploads_per_member as u64),
            ("max_pending_bytes_per_member", self.max_pending_bytes_per_member),
            ("max_bundle_bytes", self.max_bundle_bytes),
            ("upload_expiry_secs", self.upload_expiry_secs),
            ("gc_interval_secs", self.gc_interval_secs),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be at least 1"));
        }
        if self.reserved_for_members >= self.max_connections {
            return Err(format!(
                "reserved_for_members ({}) must be below max_connections ({})",
                self.reserved_for_members, self.max_connections
            ));
        }
        Ok(())
    }

    /// Connections that have not carried an authenticated request may hold this many.
    pub fn unauthenticated_connections(&self) -> usize {
        self.max_connections - self.reserved_for_members
    }

    /// `handshake_timeout_secs` as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }

    /// `header_timeout_secs` as a duration.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    /// `body_timeout_secs` as a duration.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }

    /// `idle_timeout_secs` as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// How long moving `bytes` may take at the minimum rate, never less than the idle timeout.
    pub fn transfer_deadline(&self, bytes: u64) -> Duration {
        let at_min_rate = bytes.checked_div(self.min_rate_bytes_per_sec).unwrap_or(u64::MAX / 2);
        Duration::from_secs(self.idle_timeout_secs.saturating_add(at_min_rate))
    }

    /// `upload_expiry_secs` as a duration.
    pub fn upload_expiry(&self) -> Duration {
        Duration::from_secs(self.upload_expiry_secs)
    }

    /// `gc_interval_secs` as a duration.
    pub fn gc_interval(&self) -> Duration {
        Duration::from_secs(self.gc_interval_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Limits::default().validate(), Ok(()));
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults_and_an_unknown_field_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LIMITS_FILE), br#"{"max_connections_per_source": 4}"#).unwrap();
        let l = Limits::load(dir.path()).unwrap();
        assert_eq!(l.max_connections_per_source, 4);
        assert_eq!(l.max_connections, Limits::default().max_connections);
        std::fs::write(dir.path().join(LIMITS_FILE), br#"{"max_conections": 4}"#).unwrap();
        let e = Limits::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("max_conections"), "{e}");
        std::fs::write(dir.path().join(LIMITS_FILE), br#"{"sessions_per_member": 0}"#).unwrap();
        let e = Limits::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("sessions_per_member must be at least 1"), "{e}");
    }
}
