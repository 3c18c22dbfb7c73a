//! An in-memory agency that follows the upload protocol, with faults scripted per operation,
//! and a clock that records sleeps instead of sleeping.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use casebridge_protocol::{Document, EnrolRequest, EnrolResponse, Feed, Health, UploadBegin, UploadOutcome, UploadState};
use casebridge_sync::{Clock, SyncError, Transport};
use chrono::{DateTime, Utc};
use tokio::io::AsyncWrite;
use uuid::Uuid;

/// What goes wrong on a call.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// The connection is cut before the server sees the request.
    CutBefore,
    /// The server handles the request, then the answer is lost.
    CutAfter,
    /// The server answers with this status (and an error body).
    Status(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Begin,
    Put,
    Complete,
    Feed,
}

#[derive(Default)]
pub struct Upload {
    pub bundle_id: Uuid,
    pub data: Vec<u8>,
    pub size: u64,
    pub outcome: Option<UploadOutcome>,
}

#[derive(Default)]
pub struct State {
    pub uploads: HashMap<Uuid, Upload>,
    pub by_bundle: HashMap<Uuid, Uuid>,
    pub faults: HashMap<Op, VecDeque<Fault>>,
    /// Every PUT the server saw: (offset, len).
    pub puts: Vec<(u64, u64)>,
    pub begins: u32,
    pub events: Vec<String>,
    pub feed_calls: u32,
}

/// The in-memory agency. Clones share state.
#[derive(Clone, Default)]
pub struct FakeAgency(pub Arc<Mutex<State>>);

fn cut() -> SyncError {
    SyncError::Connection { message: "connection reset by peer (simulated)".into() }
}

fn status_error(status: u16) -> SyncError {
    SyncError::Server { status, code: format!("status_{status}"), message: "simulated".into() }
}

impl FakeAgency {
    pub fn fault(&self, op: Op, fault: Fault) {
        self.0.lock().unwrap().faults.entry(op).or_default().push_back(fault);
    }

    pub fn faults(&self, op: Op, faults: impl IntoIterator<Item = Fault>) {
        for f in faults {
            self.fault(op, f);
        }
    }

    fn take_fault(&self, op: Op) -> Option<Fault> {
        self.0.lock().unwrap().faults.get_mut(&op).and_then(VecDeque::pop_front)
    }

    /// Runs `apply` on the state under the fault scripted for `op`, if any.
    fn call<R>(&self, op: Op, apply: impl FnOnce(&mut State) -> Result<R, SyncError>) -> Result<R, SyncError> {
        match self.take_fault(op) {
            Some(Fault::CutBefore) => Err(cut()),
            Some(Fault::CutAfter) => {
                apply(&mut self.0.lock().unwrap()).map(|_| ())?;
                Err(cut())
            }
            Some(Fault::Status(s)) => Err(status_error(s)),
            None => apply(&mut self.0.lock().unwrap()),
        }
    }

    pub fn data_of(&self, bundle_id: Uuid) -> Vec<u8> {
        let s = self.0.lock().unwrap();
        let id = s.by_bundle[&bundle_id];
        s.uploads[&id].data.clone()
    }

    pub fn puts(&self) -> Vec<(u64, u64)> {
        self.0.lock().unwrap().puts.clone()
    }

    pub fn begin_sync(&self, begin: UploadBegin) -> Result<UploadState, SyncError> {
        self.call(Op::Begin, |s| {
            s.begins += 1;
            let id = *s.by_bundle.entry(begin.bundle_id).or_insert_with(Uuid::new_v4);
            let up = s.uploads.entry(id).or_insert_with(|| Upload { bundle_id: begin.bundle_id, size: begin.size, ..Upload::default() });
            Ok(state_of(id, up))
        })
    }

