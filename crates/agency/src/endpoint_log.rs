//! The endpoint's own access log (issue 16): who fetched what, signed by the agency and
//! hash-chained, so a left-out, altered or forged entry shows in `casebridge agency check`.
//!
//! Each content fetch and each feed page that served something is one entry: the member, their
//! role, the action (`content`, `feed_page`), the items (evidence ids) and cases it served, the
//! content's SHA-256 for a fetch, and the time. Entry `seq` (from 1) is the agency record
//! `access-log/<seq, 12 digits>.json`: a signed document of type `endpoint-access` signed with
//! the agency's root key, whose body's `prev` is the SHA-256 of the previous entry's record
//! bytes (64 zeros for the first). Records are created once (`RecordStore::create`): a replica
//! of a cluster that finds `seq` taken moves past it and tries the next, so replicas share one
//! chain without a lock across the network; the embedded endpoint appends under a mutex held
//! only for the local write.
//!
//! The entry is recorded before the content is sent or the page returned: nothing is served
//! unlogged. Entries carry ids and hashes, never content or names.

use std::sync::Mutex;

use casebridge_core::{sha256, to_hex, Role};
use casebridge_trust::{Agency, RecordStore, SignedDoc, ENDPOINT_ACCESS};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::ApiError;

/// The agency records folder of the endpoint's access log.
pub const ACCESS_LOG_FOLDER: &str = "access-log";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the endpoint's access log (the signed body).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointAccess {
    /// The agency.
    pub agency_id: Uuid,
    /// Place in the chain, from 1.
    pub seq: u64,
    /// SHA-256 (hex) of the previous entry's record bytes; 64 zeros for the first.
    pub prev: String,
    /// When (the endpoint's clock).
    pub at: DateTime<FixedOffset>,
    /// Who fetched.
    pub member: Uuid,
    /// Their role.
    pub role: Role,
    /// `content` or `feed_page`.
    pub action: String,
    /// The evidence items served (a content fetch: the item with that content; a feed page:
    /// the items its events name).
    #[serde(default)]
    pub items: Vec<Uuid>,
    /// The cases served.
    #[serde(default)]
    pub cases: Vec<Uuid>,
    /// A content fetch: the content's SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A feed page: events and notices served.
    #[serde(default)]
    pub served: u64,
}

/// The record name of entry `seq`.
pub fn record_name(seq: u64) -> String {
    format!("{ACCESS_LOG_FOLDER}/{seq:012}.json")
}

/// The head of the chain as this process last wrote or read it: (seq, hash of its record).
#[derive(Debug, Default)]
pub(crate) struct EndpointLog {
    head: Mutex<Option<(u64, String)>>,
}

