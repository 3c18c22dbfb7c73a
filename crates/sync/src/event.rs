//! What the engine reports while it works: one JSON object per line for `sync --json`, and
//! the desktop UI's progress events.

use std::time::Duration;

use casebridge_protocol::UploadOutcome;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A progress report. Serialised with an `"event"` tag, e.g.
/// `{"event":"progress","bundle_id":"…","done":4194304,"total":9000000}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "SyncEvent"))]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The server acknowledged bytes of a bundle: `done` of `total` are now held by the agency.
    Progress {
        /// The bundle.
        bundle_id: Uuid,
        /// Bytes the server has.
        done: u64,
        /// Bytes of the bundle.
        total: u64,
    },
    /// A bundle was verified and stored by the agency (or it already held it).
    Uploaded {
        /// The bundle.
        bundle_id: Uuid,
        /// The agency's answer, with its signed receipt.
        outcome: UploadOutcome,
    },
    /// The agency refused a bundle for good (see [`SyncError::is_refusal`](crate::SyncError::is_refusal));
    /// it was set aside into the refused directory and will not be sent again.
    Refused {
        /// The bundle.
        bundle_id: Uuid,
        /// The HTTP status of the refusal.
        status: u16,
        /// The endpoint's machine-readable code.
        code: String,
        /// The endpoint's message for people.
        message: String,
    },
    /// A request failed in a way worth retrying; the engine waits `after`, then tries again.
    Retrying {
        /// The bundle being uploaded, if the failure was during an upload.
        bundle_id: Option<Uuid>,
        /// Consecutive failures without progress so far.
        attempt: u32,
        /// The pause before the next attempt (serialised as `after_ms`).
        #[serde(rename = "after_ms", with = "millis")]
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        after: Duration,
        /// What failed.
        error: String,
    },
    /// A page of the feed was handed to the importer.
    Pulled {
        /// Events on the page.
        events: usize,
        /// The cursor after the page.
        cursor: u64,
    },
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn events_are_tagged_json_lines() {
        let id = Uuid::nil();
        let e = Event::Retrying { bundle_id: Some(id), attempt: 2, after: Duration::from_millis(350), error: "cut".into() };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["event"], "retrying");
        assert_eq!(json["after_ms"], 350);
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), e);
        let p = serde_json::to_string(&Event::Progress { bundle_id: id, done: 1, total: 2 }).unwrap();
        assert!(p.starts_with(r#"{"event":"progress""#), "{p}");
        let pulled = serde_json::to_value(Event::Pulled { events: 3, cursor: 9 }).unwrap();
        assert_eq!(pulled, serde_json::json!({"event": "pulled", "events": 3, "cursor": 9}));
        let refused =
            serde_json::to_value(Event::Refused { bundle_id: id, status: 403, code: "forbidden".into(), message: "m".into() }).unwrap();
        assert_eq!(refused["event"], "refused");
        assert_eq!(refused["code"], "forbidden");
    }
}
