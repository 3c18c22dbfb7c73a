//! Early verification of large uploads: while a bundle's chunks arrive, a thread reads the
//! acknowledged bytes of its `.part` file and runs the first half of the open (unseal,
//! signatures, hashes, content into the agency store's objects; see
//! [`backend::verify_upload`]), so `complete` mostly waits for the tail and records the events,
//! instead of reading the whole bundle again after the last byte.
//!
//! The verifier only ever reads bytes the endpoint has acknowledged (fsynced, `received`), which
//! a later chunk never changes: an interrupted chunk is cut back to `received`, never below.
//! Anything unusual makes `complete` fall back to verifying the whole file as before: a
//! verifier that was never started (a small bundle, an upload resumed after a restart, every
//! slot busy), one cancelled by shutdown or by [`IDLE`] without a byte, or one that failed on
//! I/O. A bundle that fails verification fails it the same way early or late; its content
//! already stored stays as unreferenced objects (as after any refused open).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use casebridge_trust::bundle::{Anchor, Verified};
use casebridge_trust::{Reason, TrustError};
use uuid::Uuid;

use crate::backend;
use crate::state::{cpu_slots, lock, read, AppState};
use crate::uploads;

/// Bundles at least this large are verified while they arrive; smaller ones (a photo, a
/// volunteer's usual submission: one chunk) at `complete`, where it costs no more.
pub(crate) const MIN_SIZE: u64 = 16 << 20;
/// A verifier that gets no new byte for this long gives up (an abandoned upload); `complete`
/// then verifies from the file.
pub(crate) const IDLE: Duration = Duration::from_secs(600);

/// The verifiers running, by upload id.
#[derive(Default)]
pub(crate) struct Early {
    jobs: Mutex<HashMap<Uuid, Arc<Job>>>,
}

struct Job {
    state: Mutex<JobState>,
    changed: Condvar,
    /// Registers the verification until its result is taken (or the job is dropped), so the
    /// orphan collection spares the content it stores.
    verifying: Mutex<Option<crate::gc::VerifyingGuard>>,
}

#[derive(Default)]
struct JobState {
    /// Bytes acknowledged so far: the verifier reads no further.
    received: u64,
    cancelled: bool,
    /// Reading the file failed (or was cancelled): whatever the verifier concluded, it does
    /// not hold (a sealed stream may report a failed read as damage).
    read_failed: bool,
    result: Option<Result<Verified, TrustError>>,
}

impl Early {
    /// After a chunk of `id` was acknowledged: starts a verifier when the upload just began
    /// (`received` covers its first chunk) and is large, else tells the running one how far it
    /// may read.
    pub(crate) fn chunk_received(&self, st: &Arc<AppState>, member: Uuid, id: Uuid, offset: u64, received: u64, size: u64) {
        let mut jobs = lock(&self.jobs);
        if let Some(job) = jobs.get(&id) {
            let mut s = lock(&job.state);
            s.received = s.received.max(received);
            job.changed.notify_all();
            return;
        }
        if offset != 0 || size < MIN_SIZE || received >= size || jobs.len() >= cpu_slots() {
            return;
        }
        let job =
            Arc::new(Job { state: Mutex::default(), changed: Condvar::new(), verifying: Mutex::new(Some(st.uploads.verifying.begin())) });
        lock(&job.state).received = received;
        jobs.insert(id, Arc::clone(&job));
        drop(jobs);
        let st = Arc::clone(st);
        let spawned = std::thread::Builder::new().name("early-verify".into()).spawn(move || {
            let run = std::panic::AssertUnwindSafe(|| verify(&st, &job, member, id, size));
            let mut result = std::panic::catch_unwind(run)
                .unwrap_or_else(|_| Err(TrustError::new(Reason::Io, "the early verifier stopped unexpectedly")));
            let stopped = {
                let s = lock(&job.state);
                s.read_failed || s.cancelled
            };
            if stopped {
                result = Err(TrustError::new(Reason::Io, "the early verification did not read the whole upload"));
            }
            if matches!(&result, Err(e) if matches!(e.reason, Reason::Io | Reason::Unavailable)) {
                // Cancelled, idle or unreadable: a `complete` verifies from the file.
                st.early.forget(id, &job);
            }
            let mut s = lock(&job.state);
            s.result = Some(result);
            drop(s);
            job.changed.notify_all();
        });
        if spawned.is_err() {
            lock(&self.jobs).remove(&id);
        }
    }