impl EndpointLog {
    /// Appends an entry (its `seq` and `prev` are set here). `local`: the embedded endpoint,
    /// whose record store is a local directory (appends are serialized by a mutex over the local
    /// write); a cluster's store creates records atomically and is never written under a lock.
    pub(crate) fn append(&self, agency: &Agency, local: bool, mut entry: EndpointAccess) -> Result<(), ApiError> {
        let records = agency.records();
        let guard = local.then(|| self.head.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        // The head as last known (under the guard when local: the mutex is not re-entered).
        let known = match &guard {
            Some(g) => (**g).clone(),
            None => self.cached(),
        };
        let (mut seq, mut prev) = match known {
            Some(h) => h,
            None => last_entry(records)?,
        };
        // Another replica may hold the next places: move past them (bounded; each pass reads
        // one record).
        for _ in 0..10_000 {
            entry.seq = seq + 1;
            entry.prev = prev.clone();
            let bytes = agency.sign_endpoint_access(&entry).to_bytes();
            let name = record_name(entry.seq);
            if records.create(&name, &bytes).map_err(crate::api::records_error)? {
                let head = (entry.seq, to_hex(&sha256(&bytes)));
                match guard {
                    Some(mut g) => *g = Some(head),
                    None => self.advance(head),
                }
                return Ok(());
            }
            match records.read(&name).map_err(crate::api::records_error)? {
                Some(taken) => {
                    seq += 1;
                    prev = to_hex(&sha256(&taken));
                }
                None => return Err(ApiError::internal("the endpoint's access log could not be appended to")),
            }
        }
        Err(ApiError::internal("the endpoint's access log could not be appended to"))
    }

    fn cached(&self) -> Option<(u64, String)> {
        self.head.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn advance(&self, head: (u64, String)) {
        let mut g = self.head.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.as_ref().is_none_or(|(s, _)| *s < head.0) {
            *g = Some(head);
        }
    }
}

/// The last entry on file: (seq, hash of its record), (0, zeros) when there is none.
fn last_entry(records: &dyn RecordStore) -> Result<(u64, String), ApiError> {
    let mut names = records.list(ACCESS_LOG_FOLDER).map_err(crate::api::records_error)?;
    names.sort();
    let Some(last) =
        names.iter().rev().filter(|n| !n.starts_with('.')).find_map(|n| n.strip_suffix(".json").and_then(|s| s.parse::<u64>().ok()))
    else {
        return Ok((0, GENESIS.to_string()));
    };
    match records.read(&record_name(last)).map_err(crate::api::records_error)? {
        Some(b) => Ok((last, to_hex(&sha256(&b)))),
        None => Err(ApiError::internal("the endpoint's access log changed while it was read")),
    }
}

/// One entry read back and verified, or why not.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    /// The record.
    pub record: String,
    /// The entry, when its signature verified.
    #[serde(flatten)]
    pub entry: EndpointAccess,
}

/// A problem with the log: (code, record, message).
pub type LogProblem = (&'static str, String, String);

/// Reads and verifies the whole log: every record's signature with the agency's root key, its
/// type and agency, its place (the record name's number is its `seq`, counted from one without
/// gaps) and its link (`prev` is the hash of the previous record). Codes:
/// `endpoint_log_forged` for a signature, type or agency that does not verify;
/// `endpoint_log_gap` for a missing entry; `endpoint_log_broken` for an entry that does not
/// link to the one before or names another place; `endpoint_log_unreadable`.
pub fn read_verified(agency: &Agency) -> (Vec<LogEntry>, Vec<LogProblem>) {
    let records = agency.records();
    let mut problems: Vec<LogProblem> = Vec::new();
    let mut names = match records.list(ACCESS_LOG_FOLDER) {
        Ok(n) => n,
        Err(e) => return (Vec::new(), vec![("endpoint_log_unreadable", ACCESS_LOG_FOLDER.into(), e.message)]),
    };
    names.sort();
    let root = agency.public().root_key_bytes().ok();
    let agency_id = agency.public().agency_id;
    let mut out = Vec::new();
    let mut expected = 1u64;
    let mut prev = GENESIS.to_string();
    // A write in progress (or cut short) leaves a hidden temporary file, never an entry.
    for name in names.into_iter().filter(|n| !n.starts_with('.')) {
        let record = format!("{ACCESS_LOG_FOLDER}/{name}");
        let Some(seq) = name.strip_suffix(".json").filter(|s| s.len() == 12).and_then(|s| s.parse::<u64>().ok()) else {
            problems.push(("endpoint_log_broken", record, "is not an entry of the log (access-log/<12 digits>.json)".into()));
            continue;
        };
        let bytes = match records.read(&record) {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                problems.push(("endpoint_log_unreadable", record, e.message));
                continue;
            }
        };
        let hash = to_hex(&sha256(&bytes));
        let opened = SignedDoc::parse(&bytes).and_then(|d| d.open::<EndpointAccess>(ENDPOINT_ACCESS, root.as_deref()));
        let entry = match opened {
            Ok(e) if e.agency_id == agency_id => e,
            Ok(e) => {
                problems.push(("endpoint_log_forged", record, format!("is signed for agency {}, not this one", e.agency_id)));
                continue;
            }
            Err(e) => {
                problems.push(("endpoint_log_forged", record, format!("does not verify with the agency's root key: {}", e.message)));
                continue;
            }
        };
        if entry.seq != seq {
            problems.push(("endpoint_log_broken", record.clone(), format!("holds entry {} in the place of entry {seq}", entry.seq)));
        } else if seq > expected {
            let missing =
                if seq == expected + 1 { format!("entry {expected} is") } else { format!("entries {expected} to {} are", seq - 1) };
            problems.push(("endpoint_log_gap", record.clone(), format!("{missing} missing before it: an access was left out")));
        } else if entry.prev != prev {
            problems.push(("endpoint_log_broken", record.clone(), "does not link to the entry before it".into()));
        }
        expected = seq + 1;
        prev = hash;
        out.push(LogEntry { record, entry });
    }
    (out, problems)
}

/// The endpoint's access log as read and verified (`GET /admin/access-log`, `agency
/// access-log`): every entry whose signature verified, and every problem.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccessLogReport {
    /// The entries, oldest first.
    pub entries: Vec<EndpointAccess>,
    /// What is wrong: (code, record, message).
    pub problems: Vec<casebridge_core::Problem>,
}

/// [`read_verified`] as a report.
pub fn report(agency: &Agency) -> AccessLogReport {
    let (entries, problems) = read_verified(agency);
    AccessLogReport {
        entries: entries.into_iter().map(|e| e.entry).collect(),
        problems: problems.into_iter().map(|(code, item, message)| casebridge_core::Problem { code: code.into(), item, message }).collect(),
    }
}
