//! Cleanup (docs/ENDPOINT.md, "Quotas and cleanup"): expires uploads that stopped receiving
//! chunks, removes upload records that have served their time, and removes content objects in
//! the agency store that no event names (content of a bundle refused after it was stored, of
//! an upload abandoned while it was verified early).
//!
//! Runs every `gc_interval_secs` while the endpoint serves (`run_periodically`), on
//! `POST /admin/gc` through the admin socket, and without an endpoint through
//! [`collect_offline`] (`casebridge agency gc --dir A`).
//!
//! An object is removed only when no evidence record names it, and it was last written (or
//! last found held by an import) before the cutoff: `upload_expiry_secs` ago, and before the
//! start of every verification in progress (`Verifying`), less [`SPARE`]. A verification
//! stores content before its events are recorded; every object it stores or relies on is
//! younger than its start, so none is removed under it. The store's read lock is held while
//! the references are read and the objects removed, so no event is recorded meanwhile.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use casebridge_core::Passphrase;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::api::ApiError;
use crate::clock::SystemClock;
use crate::error::{AgencyError, Result};
use crate::limits::Limits;
use crate::state::{lock, read, AppState, StateOptions};
use crate::uploads::{self, Phase};

/// Taken off the start of the oldest verification in progress: file times are coarser than
/// the clock, and the clock may step.
pub const SPARE: Duration = Duration::from_secs(60);

/// What one cleanup did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    /// Uploads expired (no chunk for `upload_expiry_secs`): their bytes removed.
    pub uploads_expired: usize,
    /// Bytes of expired uploads removed.
    pub upload_bytes: u64,
    /// Upload records removed after serving their time (completed uploads' outcomes,
    /// expired uploads' tombstones).
    pub records_removed: usize,
    /// Uploads skipped because a request was using them (the next cleanup sees them).
    pub uploads_busy: usize,
    /// Content objects no event names, removed.
    pub orphan_objects: usize,
    /// Their bytes on disk.
    pub orphan_bytes: u64,
    /// Content objects no event names yet, kept because they are recent (an upload may be
    /// about to name them).
    pub orphans_kept: usize,
}

/// The verifications in progress (early verifiers, completes), by start time: content they
/// store is not yet named by any event, so the collection spares everything younger than the
/// oldest of them.
#[derive(Clone, Default)]
pub(crate) struct Verifying(Arc<Mutex<Starts>>);

#[derive(Default)]
struct Starts {
    next: u64,
    at: BTreeMap<u64, SystemTime>,
}

/// Registers one verification until dropped.
pub(crate) struct VerifyingGuard {
    registry: Verifying,
    key: u64,
}

impl Verifying {
    /// Registers a verification starting now.
    pub(crate) fn begin(&self) -> VerifyingGuard {
        let mut s = lock(&self.0);
        let key = s.next;
        s.next += 1;
        s.at.insert(key, SystemTime::now());
        VerifyingGuard { registry: self.clone(), key }
    }

    /// When the oldest verification in progress started.
    pub(crate) fn oldest(&self) -> Option<SystemTime> {
        lock(&self.0).at.values().min().copied()
    }
}

impl Drop for VerifyingGuard {
    fn drop(&mut self) {
        lock(&self.registry.0).at.remove(&self.key);
    }
}

/// Objects last modified before this may be collected: `upload_expiry_secs` before the
/// endpoint's clock, and before the oldest verification in progress (less [`SPARE`]).
fn cutoff(st: &AppState) -> SystemTime {
    let now = SystemTime::from(st.now());
    let grace = now.checked_sub(st.limits.upload_expiry()).unwrap_or(SystemTime::UNIX_EPOCH);
    match st.uploads.verifying.oldest() {
        Some(start) => grace.min(start.checked_sub(SPARE).unwrap_or(SystemTime::UNIX_EPOCH)),
        None => grace,
    }
}