    /// What the verifier of `id` found, waiting for it to finish (all bytes are acknowledged
    /// when `complete` asks). `None` when there was none, or it stopped without an answer that
    /// holds (cancelled, I/O): then verify from the file. With it, the verifier's registration
    /// (hold it until the events are recorded: the content it stored is not yet named).
    pub(crate) fn take(&self, id: Uuid) -> (Option<Result<Verified, TrustError>>, Option<crate::gc::VerifyingGuard>) {
        let Some(job) = lock(&self.jobs).remove(&id) else { return (None, None) };
        let mut s = lock(&job.state);
        while s.result.is_none() {
            s = job.changed.wait(s).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let guard = lock(&job.verifying).take();
        let result = match s.result.take() {
            Some(Err(e)) if matches!(e.reason, Reason::Io | Reason::Unavailable | Reason::Store) => None,
            other => other,
        };
        (result, guard)
    }

    /// Stops and forgets the verifier of `id`, if any (its upload expired or was discarded).
    pub(crate) fn discard(&self, id: Uuid) {
        if let Some(job) = lock(&self.jobs).remove(&id) {
            lock(&job.state).cancelled = true;
            job.changed.notify_all();
        }
    }

    /// Stops every verifier (shutdown): they let go of the state within a read.
    pub(crate) fn cancel_all(&self) {
        for job in lock(&self.jobs).drain().map(|(_, j)| j) {
            lock(&job.state).cancelled = true;
            job.changed.notify_all();
        }
    }

    fn forget(&self, id: Uuid, job: &Arc<Job>) {
        let mut jobs = lock(&self.jobs);
        if jobs.get(&id).is_some_and(|j| Arc::ptr_eq(j, job)) {
            jobs.remove(&id);
        }
    }
}

fn verify(st: &Arc<AppState>, job: &Arc<Job>, member: Uuid, id: Uuid, size: u64) -> Result<Verified, TrustError> {
    let io = |what: String| TrustError::new(Reason::Io, what);
    let meta = uploads::load(st, id, member).map_err(|_| io("reading the upload state".into()))?;
    let part = uploads::part_path(&st.dir, id);
    let file = File::open(&part).map_err(|e| io(format!("opening the upload: {e}")))?;
    let reader = Tail { file, pos: 0, size, job: Arc::clone(job) };
    let (list, _) = read(&st.revocation).clone();
    let issued = read(&st.issued).clone();
    let names = read(&st.names).clone();
    let anchor = Anchor::new(&st.public, &list, Some(st.agency.sealing_identity())).at(st.now()).issued(&issued).names(&names);
    backend::verify_upload_stream(BufReader::with_capacity(256 * 1024, reader), &anchor, &st.store, member, meta.bundle_id)
}

/// Reads an upload's `.part` file up to the acknowledged bytes, waiting for more.
struct Tail {
    file: File,
    pos: u64,
    size: u64,
    job: Arc<Job>,
}

impl Read for Tail {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.read_acknowledged(buf);
        if r.is_err() {
            lock(&self.job.state).read_failed = true;
        }
        r
    }
}

impl Tail {
    fn read_acknowledged(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let available = {
            let mut s = lock(&self.job.state);
            loop {
                if s.cancelled {
                    return Err(std::io::Error::other("the upload's early verification was cancelled"));
                }
                if s.received > self.pos {
                    break s.received - self.pos;
                }
                let (next, timeout) = self.job.changed.wait_timeout(s, IDLE).unwrap_or_else(std::sync::PoisonError::into_inner);
                s = next;
                if timeout.timed_out() && s.received <= self.pos {
                    s.cancelled = true;
                }
            }
        };
        let n = buf.len().min(usize::try_from(available).unwrap_or(usize::MAX));
        let got = self.file.read_at(&mut buf[..n], self.pos)?;
        if got == 0 {
            return Err(std::io::Error::other("the upload's file is shorter than acknowledged"));
        }
        self.pos += got as u64;
        Ok(got)
    }
}