    pub fn put_sync(&self, upload_id: Uuid, offset: u64, chunk: &[u8]) -> Result<UploadState, SyncError> {
        self.call(Op::Put, |s| {
            s.puts.push((offset, chunk.len() as u64));
            let up = s.uploads.get_mut(&upload_id).ok_or_else(|| status_error(404))?;
            if offset != up.data.len() as u64 {
                return Err(SyncError::Conflict {
                    code: "offset_mismatch".into(),
                    message: "offset is not received".into(),
                    state: Some(state_of(upload_id, up)),
                });
            }
            if up.data.len() as u64 + chunk.len() as u64 > up.size {
                return Err(status_error(413));
            }
            up.data.extend_from_slice(chunk);
            Ok(state_of(upload_id, up))
        })
    }

    pub fn complete_sync(&self, upload_id: Uuid) -> Result<UploadOutcome, SyncError> {
        self.call(Op::Complete, |s| {
            let up = s.uploads.get_mut(&upload_id).ok_or_else(|| status_error(404))?;
            if up.data.len() as u64 != up.size {
                return Err(SyncError::Conflict { code: "incomplete".into(), message: "m".into(), state: Some(state_of(upload_id, up)) });
            }
            let outcome = up.outcome.get_or_insert_with(|| UploadOutcome {
                bundle_id: up.bundle_id,
                outcome: casebridge_protocol::BundleOutcome::Accepted,
                events_added: 1,
                receipt: format!("receipt-{}", up.bundle_id),
            });
            Ok(outcome.clone())
        })
    }

    pub fn feed_sync(&self, after: u64, limit: usize) -> Result<Feed, SyncError> {
        self.call(Op::Feed, |s| {
            s.feed_calls += 1;
            let start = (after as usize).min(s.events.len());
            let end = (start + limit).min(s.events.len());
            Ok(Feed {
                events: s.events[start..end].to_vec(),
                cursor: end as u64,
                more: end < s.events.len(),
                credentials: Vec::new(),
                names: Vec::new(),
                notices: Vec::new(),
                tombstones: Vec::new(),
            })
        })
    }
}

fn state_of(upload_id: Uuid, up: &Upload) -> UploadState {
    UploadState {
        upload_id,
        received: up.data.len() as u64,
        size: up.size,
        complete: up.outcome.is_some(),
        receipt: up.outcome.as_ref().map(|o| o.receipt.clone()),
    }
}

impl Transport for FakeAgency {
    async fn health(&self) -> Result<Health, SyncError> {
        Ok(Health { status: "ok".into(), agency_id: Uuid::nil(), version: "fake".into() })
    }

    async fn enrol(&self, _request: EnrolRequest) -> Result<EnrolResponse, SyncError> {
        Err(status_error(403))
    }

    async fn revocation(&self) -> Result<Document, SyncError> {
        Ok(Document { document: String::new() })
    }

    async fn begin(&self, begin: UploadBegin) -> Result<UploadState, SyncError> {
        self.begin_sync(begin)
    }

    async fn status(&self, upload_id: Uuid) -> Result<UploadState, SyncError> {
        let s = self.0.lock().unwrap();
        s.uploads.get(&upload_id).map(|up| state_of(upload_id, up)).ok_or_else(|| status_error(404))
    }

    async fn put(&self, upload_id: Uuid, offset: u64, chunk: Bytes) -> Result<UploadState, SyncError> {
        self.put_sync(upload_id, offset, &chunk)
    }

    async fn complete(&self, upload_id: Uuid) -> Result<UploadOutcome, SyncError> {
        self.complete_sync(upload_id)
    }

    async fn feed(&self, after: u64, limit: usize) -> Result<Feed, SyncError> {
        self.feed_sync(after, limit)
    }

    async fn content(&self, _sha256: &str, _out: &mut (dyn AsyncWrite + Unpin + Send)) -> Result<u64, SyncError> {
        Err(status_error(404))
    }
}

/// A clock that records sleeps and returns at once.
#[derive(Clone, Default)]
pub struct FakeClock(pub Arc<Mutex<Vec<Duration>>>);

impl FakeClock {
    pub fn slept(&self) -> Duration {
        self.0.lock().unwrap().iter().sum()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
    }

    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}