/// One cleanup (blocking: run it off the async runtime). Uploads a request is using are
/// skipped; the rest is done under each upload's lock.
pub(crate) fn collect(st: &AppState) -> std::result::Result<GcReport, ApiError> {
    let mut report = GcReport::default();
    let now = st.now();
    let expiry = uploads::expiry(&st.limits);
    if let Some(c) = &st.cluster {
        // Every replica's uploads, not only those this one began or saw.
        st.uploads.reload(&st.records_key, c)?;
    }
    for (id, rec) in st.uploads.due(now, expiry) {
        let upload_lock = st.upload_lock(id);
        let Ok(_guard) = upload_lock.try_lock() else {
            report.uploads_busy += 1;
            continue;
        };
        let meta = match uploads::load(st, id, rec.member) {
            Ok(m) => m,
            Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => {
                st.uploads.forget(id);
                continue;
            }
            Err(e) => return Err(e),
        };
        match meta_phase(&meta) {
            Phase::Open if uploads::is_stale(&meta, now, &st.limits) => {
                match uploads::expire(st, &meta)? {
                    Some(freed) => {
                        report.upload_bytes += freed;
                        report.uploads_expired += 1;
                    }
                    // A cluster's upload another replica is using (or used since).
                    None => report.uploads_busy += 1,
                }
            }
            Phase::Completed | Phase::Expired if now - record_since(&meta) > expiry => {
                uploads::remove_record(st, id)?;
                report.records_removed += 1;
            }
            // The tracker was behind the file (it is not, normally): catch up.
            _ => st.uploads.set(&meta),
        }
    }
    // Per-upload locks nobody holds or waits for are made again when needed.
    lock(&st.upload_locks).retain(|_, l| Arc::strong_count(l) > 1);

    let cutoff = cutoff(st);
    let sweep = read(&st.store).remove_orphan_objects(cutoff).map_err(|e| ApiError::from(AgencyError::Store(e)))?;
    report.orphan_objects = sweep.removed;
    report.orphan_bytes = sweep.removed_bytes;
    report.orphans_kept = sweep.kept;
    if report != GcReport::default() {
        tracing::info!(
            uploads_expired = report.uploads_expired,
            upload_bytes = report.upload_bytes,
            records_removed = report.records_removed,
            orphan_objects = report.orphan_objects,
            orphan_bytes = report.orphan_bytes,
            orphans_kept = report.orphans_kept,
            "cleanup"
        );
    }
    Ok(report)
}

fn meta_phase(meta: &uploads::UploadMeta) -> Phase {
    match (&meta.completed, meta.expired_at) {
        (_, Some(_)) => Phase::Expired,
        (Some(_), None) => Phase::Completed,
        (None, None) => Phase::Open,
    }
}

fn record_since(meta: &uploads::UploadMeta) -> chrono::DateTime<chrono::FixedOffset> {
    match (&meta.completed, meta.expired_at) {
        (_, Some(at)) => at,
        (Some(c), None) => c.completed_at,
        (None, None) => meta.last_activity(),
    }
}

/// Cleans up every `gc_interval_secs` until `stop` says so (started by [`crate::serve`]).
pub(crate) async fn run_periodically(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let period = state.limits.gc_interval();
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
            () = tokio::time::sleep(period) => {
                let st = Arc::clone(&state);
                match tokio::task::spawn_blocking(move || collect(&st)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "the cleanup failed; it runs again in {}s", period.as_secs()),
                    Err(e) => tracing::warn!(error = %e, "the cleanup stopped unexpectedly"),
                }
            }
        }
    }
}

/// The cleanup without a running endpoint (`casebridge agency gc`): unlocks the agency in
/// `dir` (holding its lock, so no endpoint can start meanwhile) and its store, and cleans up
/// under `limits`. An agency whose endpoint never ran has nothing to clean.
pub fn collect_offline(dir: &Path, passphrase: &Passphrase, limits: Limits) -> Result<GcReport> {
    if !dir.join(crate::state::STORE_DIR).join(casebridge_core::HEADER_FILE).exists() {
        // Still check the passphrase, so a typo is not reported as "nothing to do".
        drop(casebridge_trust::Agency::open(dir, passphrase)?);
        return Ok(GcReport::default());
    }
    let options = StateOptions {
        store_kdf: casebridge_core::KdfParams::INTERACTIVE,
        clock: Arc::new(SystemClock),
        url: String::new(),
        limits,
        s3: None,
    };
    let state = AppState::open(dir, passphrase, options)?;
    collect(&state).map_err(|e| AgencyError::Internal(e.to_string()))
}
